/**
 * Jobs waiting for a budget (acquireSubmit.lua registers them) are woken all at once when money
 * may be there for them: a batch's budget raised, the daily budget changed (a worker starts with
 * the new KIE_DAILY_BUDGET_USD), a refund. Each asks the limiter again; those that still do not
 * fit wait again.
 */
import type { Redis } from 'ioredis';
import { spendKeys } from './limiter/limiterKeys';
import { wakeMembers } from './wakeJobs';

/** Takes every budget waiter out of the set (one step, so two wakers never both take one). */
export async function takeBudgetWaiters(redis: Redis, prefix: string): Promise<string[]> {
  const key = spendKeys(prefix).budgetWaiters;
  const answers = await redis.multi().zrange(key, '0', '-1').del(key).exec();
  const [err, members] = answers?.[0] ?? [null, []];
  if (err) throw err;
  return members as string[];
}

/** Wakes the budget waiters; how many. */
export async function wakeBudgetWaiters(redis: Redis, prefix: string): Promise<number> {
  const members = await takeBudgetWaiters(redis, prefix);
  if (members.length) await wakeMembers(redis, members);
  return members.length;
}
