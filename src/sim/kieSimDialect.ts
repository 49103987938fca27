/** What each wire family (sora, jobs, veo) provides to the simulator's shared server and engine. */
import type { SimEngine } from './kieSimEngine';
import type { SimDialect, SimTask } from './kieSimTypes';

/** An HTTP answer with a JSON body. */
export interface Answer {
  status: number;
  body: unknown;
}

/** Destroy the connection without answering (the request's effect, if any, has happened). */
export const RESET = Symbol('reset');
export type Outcome = Answer | typeof RESET;

export interface ApiCall {
  key: string;
  body: unknown;
  query: URLSearchParams;
}

export interface SimDialectApi {
  readonly name: SimDialect;
  /** The dialect's codes for refusals the shared code decides. */
  readonly codes: { invalid: number; insufficientCredits: number; overloaded: number };
  /** Creates take the model's price off the key's credit balance (the reference's API keeps none). */
  readonly chargesCredits: boolean;
  /** An error or success envelope, with the HTTP status the dialect uses for that code. */
  answer(code: number, text: string, data?: unknown): Answer;
  /** Handlers by "METHOD /path". */
  readonly routes: Record<string, (engine: SimEngine, call: ApiCall) => Outcome>;
  /** The callback for a finished task: body and extra headers. */
  callback(engine: SimEngine, task: SimTask): { body: unknown; headers: Record<string, string> };
}
