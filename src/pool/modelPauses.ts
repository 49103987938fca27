/**
 * Models paused fleet-wide. When KIE answers a create that a model's interface is paused (or that
 * it does not know the model), that model stops getting creates from every worker, while other
 * models keep rendering and the accounts stay in rotation. Its jobs wait as delayed jobs; one
 * create per KIE_MODEL_PROBE_MS, sent by one waiting job, tells whether it is back (success resumes
 * the model and wakes its waiters), and an operator can resume it at once. State lives in Redis and
 * changes only in the Lua scripts checkModel, pauseModel and resumeModel.
 */
import type { Redis } from 'ioredis';
import { loadLimiterScripts, type LimiterScripts } from './limiter/limiterScripts';

export interface ModelPauseOptions {
  /** Prefix of the limiter's keys (LIMITER_PREFIX): every queue sharing the accounts shares the pauses. */
  prefix: string;
  /** One probe create per this many ms (KIE_MODEL_PROBE_MS). */
  probeMs: number;
}

export type ModelGate =
  /** Create away; `probe` when the model is paused and this job's create is the probe. */
  { open: true; probe: boolean } | { open: false; reason: string; retryInMs: number };

export interface ModelPause {
  reason: string;
  /** Epoch ms of the pause. */
  since: number;
  by: 'kie' | 'operator';
}

export interface ModelPauseStatus {
  model: string;
  paused?: ModelPause;
  /** Jobs waiting for the model. */
  waiters: number;
}

/**
 * A waiter that is not the prober sleeps this many probe periods past the next probe: a resume
 * wakes it sooner; the sleep only matters when the prober's job vanished, and then the first
 * waiter to wake probes instead.
 */
const WAITER_FAILSAFE_PERIODS = 3;
/** An operator's pause is never probed; its waiters look again this often. */
const OPERATOR_PAUSE_FAILSAFE_MS = 10 * 60_000;

function modelKeys(prefix: string, model: string) {
  // One hash tag per model, like an account's keys.
  const base = `${prefix}:model:{${model}}`;
  return { paused: `${base}:paused`, probe: `${base}:probe`, waiters: `${base}:waiters` };
}

export class ModelPauses {
  private readonly scripts: LimiterScripts;

  constructor(
    private readonly redis: Redis,
    private readonly options: ModelPauseOptions,
  ) {
    this.scripts = loadLimiterScripts(redis);
  }

  /** Whether a job may send its create for `model` now; a job kept out is registered as a waiter. */
  async enter(model: string, member: string, nowMs?: number): Promise<ModelGate> {
    const k = modelKeys(this.options.prefix, model);
    const [answer, reason, probeInMs] = (await this.scripts.run('checkModel', [k.paused, k.probe, k.waiters], [member, this.options.probeMs, nowMs ?? ''])) as [
      string,
      string?,
      number?,
    ];
    if (answer === 'open') return { open: true, probe: false };
    if (answer === 'probe') return { open: true, probe: true };
    return { open: false, reason: reason ?? '', retryInMs: this.waitMs(Number(probeInMs), false) };
  }

  /**
   * KIE answered `member`'s create that the model takes no tasks: pauses it (the first answer's
   * reason stays), parks the job as a waiter, and says how long it waits.
   */
  async pause(model: string, member: string, reason: string, nowMs?: number): Promise<{ newlyPaused: boolean; retryInMs: number }> {
    const [newlyPaused, probeInMs] = await this.runPause(model, reason, 'kie', member, nowMs);
    return { newlyPaused, retryInMs: this.waitMs(probeInMs, true) };
  }

  /** An operator takes the model out of rotation: no creates, no probes, until resumed. */
  async pauseByOperator(model: string, reason: string): Promise<void> {
    await this.runPause(model, reason, 'operator', '');
  }

  /** Puts the model back; returns the waiting members, to be woken. */
  async resume(model: string): Promise<string[]> {
    const k = modelKeys(this.options.prefix, model);
    return (await this.scripts.run('resumeModel', [k.paused, k.probe, k.waiters], [])) as string[];
  }

  async status(models: readonly string[]): Promise<ModelPauseStatus[]> {
    const pipeline = this.redis.pipeline();
    for (const model of models) {
      const k = modelKeys(this.options.prefix, model);
      pipeline.hgetall(k.paused).zcard(k.waiters);
    }
    const answers = (await pipeline.exec()) ?? [];
    return models.map((model, i) => {
      const paused = answers[2 * i]?.[1] as Record<string, string> | undefined;
      const waiters = Number(answers[2 * i + 1]?.[1] ?? 0);
      if (!paused || paused.reason === undefined) return { model, waiters };
      return { model, waiters, paused: { reason: paused.reason, since: Number(paused.since), by: paused.by === 'operator' ? 'operator' : 'kie' } };
    });
  }

  private async runPause(model: string, reason: string, by: ModelPause['by'], member: string, nowMs?: number): Promise<[boolean, number]> {
    const k = modelKeys(this.options.prefix, model);
    const [newlyPaused, probeInMs] = (await this.scripts.run(
      'pauseModel',
      [k.paused, k.probe, k.waiters],
      [reason, by, member, this.options.probeMs, nowMs ?? ''],
    )) as [number, number];
    return [newlyPaused === 1, Number(probeInMs)];
  }

  private waitMs(probeInMs: number, prober: boolean): number {
    if (probeInMs < 0) return OPERATOR_PAUSE_FAILSAFE_MS;
    return prober ? probeInMs : probeInMs + WAITER_FAILSAFE_PERIODS * this.options.probeMs;
  }
}
