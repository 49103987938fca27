/**
 * Where a batch lives in Redis. A batch belongs to one queue (its jobs do), but its keys sit under
 * LIMITER_PREFIX beside the account pool's, so that the limiter's scripts (the budget taken inside
 * the submit grant) can read and change a batch's money in the same atomic step; queues sharing
 * accounts share the prefix, so the queue is part of every key. Queue names hold no ':', and the
 * batch id comes last, so a batch id may hold any character.
 *
 *   P:batch:Q:B          HASH the record: id, queue, tenant, state, createdAt, updatedAt,
 *                        cancelledAt, endedAt, ends, budgetMicroUsd (absent: no budget), notifyUrl,
 *                        joined, waiting, submitted, stored, failed, cancelled, spentMicroUsd,
 *                        reservedMicroUsd, secondsRendered, bytesStored, manifestKey, manifestAt
 *   P:batch-jobs:Q:B     HASH jobId -> "state|seq|reservedMicroUsd" (state: waiting, submitted,
 *                        stored, failed, cancelled; seq: order of joining)
 *   P:batch-lines:Q:B    HASH jobId -> its manifest line (JSON), once the job has ended
 *   P:batches:Q          ZSET batchId -> createdAt (ms)
 *   P:batches-ending:Q   ZSET batchId -> when its manifest claim runs out (ms): batches that ended
 *                        and whose manifest is not written yet
 *
 * Money is in whole micro-dollars, so scripts add and compare exactly: a batch's budget holds while
 * spentMicroUsd + reservedMicroUsd (the sum of the jobs' reservations) stays at or under
 * budgetMicroUsd.
 */
export interface BatchKeys {
  readonly record: string;
  readonly jobs: string;
  readonly lines: string;
  readonly index: string;
  readonly ending: string;
}

export function batchKeys(prefix: string, queue: string, batchId: string): BatchKeys {
  return {
    record: `${prefix}:batch:${queue}:${batchId}`,
    jobs: `${prefix}:batch-jobs:${queue}:${batchId}`,
    lines: `${prefix}:batch-lines:${queue}:${batchId}`,
    index: batchIndexKey(prefix, queue),
    ending: endingBatchesKey(prefix, queue),
  };
}

export function batchIndexKey(prefix: string, queue: string): string {
  return `${prefix}:batches:${queue}`;
}

export function endingBatchesKey(prefix: string, queue: string): string {
  return `${prefix}:batches-ending:${queue}`;
}

/** Dollars as the whole micro-dollars the scripts count in. */
export function toMicroUsd(usd: number): number {
  return Math.round(usd * 1_000_000);
}

export function fromMicroUsd(micro: number): number {
  return micro / 1_000_000;
}
