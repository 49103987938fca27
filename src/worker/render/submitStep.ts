/**
 * The submit step: the model open (not paused), a slot, a quota unit and a request turn first, then
 * one create request whose taskId is written into the job the moment it arrives. A create that got
 * no answer is never resent blindly (recoverAmbiguousSubmit).
 */
import { UnrecoverableError } from 'bullmq';
import { InsufficientCreditsError, KieError, ModelUnavailableError } from '../../shared/errors';
import { callbackUrl } from '../../shared/callbackToken';
import { callKie } from '../../pool/kieCall';
import { creditPrice } from '../../pool/accountCredits';
import { callbackTaskFor, clearCallbackTask } from '../callbackInbox';
import type { TaskConfirmation } from '../../kie/types';
import type { RenderRun } from './renderRun';
import { BatchCancelledError } from '../batchProgress';

/** Waiting for a free slot: woken by the job that frees it; this is only the failsafe. */
const SLOT_WAIT_FAILSAFE_MS = 60_000;

/** An alert per process and model at most this often: a backlog would otherwise log one per job. */
const MODEL_ALERT_EVERY_MS = 60_000;
const lastModelAlert = new Map<string, number>();

function alertModelWaiting(run: RenderRun, reason: string, retryInMs: number): void {
  const { model } = run.request;
  const now = Date.now();
  if (now - (lastModelAlert.get(model) ?? -Infinity) < MODEL_ALERT_EVERY_MS) return;
  lastModelAlert.set(model, now);
  run.log.warn(
    { model, alert: 'model-paused', reason },
    `model ${model} is paused: its jobs wait (next probe within ${Math.round(retryInMs / 1000)} s, or sora-batch models resume ${model})`,
  );
}

export async function submitTask(run: RenderRun): Promise<void> {
  const jobId = run.job.id!;
  const { limiter, config, credits, models } = run.deps;
  const gate = await models.enter(run.request.model, run.member);
  if (!gate.open) {
    alertModelWaiting(run, gate.reason, gate.retryInMs);
    return run.delay(gate.retryInMs, `model ${run.request.model} paused`);
  }
  const price = credits?.priceOf(run.request) ?? 0;
  const accounts = await credits?.accountsAbleToPay(price);
  if (credits && accounts?.length === 0) {
    credits.alertNoneCanPay(price, await credits.balances());
    return run.delay(config.kie.creditsRefreshMs, 'no account has the credits for this job');
  }
  // A task announced for an earlier submit of this job must not be adopted for this one.
  await clearCallbackTask(run.deps.redis, config.limiterPrefix, run.job.queueName, jobId);
  const grant = await limiter.acquireSubmit(run.member, { accounts });
  if (!grant.granted) {
    switch (grant.reason) {
      case 'interval':
        return run.waitBriefly(grant.waitMs, 'next request turn');
      case 'quota':
        return run.delay(grant.waitMs, 'daily quota used up on every account');
      case 'concurrency':
      case 'paused':
        return run.delay(SLOT_WAIT_FAILSAFE_MS, grant.reason === 'paused' ? 'every account paused' : 'every slot busy');
    }
  }
  const account = grant.account;
  // Persisted before the request leaves: if we die from here until the taskId is written, the
  // job resumes as an ambiguous submit, never as a fresh one. Only this write stands between the
  // turn and the request (KIE judges the interval on arrival).
  try {
    await Promise.all([
      run.persistSubmit({ ...run.state, step: 'submitting', account, taskId: undefined, submitStartedAt: Date.now() }),
      credits?.spend(account, price),
    ]);
  } catch (err) {
    if (err instanceof BatchCancelledError) await giveBack(run, account, price);
    throw err;
  }

  const kie = run.client(account);
  const callBack = jobCallbackUrl(run);
  let taskId: string;
  try {
    taskId = await callKie(limiter, config, account, 'retry', () => kie.createTask(run.request, callBack), {
      retryAmbiguous: false,
      firstTurnTaken: true,
      signal: run.deps.signal,
      requestClass: 'create',
      logger: run.log,
      retries: run.deps.counters?.kieRetries,
    });
  } catch (err) {
    return submitFailed(run, account, err);
  }
  countCreditsSpent(run, account);
  const submittedAt = Date.now();
  await run.persist({ ...run.state, step: 'generating', taskId, submittedAt, submits: run.state.submits + 1, setbacks: 0 });
  await limiter.confirmSubmit(account, run.member);
  await run.watchTask(account, taskId);
  run.log.info({ account, taskId, model: run.request.model }, 'task submitted');
  if (gate.probe) await modelBack(run);
  return run.delay(run.generationFailsafeMs(), 'waiting for the status poller');
}

async function submitFailed(run: RenderRun, account: string, err: unknown): Promise<void> {
  const { limiter, credits } = run.deps;
  if (err instanceof KieError && err.ambiguous) {
    run.deps.counters?.ambiguousSubmits.inc({ account });
    await limiter.confirmSubmit(account, run.member);
    run.log.warn({ account, err: err.message }, 'submit got no answer that proves nothing was created: a task may exist; not resubmitting blindly');
    return recoverAmbiguousSubmit(run);
  }
  // KIE refused it in its own envelope (or it never left): no task exists, so the slot, the quota
  // unit and the credits go back.
  await giveBack(run, account, credits?.priceOf(run.request) ?? 0);
  if (err instanceof ModelUnavailableError) return modelUnavailable(run, err);
  if (err instanceof InsufficientCreditsError) {
    await limiter.pause(account, err.message);
    run.log.error({ account, alert: 'insufficient-credits' }, `account ${account} paused: ${err.message}`);
    // What it has left, for status; reading it is best effort.
    await credits?.refresh(account).catch((e: Error) => run.log.warn({ account, err: e.message }, 'reading the KIE credit balance failed'));
    await run.persist({ ...run.state, step: undefined, account: undefined, submitStartedAt: undefined });
    return run.waitBriefly(0, 'another account');
  }
  if (err instanceof KieError && !err.retryable) {
    throw new UnrecoverableError(`KIE refused the request: ${err.message}`);
  }
  await run.persist({ ...run.state, step: undefined, account: undefined, submitStartedAt: undefined });
  return run.setback(err, 'submit');
}

