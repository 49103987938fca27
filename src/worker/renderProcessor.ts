/**
 * The steps of one render job. Every step ends at a point persisted on the job, so any worker can
 * resume it: submit (slot, quota and turn first, taskId written at once), wait (paced status checks
 * as delayed-job steps, holding no worker concurrency while asleep), store (stream into S3).
 */
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import { checkDialectSupport } from '../shared/dialectSupport';
import {
  InsufficientCreditsError,
  KieError,
  StorageError,
  TaskNotFoundError,
  ValidationError,
  formatIssues,
} from '../shared/errors';
import type { KieClient, TaskRecord } from '../shared/kie/types';
import { RenderJobData, RenderResult, RenderState } from '../shared/renderJob';
import { estimateCostUsd, parseRenderRequest, RenderRequest } from '../shared/renderRequest';
import { callbackUrl } from '../shared/callbackToken';
import { callbackTaskFor, clearCallbackTask } from './callbackInbox';
import type { AccountCredits } from './accountCredits';
import { callKie, TurnKind } from './kieCall';
import { takeFinishedTask } from './finishedTasks';
import { JobLockLostError, saveRenderState } from './saveRenderState';
import { slotMember } from './slotMember';
import { checkDelayMs } from './statusPoller';
import type { AccountLimiter } from './limiter/accountLimiter';
import { findStoredVideo, storeVideo } from './storage/storeVideo';

export interface RenderDeps {
  config: Config;
  logger: Logger;
  redis: Redis;
  limiter: AccountLimiter;
  /** Set where the dialect keeps a credit balance: accounts that cannot pay get no new work. */
  credits?: AccountCredits;
  kie: ReadonlyMap<string, KieClient>;
  s3: S3Client;
  /** Wakes delayed jobs named by limiter members (waiters for a slot). */
  wakeJobs(members: readonly string[]): Promise<void>;
  /** Aborted on shutdown: in-process waits end and the job is left at its last persisted step. */
  signal?: AbortSignal;
}

export type RenderJob = Job<RenderJobData, RenderResult>;

/** A wait shorter than this is slept in-process; a longer one releases the worker (delayed job). */
const INLINE_WAIT_MS = 3000;
/** Waiting for a task: the status poller wakes the job; this is only the failsafe's floor. */
const GENERATION_FAILSAFE_MIN_MS = 60_000;
/** Waiting for a free slot: woken by the job that frees it; this is only the failsafe. */
const SLOT_WAIT_FAILSAFE_MS = 60_000;
/** Consecutive transient setbacks (KIE or S3 unavailable) before a job fails with the reason. */
const MAX_SETBACKS = 12;
const MAX_SETBACK_DELAY_MS = 5 * 60_000;
/** Download attempts within one store step before the job backs off as a whole. */
const STORE_ATTEMPTS = 4;

export function createRenderProcessor(deps: RenderDeps) {
  return (job: RenderJob, token?: string): Promise<RenderResult> => new RenderRun(deps, job, token ?? '').execute();
}

class RenderRun {
  private state: RenderState;
  private request!: RenderRequest;
  private readonly log: Logger;
  /** The job's name in the limiter's sets (queue and id). */
  private readonly member: string;

  constructor(
    private readonly deps: RenderDeps,
    private readonly job: RenderJob,
    private readonly token: string,
  ) {
    this.state = { submits: 0, ...job.data.render };
    this.log = deps.logger.child({ jobId: job.id });
    this.member = slotMember(job.queueName, job.id!);
  }

  async execute(): Promise<RenderResult> {
    this.request = this.validate();
    for (;;) {
      switch (this.state.step) {
        case undefined:
          await this.submit();
          break;
        case 'submitting':
          await this.recoverAmbiguousSubmit();
          break;
        case 'generating': {
          const record = await this.checkTask();
          if (record) return this.store(record.videoUrl!);
          break;
        }
        case 'storing':
          return this.store(undefined);
      }
    }
  }

