/**
 * Configuration is read from the environment once, validated, and frozen into a typed object
 * that is passed to whatever needs it; no other module reads process.env.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, FieldIssue } from './errors';
import { DEFAULT_JOBS_MODELS, type JobsModels } from '../kie/jobsModels';
import { maskRedisUrl } from './redis';
import { buildCatalog, DEFAULT_MODEL, type ModelCatalog, parseModelEntries } from '../kie/catalog/modelCatalog';
import { DEFAULT_USD_PER_CREDIT } from '../kie/catalog/modelPrice';
import type { ModelEntry } from '../kie/catalog/modelEntry';

export type ApiStyle = 'sora' | 'jobs';
export type DailyWindow = 'rolling' | 'utc-day';

export interface AccountConfig {
  /** Name used in job data, logs and Redis keys; the key itself never leaves this object. */
  readonly name: string;
  readonly apiKey: string;
  readonly maxConcurrent: number;
  readonly dailyLimit: number;
}

/** What the limiter and `sora-batch status` need of an account: its name and caps, never its key. */
export type AccountCaps = Pick<AccountConfig, 'name' | 'maxConcurrent' | 'dailyLimit'>;

export interface Config {
  readonly redisUrl: string;
  /** A process that has never reached Redis gives up after this long (exit 1); a lost connection is retried forever. */
  readonly redisConnectTimeoutMs: number;
  readonly queueName: string;
  /** Prefix of the limiter's Redis keys (shared by every queue using the same accounts). */
  readonly limiterPrefix: string;
  readonly kie: {
    readonly baseUrl: string;
    readonly apiStyle: ApiStyle;
    /** Model names sent by KIE_API_STYLE=jobs (KIE_MODEL_STANDARD, KIE_MODEL_HIGH, KIE_MODEL_STORYBOARD). */
    readonly jobsModels: JobsModels;
    readonly accounts: readonly AccountConfig[];
    readonly dailyWindowMs: number;
    readonly dailyWindow: DailyWindow;
    readonly minIntervalMs: number;
    /** Added to the interval between grants: KIE measures arrival times, and arrivals jitter. */
    readonly intervalMarginMs: number;
    readonly requestTimeoutMs: number;
    /** First backoff of a transient KIE failure (1003, 429, 5xx, network); doubles per try. */
    readonly retryBaseMs: number;
    readonly retries: number;
    /** Failsafe: a slot whose job vanished is freed after this long. Longer than any generation. */
    readonly slotLeaseMs: number;
    /**
     * A task KIE still reports generating this long after its submit is treated as failed (its
     * slot freed, KIE_FAILED_TASK_POLICY applied): every "still generating" answer renews the
     * slot's lease, so a stuck task would otherwise hold its slot for good.
     */
    readonly taskTimeoutMs: number;
    /** KIE status 2: submit a new task once more, or fail the job with KIE's reason. */
    readonly failedTaskPolicy: 'resubmit-once' | 'fail';
    /** Without webhooks, how long an ambiguous submit waits before it is resubmitted. */
    readonly ambiguousGraceMs: number;
    readonly ambiguousPolicy: 'resubmit' | 'fail';
    readonly webhookHmacKey?: string;
    /**
     * What a job costs in credits, where the dialect keeps a balance (jobs): per 10 s of standard
     * or high video, and per storyboard. An account whose known balance is below a job's price is
     * given no new work.
     */
    readonly creditPrices: { readonly per10sStandard: number; readonly per10sHigh: number; readonly storyboard: number };
    /** How old a balance reading may get before it is read again (a top-up is noticed within this). */
    readonly creditsRefreshMs: number;
    /**
     * The models a request may name (built-in for KIE_API_STYLE, plus KIE_MODELS_FILE), with the
     * one a request that names none renders with (KIE_DEFAULT_MODEL).
     */
    readonly models: ModelCatalog;
    /** Where KIE_MODELS_FILE was read from, if set. */
    readonly modelsFile?: string;
    /** A model paused because KIE said so is tried again (one create fleet-wide) this often. */
    readonly modelProbeMs: number;
    /** Dollars per KIE credit, for estimatedCostUsd (an assumption: KIE publishes no rate). */
    readonly usdPerCredit: number;
    /** How long KIE takes to make one clip, for batch estimates: the catalog has no such figure. */
    readonly typicalGenerationMs: number;
  };
  readonly pollIntervalMs: number;
  readonly webhook?: { readonly baseUrl: string; readonly secret: string };
  /**
   * Each worker serves HTTP on HTTP_PORT: /healthz, /metrics (Prometheus) and, with webhooks
   * configured, the KIE callback receiver (instead of a separate `npm run webhooks`).
   */
  readonly workerHttp: boolean;
  readonly s3: {
    readonly bucket: string;
    readonly prefix: string;
    readonly endpoint?: string;
    readonly region: string;
    readonly forcePathStyle: boolean;
    readonly partSizeBytes: number;
  };
  /** Delivery of job outcomes to a job's `notifyUrl` (Standard Webhooks, from a queue of its own). */
  readonly notify: {
    /** Signing secret, `whsec_` + base64 as the spec serialises it; notifications go unsigned without one. */
    readonly secret?: string;
    /** Notify private, loopback and link-local addresses too (metadata addresses stay refused). */
    readonly allowPrivate: boolean;
    /** Per delivery attempt, DNS to answer headers. */
    readonly timeoutMs: number;
    /** Tries per notification, with exponential backoff from retryBaseMs (capped at 6 h). */
    readonly attempts: number;
    readonly retryBaseMs: number;
  };
  readonly videoHosts: readonly string[];
  readonly videoMaxBytes: number;
  /**
   * A stored video whose duration or aspect ratio differs from its request: `warn` stores it with a
   * `mismatch` warning in the result, `strict` fails the job (no object appears).
   */
  readonly videoCheck: 'warn' | 'strict';
  /** A JPEG poster frame beside every stored video (needs ffmpeg on the PATH; checked at the worker's start). */
  readonly posters: boolean;
  readonly downloadTimeoutMs: number;
  readonly httpPort: number;
  /** The address every HTTP server of the project listens on (HTTP_HOST; loopback unless told). */
  readonly httpHost: string;
  readonly apiTokens: readonly string[];
  /** When set, the worker's GET /metrics needs it as a Bearer token (/healthz stays open). */
  readonly metricsToken?: string;
  /** Least time between two renders of a schedule, for cron patterns and everyMs alike. */
  readonly scheduleMinIntervalMs: number;
  readonly logLevel: string;
  readonly workerConcurrency: number;
  /**
   * BullMQ lock of an active job (WORKER_LOCK_MS, default 30 s), renewed at half of it while the
   * process lives; also the stalled-check period. A killed worker's active jobs are taken over
   * within about twice this. Shorter means faster takeover and more Redis traffic per job.
   */
  readonly workerLockMs: number;
  readonly shutdownTimeoutMs: number;
  /**
   * OpenTelemetry traces, exported over OTLP/HTTP (protobuf); off unless OTEL_EXPORTER_OTLP_ENDPOINT
   * (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, and off whenever OTEL_SDK_DISABLED=true.
   */
  readonly tracing?: {
    /** Where spans are POSTed: the traces endpoint as given, or the base endpoint + /v1/traces. */
    readonly tracesUrl: string;
    /** OTEL_SERVICE_NAME; each program names itself otherwise (sora-batch-worker, -api, -cli). */
    readonly serviceName?: string;
  };
}

