/**
 * The steps of one render job. Every step ends at a point persisted on the job, so any worker can
 * resume it: submit (slot, quota and turn first, taskId written at once; submitStep.ts), wait
 * (paced status checks as delayed-job steps, holding no worker concurrency while asleep;
 * generatingStep.ts), store (stream into S3; storeStep.ts). RenderRun holds what they share.
 * A job of a batch records its end in the batch before BullMQ finishes it (batchProgress.ts).
 */
import { DelayedError, UnrecoverableError } from 'bullmq';
import type { RenderResult } from '../../shared/renderJob';
import { BatchCancelledError } from '../batchProgress';
import { JobLockLostError } from '../saveRenderState';
import { RenderDeps, RenderJob, RenderRun } from './renderRun';

export type { RenderDeps, RenderJob };

/** Whether BullMQ fails the job for good with this error (no attempt left, or unrecoverable). */
export function failsForGood(job: RenderJob, err: unknown): boolean {
  if (err instanceof DelayedError || err instanceof JobLockLostError) return false;
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function createRenderProcessor(deps: RenderDeps) {
  return async (job: RenderJob, token?: string): Promise<RenderResult> => {
    const run = new RenderRun(deps, job, token ?? '');
    let result: RenderResult;
    try {
      result = await run.execute();
    } catch (err) {
      if (failsForGood(job, err)) {
        // The worker's failed handler records it again if this cannot (Redis trouble).
        await deps.batches
          .ended(job, (err as Error).message, err instanceof BatchCancelledError)
          .catch((e: Error) => run.log.warn({ err: e.message }, 'recording the end of the job in its batch failed'));
      }
      throw err;
    }
    await deps.batches.stored(job, run.request, result);
    return result;
  };
}