  /** Bad data from any producer fails here, before KIE is ever asked. */
  private validate(): RenderRequest {
    try {
      const request = parseRenderRequest(this.job.data);
      const issues = checkDialectSupport(request, this.deps.config.kie.apiStyle);
      if (issues.length) throw new ValidationError(issues);
      return request;
    } catch (err) {
      if (err instanceof ValidationError) throw new UnrecoverableError(`invalid render request: ${formatIssues(err.issues)}`);
      throw err;
    }
  }

  // ---- submit -------------------------------------------------------------------------------

  private async submit(): Promise<void> {
    const jobId = this.job.id!;
    const { limiter, config, credits } = this.deps;
    const price = credits?.priceOf(this.request) ?? 0;
    const accounts = await credits?.accountsAbleToPay(price);
    if (credits && accounts?.length === 0) {
      credits.alertNoneCanPay(price, await credits.balances());
      return this.delay(config.kie.creditsRefreshMs, 'no account has the credits for this job');
    }
    // A task announced for an earlier submit of this job must not be adopted for this one.
    await clearCallbackTask(this.deps.redis, config.limiterPrefix, this.job.queueName, jobId);
    const grant = await limiter.acquireSubmit(this.member, { accounts });
    if (!grant.granted) {
      switch (grant.reason) {
        case 'interval':
          return this.waitBriefly(grant.waitMs, 'next request turn');
        case 'quota':
          return this.delay(grant.waitMs, 'daily quota used up on every account');
        case 'concurrency':
        case 'paused':
          return this.delay(SLOT_WAIT_FAILSAFE_MS, grant.reason === 'paused' ? 'every account paused' : 'every slot busy');
      }
    }
    const account = grant.account;
    // Persisted before the request leaves: if we die from here until the taskId is written, the
    // job resumes as an ambiguous submit, never as a fresh one. Only this write stands between the
    // turn and the request (KIE judges the interval on arrival).
    await Promise.all([
      this.persist({ ...this.state, step: 'submitting', account, taskId: undefined, submitStartedAt: Date.now(), checks: 0 }),
      credits?.spend(account, price),
    ]);

    const kie = this.client(account);
    const callBack = config.webhook ? callbackUrl(config.webhook.baseUrl, config.webhook.secret, this.job.queueName, jobId) : undefined;
    let taskId: string;
    try {
      taskId = await callKie(limiter, config, account, 'retry', () => kie.createTask(this.request, callBack), {
        retryAmbiguous: false,
        firstTurnTaken: true,
        signal: this.deps.signal,
      });
    } catch (err) {
      return this.submitFailed(account, err);
    }
    const submittedAt = Date.now();
    await this.persist({ ...this.state, step: 'generating', taskId, submittedAt, submits: this.state.submits + 1, setbacks: 0 });
    await limiter.confirmSubmit(account, this.member);
    await this.watchTask(account, taskId, { newTask: true });
    this.log.info({ account, taskId }, 'task submitted');
    return this.delay(this.generationFailsafeMs(), 'waiting for the status poller');
  }

  private async submitFailed(account: string, err: unknown): Promise<void> {
    const { limiter } = this.deps;
    if (err instanceof KieError && err.ambiguous) {
      await limiter.confirmSubmit(account, this.member);
      this.log.warn({ account, err: err.message }, 'submit got no answer: a task may exist; not resubmitting blindly');
      return this.recoverAmbiguousSubmit();
    }
    // KIE answered, so no task exists: the slot, the quota unit and the credits go back.
    await limiter.refundSubmit(account, this.member);
    await this.deps.credits?.refund(account, this.deps.credits.priceOf(this.request));
    await this.freeSlot(account);
    if (err instanceof InsufficientCreditsError) {
      await limiter.pause(account, err.message);
      this.log.error({ account, alert: 'insufficient-credits' }, `account ${account} paused: ${err.message}`);
      // What it has left, for status; reading it is best effort.
      await this.deps.credits?.refresh(account).catch((e: Error) => this.log.warn({ account, err: e.message }, 'reading the KIE credit balance failed'));
      await this.persist({ ...this.state, step: undefined, account: undefined, submitStartedAt: undefined });
      return this.waitBriefly(0, 'another account');
    }
    if (err instanceof KieError && !err.retryable) {
      throw new UnrecoverableError(`KIE refused the request: ${err.message}`);
    }
    await this.persist({ ...this.state, step: undefined, account: undefined, submitStartedAt: undefined });
    return this.setback(err, 'submit');
  }

