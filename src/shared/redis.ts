import { Redis, RedisOptions } from 'ioredis';
import pino from 'pino';
import { RedisUnreachableError } from './errors';
import { createLogger, type Logger } from './logger';

/** Where connection trouble is told: a pino logger, or anything with these calls (the CLI's stderr lines). */
export interface TroubleLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ConnectOptions {
  /** Default: JSON lines on stderr. */
  logger?: TroubleLog;
  /** An outage is reported at most once per this many ms (its first failure at once). */
  reportEveryMs?: number;
}

const REPORT_EVERY_MS = 10_000;

/** The URL with its password masked, for messages and logs. */
export function maskRedisUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString().replace(/\/$/, '');
}

/** Why a connection failed, in a word where there is one (ECONNREFUSED, ENOTFOUND, ...). */
function reasonOf(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
}

/**
 * Reports the trouble of one connection and the copies BullMQ makes of it (a worker's blocking
 * connection): one warning per window while any of them cannot reach Redis, and one line when all
 * answer again. ioredis would otherwise print every failed reconnect with its stack.
 */
class ConnectionTrouble {
  private readonly failing = new Set<Redis>();
  private since?: number;
  private lastReportAt = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private readonly where: string;

  constructor(
    private readonly url: string,
    private readonly log: TroubleLog,
    private readonly everyMs: number,
  ) {
    const { host } = new URL(url);
    this.where = host;
  }

  watch(redis: Redis): void {
    redis.on('error', (err: Error) => this.failed(redis, err));
    redis.on('ready', () => this.answered(redis));
  }

  private failed(redis: Redis, err: Error): void {
    const now = Date.now();
    this.failing.add(redis);
    this.since ??= now;
    this.failures += 1;
    if (now - this.lastReportAt < this.everyMs) return;
    this.lastReportAt = now;
    const reason = reasonOf(err);
    this.log.warn(
      { redis: maskRedisUrl(this.url), err: reason, failedAttempts: this.failures, downForMs: now - this.since },
      `cannot reach Redis at ${this.where} (${reason}); retrying`,
    );
  }

  private answered(redis: Redis): void {
    this.failing.delete(redis);
    if (this.since === undefined || this.failing.size > 0) return;
    const downForMs = Date.now() - this.since;
    this.log.info({ redis: maskRedisUrl(this.url), downForMs }, `Redis at ${this.where} answers again`);
    this.since = undefined;
    this.failures = 0;
    this.lastReportAt = Number.NEGATIVE_INFINITY;
  }
}

/**
 * A connection as BullMQ workers need it: commands wait through reconnects instead of failing
 * (maxRetriesPerRequest null), and reconnects back off up to 2 s, forever. Its copies (BullMQ
 * duplicates it for blocking commands) report their trouble with it.
 */
class ReportedRedis extends Redis {
  constructor(
    url: string,
    private readonly trouble: ConnectionTrouble,
  ) {
    super(url, {
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      retryStrategy: (times) => Math.min(50 * times, 2000),
    });
    trouble.watch(this);
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    const copy = super.duplicate(override);
    this.trouble.watch(copy);
    return copy;
  }
}

let stderrLog: Logger | undefined;
/** For library callers who pass no logger: warnings as JSON lines on stderr, never on stdout (a CLI's data). */
const defaultLog = (): Logger => (stderrLog ??= createLogger('warn', 'redis', pino.destination(2)));

/**
 * A connection for the queue and the limiter (see ReportedRedis). Trouble is reported once per
 * window (see ConnectionTrouble), never as raw stacks.
 */
export function connectRedis(url: string, opts: ConnectOptions = {}): Redis {
  return new ReportedRedis(url, new ConnectionTrouble(url, opts.logger ?? defaultLog(), opts.reportEveryMs ?? REPORT_EVERY_MS));
}

/**
 * Waits until the connection is ready. A process that has never reached Redis gives up after
 * `timeoutMs` (the connection is closed and RedisUnreachableError names the URL, password masked);
 * once started, a lost connection is retried forever instead.
 */
export async function waitForRedis(redis: Redis, url: string, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  let lastReason: string | undefined;
  const onError = (err: Error): void => void (lastReason = reasonOf(err));
  let onReady!: () => void;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onReady = resolve;
      redis.once('ready', onReady);
      redis.on('error', onError);
      timer = setTimeout(() => {
        redis.disconnect();
        reject(new RedisUnreachableError(maskRedisUrl(url), timeoutMs, lastReason));
      }, timeoutMs);
    });
  } finally {
    clearTimeout(timer);
    redis.off('ready', onReady);
    redis.off('error', onError);
  }
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** An error that only says the connection is down (the connection reports those itself). */
export function isConnectionError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && CONNECTION_ERROR_CODES.has(code)) || /Connection is closed|ECONNREFUSED|connect ETIMEDOUT/.test(err.message);
}

/**
 * BullMQ queues and workers re-emit their connections' errors, and print each one with its stack
 * when nobody listens. The connection reports its own trouble (connectRedis); anything else is logged.
 */
export function logQueueErrors(
  emitter: { on(event: 'error', listener: (err: Error) => void): unknown },
  logger: Pick<TroubleLog, 'error'> = defaultLog(),
  what = 'queue',
): void {
  emitter.on('error', (err: Error) => {
    if (!isConnectionError(err)) logger.error({ err: err.message }, `${what} error`);
  });
}

/**
 * Whether Redis answers a PING within `timeoutMs`, for health checks: the connection waits
 * through reconnects, so a health check must not wait with it.
 */
export async function redisAnswers(redis: Redis, timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      redis.ping().then(
        (answer) => answer === 'PONG',
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
