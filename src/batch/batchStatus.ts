/**
 * A batch as `sora-batch batch <id>` and `GET /v1/batches/:id` show it: counts by state, what is
 * stored, money spent and reserved against the budget, when what is left should be done, and why
 * jobs failed.
 */
import type { z } from 'zod';
import type { BatchLedger } from './batchLedger';
import type { batchStatusSchema } from './batchSchemas';
import { fromMicroUsd } from './batchKeys';
import { Capacity, estimateFinish } from './estimateBatch';

/** Failures listed with their reasons; `batch export` lists them all. */
export const FAILURES_SHOWN = 50;

/** The answer's shape is its zod schema (batchSchemas.ts). */
export type BatchStatus = z.infer<typeof batchStatusSchema>;

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export async function batchStatus(ledger: BatchLedger, batchId: string, cap: Capacity): Promise<BatchStatus | undefined> {
  const record = await ledger.read(batchId);
  if (!record) return undefined;
  const failures = (await ledger.lines(batchId))
    .filter((l) => l.state === 'failed')
    .slice(0, FAILURES_SHOWN)
    .map((l) => ({ jobId: l.jobId, reason: l.reason ?? '' }));
  const pending = record.counts.waiting + record.counts.submitted;
  const spent = record.spentMicroUsd;
  const reserved = record.reservedMicroUsd;
  return {
    batchId: record.id,
    queue: record.queue,
    tenant: record.tenant,
    state: record.state,
    createdAt: iso(record.createdAt)!,
    cancelledAt: iso(record.cancelledAt),
    endedAt: iso(record.endedAt),
    notifyUrl: record.notifyUrl ?? null,
    jobs: record.joined,
    counts: record.counts,
    videosStored: record.counts.stored,
    secondsRendered: record.secondsRendered,
    bytesStored: record.bytesStored,
    spentUsd: fromMicroUsd(spent),
    reservedUsd: fromMicroUsd(reserved),
    budgetUsd: record.budgetMicroUsd === undefined ? null : fromMicroUsd(record.budgetMicroUsd),
    budgetLeftUsd: record.budgetMicroUsd === undefined ? null : fromMicroUsd(record.budgetMicroUsd - spent - reserved),
    waitingForBudget: await ledger.waitingForBudget(batchId),
    // Jobs generating now are a generation away at most; those waiting still need a submit.
    estimatedFinishAt: pending ? estimateFinish(cap, Math.max(1, record.counts.waiting)).finishAt : null,
    failures,
    manifest: record.manifestKey ? { key: record.manifestKey, writtenAt: iso(record.manifestAt)! } : null,
  };
}