  /**
   * A create request was sent and no answer came (or the worker died before writing the taskId).
   * A callback naming this job adopts the task it reports; otherwise, after the grace period, the
   * configured policy applies (resubmit and flag a possible duplicate charge, or fail).
   */
  private async recoverAmbiguousSubmit(): Promise<void> {
    const { config, redis } = this.deps;
    const account = this.state.account!;
    const adopted = await callbackTaskFor(redis, config.limiterPrefix, this.job.queueName, this.job.id!);
    if (adopted) {
      this.log.info({ account, taskId: adopted }, 'adopted the task a callback reported for an ambiguous submit');
      await this.persist({ ...this.state, step: 'generating', taskId: adopted, submittedAt: this.state.submitStartedAt, submits: this.state.submits + 1 });
      await this.watchTask(account, adopted, { newTask: true });
      return;
    }
    const since = this.state.submitStartedAt ?? Date.now();
    const waited = Date.now() - since;
    if (waited < config.kie.ambiguousGraceMs) {
      return this.delay(Math.min(config.kie.ambiguousGraceMs - waited, config.pollIntervalMs * 6), 'ambiguous submit: waiting for a callback');
    }
    if (config.kie.ambiguousPolicy === 'fail') {
      await this.freeSlot(account);
      throw new UnrecoverableError(
        `submit to KIE account ${account} got no answer and no callback came within ${config.kie.ambiguousGraceMs} ms; not resubmitting (KIE_AMBIGUOUS_POLICY=fail)`,
      );
    }
    this.log.warn({ account, alert: 'possible-duplicate-charge' }, 'possible duplicate charge: resubmitting after an ambiguous submit');
    // The unknown task may exist and count at KIE: its quota unit stays spent.
    await this.freeSlot(account);
    await this.persist({ ...this.state, step: undefined, account: undefined, possibleDuplicate: true, submits: this.state.submits + 1 });
  }

  // ---- wait -----------------------------------------------------------------------------------

  /**
   * The task's state: what the status poller found (it wakes the job when the task is done), or,
   * when the job woke otherwise (a callback, the failsafe), one paced check of its own. Returns the
   * record once the video is ready; delays the job otherwise.
   */
  private async checkTask(): Promise<TaskRecord | undefined> {
    const { account, taskId } = this.state as Required<Pick<RenderState, 'account' | 'taskId'>>;
    let record = await takeFinishedTask(this.deps.redis, this.deps.config.limiterPrefix, this.member);
    try {
      record ??= await this.paced(account, 'poll', () => this.client(account).getTaskRecord(taskId));
    } catch (err) {
      if (err instanceof TaskNotFoundError) {
        await this.freeSlot(account);
        throw new UnrecoverableError(`KIE does not know task ${taskId} of account ${account}: ${err.message}`);
      }
      if (err instanceof KieError && !err.retryable) throw new UnrecoverableError(`status check failed: ${err.message}`);
      return this.setback(err, 'status check');
    }
    const checks = (this.state.checks ?? 0) + 1;
    switch (record.state) {
      case 'generating':
        await this.watchTask(account, taskId, { newTask: false });
        await this.persist({ ...this.state, checks, setbacks: 0 });
        await this.delay(this.generationFailsafeMs(), 'task still generating');
        return undefined;
      case 'failed':
        return this.taskFailed(record);
      case 'success':
        if (!record.videoUrl) return this.setback(new Error('KIE reported success without a video URL'), 'status check');
        await this.freeSlot(account);
        await this.persist({
          ...this.state,
          step: 'storing',
          checks,
          setbacks: 0,
          completedAt: record.completedAt ?? new Date().toISOString(),
          durationSeconds: record.durationSeconds,
          resolution: record.resolution,
        });
        return record;
    }
  }

