/**
 * The fleet as `sora-batch status` and the console's fleet page show it: the queue's job counts,
 * every account (configured here, or as the workers registered them) with its credits when known,
 * and the paused models.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import { accountStatus, fleetAccounts } from '../pool/accountControl';
import { readBalances } from '../pool/accountCredits';
import { modelStatus } from '../pool/modelControl';

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
  const accounts = (await accountStatus(redis, config, fleet.accounts)).map((a) => ({ ...a, credits: balances.get(a.account) }));
  const pausedModels = (await modelStatus(redis, config)).filter((m) => m.paused);
  return { queue: config.queueName, counts, accountsFrom: fleet.source, accounts, pausedModels };
}
