import type { Redis } from 'ioredis';
import { accountKeys } from './limiterKeys';

/**
 * A callback says the task is done: its status check becomes due before every other (score 0,
 * which no real due time has), so the account's next spare turn confirms it and refills the slot.
 * Returns false when the task has no check scheduled (not in flight, or being checked right now).
 * One command, so no script: the check set is only ever re-scored or removed.
 */
export async function hurryCheck(redis: Redis, prefix: string, account: string, member: string): Promise<boolean> {
  return (await redis.zadd(accountKeys(prefix, account).checks, 'XX', 'CH', 0, member)) === 1;
}
