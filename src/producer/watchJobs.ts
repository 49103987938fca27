import { Queue } from 'bullmq';
import { SingleBar, Presets } from 'cli-progress';

export interface JobOutcomes {
  stored: string[];
  failed: Array<{ jobId: string; reason: string }>;
}

/**
 * Follows jobs until each is completed or failed, drawing a progress bar on a terminal (plain
 * lines otherwise). Polls job states, so it also sees jobs that finished before it started.
 */
export async function watchJobs(
  queue: Queue,
  jobIds: readonly string[],
  opts: { intervalMs?: number; timeoutMs?: number; output?: NodeJS.WriteStream } = {},
): Promise<JobOutcomes> {
  const output = opts.output ?? process.stderr;
  const bar = new SingleBar(
    {
      format: 'rendering [{bar}] {value}/{total} stored {stored} failed {failed} | {eta_formatted} left',
      stream: output,
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    Presets.shades_classic,
  );
  const pending = new Set(jobIds);
  const outcome: JobOutcomes = { stored: [], failed: [] };
  const deadline = Date.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
  bar.start(jobIds.length, 0, { stored: 0, failed: 0 });
  try {
    while (pending.size && Date.now() < deadline) {
      for (const id of [...pending]) {
        const state = await queue.getJobState(id);
        if (state === 'completed') outcome.stored.push(id);
        else if (state === 'failed' || state === 'unknown') {
          const job = await queue.getJob(id);
          outcome.failed.push({ jobId: id, reason: job?.failedReason ?? 'job no longer exists' });
        } else continue;
        pending.delete(id);
      }
      bar.update(outcome.stored.length + outcome.failed.length, { stored: outcome.stored.length, failed: outcome.failed.length });
      if (pending.size) await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
    }
  } finally {
    bar.stop();
  }
  return outcome;
}
