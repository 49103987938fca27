import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { Config } from '../shared/config';
import { KieError, TransientKieError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { AccountLimiter, RequestClass, TurnKind } from './limiter/accountLimiter';
import { whenWritten } from './requestWritten';

export type { RequestClass, TurnKind };

/**
 * Runs one KIE request under the account's pacing, retrying transient failures (1003, 429, 5xx,
 * connection trouble) with exponential backoff and jitter, honouring Retry-After. Every attempt
 * takes its own turn from the fleet-wide limiter, so retries never break the account's rates.
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
  opts: {
    retryAmbiguous: boolean;
    firstTurnTaken?: boolean;
    signal?: AbortSignal;
    requestClass?: RequestClass;
    logger: Logger;
    retries?: { inc(labels: { account: string }): void };
  },
): Promise<T> {
  const requestClass = opts.requestClass ?? 'read';
  const retryable = (error: Error): boolean => error instanceof KieError && error.retryable && (opts.retryAmbiguous || !error.ambiguous);
  return pRetry(
    async (attempt) => {
      if (attempt > 1 || !opts.firstTurnTaken) {
        // A retry serves a task or submit already under way: it is not held back for new submits.
        await limiter.waitForRequestTurn(account, attempt > 1 ? 'retry' : kind, opts.signal, requestClass);
      }
      return sendOnTurn(limiter, account, requestClass, request, opts.signal);
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

/** A check whose answer took longer than this share of the margin is taken again before sending. */
const LAG_SHARE_OF_MARGIN = 0.5;
/** Re-checks at most this often for one send: each one only ever delays this request. */
const MAX_RECHECKS = 5;

/**
 * Sends a KIE request whose turn is granted, checking and fencing it against the account's actual
 * sends at the moment it leaves (see fenceSend-1.lua): a request that leaves late pushes the one
 * after it instead of arriving beside it. The check's time is Redis's; the request is written to
 * its (kept-alive) socket in the same turn of the event loop as the answer arrives. Two stalls of
 * this process are caught on the way: an answer that took longer than half the margin is checked
 * again before sending (the same token replaces its own send), and once the request is on its
 * socket (after connecting, for a new connection) the send is recorded again, so a stall or a
 * connect between check and write pushes the next request too. A 429 from KIE widens the account's
 * margin for a while, fleet-wide.
 */
export async function sendOnTurn<T>(
  limiter: AccountLimiter,
  account: string,
  requestClass: RequestClass,
  request: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const token = randomUUID();
  const maxLagMs = limiter.baseMarginMs * LAG_SHARE_OF_MARGIN;
  for (let rechecks = 0; ;) {
    signal?.throwIfAborted();
    const askedAt = performance.now();
    const waitMs = await limiter.fenceSend(account, requestClass, token);
    if (waitMs > 0) {
      await sleep(waitMs, undefined, { signal }).catch(() => signal?.throwIfAborted());
      continue;
    }
    if (performance.now() - askedAt <= maxLagMs || ++rechecks > MAX_RECHECKS) break;
  }
  // Recorded once it is on its socket (for a new connection, after connecting), or once it ended
  // without writing anything (refused before sending, or no HTTP at all).
  let recorded = false;
  const record = (): void => {
    if (recorded) return;
    recorded = true;
    void limiter.fenceSend(account, requestClass, token, undefined, true).catch(() => undefined);
  };
  const answer = whenWritten(request, record);
  answer.then(record, record);
  try {
    return await answer;
  } catch (err) {
    if (err instanceof KieError && err.httpStatus === 429) {
      // Best effort: the retry backs off on its own.
      await limiter.widenMargin(account).catch(() => undefined);
    }
    throw err;
  }
}
