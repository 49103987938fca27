/** The counters tests and benchmarks read; every write to them goes through here or SimAccounts. */
import type { CapViolations, KeyCounters, SimCounters, SimRate, SimRequestClass, SimTask } from './kieSimTypes';

const noViolations = (): CapViolations => ({ concurrency: 0, daily: 0, interval: 0 });
const noRateViolations = (): Record<SimRequestClass, number> => ({ create: 0, read: 0 });

export function newCounters(keys: readonly string[]): SimCounters {
  const perKey: Record<string, KeyCounters> = {};
  for (const key of keys) {
    perKey[key] = {
      requests: 0,
      tasksCreated: 0,
      generating: 0,
      peakGenerating: 0,
      violations: noViolations(),
      rateViolations: noRateViolations(),
      tightestMs: {},
      generatingSeries: [],
    };
  }
  return {
    requests: { total: 0, byEndpoint: {} },
    perKey,
    violations: noViolations(),
    rateViolations: noRateViolations(),
    submitsByPrompt: new Map(),
    submitsBySeed: new Map(),
    callbacks: { delivered: 0, failed: 0 },
    downloads: { requests: 0, forbidden: 0 },
    faults: {
      overload: 0,
      serverError: 0,
      reset: 0,
      gatewayError: 0,
      createThenReset: 0,
      createThenGatewayError: 0,
      createWithoutTaskId: 0,
      createThenGarbled: 0,
      linkRefreshRefused: 0,
      cutBody: 0,
      noContentLength: 0,
      offSpecVideo: 0,
      failedTasks: 0,
      insufficientCredits: 0,
      modelPaused: 0,
    },
    tasks: [],
  };
}

/** An account's counters: every key the simulator serves has them from its start. */
export function keyCounters(counters: SimCounters, key: string): KeyCounters {
  const c = counters.perKey[key];
  if (!c) throw new Error(`the simulator serves no key ${key.slice(0, 4)}…`);
  return c;
}

export function countRequest(counters: SimCounters, endpoint: string, key: string | undefined): void {
  counters.requests.total++;
  counters.requests.byEndpoint[endpoint] = (counters.requests.byEndpoint[endpoint] ?? 0) + 1;
  if (key !== undefined) keyCounters(counters, key).requests++;
}

export function countTaskCreated(counters: SimCounters, task: SimTask): void {
  counters.tasks.push(task);
  keyCounters(counters, task.key).tasksCreated++;
  counters.submitsByPrompt.set(task.prompt, (counters.submitsByPrompt.get(task.prompt) ?? 0) + 1);
  if (task.seed !== undefined) counters.submitsBySeed.set(task.seed, (counters.submitsBySeed.get(task.seed) ?? 0) + 1);
}

export function countViolation(counters: SimCounters, key: string, cap: keyof CapViolations): void {
  counters.violations[cap]++;
  keyCounters(counters, key).violations[cap]++;
}

export function countRateViolation(counters: SimCounters, key: string, cls: SimRequestClass): void {
  counters.rateViolations[cls]++;
  keyCounters(counters, key).rateViolations[cls]++;
}

/** Keeps the tightest span of a rate's arrivals on a key. */
export function noteSpan(counters: SimCounters, key: string, rate: SimRate, spanMs: number): void {
  const tightest = keyCounters(counters, key).tightestMs;
  tightest[rate] = Math.min(tightest[rate] ?? Infinity, spanMs);
}

export function countGenerating(counters: SimCounters, key: string, delta: 1 | -1, now: number): void {
  const c = keyCounters(counters, key);
  c.generating += delta;
  c.peakGenerating = Math.max(c.peakGenerating, c.generating);
  c.generatingSeries.push({ t: now, generating: c.generating });
}
