/**
 * Every failure the system can name is a class here, so callers branch on `instanceof`
 * and on `retryable`, never on message strings (the openai-node pattern).
 * No error built here ever carries a request's headers: the API key must not leak.
 */

/** One bad value: which field, what it was, which rule it broke. */
export interface FieldIssue {
  field: string;
  value: unknown;
  rule: string;
}

/** Echoed values longer than this are cut: an answer or a log line need not repeat a whole prompt. */
export const ECHO_MAX_CHARS = 60;

/** An issue as an answer echoes it back. */
export interface EchoedIssue extends FieldIssue {
  /** Set when `value` was cut: characters in the whole value (as JSON, for anything but a string). */
  valueLength?: number;
}

/** The issue with its value cut to ECHO_MAX_CHARS, and the full length stated, when it is longer. */
export function echoIssue(issue: FieldIssue): EchoedIssue {
  const { value } = issue;
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  if (text.length <= ECHO_MAX_CHARS) return issue;
  return { ...issue, value: `${text.slice(0, ECHO_MAX_CHARS - 1)}…`, valueLength: text.length };
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? `(a ${typeof value})`;
  if (text.length <= ECHO_MAX_CHARS) return text;
  return `${text.slice(0, ECHO_MAX_CHARS - 1)}… (${typeof value === 'string' ? value.length : text.length} characters)`;
}

export function formatIssues(issues: FieldIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.rule} (got ${describeValue(i.value)})`).join('; ');
}

/** A render request (job data) that breaks the schema. Never retried, never sent to KIE. */
export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(readonly issues: FieldIssue[]) {
    super(`invalid render request: ${formatIssues(issues)}`);
  }
}

/** Configuration from the environment that cannot be used; the process stops at start. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly issues: FieldIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.field}=${describeValue(i.value)}: ${i.rule}`).join('\n')}`);
  }
}

/** Redis never answered at start; the process gives up (a lost connection later is retried forever). */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
  constructor(
    /** REDIS_URL with its password masked. */
    readonly url: string,
    readonly waitedMs: number,
    /** The last connection error (ECONNREFUSED, ENOTFOUND, ...), when there was one. */
    readonly reason?: string,
  ) {
    super(
      `cannot reach Redis at ${url} within ${waitedMs / 1000} s${reason ? ` (${reason})` : ''}; giving up. ` +
        'Is redis-server running there, and is REDIS_URL right? (REDIS_CONNECT_TIMEOUT_MS sets how long to wait)',
    );
  }
}

/** An operator command named a KIE account that neither this process nor the fleet knows. */
export class UnknownAccountError extends Error {
  override name = 'UnknownAccountError';
}

/** A batch asked to be created with fields other than those it already has (change the budget with PATCH or `batch budget`). */
export class BatchConflictError extends Error {
  override name = 'BatchConflictError';
}

/** What KIE (or the way to it) did wrong. */
export abstract class KieError extends Error {
  /** Retrying the same request later may succeed. */
  abstract readonly retryable: boolean;
  /** The request may have reached KIE and created a task although we got no answer. */
  readonly ambiguous: boolean = false;
  /** The request that failed, as `METHOD base-url/path` without its query; set by the KIE client. */
  endpoint?: string;
  constructor(
    message: string,
    readonly code?: number,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/** 1001 (sora) / 422 content rejection: the prompt itself is refused. */
export class InvalidPromptError extends KieError {
  override name = 'InvalidPromptError';
  readonly retryable = false;
}

/** 1004 (sora) / 422 (jobs): parameters KIE will never accept. */
export class InvalidParametersError extends KieError {
  override name = 'InvalidParametersError';
  readonly retryable = false;
}

/** 1002 (sora) / 402 (jobs): the account has no money; the account is paused, not the job failed. */
export class InsufficientCreditsError extends KieError {
  override name = 'InsufficientCreditsError';
  readonly retryable = false;
}

/** 401: the account's key is wrong or revoked. */
export class AuthenticationError extends KieError {
  override name = 'AuthenticationError';
  readonly retryable = false;
}

/** 1003, HTTP 429, 5xx, 455 maintenance: try again later, honouring `retryAfterMs` when given. */
export class TransientKieError extends KieError {
  override name = 'TransientKieError';
  readonly retryable = true;
  constructor(
    message: string,
    code?: number,
    httpStatus?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message, code, httpStatus);
  }
}

/**
 * KIE answered a create that the model takes no tasks: its interface is paused ("This interface
 * is temporarily paused"), or KIE does not know the model. The model is paused fleet-wide, not
 * the account; retrying the same request soon would only repeat the answer.
 */
export class ModelUnavailableError extends KieError {
  override name = 'ModelUnavailableError';
  readonly retryable = false;
  constructor(
    message: string,
    readonly reason: 'paused' | 'unknown',
    code?: number,
    httpStatus?: number,
  ) {
    super(message, code, httpStatus);
  }
}

/** The version of a finished video the request asked for (Veo's 1080p) is still being made. */
export class ResultNotReadyError extends KieError {
  override name = 'ResultNotReadyError';
  // Not retried in-process: the job is parked and asks again later.
  readonly retryable = false;
}

/**
 * KIE would not mint a fresh link from the stale one (foreign, malformed, too old). The task's
 * record can still give one: ask again without the stale link, on a request turn of its own.
 */
export class LinkRefusedError extends KieError {
  override name = 'LinkRefusedError';
  readonly retryable = false;
}

/** The task is unknown to KIE (404 on record-info). */
export class TaskNotFoundError extends KieError {
  override name = 'TaskNotFoundError';
  readonly retryable = false;
}

/** KIE answered with something we cannot read: treated as transient. */
export class UnexpectedResponseError extends KieError {
  override name = 'UnexpectedResponseError';
  readonly retryable = true;
}

/** The request never left (refused connection, DNS): safe to retry, nothing was created. */
export class KieConnectionError extends KieError {
  override name = 'KieConnectionError';
  readonly retryable = true;
}

/**
 * The request was sent and no answer came (timeout, reset), or, for a create, an answer that does
 * not prove nothing was made (not KIE's own refusal: a gateway's page, a success without a taskId,
 * a body that does not parse). A task may exist anyway, so a create must not be blindly resent.
 */
export class KieAmbiguousError extends KieError {
  override name = 'KieAmbiguousError';
  readonly retryable = true;
  override readonly ambiguous = true;
}

/** A video download or upload that did not produce a verified object. */
export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    message: string,
    /** The download link itself is dead (403/404/410): fetch a fresh one before retrying. */
    readonly linkExpired = false,
    /** Retrying cannot help (e.g. the host is not allowlisted, the file is too large). */
    readonly permanent = false,
  ) {
    super(message);
  }
}

/** A notification that did not reach its notifyUrl. */
export class NotificationError extends Error {
  override name = 'NotificationError';
  constructor(
    message: string,
    /** Retrying cannot help: the destination is refused, or the receiver said no (4xx, redirect). */
    readonly permanent: boolean,
    /** The receiver's Retry-After, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
