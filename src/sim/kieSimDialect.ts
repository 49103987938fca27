/** What each wire family (sora, jobs, veo) provides to the simulator's shared server and engine. */
import type { SimEngine } from './kieSimEngine';
import type { SimDialect, SimTask } from './kieSimTypes';

/** An HTTP answer with a JSON body. */
export interface Answer {
  status: number;
  body: unknown;
}

/** An answer that is not KIE's JSON: a gateway's error page, a body cut short. */
export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

/** Destroy the connection without answering (the request's effect, if any, has happened). */
export const RESET = Symbol('reset');
export type Outcome = Answer | RawAnswer | typeof RESET;

/** The page a gateway in front of KIE answers with when KIE is unreachable or slow: HTML, no envelope. */
export function gatewayError(status: 502 | 504): RawAnswer {
  const title = status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out';
  return { status, contentType: 'text/html', text: `<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center></body></html>` };
}

export interface ApiCall {
  key: string;
  body: unknown;
  query: URLSearchParams;
}

export interface SimDialectApi {
  readonly name: SimDialect;
  /** The dialect's codes for refusals the shared code decides. */
  readonly codes: { ok: number; invalid: number; insufficientCredits: number; overloaded: number };
  /** Creates take the model's price off the key's credit balance (the reference's API keeps none). */
  readonly chargesCredits: boolean;
  /** An error or success envelope, with the HTTP status the dialect uses for that code. */
  answer(code: number, text: string, data?: unknown): Answer;
  /** Handlers by "METHOD /path". */
  readonly routes: Record<string, (engine: SimEngine, call: ApiCall) => Outcome>;
  /** The callback for a finished task: body and extra headers. */
  callback(engine: SimEngine, task: SimTask): { body: unknown; headers: Record<string, string> };
}
