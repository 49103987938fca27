/**
 * The generating step: the job sleeps while the account's status poller checks its task against
 * the pacer, and wakes with what the poller found. A job woken otherwise (a callback, its
 * failsafe, a resume after a crash) never asks KIE itself: it hands its task to the poller again.
 */
import { UnrecoverableError } from 'bullmq';
import type { TaskRecord } from '../../kie/types';
import { takeTaskOutcome } from '../finishedTasks';
import type { RenderRun } from './renderRun';

/**
 * The task's state as the status poller found it: returns the record once the video is ready,
 * fails the job when KIE refused to report on the task, and otherwise (re)binds the task to the
 * account's check schedule, due at once, and delays the job.
 */
export async function checkTask(run: RenderRun): Promise<TaskRecord | undefined> {
  const { account, taskId } = run.task;
  const outcome = await takeTaskOutcome(run.deps.redis, run.deps.config.limiterPrefix, run.member);
  if (outcome && 'refused' in outcome) {
    if (outcome.unknownTask) {
      await run.freeSlot(account);
      throw new UnrecoverableError(`KIE does not know task ${taskId} of account ${account}: ${outcome.refused}`);
    }
    throw new UnrecoverableError(`status check failed: ${outcome.refused}`);
  }
  const record = outcome?.record;
  if (!record || record.state === 'generating') {
    // Woken without news (or resumed before its task was bound): a status check of its own would
    // be a request outside the pacer's schedule; the account's poller checks it at the next turn.
    await run.watchTask(account, taskId, 0);
    return run.delay(run.generationFailsafeMs(), 'waiting for the status poller');
  }
  if (record.state === 'failed') return taskFailed(run, record);
  if (!record.videoUrl) return run.setback(new Error('KIE reported success without a video URL'), 'status check');
  await run.freeSlot(account);
  await run.persist({
    ...run.state,
    step: 'storing',
    setbacks: 0,
    completedAt: record.completedAt ?? new Date().toISOString(),
    // Where the record does not say (Veo, a model from KIE_MODELS_FILE), the length asked for.
    durationSeconds: record.durationSeconds ?? run.request.duration,
    resolution: record.resolution,
  });
  return record;
}

async function taskFailed(run: RenderRun, record: TaskRecord): Promise<undefined> {
  const { config } = run.deps;
  const account = run.state.account!;
  await run.freeSlot(account);
  const failedTasks = (run.state.failedTasks ?? 0) + 1;
  const reason = `KIE task ${record.taskId} failed: ${record.failReason ?? 'no reason given'}`;
  if (config.kie.failedTaskPolicy === 'resubmit-once' && failedTasks <= 1) {
    run.log.warn({ account, taskId: record.taskId }, `${reason}; resubmitting once`);
    await run.persist({ ...run.state, step: undefined, account: undefined, taskId: undefined, failedTasks });
    return undefined;
  }
  throw new UnrecoverableError(reason);
}
