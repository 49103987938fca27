/**
 * The fleet as `sora-batch status` and the console's fleet page show it: the queue's job counts,
 * every account (configured here, or as the workers registered them) with its credits when known,
 * the paused models, and the fleet's spend against its budgets (with accounts to read it through).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import { fleetAccounts } from '../pool/accountControl';
import { readBalances } from '../pool/accountCredits';
import { modelStatus } from '../pool/modelControl';
import { createLimiter } from '../pool/createLimiter';

export const COUNTED_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export async function readFleetStatus(redis: Redis, config: Config, queue: Pick<Queue, 'getJobCounts'>) {
  const counts = await queue.getJobCounts(...COUNTED_STATES);
  const fleet = await fleetAccounts(redis, config);
  const balances = new Map(
    (
      await readBalances(
        redis,
        config.limiterPrefix,
        fleet.accounts.map((a) => a.name),
      )
    ).map((b) => [b.account, b]),
  );
  // One limiter over the fleet's accounts reads both their state and the spend.
  const limiter = fleet.accounts.length ? createLimiter(redis, config, fleet.accounts) : undefined;
  const accounts = ((await limiter?.status()) ?? []).map((a) => ({ ...a, credits: balances.get(a.account) }));
  const pausedModels = (await modelStatus(redis, config)).filter((m) => m.paused);
  const spend = await limiter?.spendStatus();
  return { queue: config.queueName, counts, accountsFrom: fleet.source, accounts, pausedModels, spend };
}
