/**
 * One run of a render job: its validated request, its persisted state, and the plumbing every step
 * shares (persist under the job's lock, park as a delayed job, back off, paced KIE calls). The
 * steps themselves live beside this file, one per file; `execute` moves the job through them.
 */
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config';
import type { Logger } from '../../shared/logger';
import { checkNotifyUrl } from '../../shared/notifyDestination';
import { ValidationError, formatIssues } from '../../shared/errors';
import type { KieClient } from '../../kie/types';
import { RenderJobData, RenderResult, RenderState } from '../../shared/renderJob';
import { parseRenderRequest, RenderRequest } from '../../shared/renderRequest';
import { parseRenderState } from '../../shared/renderState';
import type { AccountCredits } from '../../pool/accountCredits';
import type { ModelPauses } from '../../pool/modelPauses';
import { callKie, TurnKind } from '../../pool/kieCall';
import { slotMember } from '../../pool/slotMember';
import { takeWakePending } from '../../pool/wakeJobs';
import type { AccountLimiter } from '../../pool/limiter/accountLimiter';
import { JobLockLostError, saveRenderState } from '../saveRenderState';
import type { RenderCounters } from '../metrics';
import type { BatchProgress } from '../batchProgress';
import { checkDelayMs } from '../../pool/checkSchedule';
import { storeOnCallback } from './callbackFastPath';
import { checkTask } from './generatingStep';
import { storeVideoStep } from './storeStep';
import { recoverAmbiguousSubmit, submitTask } from './submitStep';

export interface RenderDeps {
  config: Config;
  logger: Logger;
  redis: Redis;
  limiter: AccountLimiter;
  /** Set where the dialect keeps a credit balance: accounts that cannot pay get no new work. */
  credits?: AccountCredits;
  /** Models KIE paused: their jobs wait, one probe create at a time. */
  models: ModelPauses;
  kie: ReadonlyMap<string, KieClient>;
  s3: S3Client;
  /** Wakes delayed jobs named by limiter members (waiters for a slot). */
  wakeJobs(members: readonly string[]): Promise<void>;
  /** Aborted on shutdown: in-process waits end and the job is left at its last persisted step. */
  signal?: AbortSignal;
  /** Counts tasks found stuck past KIE_TASK_TIMEOUT_MS. */
  tasksTimedOut?: { inc(): void };
  /** Retries, ambiguous submits, credits spent and posters that could not be made (the worker's metrics). */
  counters?: RenderCounters;
  /** Records the moves of jobs that carry a batchId in their batch. */
  batches: BatchProgress;
}

export type RenderJob = Job<RenderJobData, RenderResult>;

/** A wait shorter than this is slept in-process; a longer one releases the worker (delayed job). */
const INLINE_WAIT_MS = 3000;
/** Waiting for a task: the status poller wakes the job; this is only the failsafe's floor. */
const GENERATION_FAILSAFE_MIN_MS = 60_000;
/** Consecutive transient setbacks (KIE or S3 unavailable) before a job fails with the reason. */
const MAX_SETBACKS = 12;
const MAX_SETBACK_DELAY_MS = 5 * 60_000;
/**
 * Steps one run may take before it parks or ends. A run moves forward a few times (submit, adopt,
 * resubmit once, an account paused, a reserved turn slept in-process); a run still looping past
 * this is stuck in a state it cannot leave, and fails with the reason rather than spin.
 */
const MAX_STEPS_PER_RUN = 25;
/**
 * Short waits one run sleeps in-process. A backlog larger than the accounts' turns has most jobs
 * told "a turn soon" and losing it to another job, turn after turn: past this, the job parks as a
 * delayed job (a new run) instead of spending its steps, and gives its worker slot back meanwhile.
 */
const MAX_INLINE_WAITS_PER_RUN = 10;

/** "850 ms", "12 s", "4 min 30 s": a wait as a person reads it. */
function formatWait(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
}

export class RenderRun {
  state!: RenderState;
  request!: RenderRequest;
  readonly log: Logger;
  /** The job's name in the limiter's sets (queue and id). */
  readonly member: string;
  private inlineWaits = 0;

