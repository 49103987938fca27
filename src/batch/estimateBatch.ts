/**
 * What a batch will take before anything is enqueued (`sora-batch estimate`, `POST /v1/batches?dryRun=true`),
 * and how long what is left of a running batch will take (`sora-batch batch`, `GET /v1/batches/:id`):
 * jobs, seconds and dollars per model from the catalog's prices (the same figure a stored job's
 * estimatedCostUsd and its batch's spend are made of), what the accounts' quota and the budget
 * allow, and a finish time at the configured caps.
 */
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { batchEstimateSchema } from './batchSchemas';
import type { Config } from '../shared/config';
import { estimateCostUsd, RenderRequest } from '../shared/renderRequest';
import { accountStatus, fleetAccounts } from '../pool/accountControl';

/** What the fleet can do: the accounts' caps and what is left of their quota now. */
export interface Capacity {
  /** `configured` in this process, `registered` by the fleet's workers, or `assumed`: one account at the configured caps. */
  accountsFrom: 'configured' | 'registered' | 'assumed';
  accounts: Array<{ name: string; maxConcurrent: number; dailyLimit: number; submitsInWindow: number }>;
  /** Between two requests to one account (KIE_MIN_INTERVAL_MS + KIE_INTERVAL_MARGIN_MS). */
  requestSpacingMs: number;
  windowMs: number;
  /** One clip's generation (KIE_TYPICAL_GENERATION_MS: the catalog has no such figure). */
  generationMs: number;
  /** Requests each job takes: its create and its status checks (one with webhooks). */
  requestsPerJob: number;
}

export async function readCapacity(redis: Redis, config: Config): Promise<Capacity> {
  const fleet = await fleetAccounts(redis, config);
  const status = new Map((await accountStatus(redis, config, fleet.accounts)).map((a) => [a.account, a]));
  const assumed = fleet.accounts.length === 0;
  const accounts = assumed
    ? [
        {
          name: '(assumed)',
          maxConcurrent: config.kie.accounts[0]?.maxConcurrent ?? 10,
          dailyLimit: config.kie.accounts[0]?.dailyLimit ?? 100,
          submitsInWindow: 0,
        },
      ]
    : fleet.accounts.map((a) => ({
        name: a.name,
        maxConcurrent: a.maxConcurrent,
        dailyLimit: a.dailyLimit,
        submitsInWindow: status.get(a.name)?.submitsInWindow ?? 0,
      }));
  const { kie } = config;
  // The poller checks a task once per POLL_INTERVAL_MS until it is done; a callback makes one check enough.
  const checks = config.webhook ? 1 : Math.max(1, Math.ceil(kie.typicalGenerationMs / config.pollIntervalMs));
  return {
    accountsFrom: assumed ? 'assumed' : fleet.source,
    accounts,
    requestSpacingMs: kie.minIntervalMs + kie.intervalMarginMs,
    windowMs: kie.dailyWindowMs,
    generationMs: kie.typicalGenerationMs,
    requestsPerJob: 1 + checks,
  };
}

export interface FinishEstimate {
  /** From now until the last video is stored. */
  durationMs: number;
  finishAt: string;
  /** Quota windows the jobs wait for beyond what is left in the current one. */
  windowsWaited: number;
  /** What the figure rests on, for a person to judge it. */
  assumptions: string[];
}

/**
 * When `jobs` more jobs would be done: each account runs min(its slots per generation time, one job
 * per its requests' spacing) at a time, within what is left of its quota; jobs beyond it wait for
 * whole windows. A rolling window refills gradually, so this is an upper bound there.
 */
