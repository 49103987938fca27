/**
 * Two tenants on one account: a big backlog enqueued first, a small one a moment later. Measures
 * how long the small tenant waits for its last stored video, against the same small batch rendered
 * alone on the same stack (the baseline, measured in the same run). Shared by the fair-share
 * integration test and `npm run bench:tenants`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RenderStack } from './renderStack';

export interface TenantRace {
  /** The small batch alone: enqueue -> its last video stored. */
  aloneMs: number;
  /** The small batch behind the big one: its enqueue -> its last video stored. */
  smallMs: number;
  /** smallMs / aloneMs. */
  ratio: number;
  /** Big jobs stored by the time the small tenant's last video was. */
  bigStoredBefore: number;
  /** The big batch: enqueue -> its last video stored. */
  bigMs: number;
}

const lastStored = async (stack: RenderStack, jobIds: readonly string[]): Promise<number[]> =>
  Promise.all(jobIds.map(async (id) => Date.parse((await stack.queue.getJob(id))!.returnvalue.storedAt)));

async function enqueue(stack: RenderStack, tenant: string, n: number, tag: string): Promise<{ jobIds: string[]; at: number }> {
  const at = Date.now();
  const jobs = await stack.producer.enqueueMany(
    Array.from({ length: n }, (_, i) => ({ prompt: `${tag}: ${tenant} clip ${i}` })),
    { tenant },
  );
  return { jobIds: jobs.map((j) => j.jobId), at };
}

/** The small batch alone, then big + small; workers must already run on the stack. */
export async function raceTenants(stack: RenderStack, o: { big: number; small: number; gapMs: number; tag: string; timeoutMs: number }): Promise<TenantRace> {
  const alone = await enqueue(stack, `${o.tag}-alone`, o.small, o.tag);
  await stack.waitForJobs(alone.jobIds, o.timeoutMs);
  const aloneMs = Math.max(...(await lastStored(stack, alone.jobIds))) - alone.at;

  const big = await enqueue(stack, `${o.tag}-big`, o.big, o.tag);
  await sleep(o.gapMs);
  const small = await enqueue(stack, `${o.tag}-small`, o.small, o.tag);
  const outcome = await stack.waitForJobs([...small.jobIds, ...big.jobIds], o.timeoutMs);
  const failed = [...outcome.values()].filter((s) => s !== 'completed').length;
  if (failed) throw new Error(`${failed} job(s) of the race failed`);
  const smallDone = Math.max(...(await lastStored(stack, small.jobIds)));
  const bigStored = await lastStored(stack, big.jobIds);
  const smallMs = smallDone - small.at;
  return {
    aloneMs,
    smallMs,
    ratio: smallMs / aloneMs,
    bigStoredBefore: bigStored.filter((t) => t <= smallDone).length,
    bigMs: Math.max(...bigStored) - big.at,
  };
}
