/**
 * KIE's three caps per account, enforced the way KIE enforces them: the interval is judged when a
 * request arrives (every arrival resets the clock, refused or not), the daily quota over a rolling
 * window of created tasks, concurrency over tasks still generating. Each refusal is counted.
 */
import { performance } from 'node:perf_hooks';
import { countViolation } from './kieSimCounters';
import type { CapViolations, SimCounters } from './kieSimTypes';

export interface CapLimits {
  maxConcurrent: number;
  dailyLimit: number;
  dailyWindowMs: number;
  minIntervalMs: number;
}

export interface CapRefusal {
  cap: keyof CapViolations;
  message: string;
}

export class SimCaps {
  private readonly lastArrival = new Map<string, number>();
  /** Creation times (epoch ms) inside the window, oldest first. */
  private readonly created = new Map<string, number[]>();

  constructor(
    private readonly limits: CapLimits,
    private readonly counters: SimCounters,
  ) {}

  /** Records an API request's arrival; refuses it when it came too soon after the previous one. */
  arrive(key: string, now = performance.now()): CapRefusal | undefined {
    const previous = this.lastArrival.get(key);
    this.lastArrival.set(key, now);
    if (previous === undefined || now - previous >= this.limits.minIntervalMs) return undefined;
    const gap = (now - previous).toFixed(1);
    return this.refuse(key, 'interval', `requests less than ${this.limits.minIntervalMs} ms apart (${gap} ms)`);
  }

  /** May this key create a task now? */
  checkCreate(key: string, now = Date.now()): CapRefusal | undefined {
    const { dailyLimit, dailyWindowMs, maxConcurrent } = this.limits;
    const times = this.createdSince(key, now - dailyWindowMs);
    if (times.length >= dailyLimit) {
      return this.refuse(key, 'daily', `daily limit of ${dailyLimit} tasks reached (window ${dailyWindowMs} ms)`);
    }
    const generating = this.counters.perKey[key].generating;
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
    while (times.length > 0 && times[0] <= since) times.shift();
    return times;
  }

  private refuse(key: string, cap: keyof CapViolations, message: string): CapRefusal {
    countViolation(this.counters, key, cap);
    return { cap, message: `rate limited: ${message}` };
  }
}
