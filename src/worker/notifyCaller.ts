import axios from 'axios';
import type { Logger } from '../shared/logger';

export type RenderOutcome =
  | { jobId: string; status: 'stored'; result: unknown }
  | { jobId: string; status: 'failed'; reason: string };

/**
 * Tells the producer's `notifyUrl` how its job ended. Best effort: three tries; the job's own
 * state in the queue stays the record of truth.
 */
export async function notifyCaller(url: string, outcome: RenderOutcome, logger: Logger): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const res = await axios.post(url, outcome, { timeout: 10_000, maxRedirects: 0, validateStatus: () => true });
      if (res.status < 300) return;
      logger.warn({ jobId: outcome.jobId, status: res.status, attempt }, 'notifyUrl answered with an error');
    } catch (err) {
      logger.warn({ jobId: outcome.jobId, attempt, err: (err as Error).message }, 'notifyUrl unreachable');
    }
    await new Promise((r) => setTimeout(r, 1000 * attempt));
  }
}
