/** What the fleet benchmark derives from the simulator's counters: slot use and refill delays. */
import type { KeyCounters, SimTask } from '../src/sim/kieSimTypes';

/** Time-weighted mean of `generating` over [from, to]. */
export function meanGenerating(series: KeyCounters['generatingSeries'], from: number, to: number): number {
  let area = 0;
  let level = 0;
  let at = from;
  for (const { t, generating } of series) {
    if (t > to) break;
    if (t > at) {
      area += level * (t - at);
      at = t;
    }
    level = generating;
  }
  area += level * Math.max(0, to - at);
  return to > from ? area / (to - from) : 0;
}

export interface RefillDelays {
  /** Completions whose freed slot a later submit took. */
  count: number;
  meanMs: number;
  p90Ms: number;
}

/**
 * How long a slot stays empty at KIE between a task's completion and the submit that refills it,
 * for one account. The first `cap` submits fill the empty slots; after that, the k-th submit
 * takes the slot of the k-th completion. The theoretical bound assumes one interval.
 */
/** Mean ms from a task's completion to the first status read that saw it (how long finding out took). */
export function detectionLagMs(tasks: ReadonlyArray<Pick<SimTask, 'completedAt' | 'seenDoneAt'>>): number {
  const lags = tasks.flatMap((t) => (t.completedAt !== undefined && t.seenDoneAt !== undefined ? [t.seenDoneAt - t.completedAt] : []));
  return lags.length ? lags.reduce((s, d) => s + d, 0) / lags.length : 0;
}

export function refillDelays(tasks: ReadonlyArray<Pick<SimTask, 'createdAt' | 'completedAt'>>, cap: number): RefillDelays {
  const created = tasks.map((t) => t.createdAt).sort((a, b) => a - b);
  const completed = tasks.flatMap((t) => (t.completedAt === undefined ? [] : [t.completedAt])).sort((a, b) => a - b);
  const delays = completed.slice(0, Math.max(0, created.length - cap)).map((c, k) => created[cap + k]! - c);
  if (delays.length === 0) return { count: 0, meanMs: 0, p90Ms: 0 };
  const sorted = [...delays].sort((a, b) => a - b);
  return {
    count: delays.length,
    meanMs: delays.reduce((s, d) => s + d, 0) / delays.length,
    p90Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!,
  };
}

/**
 * The makespan a perfect worker would reach on one account with these very generation times, in
 * this order: each freed slot refilled the moment it frees, submits exactly one interval apart and
 * as often as the create budgets allow (at most `limit` in any `windowMs`), nothing lost finding
 * out that a task finished. A tighter bound than one built on the mean generation time, which
 * ignores that the last wave's long tasks leave slots idle at the end.
 */
export function idealMakespanMs(
  generationMs: readonly number[],
  cap: number,
  intervalMs: number,
  createBudgets: ReadonlyArray<{ limit: number; windowMs: number }> = [],
): number {
  const slotFreeAt = new Array<number>(cap).fill(0);
  const submits: number[] = [];
  let lastSubmit = -Infinity;
  let end = 0;
  for (const duration of generationMs) {
    const slot = slotFreeAt.indexOf(Math.min(...slotFreeAt));
    let submitAt = Math.max(slotFreeAt[slot]!, lastSubmit + intervalMs, lastSubmit);
    for (const { limit, windowMs } of createBudgets) {
      if (submits.length >= limit) submitAt = Math.max(submitAt, submits[submits.length - limit]! + windowMs);
    }
    submits.push(submitAt);
    lastSubmit = submitAt;
    slotFreeAt[slot] = submitAt + duration;
    end = Math.max(end, submitAt + duration);
  }
  return end;
}