  private async taskFailed(record: TaskRecord): Promise<undefined> {
    const { config } = this.deps;
    const account = this.state.account!;
    await this.freeSlot(account);
    const failedTasks = (this.state.failedTasks ?? 0) + 1;
    const reason = `KIE task ${record.taskId} failed: ${record.failReason ?? 'no reason given'}`;
    if (config.kie.failedTaskPolicy === 'resubmit-once' && failedTasks <= 1) {
      this.log.warn({ account, taskId: record.taskId }, `${reason}; resubmitting once`);
      await this.persist({ ...this.state, step: undefined, account: undefined, taskId: undefined, failedTasks });
      return undefined;
    }
    throw new UnrecoverableError(reason);
  }

  // ---- store ----------------------------------------------------------------------------------

  private objectKey(): string {
    const { prefix } = this.deps.config.s3;
    const key = this.request.key ?? `${this.request.batchId ?? 'renders'}/${this.job.id}.mp4`;
    return prefix ? `${prefix.replace(/\/+$/, '')}/${key}` : key;
  }

  /**
   * Streams the video into S3, refreshing an expired link through KIE (paced) when needed. A job
   * resumed here (no link in hand) asks KIE for one only if the object is not stored already.
   */
  private async store(firstUrl: string | undefined): Promise<RenderResult> {
    const { config, s3 } = this.deps;
    const { account, taskId } = this.state as Required<Pick<RenderState, 'account' | 'taskId'>>;
    const bucket = config.s3.bucket;
    const key = this.objectKey();
    let stored = await findStoredVideo(s3, bucket, key, taskId).catch(() => undefined);
    let url = firstUrl;
    for (let attempt = 1; !stored; attempt++) {
      url ??= await this.freshLink();
      try {
        stored = await storeVideo({
          s3,
          bucket,
          key,
          url,
          metadata: { 'task-id': taskId, account, 'job-id': this.job.id! },
          allowedHosts: config.videoHosts,
          maxBytes: config.videoMaxBytes,
          timeoutMs: config.downloadTimeoutMs,
          partSizeBytes: config.s3.partSizeBytes,
          // No shutdown signal here: a download under way may finish within the shutdown deadline.
        });
      } catch (err) {
        if (err instanceof StorageError && err.permanent) throw new UnrecoverableError(`cannot store the video: ${err.message}`);
        this.log.warn({ attempt, err: (err as Error).message }, 'storing the video failed');
        // Another run of this job (one whose lock lapsed) may have stored it meanwhile.
        stored = await findStoredVideo(s3, bucket, key, taskId).catch(() => undefined);
        if (stored) break;
        if (attempt >= STORE_ATTEMPTS) return this.setback(err, 'store');
        if (err instanceof StorageError && err.linkExpired) url = await this.freshLink(url);
        else await this.sleep(Math.min(500 * 2 ** attempt, 10_000));
      }
    }
    this.log.info({ key, size: stored.size, sha256: stored.sha256 }, 'video stored');
    return {
      taskId,
      account,
      bucket: stored.bucket,
      key: stored.key,
      size: stored.size,
      sha256: stored.sha256,
      contentType: stored.contentType,
      durationSeconds: this.state.durationSeconds,
      resolution: this.state.resolution,
      submittedAt: new Date(this.state.submittedAt ?? Date.now()).toISOString(),
      completedAt: this.state.completedAt ?? new Date().toISOString(),
      storedAt: new Date().toISOString(),
      estimatedCostUsd: estimateCostUsd(this.request) * Math.max(1, this.state.submits),
      ...(this.state.possibleDuplicate ? { possibleDuplicate: true } : {}),
    };
  }