export function estimateFinish(cap: Capacity, jobs: number, now = Date.now()): FinishEstimate {
  const perMs = cap.accounts.reduce((sum, a) => sum + Math.min(a.maxConcurrent / cap.generationMs, 1 / (cap.requestSpacingMs * cap.requestsPerJob)), 0);
  const leftNow = cap.accounts.reduce((sum, a) => sum + Math.max(0, a.dailyLimit - a.submitsInWindow), 0);
  const perWindow = cap.accounts.reduce((sum, a) => sum + a.dailyLimit, 0);
  let durationMs = 0;
  let windowsWaited = 0;
  if (jobs > 0) {
    if (jobs <= leftNow) durationMs = jobs / perMs + cap.generationMs;
    else {
      windowsWaited = Math.ceil((jobs - leftNow) / perWindow);
      const lastWindowJobs = jobs - leftNow - (windowsWaited - 1) * perWindow;
      durationMs = windowsWaited * cap.windowMs + lastWindowJobs / perMs + cap.generationMs;
    }
  }
  durationMs = Math.round(durationMs);
  return {
    durationMs,
    finishAt: new Date(now + durationMs).toISOString(),
    windowsWaited,
    assumptions: [
      cap.accountsFrom === 'assumed'
        ? 'no accounts known (none configured here, none registered by a worker): one account at KIE_MAX_CONCURRENT / KIE_DAILY_LIMIT assumed'
        : `${cap.accounts.length} account(s) ${cap.accountsFrom === 'configured' ? 'configured here' : 'registered by the fleet'}`,
      `${Math.round(cap.generationMs / 1000)} s per clip (KIE_TYPICAL_GENERATION_MS; the catalog has no generation times)`,
      `${cap.requestsPerJob} request(s) per job ${cap.requestsPerJob === 2 ? '(create, and one status check after a callback)' : '(create, and a status check every POLL_INTERVAL_MS)'}, ${cap.requestSpacingMs} ms apart per account`,
      `a quota window of ${Math.round(cap.windowMs / 3_600_000)} h refills whole (a rolling window refills gradually: later is possible, never earlier)`,
    ],
  };
}

export interface ModelFigures {
  model: string;
  jobs: number;
  seconds: number;
  costUsd: number;
}

/** The answer's shape is its zod schema (batchSchemas.ts). */
export type BatchEstimate = z.infer<typeof batchEstimateSchema>;

const cents = (usd: number): number => Math.round(usd * 1_000_000) / 1_000_000;

/** The estimate of rendering `requests` (validated) at `cap`, within a budget if one is given. */
export function estimateBatch(
  requests: readonly RenderRequest[],
  config: Config,
  cap: Capacity,
  budget?: { budgetUsd: number; spentUsd: number; reservedUsd: number },
): BatchEstimate {
  const perModel = new Map<string, ModelFigures>();
  const costs = requests.map((r) => estimateCostUsd(r, config.kie.models, config.kie.usdPerCredit));
  requests.forEach((r, i) => {
    const m = perModel.get(r.model) ?? { model: r.model, jobs: 0, seconds: 0, costUsd: 0 };
    m.jobs += 1;
    m.seconds += r.duration;
    m.costUsd = cents(m.costUsd + costs[i]!);
    perModel.set(r.model, m);
  });
  const leftInWindow = cap.accounts.reduce((sum, a) => sum + Math.max(0, a.dailyLimit - a.submitsInWindow), 0);
  let allowed: BatchEstimate['budget'];
  if (budget) {
    const leftUsd = cents(budget.budgetUsd - budget.spentUsd - budget.reservedUsd);
    let jobsAllowed = 0;
    let costAllowedUsd = 0;
    for (const c of costs) {
      if (costAllowedUsd + c > leftUsd + 1e-9) break;
      costAllowedUsd = cents(costAllowedUsd + c);
      jobsAllowed++;
    }
    allowed = { ...budget, leftUsd, jobsAllowed, costAllowedUsd };
  }
  return {
    jobs: requests.length,
    seconds: requests.reduce((s, r) => s + r.duration, 0),
    costUsd: cents(costs.reduce((s, c) => s + c, 0)),
    perModel: [...perModel.values()],
    quota: {
      accounts: cap.accounts.length,
      perWindow: cap.accounts.reduce((sum, a) => sum + a.dailyLimit, 0),
      windowMs: cap.windowMs,
      leftInWindow,
      jobsNow: Math.min(requests.length, leftInWindow),
    },
    ...(allowed ? { budget: allowed } : {}),
    finish: estimateFinish(cap, requests.length),
  };
}
