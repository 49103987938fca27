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
/** Which documented limits the defaults follow: the reference's (`seed`) or KIE's live docs (`kie-2026`). */
export type LimitsProfile = 'seed' | 'kie-2026';
/** What a request to KIE counts against: a create, or a read (status read, link refresh, credit read). */
export type RequestClass = 'create' | 'read';

/** At most `limit` requests in any window of `windowMs`. */
export interface RateBudget {
  readonly limit: number;
  readonly windowMs: number;
}

/** How often an account may send requests to KIE, judged by KIE on arrival. */
export interface RequestRates {
  /** Least time between ANY two requests (the seed's single interval); none when undefined. */
  readonly intervalMs?: number;
  /** Creates. */
  readonly create?: RateBudget;
  /** Status reads, link refreshes and credit reads. */
  readonly read?: RateBudget;
}

export interface AccountConfig {
  /** Name used in job data, logs and Redis keys; the key itself never leaves this object. */
  readonly name: string;
  readonly apiKey: string;
  readonly maxConcurrent: number;
  /** Submits per daily window; Infinity: no daily quota (the kie-2026 profile documents none). */
  readonly dailyLimit: number;
  /** This account's own request rates (KIE_ACCOUNT_RATES); others follow `kie.rates`. */
  readonly rates?: RequestRates;
}

/** What the limiter and `sora-batch status` need of an account: its name and caps, never its key. */
export type AccountCaps = Pick<AccountConfig, 'name' | 'maxConcurrent' | 'dailyLimit' | 'rates'>;

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
    /** KIE_LIMITS_PROFILE: where the defaults of the caps and rates below come from. */
    readonly limitsProfile: LimitsProfile;
    /** The request rates of every account KIE_ACCOUNT_RATES does not name. */
    readonly rates: RequestRates;
    /** The interval of `rates` (0 when it has none). */
    readonly minIntervalMs: number;
    /**
     * Added to every rate window (the interval too): KIE measures arrival times, and arrivals
     * jitter. The base of the adaptive margin, which an interval 429 widens for a while.
     */
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
    // A variable read twice (raw, then list) reports its problem once; distinct bad entries each.
    if (!this.issues.some((i) => i.field === field && i.rule === rule && i.value === value)) this.issues.push({ field, value, rule });
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

/**
 * The caps and rates a profile stands for; an explicit setting overrides each of them.
 *
 * `seed`: the reference we were given (kie-sora2-api.md): at least 1 s between any two requests,
 * 10 tasks in flight, 100 submits a day.
 *
 * `kie-2026`: KIE's documented live limits, read 2026-12-02 from "Getting Started" §8
 * (https://docs.kie.ai/1973359m0.md): "Up to 20 new generation requests per 10 seconds", "This
 * typically allows 100+ concurrent running tasks", "Limits are applied per account", over the limit
 * HTTP 429 and the request is not queued; and from Get Task Details
 * (https://docs.kie.ai/market/common/get-task-detail): "Maximum query rate: 10 requests per second
 * per API key". Link refreshes and credit reads count as reads. No interval between requests and no
 * daily cap are documented there, so the profile sets neither: the create budget already bounds an
 * account at 172 800 creates a day, and a usage cap an operator sets on a key in KIE's dashboard
 * answers 429/433 like any refusal. KIE_DAILY_LIMIT and KIE_MIN_INTERVAL_MS add them back.
 */
const PROFILES: Record<LimitsProfile, { rates: RequestRates; maxConcurrent: number; dailyLimit: number; marginMs?: number }> = {
  seed: { rates: { intervalMs: 1000 }, maxConcurrent: 10, dailyLimit: 100 },
  'kie-2026': {
    rates: { create: { limit: 20, windowMs: 10_000 }, read: { limit: 10, windowMs: 1000 } },
    maxConcurrent: 100,
    dailyLimit: Number.POSITIVE_INFINITY,
    // Absolute ms of jitter between our send and KIE's arrival; 5 % of the seed's 1 s.
    marginMs: 50,
  },
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const MAX_WINDOW_MS = 86_400_000;

/** "250ms", "10s", "s" (one second), "1000" (ms): a duration of 1 ms .. 1 day, or undefined. */
function parseDuration(text: string): number | undefined {
  const m = /^(\d+)?\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m || (m[1] === undefined && m[2] === undefined)) return undefined;
  const ms = Number(m[1] ?? 1) * UNIT_MS[m[2] ?? 'ms']!;
  return ms >= 1 && ms <= MAX_WINDOW_MS ? ms : undefined;
}

const BUDGET_RULE = 'must be N/window, e.g. 20/10s or 10/1s (N from 1 to 100000, a window of 1 ms to 24 h in ms, s, m or h), or off';

/** "20/10s" -> 20 per 10 000 ms; "off" -> null (no such budget); undefined when malformed. */
export function parseBudget(text: string): RateBudget | null | undefined {
  if (text.trim().toLowerCase() === 'off') return null;
  const m = /^\s*(\d+)\s*\/\s*(.+)$/.exec(text);
  const limit = m ? Number(m[1]) : NaN;
  const windowMs = m ? parseDuration(m[2]!) : undefined;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000 || windowMs === undefined) return undefined;
  return { limit, windowMs };
}