  /** A new download link for the finished task (KIE links live 20 minutes); staleUrl lets a dialect re-mint it. */
  private async freshLink(staleUrl = ''): Promise<string> {
    const { account, taskId } = this.state as Required<Pick<RenderState, 'account' | 'taskId'>>;
    try {
      return await this.paced(account, 'refresh', () => this.client(account).refreshVideoUrl(taskId, staleUrl));
    } catch (err) {
      if (err instanceof KieError && !err.retryable) throw new UnrecoverableError(`cannot get a download link for task ${taskId}: ${err.message}`);
      return this.setback(err, 'link refresh');
    }
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private client(account: string): KieClient {
    const kie = this.deps.kie.get(account);
    if (!kie) throw new UnrecoverableError(`job is bound to KIE account "${account}", which this worker is not configured with`);
    return kie;
  }

  private paced<T>(account: string, kind: TurnKind, request: () => Promise<T>): Promise<T> {
    return callKie(this.deps.limiter, this.deps.config, account, kind, request, { retryAmbiguous: true, signal: this.deps.signal });
  }

  /**
   * Hands the task to the status poller (the slot is the task's; its checks are scheduled against
   * the account's pacer). A slot lost meanwhile (lease ran out) is taken again: the task generates.
   */
  private async watchTask(account: string, taskId: string, { newTask }: { newTask: boolean }): Promise<void> {
    const { limiter, config } = this.deps;
    const delay = checkDelayMs(config);
    if (!newTask && (await limiter.scheduleCheck(account, this.member, delay))) return;
    await limiter.bindTask(account, this.member, taskId);
    await limiter.scheduleCheck(account, this.member, delay);
  }

  /** The poller wakes a job whose task finished; this only covers a poller fleet that is gone. */
  private generationFailsafeMs(): number {
    return Math.max(this.deps.config.pollIntervalMs * 10, GENERATION_FAILSAFE_MIN_MS);
  }

  private async freeSlot(account: string): Promise<void> {
    const woken = await this.deps.limiter.releaseSlot(account, this.member);
    if (woken.length) await this.deps.wakeJobs(woken);
  }

  private async persist(state: RenderState): Promise<void> {
    if (!(await saveRenderState(this.deps.redis, this.job, this.token, { ...this.job.data, render: state }))) {
      const lost = new JobLockLostError(this.job.id!);
      this.log.warn({ alert: 'lock-lost' }, lost.message);
      throw lost;
    }
    this.state = state;
  }

  /** Short waits are slept here; longer ones give the worker back. */
  private async waitBriefly(ms: number, why: string): Promise<void> {
    if (ms > INLINE_WAIT_MS) return this.delay(ms, why);
    await this.sleep(ms);
  }

  /** Sleeps in-process; on shutdown the job is parked at its persisted step for another worker. */
  private async sleep(ms: number): Promise<void> {
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
  private async delay(ms: number, why: string): Promise<never> {
    this.log.debug({ ms: Math.round(ms), why }, 'job delayed');
    await this.job.moveToDelayed(Date.now() + Math.max(0, Math.round(ms)), this.token);
    throw new DelayedError();
  }

  /** Transient trouble: back off the whole job, exponentially, up to MAX_SETBACKS times. */
  private async setback(err: unknown, what: string): Promise<never> {
    // An in-process wait cut short by shutdown is no setback: park the job for another worker.
    if (this.deps.signal?.aborted) return this.delay(0, 'worker shutting down');
    const setbacks = (this.state.setbacks ?? 0) + 1;
    const message = err instanceof Error ? err.message : String(err);
    if (setbacks > MAX_SETBACKS) throw new UnrecoverableError(`${what} kept failing (${MAX_SETBACKS} setbacks); last error: ${message}`);
    await this.persist({ ...this.state, setbacks });
    const ms = Math.min(this.deps.config.kie.retryBaseMs * 2 ** setbacks, MAX_SETBACK_DELAY_MS) * (0.75 + Math.random() * 0.5);
    this.log.warn({ what, setbacks, err: message }, `${what} failed; trying again later`);
    return this.delay(ms, `${what} setback`);
  }
}
