/**
 * KIE's caps per account, enforced the way KIE enforces them: the interval and the per-class rates
 * are judged when a request arrives (every arrival counts, refused or not), the daily quota over a
 * rolling window of created tasks, concurrency over tasks still generating. Each refusal is
 * counted, and so is the tightest spacing of arrivals KIE saw for each rate.
 */
import { performance } from 'node:perf_hooks';
import { countRateViolation, countViolation, keyCounters, noteSpan } from './kieSimCounters';
import type { CapViolations, SimCounters, SimRate, SimRequestClass } from './kieSimTypes';

export interface CapLimits {
  maxConcurrent: number;
  dailyLimit: number;
  dailyWindowMs: number;
  /** Between any two requests; 0 = none. */
  minIntervalMs: number;
  /** KIE's live limits: at most `limit` requests of a class in any `windowMs` (none by default). */
  rates?: Partial<Record<SimRequestClass, { limit: number; windowMs: number }>>;
}

/** One rate of a key: which requests it counts, and the newest arrivals it needs to judge one. */
interface Rate {
  name: SimRate;
  covers: (cls: SimRequestClass) => boolean;
  limit: number;
  windowMs: number;
}

export interface CapRefusal {
  cap: keyof CapViolations | SimRequestClass;
  message: string;
}

export class SimCaps {
  private readonly rates: Rate[] = [];
  /** Per key and rate: the newest `limit` arrivals (performance.now() ms), oldest first. */
  private readonly arrivals = new Map<string, number[]>();
  /** Creation times (epoch ms) inside the window, oldest first. */
  private readonly created = new Map<string, number[]>();

  constructor(
    private readonly limits: CapLimits,
    private readonly counters: SimCounters,
  ) {
    if (limits.minIntervalMs > 0) this.rates.push({ name: 'interval', covers: () => true, limit: 1, windowMs: limits.minIntervalMs });
    for (const cls of ['create', 'read'] as const) {
      const rate = limits.rates?.[cls];
      if (rate) this.rates.push({ name: cls, covers: (c) => c === cls, ...rate });
    }
  }

  /**
   * Records an API request's arrival; refuses it when it came too soon after the previous one, or
   * when its class already had `limit` requests within the window.
   */
  arrive(key: string, cls: SimRequestClass, now = performance.now()): CapRefusal | undefined {
    let refusal: CapRefusal | undefined;
    for (const rate of this.rates) {
      if (!rate.covers(cls)) continue;
      const id = `${key}\u0000${rate.name}`;
      const newest = this.arrivals.get(id) ?? [];
      this.arrivals.set(id, newest);
      const span = newest.length === rate.limit ? now - newest[0]! : undefined;
      newest.push(now);
      if (newest.length > rate.limit) newest.shift();
      if (span === undefined) continue;
      noteSpan(this.counters, key, rate.name, span);
      if (span >= rate.windowMs || refusal) continue;
      refusal =
        rate.name === 'interval'
          ? this.refuse(key, 'interval', `requests less than ${rate.windowMs} ms apart (${span.toFixed(1)} ms)`)
          : this.refuseRate(
              key,
              rate.name,
              `more than ${rate.limit} ${rate.name} requests in ${rate.windowMs} ms (${rate.limit + 1} in ${span.toFixed(1)} ms)`,
            );
    }
    return refusal;
  }

  /** May this key create a task now? */
  checkCreate(key: string, now = Date.now()): CapRefusal | undefined {
    const { dailyLimit, dailyWindowMs, maxConcurrent } = this.limits;
    const times = this.createdSince(key, now - dailyWindowMs);
    if (times.length >= dailyLimit) {
      return this.refuse(key, 'daily', `daily limit of ${dailyLimit} tasks reached (window ${dailyWindowMs} ms)`);
    }
    const generating = keyCounters(this.counters, key).generating;
    if (generating >= maxConcurrent) {
      return this.refuse(key, 'concurrency', `${generating} tasks generating, the limit is ${maxConcurrent}`);
    }
    return undefined;
  }

  recordCreated(key: string, now = Date.now()): void {
    this.createdSince(key, now - this.limits.dailyWindowMs).push(now);
  }

  private createdSince(key: string, since: number): number[] {
    const times = this.created.get(key) ?? [];
    this.created.set(key, times);
    while (times.length > 0 && times[0]! <= since) times.shift();
    return times;
  }

  private refuse(key: string, cap: keyof CapViolations, message: string): CapRefusal {
    countViolation(this.counters, key, cap);
    return { cap, message: `rate limited: ${message}` };
  }

  private refuseRate(key: string, cls: SimRequestClass, message: string): CapRefusal {
    countRateViolation(this.counters, key, cls);
    return { cap: cls, message: `rate limited: ${message}` };
  }
}
