/**
 * The generating step: the job sleeps while the account's status poller checks its task against
 * the pacer, and wakes with the finished record (or, woken otherwise, checks once itself).
 */
import { UnrecoverableError } from 'bullmq';
import { KieError, TaskNotFoundError } from '../../shared/errors';
import type { TaskRecord } from '../../kie/types';
import { takeFinishedTask } from '../finishedTasks';
import type { RenderRun } from './renderRun';

/**
 * The task's state: what the status poller found (it wakes the job when the task is done), or,
 * when the job woke otherwise (a callback, the failsafe), one paced check of its own. Returns the
 * record once the video is ready; delays the job otherwise.
 */
export async function checkTask(run: RenderRun): Promise<TaskRecord | undefined> {
  const { account, taskId } = run.task;
  let record = await takeFinishedTask(run.deps.redis, run.deps.config.limiterPrefix, run.member);
  try {
    record ??= await run.paced(account, 'poll', () => run.client(account).getTaskRecord(taskId, run.request.model));
  } catch (err) {
    if (err instanceof TaskNotFoundError) {
      await run.freeSlot(account);
      throw new UnrecoverableError(`KIE does not know task ${taskId} of account ${account}: ${err.message}`);
    }
    if (err instanceof KieError && !err.retryable) throw new UnrecoverableError(`status check failed: ${err.message}`);
    return run.setback(err, 'status check');
  }
  const checks = (run.state.checks ?? 0) + 1;
  switch (record.state) {
    case 'generating':
      await run.watchTask(account, taskId, { newTask: false });
      await run.persist({ ...run.state, checks, setbacks: 0 });
      await run.delay(run.generationFailsafeMs(), 'task still generating');
      return undefined;
    case 'failed':
      return taskFailed(run, record);
    case 'success':
      if (!record.videoUrl) return run.setback(new Error('KIE reported success without a video URL'), 'status check');
      await run.freeSlot(account);
      await run.persist({
        ...run.state,
        step: 'storing',
        checks,
        setbacks: 0,
        completedAt: record.completedAt ?? new Date().toISOString(),
        durationSeconds: record.durationSeconds ?? run.request.duration,
        resolution: record.resolution,
      });
      return record;
  }
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
