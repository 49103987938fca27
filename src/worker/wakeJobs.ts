import { Job, Queue } from 'bullmq';

/**
 * Promotes delayed jobs (slot waiters, or jobs a callback says are ready) so they run now. A job
 * that is no longer delayed (its failsafe timer fired, it finished) is left alone.
 */
export async function wakeJobs(queue: Queue, jobIds: readonly string[]): Promise<void> {
  for (const id of jobIds) {
    const job = await Job.fromId(queue, id);
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  }
}