  constructor(
    readonly deps: RenderDeps,
    readonly job: RenderJob,
    private readonly token: string,
  ) {
    this.log = deps.logger.child({ jobId: job.id });
    this.member = slotMember(job.queueName, job.id!);
  }

  async execute(): Promise<RenderResult> {
    this.request = this.validate();
    this.state = this.resumeState();
    if (this.state.step === undefined) await this.deps.batches.join(this.job, this.request);
    for (let steps = 1; ; steps++) {
      if (steps > MAX_STEPS_PER_RUN) {
        throw new UnrecoverableError(
          `render.step: still at step "${this.state.step ?? '(none)'}" after ${MAX_STEPS_PER_RUN} steps in one run; the job cannot make progress`,
        );
      }
      switch (this.state.step) {
        case undefined:
          await submitTask(this);
          break;
        case 'submitting':
          await recoverAmbiguousSubmit(this);
          break;
        case 'generating': {
          const early = await storeOnCallback(this);
          if (early) return early;
          const record = await checkTask(this);
          if (!record) break;
          // A request for another version of the video (Veo 1080p) fetches its link in the store step.
          return storeVideoStep(this, this.client(this.task.account).recordLinkServes(this.request) ? record.videoUrl : undefined);
        }
        case 'storing':
          return storeVideoStep(this, undefined);
        default:
          // resumeState refuses unknown steps; this keeps the loop from ever spinning on one.
          throw new UnrecoverableError(`render.step: unknown step ${JSON.stringify(this.state.step)}`);
      }
    }
  }

  /** Bad data from any producer fails here, before KIE is ever asked. */
  private validate(): RenderRequest {
    try {
      const request = parseRenderRequest(this.job.data, this.deps.config.kie.models);
      const issues = checkNotifyUrl(request.notifyUrl, this.deps.config.notify.allowPrivate);
      if (issues.length) throw new ValidationError(issues);
      return request;
    } catch (err) {
      if (err instanceof ValidationError) throw new UnrecoverableError(`invalid render request: ${formatIssues(err.issues)}`);
      throw err;
    }
  }

  /** The persisted state, validated: one that no step can resume fails here, before KIE is asked. */
  private resumeState(): RenderState {
    try {
      return parseRenderState(this.job.data.render, [...this.deps.kie.keys()]);
    } catch (err) {
      if (err instanceof ValidationError) throw new UnrecoverableError(`invalid worker state: ${formatIssues(err.issues)}`);
      throw err;
    }
  }

  /** The job's task and account, once it has them (steps after a submit). */
  get task(): { account: string; taskId: string } {
    return this.state as Required<Pick<RenderState, 'account' | 'taskId'>>;
  }

  client(account: string): KieClient {
    const kie = this.deps.kie.get(account);
    if (!kie) throw new UnrecoverableError(`job is bound to KIE account "${account}", which this worker is not configured with`);
    return kie;
  }

  paced<T>(account: string, kind: TurnKind, request: () => Promise<T>): Promise<T> {
    return callKie(this.deps.limiter, this.deps.config, account, kind, request, {
      retryAmbiguous: true,
      signal: this.deps.signal,
      logger: this.log,
      retries: this.deps.counters?.kieRetries,
    });
  }

  /**
   * Hands the task to the status poller: binds it to its slot (the slot is the task's; a slot lost
   * meanwhile, its lease run out, is taken again: the task generates) and schedules its next check
   * against the account's pacer, `delayMs` from now. Always both, so a job resumed between
   * persisting its taskId and binding it is polled like any other.
   */
  async watchTask(account: string, taskId: string, delayMs = checkDelayMs(this.deps.config)): Promise<void> {
    const { limiter } = this.deps;
    await limiter.bindTask(account, this.member, taskId);
    await limiter.scheduleCheck(account, this.member, delayMs);
  }

  /**
   * The poller wakes a job whose task finished; this only covers a wake-up that never came (the
   * job then hands its task to the poller again, see checkTask).
   */
  generationFailsafeMs(): number {
    return Math.max(this.deps.config.pollIntervalMs * 10, GENERATION_FAILSAFE_MIN_MS);
  }

