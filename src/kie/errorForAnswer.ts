/**
 * The single place where a KIE answer becomes a typed error. Every family shares it: the
 * reference's codes (1001..1004) and the HTTP-style codes of the jobs and Veo APIs do not overlap.
 * A few answers are told apart only by their text, which KIE keeps stable: a paused model is a 500
 * like any outage, an unknown model a 422 (or 404) like any bad field.
 */
import {
  AuthenticationError,
  InsufficientCreditsError,
  InvalidParametersError,
  InvalidPromptError,
  KieError,
  ModelUnavailableError,
  ResultNotReadyError,
  TaskNotFoundError,
  TransientKieError,
  UnexpectedResponseError,
} from '../shared/errors';
import { retryAfterMs } from '../shared/retryAfter';
import { isObject } from './envelope';
import type { HttpAnswer } from './types';

const SUCCESS_CODES = new Set([0, 200]);
const MODEL_PAUSED = /interface is temporarily paused/i;
const MODEL_UNKNOWN = /model name you specified is not supported/i;
/** Veo's 1080p (and 4K) fetch while the upscale runs: "1080P is processing. It should be ready in 1-2 minutes." */
const RESULT_PROCESSING = /\bis processing\b/i;

/** Returns the error an answer stands for, or undefined when it is a success envelope. */
export function errorForAnswer(answer: HttpAnswer): KieError | undefined {
  const body = (answer.body ?? {}) as { code?: unknown; message?: unknown; msg?: unknown };
  const bodyCode = typeof body.code === 'number' ? body.code : undefined;
  const said = body.message ?? body.msg ?? '';
  const text = (typeof said === 'string' ? said : JSON.stringify(said)).slice(0, 300);
  const status = answer.status;
  const code = bodyCode ?? status;
  const message = `KIE ${code}${text ? ` ${text}` : ''}`;

  if (status >= 200 && status < 300 && bodyCode !== undefined && SUCCESS_CODES.has(bodyCode)) return undefined;
  if (MODEL_PAUSED.test(text)) return new ModelUnavailableError(message, 'paused', code, status);
  if (MODEL_UNKNOWN.test(text)) return new ModelUnavailableError(message, 'unknown', code, status);
  if (RESULT_PROCESSING.test(text)) return new ResultNotReadyError(message, code, status);
  if (status === 429 || code === 429) return new TransientKieError(message, code, status, retryAfterMs(answer.headers['retry-after']));
  if (status === 401 || code === 401) return new AuthenticationError(message, code, status);
  switch (code) {
    // 501 is the jobs API's "generation failed" for this input (most often a content filter): resending
    // the same input would pay again for the same outcome, so it fails with KIE's words, like 1001.
    case 1001:
    case 501:
      return new InvalidPromptError(message, code, status);
    case 1002:
    case 402:
      return new InsufficientCreditsError(message, code, status);
    case 1003:
    case 455:
    case 500:
    case 502:
    case 503:
    case 504:
      return new TransientKieError(message, code, status, retryAfterMs(answer.headers['retry-after']));
    case 1004:
    case 400:
    case 422:
    case 505:
      return new InvalidParametersError(message, code, status);
    case 404:
      return new TaskNotFoundError(message, code, status);
  }
  if (status >= 500) return new TransientKieError(message, code, status, retryAfterMs(answer.headers['retry-after']));
  if (status >= 400) return new InvalidParametersError(message, code, status);
  return new UnexpectedResponseError(`unexpected KIE answer: HTTP ${status}, ${message}`, code, status);
}

/**
 * Whether the answer is KIE's own refusal: its envelope (a JSON object with a numeric `code`)
 * carrying an error code. Only such an answer proves that a create made nothing; a gateway's page,
 * a success without a taskId or a body that does not parse may stand for a task KIE made.
 */
export function isKieRefusal(answer: HttpAnswer): boolean {
  const body = answer.body;
  return isObject(body) && typeof body.code === 'number' && !SUCCESS_CODES.has(body.code);
}