type Env = Record<string, string | undefined>;

/** LIMITER_PREFIX's default: where the account pool and the batches keep their keys. */
export const DEFAULT_LIMITER_PREFIX = 'sora-batch';

/** KIE's file hosts as seen in its documentation, plus the reference's storage host. */
const KIE_FILE_HOSTS = ['storage.kie.ai', 'tempfile.aiquickdraw.com', 'file.aiquickdraw.com', 'tempfile.redpandaai.co'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Where an empty value means "not set": optional features that are off or empty by default, which
 * docker-compose passes as `${VAR:-}` when the .env file leaves them out. Any other variable set to
 * nothing is a mistake (`S3_BUCKET=`), reported rather than silently replaced by its default.
 */
export const EMPTY_MEANS_UNSET: ReadonlySet<string> = new Set([
  'KIE_API_KEY',
  'KIE_ACCOUNTS',
  'KIE_ACCOUNT_LIMITS',
  'KIE_WEBHOOK_HMAC_KEY',
  'WEBHOOK_BASE_URL',
  'WEBHOOK_SECRET',
  'S3_PREFIX',
  'S3_ENDPOINT',
  'API_TOKENS',
  'NOTIFY_SECRET',
  'METRICS_TOKEN',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_SERVICE_NAME',
]);

/** Collects every problem before failing, so one start shows all of them. */
class EnvReader {
  readonly issues: FieldIssue[] = [];
  constructor(private readonly env: Env) {}

  /** The trimmed value; undefined when unset, or empty where that means unset (else an issue). */
  raw(name: string): string | undefined {
    const v = this.env[name]?.trim();
    if (v !== '') return v;
    if (!EMPTY_MEANS_UNSET.has(name)) this.bad(name, v, 'is empty: give it a value, or unset it to use the default');
    return undefined;
  }

  bad(field: string, value: unknown, rule: string): void {
    // A variable read twice (raw, then list) reports its problem once.
    if (!this.issues.some((i) => i.field === field && i.rule === rule)) this.issues.push({ field, value, rule });
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  /** A name that appears inside Redis keys: letters, digits, '.', '_' and '-'. */
  name(name: string, fallback: string): string {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(v)) {
      this.bad(name, v, "must be 1 to 100 letters, digits, '.', '_' or '-'");
      return fallback;
    }
    return v;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) {
      this.bad(name, v, `must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  /** A decimal number, e.g. 0.005. */
  decimal(name: string, fallback: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || n < min || n > max) {
      this.bad(name, v, `must be a number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!allowed.includes(v as T)) {
      this.bad(name, v, `must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['1', 'true', 'yes'].includes(v)) return true;
    if (['0', 'false', 'no'].includes(v)) return false;
    this.bad(name, v, 'must be true or false');
    return fallback;
  }

  url(name: string, fallback?: string, protocols = ['http:', 'https:']): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    try {
      if (protocols.includes(new URL(v).protocol)) return v.replace(/\/+$/, '');
    } catch {
      // reported below
    }
    this.bad(name, v, `must be a URL starting with ${protocols.join(' or ')}//`);
    return fallback;
  }

  /** An IP address or a host name to listen on. */
  listenAddress(name: string, fallback: string): string {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (isIP(v) || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v)) return v;
    this.bad(name, v, 'must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or a host name');
    return fallback;
  }

  /** An optional secret of at least `minLength` characters; never shown in errors. */
  secret(name: string, minLength: number): string | undefined {
    const v = this.raw(name);
    if (v !== undefined && v.length < minLength) this.bad(name, '***', `must be at least ${minLength} characters`);
    return v;
  }

  list(name: string): string[] {
    return (this.raw(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
}

/**
 * NOTIFY_SECRET as the Standard Webhooks libraries read it: base64 of 24 to 64 random bytes, with or
 * without the `whsec_` prefix, so a receiver verifies with the same string and any of them.
 */
function readNotifySecret(r: EnvReader): string | undefined {
  const v = r.raw('NOTIFY_SECRET');
  if (v === undefined) return undefined;
  const base64 = v.startsWith('whsec_') ? v.slice('whsec_'.length) : v;
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(base64) && base64.length % 4 === 0 ? Buffer.from(base64, 'base64').length : 0;
  if (bytes >= 24 && bytes <= 64) return v;
  r.bad('NOTIFY_SECRET', '***', 'must be whsec_ followed by the base64 of 24 to 64 random bytes, e.g. whsec_$(openssl rand -base64 32)');
  return undefined;
}

/** OpenTelemetry's standard variables (the OTLP exporter reads its own others: headers, timeout, compression). */
function readTracing(r: EnvReader): Config['tracing'] {
  const disabled = r.bool('OTEL_SDK_DISABLED', false);
  const tracesEndpoint = r.url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = r.url('OTEL_EXPORTER_OTLP_ENDPOINT');
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
    r.oneOf(name, 'http/protobuf', ['http/protobuf']);
  }
  const serviceName = r.raw('OTEL_SERVICE_NAME');
  const tracesUrl = tracesEndpoint ?? (endpoint === undefined ? undefined : `${endpoint}/v1/traces`);
  if (disabled || tracesUrl === undefined) return undefined;
  return { tracesUrl, serviceName };
}

const ACCOUNT_NAME = /^[A-Za-z0-9_-]{1,40}$/;

function readAccounts(r: EnvReader, maxConcurrent: number, dailyLimit: number, required: boolean): AccountConfig[] {
  const pool = r.raw('KIE_ACCOUNTS');
  const single = r.raw('KIE_API_KEY');
  const pairs: Array<[string, string]> = [];
  if (pool !== undefined) {
    for (const entry of r.list('KIE_ACCOUNTS')) {
      const at = entry.indexOf(':');
      const name = entry.slice(0, at);
      const key = entry.slice(at + 1);
      if (at < 1 || !ACCOUNT_NAME.test(name) || key === '') {
        // Show the name only: the entry holds a key.
        r.bad('KIE_ACCOUNTS', `${name || '?'}:***`, 'must be name:key pairs separated by commas, names of letters, digits, _ and -');
        continue;
      }
      if (pairs.some(([n]) => n === name)) r.bad('KIE_ACCOUNTS', name, 'account names must be unique');
      pairs.push([name, key]);
    }
  } else if (single !== undefined) {
    pairs.push(['default', single]);
  } else if (required) {
    r.bad('KIE_API_KEY', undefined, 'set KIE_API_KEY, or KIE_ACCOUNTS as name:key,name:key');
  }

  // Accounts on other plans: KIE_ACCOUNT_LIMITS=name=concurrent/daily,...
  const overrides = new Map<string, [number, number]>();
  for (const entry of r.list('KIE_ACCOUNT_LIMITS')) {
    const m = /^([^=]+)=(\d+)\/(\d+)$/.exec(entry);
    if (!m || !pairs.some(([n]) => n === m[1]) || Number(m[2]) < 1 || Number(m[3]) < 1) {
      r.bad('KIE_ACCOUNT_LIMITS', entry, 'must be name=concurrent/daily for a configured account, both at least 1');
      continue;
    }
    overrides.set(m[1]!, [Number(m[2]), Number(m[3])]);
  }
  return pairs.map(([name, apiKey]) => {
    const [c, d] = overrides.get(name) ?? [maxConcurrent, dailyLimit];
    return Object.freeze({ name, apiKey, maxConcurrent: c, dailyLimit: d });
  });
}

/** KIE_MODELS_FILE: a JSON array of catalog entries, each checked like a built-in one. */
function readModelsFile(r: EnvReader): ModelEntry[] {
  const path = r.raw('KIE_MODELS_FILE');
  if (path === undefined) return [];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    r.bad('KIE_MODELS_FILE', path, `must be a readable JSON file: ${(err as Error).message}`);
    return [];
  }
  const { entries, issues } = parseModelEntries(json);
  for (const issue of issues) r.bad('KIE_MODELS_FILE', path, `entry ${issue}`);
  return entries;
}

function readCatalog(r: EnvReader, apiStyle: ApiStyle, jobsModels: JobsModels, soraPrices: Config['kie']['creditPrices']): ModelCatalog {
  const defaultModel = r.string('KIE_DEFAULT_MODEL', DEFAULT_MODEL);
  const { catalog, issues } = buildCatalog({ apiStyle, jobsModels, soraPrices, defaultModel, extra: readModelsFile(r) });
  for (const { about, message } of issues) {
    if (about === 'defaultModel') r.bad('KIE_DEFAULT_MODEL', defaultModel, message);
    else r.bad('KIE_MODELS_FILE', r.raw('KIE_MODELS_FILE'), message);
  }
  return catalog;
}

/**
 * Reads and validates the configuration; throws one ConfigError naming every bad variable.
 * Producers (enqueue only) need no KIE account: `{ accountsRequired: false }`.
 */
export function loadConfig(env: Env = process.env, opts: { accountsRequired?: boolean } = {}): Config {
  const r = new EnvReader(env);
  const kieBaseUrl = r.url('KIE_BASE_URL', 'https://api.kie.ai')!;
  const minIntervalMs = r.int('KIE_MIN_INTERVAL_MS', 1000, 0, 3_600_000);
  const maxConcurrent = r.int('KIE_MAX_CONCURRENT', 10, 1, 10_000);
  const dailyLimit = r.int('KIE_DAILY_LIMIT', 100, 1, 10_000_000);

  const webhookBaseUrl = r.url('WEBHOOK_BASE_URL');
  const webhookSecret = r.raw('WEBHOOK_SECRET');
  if (webhookBaseUrl && (webhookSecret === undefined || webhookSecret.length < 16)) {
    r.bad('WEBHOOK_SECRET', webhookSecret ? '***' : undefined, 'must be at least 16 characters when WEBHOOK_BASE_URL is set');
  }

  const kieHost = kieBaseUrl ? new URL(kieBaseUrl).hostname : undefined;
  const videoHosts = r.raw('VIDEO_HOSTS') !== undefined ? r.list('VIDEO_HOSTS') : [...KIE_FILE_HOSTS, kieHost!];
  for (const h of videoHosts) {
    if (h.includes(':') && !h.startsWith('[')) r.bad('VIDEO_HOSTS', h, 'must be host names without ports or schemes');
  }
  const logLevel = r.oneOf('LOG_LEVEL', 'info', LOG_LEVELS);
  const s3Endpoint = r.url('S3_ENDPOINT');
  const apiStyle = r.oneOf<ApiStyle>('KIE_API_STYLE', 'sora', ['sora', 'jobs']);
  const jobsModels: JobsModels = {
    standard: r.string('KIE_MODEL_STANDARD', DEFAULT_JOBS_MODELS.standard),
    high: r.string('KIE_MODEL_HIGH', DEFAULT_JOBS_MODELS.high),
    storyboard: r.string('KIE_MODEL_STORYBOARD', DEFAULT_JOBS_MODELS.storyboard),
  };
  // Defaults: what the simulator charges; standard and high are also the reference's dollar
  // prices at $0.005 a credit. The storyboard's 150 errs above the reference's $0.60 (120):
  // a price set too high only holds back an account's last credits, one too low risks a 402.
  const creditPrices = {
    per10sStandard: r.int('KIE_CREDITS_PER_10S_STANDARD', 30, 0, 1_000_000),
    per10sHigh: r.int('KIE_CREDITS_PER_10S_HIGH', 60, 0, 1_000_000),
    storyboard: r.int('KIE_CREDITS_STORYBOARD', 150, 0, 1_000_000),
  };

  const config: Config = {
    redisUrl: r.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:'])!,
    redisConnectTimeoutMs: r.int('REDIS_CONNECT_TIMEOUT_MS', 30_000, 100, 3_600_000),
    queueName: r.name('QUEUE_NAME', 'sora-renders'),
    limiterPrefix: r.string('LIMITER_PREFIX', DEFAULT_LIMITER_PREFIX),
    kie: {
      baseUrl: kieBaseUrl,
      apiStyle,
      jobsModels,
      accounts: readAccounts(r, maxConcurrent, dailyLimit, opts.accountsRequired ?? true),
      dailyWindowMs: r.int('KIE_DAILY_WINDOW_MS', 86_400_000, 1000),
      dailyWindow: r.oneOf<DailyWindow>('KIE_DAILY_WINDOW', 'rolling', ['rolling', 'utc-day']),
      minIntervalMs,
      intervalMarginMs: r.int('KIE_INTERVAL_MARGIN_MS', Math.max(5, Math.ceil(minIntervalMs * 0.05)), 0, 60_000),
      requestTimeoutMs: r.int('KIE_REQUEST_TIMEOUT_MS', 30_000, 100),
      retryBaseMs: r.int('KIE_RETRY_BASE_MS', 2000, 1),
      retries: r.int('KIE_RETRIES', 5, 0, 50),
      slotLeaseMs: r.int('KIE_SLOT_LEASE_MS', 6 * 3_600_000, 1000),
      // KIE's own guidance: stop polling a task after 10 to 15 minutes.
      taskTimeoutMs: r.int('KIE_TASK_TIMEOUT_MS', 30 * 60_000, 1000),
      failedTaskPolicy: r.oneOf('KIE_FAILED_TASK_POLICY', 'resubmit-once', ['resubmit-once', 'fail'] as const),
      ambiguousGraceMs: r.int('KIE_AMBIGUOUS_GRACE_MS', 15 * 60_000, 0),
      ambiguousPolicy: r.oneOf('KIE_AMBIGUOUS_POLICY', 'resubmit', ['resubmit', 'fail'] as const),
      webhookHmacKey: r.raw('KIE_WEBHOOK_HMAC_KEY'),
      creditPrices,
      creditsRefreshMs: r.int('KIE_CREDITS_REFRESH_MS', 5 * 60_000, 100, 86_400_000),
      models: readCatalog(r, apiStyle, jobsModels, creditPrices),
      modelsFile: r.raw('KIE_MODELS_FILE'),
      modelProbeMs: r.int('KIE_MODEL_PROBE_MS', 5 * 60_000, 100, 86_400_000),
      usdPerCredit: r.decimal('KIE_USD_PER_CREDIT', DEFAULT_USD_PER_CREDIT, 0, 1000),
      typicalGenerationMs: r.int('KIE_TYPICAL_GENERATION_MS', 3 * 60_000, 1, 3_600_000),
    },
    pollIntervalMs: r.int('POLL_INTERVAL_MS', 10_000, 10),
    webhook: webhookBaseUrl && webhookSecret ? { baseUrl: webhookBaseUrl, secret: webhookSecret } : undefined,
    workerHttp: r.bool('WORKER_HTTP', false),
    s3: {
      bucket: r.string('S3_BUCKET', 'sora-renders'),
      prefix: r.string('S3_PREFIX', '').replace(/^\/+/, ''),
      endpoint: s3Endpoint,
      region: r.string('S3_REGION', 'us-east-1'),
      forcePathStyle: r.bool('S3_FORCE_PATH_STYLE', s3Endpoint !== undefined),
      partSizeBytes: r.int('S3_PART_SIZE_MB', 8, 5, 5120) * 1024 * 1024,
    },
    notify: {
      secret: readNotifySecret(r),
      allowPrivate: r.bool('NOTIFY_ALLOW_PRIVATE', false),
      timeoutMs: r.int('NOTIFY_TIMEOUT_MS', 15_000, 100, 120_000),
      // 24 tries, 10 s doubling to a 6 h cap: the last one about 3 days after the first.
      attempts: r.int('NOTIFY_ATTEMPTS', 24, 1, 100),
      retryBaseMs: r.int('NOTIFY_RETRY_BASE_MS', 10_000, 1, 3_600_000),
    },
    videoHosts: videoHosts.map((h) => h.toLowerCase()),
    videoMaxBytes: r.int('VIDEO_MAX_BYTES', 2 * 1024 ** 3, 1),
    videoCheck: r.oneOf('VIDEO_CHECK', 'warn', ['warn', 'strict'] as const),
    posters: r.bool('POSTERS', false),
    downloadTimeoutMs: r.int('DOWNLOAD_TIMEOUT_MS', 5 * 60_000, 100),
    httpPort: r.int('HTTP_PORT', 3000, 0, 65535),
    httpHost: r.listenAddress('HTTP_HOST', '127.0.0.1'),
    apiTokens: r.list('API_TOKENS'),
    scheduleMinIntervalMs: r.int('SCHEDULE_MIN_INTERVAL_MS', 60_000, 1000, 86_400_000),
    metricsToken: r.secret('METRICS_TOKEN', 16),
    logLevel,
    workerConcurrency: r.int('WORKER_CONCURRENCY', 50, 1, 10_000),
    workerLockMs: r.int('WORKER_LOCK_MS', 30_000, 1000, 3_600_000),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 30_000, 0),
    tracing: readTracing(r),
  };
  if (r.issues.length) throw new ConfigError(r.issues);
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** The configuration without secrets, for logs and status pages. */
export function describeConfig(c: Config): Record<string, unknown> {
  return {
    ...c,
    redisUrl: maskRedisUrl(c.redisUrl),
    kie: {
      ...c.kie,
      accounts: c.kie.accounts.map(({ apiKey: _k, ...a }) => a),
      webhookHmacKey: c.kie.webhookHmacKey ? '***' : undefined,
      // The entries are long; KIE_MODELS_FILE and `sora-batch models` show them.
      models: { defaultModel: c.kie.models.defaultModel, ids: Object.keys(c.kie.models.entries) },
    },
    webhook: c.webhook ? { baseUrl: c.webhook.baseUrl, secret: '***' } : undefined,
    notify: { ...c.notify, secret: c.notify.secret ? '***' : undefined },
    apiTokens: c.apiTokens.map(() => '***'),
    metricsToken: c.metricsToken ? '***' : undefined,
  };
}