/** The rates with one class's budget set, or removed (null: `off`). */
function withBudget(rates: RequestRates, which: RequestClass, budget: RateBudget | null): RequestRates {
  const { [which]: _dropped, ...rest } = rates;
  return budget ? { ...rest, [which]: budget } : rest;
}

/** The rates with the interval set, or removed (null: `off`). */
function withInterval(rates: RequestRates, intervalMs: number | null): RequestRates {
  const { intervalMs: _dropped, ...rest } = rates;
  return intervalMs === null ? rest : { ...rest, intervalMs };
}

/** KIE_RATE_CREATE / KIE_RATE_READ over the profile's rates. */
function readRates(r: EnvReader, profile: RequestRates, minIntervalMs: number | undefined): RequestRates {
  let rates = minIntervalMs === undefined ? profile : withInterval(profile, minIntervalMs);
  for (const [which, name] of [
    ['create', 'KIE_RATE_CREATE'],
    ['read', 'KIE_RATE_READ'],
  ] as const) {
    const raw = r.raw(name);
    if (raw === undefined) continue;
    const budget = parseBudget(raw);
    if (budget === undefined) r.bad(name, raw, BUDGET_RULE);
    else rates = withBudget(rates, which, budget);
  }
  return rates;
}

/**
 * KIE_ACCOUNT_RATES=name=create:40/10s;read:20/1s;interval:500ms,...: an account's own rates,
 * each key over the fleet's (`off` removes that budget for the account).
 */
function readAccountRates(r: EnvReader, names: readonly string[], fleet: RequestRates): Map<string, RequestRates> {
  const own = new Map<string, RequestRates>();
  const rule = 'must be name=key:value;... for a configured account, keys create and read (N/window, e.g. 20/10s) and interval (e.g. 1000ms, 1s), or off';
  for (const entry of r.list('KIE_ACCOUNT_RATES')) {
    const m = /^([^=]+)=(.+)$/.exec(entry);
    if (!m || !names.includes(m[1]!)) {
      r.bad('KIE_ACCOUNT_RATES', entry, rule);
      continue;
    }
    let rates = own.get(m[1]!) ?? fleet;
    for (const item of m[2]!
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const kv = /^(create|read|interval):(.+)$/.exec(item);
      const value = kv?.[2]!.trim() ?? '';
      if (kv?.[1] === 'interval') {
        const ms = value.toLowerCase() === 'off' ? null : /^0+$/.test(value) ? 0 : parseDuration(value);
        if (ms === undefined) r.bad('KIE_ACCOUNT_RATES', entry, rule);
        else rates = withInterval(rates, ms);
        continue;
      }
      const budget = kv ? parseBudget(value) : undefined;
      if (budget === undefined) r.bad('KIE_ACCOUNT_RATES', entry, rule);
      else rates = withBudget(rates, kv![1] as RequestClass, budget);
    }
    own.set(m[1]!, rates);
  }
  return own;
}

function readAccounts(r: EnvReader, maxConcurrent: number, dailyLimit: number, rates: RequestRates, required: boolean): AccountConfig[] {
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
  const ownRates = readAccountRates(
    r,
    pairs.map(([n]) => n),
    rates,
  );
  return pairs.map(([name, apiKey]) => {
    const [c, d] = overrides.get(name) ?? [maxConcurrent, dailyLimit];
    const own = ownRates.get(name);
    return Object.freeze({ name, apiKey, maxConcurrent: c, dailyLimit: d, ...(own ? { rates: own } : {}) });
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
  const limitsProfile = r.oneOf<LimitsProfile>('KIE_LIMITS_PROFILE', 'seed', ['seed', 'kie-2026']);
  const profile = PROFILES[limitsProfile];
  const rates = readRates(r, profile.rates, r.raw('KIE_MIN_INTERVAL_MS') === undefined ? undefined : r.int('KIE_MIN_INTERVAL_MS', 1000, 0, 3_600_000));
  const minIntervalMs = rates.intervalMs ?? 0;
  const maxConcurrent = r.int('KIE_MAX_CONCURRENT', profile.maxConcurrent, 1, 10_000);
  const dailyLimit = r.int('KIE_DAILY_LIMIT', profile.dailyLimit, 1, 10_000_000);

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
      accounts: readAccounts(r, maxConcurrent, dailyLimit, rates, opts.accountsRequired ?? true),
      dailyWindowMs: r.int('KIE_DAILY_WINDOW_MS', 86_400_000, 1000),
      dailyWindow: r.oneOf<DailyWindow>('KIE_DAILY_WINDOW', 'rolling', ['rolling', 'utc-day']),
      limitsProfile,
      rates,
      minIntervalMs,
      intervalMarginMs: r.int('KIE_INTERVAL_MARGIN_MS', profile.marginMs ?? Math.max(5, Math.ceil(minIntervalMs * 0.05)), 0, 60_000),
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
      // JSON has no Infinity: it would read as null.
      accounts: c.kie.accounts.map(({ apiKey: _k, ...a }) => ({ ...a, dailyLimit: Number.isFinite(a.dailyLimit) ? a.dailyLimit : 'none' })),
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
