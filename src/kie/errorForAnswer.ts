/**
 * The single place where a KIE answer becomes a typed error. Both dialects share it: the
 * reference's codes (1001..1004) and the jobs API's HTTP-style codes do not overlap.
 */
import {
  AuthenticationError,
  InsufficientCreditsError,
  InvalidParametersError,
  InvalidPromptError,
  KieError,
  TaskNotFoundError,
  TransientKieError,
  UnexpectedResponseError,
} from '../shared/errors';
import { retryAfterMs } from '../shared/retryAfter';
import { isObject } from './envelope';
import type { HttpAnswer } from './types';

const SUCCESS_CODES = new Set([0, 200]);

/** Returns the error an answer stands for, or undefined when it is a success envelope. */
export function errorForAnswer(answer: HttpAnswer): KieError | undefined {
  const body = (answer.body ?? {}) as { code?: unknown; message?: unknown; msg?: unknown };
  const bodyCode = typeof body.code === 'number' ? body.code : undefined;
  const text = String(body.message ?? body.msg ?? '').slice(0, 300);
  const status = answer.status;
  const code = bodyCode ?? status;
  const message = `KIE ${code}${text ? ` ${text}` : ''}`;

  if (status >= 200 && status < 300 && bodyCode !== undefined && SUCCESS_CODES.has(bodyCode)) return undefined;
  if (status === 429 || code === 429) return new TransientKieError(message, code, status, retryAfterMs(answer.headers['retry-after']));
  if (status === 401 || code === 401) return new AuthenticationError(message, code, status);
  switch (code) {
    case 1001:
    // Jobs API "generation failed" for this input (most often a content filter): resending the
    // same input would pay again for the same outcome, so it fails with KIE's words, like 1001.
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
