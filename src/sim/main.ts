/**
 * `npm run sim`: the KIE simulator as a standalone server, configured from SIM_* variables
 * (SIM_GENERATION_MS takes a number or a "min-max" range; SIM_RATE_CREATE and SIM_RATE_READ take
 * N/window like KIE_RATE_CREATE; SIM_PORT=0 picks a free port, named by the `url` field of the
 * "listening" log line; SIM_PAUSED_MODELS lists KIE model names whose interface answers
 * "temporarily paused"; SIM_MODELS_FILE serves more catalog entries, in the KIE_MODELS_FILE
 * format). Its counters answer on GET /__sim/counters. Stops on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { parseBudget } from '../shared/config';
import { createLogger } from '../shared/logger';
import { startKieSimulator } from './kieSimulator';
import type { SimFaults, SimOptions } from './kieSimTypes';

type Env = Record<string, string | undefined>;

function number(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number (got ${JSON.stringify(raw)})`);
  return value;
}

function list(env: Env, name: string): string[] | undefined {
  const raw = env[name]?.trim();
  return raw
    ? raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}

/** SIM_RATE_CREATE / SIM_RATE_READ: N/window, as KIE_RATE_CREATE / KIE_RATE_READ read it. */
function rates(env: Env): SimOptions['rates'] {
  const out: NonNullable<SimOptions['rates']> = {};
  for (const [cls, name] of [
    ['create', 'SIM_RATE_CREATE'],
    ['read', 'SIM_RATE_READ'],
  ] as const) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const budget = parseBudget(raw);
    if (budget === undefined) throw new Error(`${name} must be N/window, e.g. 20/10s (got ${JSON.stringify(raw)})`);
    if (budget) out[cls] = budget;
  }
  return Object.keys(out).length ? out : undefined;
}

function generationMs(env: Env): SimOptions['generationMs'] {
  const raw = env.SIM_GENERATION_MS?.trim();
  const range = raw ? /^(\d+)\s*-\s*(\d+)$/.exec(raw) : null;
  return range ? [Number(range[1]), Number(range[2])] : number(env, 'SIM_GENERATION_MS');
}

function simOptionsFromEnv(env: Env): SimOptions {
  const apiKeys = list(env, 'SIM_API_KEYS') ?? ['sim-key'];
  const credits = number(env, 'SIM_CREDITS');
  const faults: Partial<SimFaults> = {
    overloadRate: number(env, 'SIM_OVERLOAD_RATE'),
    serverErrorRate: number(env, 'SIM_SERVER_ERROR_RATE'),
    resetRate: number(env, 'SIM_RESET_RATE'),
    gatewayErrorRate: number(env, 'SIM_GATEWAY_ERROR_RATE'),
    createThenResetRate: number(env, 'SIM_CREATE_THEN_RESET_RATE'),
    createThenGatewayErrorRate: number(env, 'SIM_CREATE_THEN_GATEWAY_ERROR_RATE'),
    createWithoutTaskIdRate: number(env, 'SIM_CREATE_WITHOUT_TASK_ID_RATE'),
    createThenGarbledRate: number(env, 'SIM_CREATE_THEN_GARBLED_RATE'),
    linkRefreshRefusedRate: number(env, 'SIM_LINK_REFRESH_REFUSED_RATE'),
    cutBodyRate: number(env, 'SIM_CUT_BODY_RATE'),
    noContentLengthRate: number(env, 'SIM_NO_CONTENT_LENGTH_RATE'),
    offSpecVideoRate: number(env, 'SIM_OFF_SPEC_VIDEO_RATE'),
    failRate: number(env, 'SIM_FAIL_RATE'),
    insufficientCredits: list(env, 'SIM_INSUFFICIENT_CREDITS'),
    dropCallbacks: env.SIM_DROP_CALLBACKS === 'true' || undefined,
    pausedModels: list(env, 'SIM_PAUSED_MODELS'),
  };
  const modelsFile = env.SIM_MODELS_FILE?.trim();
  const options: SimOptions = {
    port: number(env, 'SIM_PORT') ?? 4010,
    host: env.SIM_HOST?.trim() || undefined,
    apiKeys,
    maxConcurrent: number(env, 'SIM_MAX_CONCURRENT'),
    dailyLimit: number(env, 'SIM_DAILY_LIMIT'),
    dailyWindowMs: number(env, 'SIM_DAILY_WINDOW_MS'),
    minIntervalMs: number(env, 'SIM_MIN_INTERVAL_MS'),
    rates: rates(env),
    generationMs: generationMs(env),
    linkTtlMs: number(env, 'SIM_LINK_TTL_MS'),
    videoBytes: number(env, 'SIM_VIDEO_BYTES'),
    bannedWords: list(env, 'SIM_BANNED_WORDS'),
    seed: number(env, 'SIM_SEED'),
    callbackHmacKey: env.SIM_CALLBACK_HMAC_KEY?.trim() || undefined,
    credits: credits === undefined ? undefined : Object.fromEntries(apiKeys.map((k) => [k, credits])),
    models: modelsFile ? (JSON.parse(readFileSync(modelsFile, 'utf8')) as SimOptions['models']) : undefined,
    faults: Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== undefined)),
  };
  // Unset variables leave the simulator's own defaults in place.
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SimOptions;
}

async function main(): Promise<void> {
  const log = createLogger(process.env.LOG_LEVEL ?? 'info', 'kie-sim');
  const options = simOptionsFromEnv(process.env);
  const sim = await startKieSimulator(options);
  log.info({ url: sim.url, accounts: options.apiKeys.length, faults: options.faults }, `KIE simulator listening on ${sim.url}`);
  const stop = (signal: string): void => {
    log.info({ signal, counters: { requests: sim.counters.requests.total, tasks: sim.counters.tasks.length } }, 'stopping');
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`kie-sim failed to start: ${(err as Error).message}`);
  process.exit(1);
});
