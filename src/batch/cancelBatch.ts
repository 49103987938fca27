/**
 * Cancels a batch: from the first step on no job of it passes the submit gate (cancelBatch-2.lua,
 * moveBatchJob.lua), jobs that never reached it are removed from the queue, and jobs already
 * submitted finish and are stored (they are paid for). The batch is `cancelling` until they have,
 * then `cancelled`, and its manifest is written like any ended batch's.
 *
 * A job a worker holds right now cannot be removed (BullMQ refuses a locked job): either it passed
 * the gate before the cancel (it is submitted and finishes), or the gate refuses it and it fails as
 * cancelled, its slot and quota unit given back, or its run parks it (waiting for a slot, quota or a
 * model) and, finding the batch cancelled once it is parked, removes it itself (RenderRun.delay).
 * Running the cancel again is harmless.
 */
import type { Job, Queue } from 'bullmq';
import type { RenderJobData } from '../shared/renderJob';
import { tenantOf } from '../shared/renderRequest';
import type { BatchLedger } from './batchLedger';

export interface CancelOutcome {
  /** `none`: no such batch; `finished`: it had ended, nothing to cancel. */
  outcome: 'cancelling' | 'already' | 'finished' | 'none';
  /** Jobs removed before they were submitted. */
  removed: number;
}

export const CANCELLED_REASON = 'batch cancelled before this job was submitted';

/**
 * Removes a job of a cancelled batch that has sent nothing to KIE, and records it cancelled; not
 * when a run holds it (BullMQ refuses a locked job: the run meets the gate, or parks and calls this).
 */
export async function removeUnsubmitted(
  ledger: BatchLedger,
  batchId: string,
  jobId: string,
  job: Job<RenderJobData> | undefined,
): Promise<{ removed: boolean; ended: boolean }> {
  // A job with a step was sent to KIE (by a worker that predates the gate, if its batch says waiting): it finishes.
  if (job?.data.render?.step !== undefined) return { removed: false, ended: false };
  if (
    job &&
    !(await job.remove().then(
      () => true,
      () => false,
    ))
  )
    return { removed: false, ended: false };
  // A job parked for a slot is one of the pool's waiters: a freed slot's wake must go to a job that exists.
  await ledger.forgetWaiter(jobId);
  const data = job?.data;
  const moved = await ledger.move(batchId, jobId, {
    to: 'cancelled',
    tenant: data ? tenantOf(data) : batchId,
    line: {
      jobId,
      state: 'cancelled',
      model: data?.model,
      prompt: data && 'prompt' in data ? data.prompt : undefined,
      durationSeconds: data?.duration,
      costUsd: 0,
      enqueuedAt: job ? new Date(job.timestamp).toISOString() : undefined,
      endedAt: new Date().toISOString(),
      reason: job ? CANCELLED_REASON : 'removed from the queue before it was submitted',
    },
  });
  return { removed: moved.outcome === 'moved', ended: moved.ended };
}

export async function cancelBatch(queue: Queue<RenderJobData>, ledger: BatchLedger, batchId: string): Promise<CancelOutcome> {
  const marked = await ledger.markCancelling(batchId);
  if (marked.outcome === 'none' || marked.outcome === 'finished') return { outcome: marked.outcome, removed: 0 };
  let ended = marked.ended;
  let removed = 0;
  for (const jobId of await ledger.jobsIn(batchId, 'waiting')) {
    const job = await queue.getJob(jobId);
    const outcome = await removeUnsubmitted(ledger, batchId, jobId, job);
    if (outcome.removed) removed++;
    ended ||= outcome.ended;
  }
  // This process writes no manifest: the workers' sweep picks the ended batch up at once.
  if (ended) await ledger.releaseManifestClaim(batchId);
  return { outcome: marked.outcome, removed };
}
