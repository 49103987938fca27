/**
 * Which KIE accounts a fleet runs with, as its workers register them at start: names and caps,
 * never keys. Operator commands read it in a shell that configures no account (`sora-batch status`
 * needs only REDIS_URL).
 */
import type { Redis } from 'ioredis';
import type { AccountCaps } from '../shared/config';
import { registeredAccountsKey } from './limiter/limiterKeys';

export async function registerAccounts(redis: Redis, prefix: string, accounts: readonly AccountCaps[]): Promise<void> {
  if (accounts.length === 0) return;
  // Picked field by field: the account objects of the configuration also hold the key.
  const entries = accounts.map((a): [string, string] => [a.name, JSON.stringify({ maxConcurrent: a.maxConcurrent, dailyLimit: a.dailyLimit })]);
  await redis.hset(registeredAccountsKey(prefix), Object.fromEntries(entries));
}

/** The registered accounts, by name; an entry that cannot be read is left out. */
export async function registeredAccounts(redis: Redis, prefix: string): Promise<AccountCaps[]> {
  const entries = Object.entries(await redis.hgetall(registeredAccountsKey(prefix)));
  return entries
    .flatMap(([name, caps]) => {
      try {
        const { maxConcurrent, dailyLimit } = JSON.parse(caps) as Partial<AccountCaps>;
        return Number.isInteger(maxConcurrent) && Number.isInteger(dailyLimit) ? [{ name, maxConcurrent: maxConcurrent!, dailyLimit: dailyLimit! }] : [];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
