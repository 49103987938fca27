import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { Config } from '../shared/config';
import { KieError, TransientKieError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { AccountLimiter, TurnKind } from './limiter/accountLimiter';

export type { TurnKind };

/**
 * Runs one KIE request under the account's pacing, retrying transient failures (1003, 429, 5xx,
 * connection trouble) with exponential backoff and jitter, honouring Retry-After. Every attempt
 * takes its own turn from the fleet-wide limiter, so retries never break the request interval.
 * An ambiguous failure (sent, and no answer proves it did nothing) is retried only when
 * `retryAmbiguous` says the request is safe to repeat (reads are; creates are not). Every retry is
 * logged (warn) with its attempt, endpoint, account and error, so a KIE that cannot be reached is
 * visible at once.
 */
export async function callKie<T>(
  limiter: AccountLimiter,
  config: Config,
  account: string,
  kind: TurnKind,
  request: () => Promise<T>,
  opts: { retryAmbiguous: boolean; firstTurnTaken?: boolean; signal?: AbortSignal; logger: Logger; retries?: { inc(labels: { account: string }): void } },
): Promise<T> {
  const retryable = (error: Error): boolean => error instanceof KieError && error.retryable && (opts.retryAmbiguous || !error.ambiguous);
  return pRetry(
    async (attempt) => {
      if (attempt > 1 || !opts.firstTurnTaken) {
        // A retry serves a task or submit already under way: it is not held back for new submits.
        await limiter.waitForRequestTurn(account, attempt > 1 ? 'retry' : kind, opts.signal);
      }
      return sendOnTurn(limiter, account, request);
    },
    {
      retries: config.kie.retries,
      minTimeout: config.kie.retryBaseMs,
      maxTimeout: config.kie.retryBaseMs * 32,
      factor: 2,
      randomize: true,
      signal: opts.signal,
      shouldRetry: ({ error }) => retryable(error),
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        // The last failure, or one not retried, is the caller's to report (a setback, a failed job).
        if (retriesLeft === 0 || !retryable(error) || opts.signal?.aborted) return;
        opts.retries?.inc({ account });
        opts.logger.warn(
          { account, attempt: attemptNumber, attempts: config.kie.retries + 1, endpoint: (error as KieError).endpoint, err: error.message },
          `KIE request failed (attempt ${attemptNumber} of ${config.kie.retries + 1}); retrying`,
        );
        const wait = error instanceof TransientKieError ? error.retryAfterMs : undefined;
        // KIE's own pause before the next attempt (none after the last). Shutdown ends it: pRetry
        // then stops with the signal's reason and the caller parks the job.
        if (wait) await sleep(Math.min(wait, 60_000), undefined, { signal: opts.signal }).catch(() => undefined);
      },
    },
  );
}

/**
 * Sends a KIE request whose turn is granted, and fences the turn as it leaves: the request is
 * written to its socket in this same turn of the event loop (a kept-alive connection), and so is
 * the fence, so a stall between grant and send delays the account's next grant with it.
 */
export function sendOnTurn<T>(limiter: AccountLimiter, account: string, request: () => Promise<T>): Promise<T> {
  const answer = request();
  // Best effort: without it the grant's own spacing still holds.
  void limiter.fenceTurn(account).catch(() => undefined);
  return answer;
}