  async freeSlot(account: string): Promise<void> {
    const woken = await this.deps.limiter.releaseSlot(account, this.member);
    if (woken.length) await this.deps.wakeJobs(woken);
  }

  async persist(state: RenderState): Promise<void> {
    if (!(await saveRenderState(this.deps.redis, this.job, this.token, { ...this.job.data, render: state }))) this.lockLost();
    this.state = state;
  }

  /**
   * Persists the state a create request leaves from. A job of a batch passes the batch's gate in
   * the same step (BatchProgress.enterSubmit): if the batch is being cancelled, nothing is written
   * and BatchCancelledError is thrown, so no create is sent.
   */
  async persistSubmit(state: RenderState): Promise<void> {
    if (this.request.batchId === undefined) return this.persist(state);
    const data = { ...this.job.data, render: state };
    if ((await this.deps.batches.enterSubmit(this.job, this.token, this.request, data)) === 'lost') this.lockLost();
    this.job.data = data;
    this.state = state;
  }

  private lockLost(): never {
    const lost = new JobLockLostError(this.job.id!);
    this.log.warn({ alert: 'lock-lost' }, lost.message);
    throw lost;
  }

  /** Short waits are slept here; longer ones, and any after a run's first few, give the worker back. */
  async waitBriefly(ms: number, why: string): Promise<void> {
    if (ms > INLINE_WAIT_MS || ++this.inlineWaits > MAX_INLINE_WAITS_PER_RUN) return this.delay(ms, why);
    await this.sleep(ms);
  }

  /** Sleeps in-process; on shutdown the job is parked at its persisted step for another worker. */
  async sleep(ms: number): Promise<void> {
    const signal = this.deps.signal;
    const aborted = await new Promise<boolean>((resolve) => {
      if (signal?.aborted) return resolve(true);
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(false);
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (aborted) await this.delay(0, 'worker shutting down');
  }

  /** Parks the job as delayed until `ms` from now; it resumes from its persisted step. */
  async delay(ms: number, why: string): Promise<never> {
    this.log.debug({ ms: Math.round(ms), why }, 'job delayed');
    await this.job.moveToDelayed(Date.now() + Math.max(0, Math.round(ms)), this.token);
    // A wake that came while this step still ran (a slot freed, the task seen done) is not lost.
    if (await takeWakePending(this.deps.redis, this.job)) await this.job.promote().catch(() => undefined);
    // Parked, the job is no longer this run's: a cancel of its batch may have come while it ran.
    const left = await this.deps.batches.leaveIfCancelled(this.job, this.request).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'looking for a cancel of the batch failed; the job meets the submit gate when it runs again');
      return false;
    });
    if (left) this.log.info({ batchId: this.request.batchId }, 'job removed: its batch was cancelled before it was submitted');
    throw new DelayedError();
  }

  /** Transient trouble: back off the whole job, exponentially, up to MAX_SETBACKS times. */
  async setback(err: unknown, what: string): Promise<never> {
    // An in-process wait cut short by shutdown is no setback: park the job for another worker.
    if (this.deps.signal?.aborted) return this.delay(0, 'worker shutting down');
    const setbacks = (this.state.setbacks ?? 0) + 1;
    const message = err instanceof Error ? err.message : String(err);
    if (setbacks > MAX_SETBACKS) throw new UnrecoverableError(`${what} kept failing (${MAX_SETBACKS} setbacks); last error: ${message}`);
    await this.persist({ ...this.state, setbacks });
    const ms = Math.round(Math.min(this.deps.config.kie.retryBaseMs * 2 ** setbacks, MAX_SETBACK_DELAY_MS) * (0.75 + Math.random() * 0.5));
    const retryAt = new Date(Date.now() + ms).toISOString();
    this.log.warn(
      { what, setbacks, maxSetbacks: MAX_SETBACKS, retryInMs: ms, retryAt, err: message },
      `${what} failed; the job backs off and tries again in ${formatWait(ms)} (at ${retryAt}, setback ${setbacks} of ${MAX_SETBACKS}): ${message}`,
    );
    return this.delay(ms, `${what} setback`);
  }
}