/** A grant no task was created for: its slot, quota unit and credits go back. */
async function giveBack(run: RenderRun, account: string, price: number): Promise<void> {
  await run.deps.limiter.refundSubmit(account, run.member);
  await run.deps.credits?.refund(account, price);
  await run.freeSlot(account);
}

/** KIE refused the create because of the model itself: pause the model (not the account) and wait. */
async function modelUnavailable(run: RenderRun, err: ModelUnavailableError): Promise<void> {
  const { model } = run.request;
  const { newlyPaused, retryInMs } = await run.deps.models.pause(model, run.member, err.message);
  if (newlyPaused) {
    run.log.error(
      { model, alert: 'model-paused', kie: err.message },
      `model ${model} paused fleet-wide: KIE ${err.reason === 'paused' ? 'has paused its interface' : 'does not know it'}; its jobs wait, other models go on (a probe every ${run.deps.config.kie.modelProbeMs} ms, or sora-batch models resume ${model})`,
    );
  }
  await run.persist({ ...run.state, step: undefined, account: undefined, submitStartedAt: undefined });
  return run.delay(retryInMs, `model ${model} paused`);
}

/** The probe's create went through: the model is back, and every job waiting for it is woken. */
async function modelBack(run: RenderRun): Promise<void> {
  const { model } = run.request;
  const waiters = await run.deps.models.resume(model);
  run.log.info({ model, woken: waiters.length }, `model ${model} is back: the probe's create succeeded`);
  await run.deps.wakeJobs(waiters);
}

/** What a task KIE created costs, at the catalog's prices (in every family: KIE charges credits). */
function countCreditsSpent(run: RenderRun, account: string): void {
  run.deps.counters?.creditsSpent.inc({ account }, creditPrice(run.request, run.deps.config.kie.models));
}

/** The callBackUrl this job's create requests carry (none without webhooks). */
function jobCallbackUrl(run: RenderRun): string | undefined {
  const { webhook } = run.deps.config;
  return webhook ? callbackUrl(webhook.baseUrl, webhook.secret, run.job.queueName, run.job.id!) : undefined;
}

/**
 * A create request was sent and no answer came (or the worker died before writing the taskId).
 * A callback naming this job announces the task it reports; the task is adopted once KIE confirms
 * it is this job's. Otherwise, after the grace period, the configured policy applies (resubmit and
 * flag a possible duplicate charge, or fail).
 */
export async function recoverAmbiguousSubmit(run: RenderRun): Promise<void> {
  const { config, redis } = run.deps;
  const account = run.state.account!;
  const announced = await callbackTaskFor(redis, config.limiterPrefix, run.job.queueName, run.job.id!);
  if (announced) {
    const confirmation = await confirmAnnouncedTask(run, account, announced);
    if (confirmation.confirmed) {
      run.log.info({ account, taskId: announced }, 'adopted the task a callback reported for an ambiguous submit');
      countCreditsSpent(run, account);
      // The generating step hands it to the status poller next.
      await run.persist({ ...run.state, step: 'generating', taskId: announced, submittedAt: run.state.submitStartedAt, submits: run.state.submits + 1 });
      return;
    }
    run.log.warn({ account, taskId: announced, reason: confirmation.reason }, "a callback announced a task KIE does not confirm as this job's: not adopted");
    await clearCallbackTask(redis, config.limiterPrefix, run.job.queueName, run.job.id!);
  }
  const since = run.state.submitStartedAt ?? Date.now();
  const waited = Date.now() - since;
  if (waited < config.kie.ambiguousGraceMs) {
    return run.delay(Math.min(config.kie.ambiguousGraceMs - waited, config.pollIntervalMs * 6), 'ambiguous submit: waiting for a callback');
  }
  if (config.kie.ambiguousPolicy === 'fail') {
    await run.freeSlot(account);
    throw new UnrecoverableError(
      `submit to KIE account ${account} got no answer and no callback came within ${config.kie.ambiguousGraceMs} ms; not resubmitting (KIE_AMBIGUOUS_POLICY=fail)`,
    );
  }
  run.log.warn({ account, alert: 'possible-duplicate-charge' }, 'possible duplicate charge: resubmitting after an ambiguous submit');
  // The unknown task may exist and count at KIE: its quota unit stays spent.
  await run.freeSlot(account);
  await run.persist({ ...run.state, step: undefined, account: undefined, possibleDuplicate: true, submits: run.state.submits + 1 });
}

/**
 * One paced record read on the job's account: a task KIE does not know there, or whose create
 * parameters are another job's, is not this submit's. Transient trouble backs the job off and
 * keeps the announcement for the next try.
 */
async function confirmAnnouncedTask(run: RenderRun, account: string, taskId: string): Promise<TaskConfirmation> {
  try {
    return await run.paced(account, 'poll', () => run.client(account).confirmTask(taskId, run.request, jobCallbackUrl(run)));
  } catch (err) {
    if (err instanceof KieError && !err.retryable) return { confirmed: false, reason: err.message };
    return run.setback(err, 'confirming an announced task');
  }
}
