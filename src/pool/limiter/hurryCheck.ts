import type { Redis } from 'ioredis';
import { accountKeys } from './limiterKeys';
import { loadLimiterScripts } from './limiterScripts';

/**
 * A callback says the task is done: its status check becomes due before every other, so the
 * account's next read turn confirms it and refills the slot (see hurryCheck-2.lua). Returns false
 * when the task has no check scheduled (not in flight) or it was hurried already.
 */
export async function hurryCheck(redis: Redis, prefix: string, account: string, member: string): Promise<boolean> {
  const keys = accountKeys(prefix, account);
  return (await loadLimiterScripts(redis).run('hurryCheck', [keys.checks, keys.turn], [member, ''])) === 1;
}
