/**
 * What came of one KIE request, in the few words metrics and traces use for it (a label value, so
 * a short fixed list), and the hook through which the client reports every request it sends.
 */
import { AuthenticationError, KieAmbiguousError, KieConnectionError, KieError, ModelUnavailableError } from '../shared/errors';

export type KieOutcome =
  /** A success KIE's envelope vouches for. */
  | 'ok'
  /** KIE's refusal that retrying will not change: bad prompt or parameters, no credits, unknown task. */
  | 'refused'
  | 'unauthorized'
  /** KIE has paused the model's interface, or does not know the model. */
  | 'model-unavailable'
  /** HTTP 429 or code 429: the account's interval was not kept (another client on it, or jitter). */
  | 'rate-limited'
  /** 1003, 455, 5xx, an answer that does not read: retried. */
  | 'transient'
  /** Sent, and no answer proves nothing happened (timeout, reset; for a create, no taskId). */
  | 'ambiguous'
  /** Never left: connection refused, a host that does not resolve. */
  | 'unreachable'
  | 'error';

export function outcomeOf(err: unknown): KieOutcome {
  if (err instanceof KieAmbiguousError) return 'ambiguous';
  if (err instanceof KieConnectionError) return 'unreachable';
  if (err instanceof AuthenticationError) return 'unauthorized';
  if (err instanceof ModelUnavailableError) return 'model-unavailable';
  if (err instanceof KieError && (err.httpStatus === 429 || err.code === 429)) return 'rate-limited';
  if (err instanceof KieError) return err.retryable ? 'transient' : 'refused';
  return 'error';
}

export interface KieRequestReport {
  account: string;
  /** Method and path without query or base URL, e.g. `POST /api/v1/sora/generate`. */
  endpoint: string;
  outcome: KieOutcome;
}

export type KieRequestObserver = (report: KieRequestReport) => void;
