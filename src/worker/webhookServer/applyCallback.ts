import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger';
import type { RenderJobData } from '../../shared/renderJob';
import type { CallbackHint } from '../../kie/callbackBody';
import { callbackTaskFor, recordCallbackTask, recordCallbackVideo } from '../callbackInbox';
import { awaitTaskOutcome } from '../finishedTasks';
import { hurryCheck } from '../../pool/limiter/hurryCheck';
import { slotMember } from '../../pool/slotMember';
import { wakeJobs } from '../../pool/wakeJobs';
import { forgetCallbackSeen, markCallbackSeen } from './callbackReplay';

export interface CallbackTarget {
  readonly queue: Queue<RenderJobData>;
  readonly redis: Redis;
  /** Key prefix shared with the worker's callback inbox. */
  readonly prefix: string;
  readonly logger: Logger;
}

export type CallbackOutcome =
  | { status: 202; body: { accepted: 'wake' | 'adopt' } }
  | { status: 200; body: { ignored: 'finished' | 'replay' | 'other task' } }
  | { status: 404; body: { error: string } };

/**
 * Acts on an authenticated callback for one job. The callback is only a hint: the receiver never
 * changes the job itself (its worker does, after asking KIE), it only wakes the job or, for an
 * ambiguous submit, leaves the announced taskId in the job's inbox first.
 */
export async function applyCallback(target: CallbackTarget, jobId: string, hint: CallbackHint): Promise<CallbackOutcome> {
  const { queue, redis, prefix, logger } = target;
  const { taskId } = hint;
  const log = logger.child({ jobId, taskId });
  const job = await Job.fromId<RenderJobData>(queue, jobId);
  if (!job) {
    log.warn({ reason: 'unknown job' }, 'callback refused');
    return { status: 404, body: { error: `no job ${jobId} in queue ${queue.name}` } };
  }
  const state = await job.getState();
  if (state === 'completed' || state === 'failed') {
    log.info({ state }, 'callback ignored: job already finished');
    return { status: 200, body: { ignored: 'finished' } };
  }
  if (!(await markCallbackSeen(redis, prefix, queue.name, jobId, taskId))) {
    log.info('callback ignored: replay of one already handled');
    return { status: 200, body: { ignored: 'replay' } };
  }
  try {
    const render = job.data.render;
    if (render?.taskId === taskId) {
      // The account's status poller confirms it at its next read turn, before anything else, and
      // wakes the job. A finished task's job is woken now too: it downloads the announced video
      // while KIE confirms (callbackFastPath.ts). A job with no check scheduled (resumed elsewhere)
      // is woken directly.
      const member = slotMember(queue.name, jobId);
      const fastPath = hint.state === 'success' && hint.videoUrl !== undefined;
      if (fastPath) {
        // Before the check is hurried: whatever KIE answers, the job hears it.
        await Promise.all([
          recordCallbackVideo(redis, prefix, queue.name, jobId, { taskId, videoUrl: hint.videoUrl! }),
          awaitTaskOutcome(redis, prefix, member),
        ]);
      }
      const [hurried] = await Promise.all([
        render.account !== undefined && hurryCheck(redis, prefix, render.account, member),
        fastPath && wakeJobs(redis, queue, [jobId]),
      ]);
      if (!fastPath && !hurried) await wakeJobs(redis, queue, [jobId]);
      log.info({ state, hurried, fastPath }, 'callback: the task is due for confirmation');
      return { status: 202, body: { accepted: 'wake' } };
    }
    if (render?.step === 'submitting' && !render.taskId) {
      const recorded = await recordCallbackTask(redis, prefix, queue.name, jobId, taskId);
      if (recorded || (await callbackTaskFor(redis, prefix, queue.name, jobId)) === taskId) {
        await wakeJobs(redis, queue, [jobId]);
        log.info({ state }, 'callback announced the task of an ambiguous submit; job woken to confirm it with KIE and adopt it');
        return { status: 202, body: { accepted: 'adopt' } };
      }
    }
    // A task this job does not own (or no longer owns) reported back: KIE may have run, and
    // charged, two tasks for one job. Someone should look.
    log.warn(
      { state, step: render?.step, jobTaskId: render?.taskId, alert: 'possible-duplicate-task' },
      'possible duplicate task: callback names a task the job does not own',
    );
    return { status: 200, body: { ignored: 'other task' } };
  } catch (err) {
    await forgetCallbackSeen(redis, prefix, queue.name, jobId, taskId).catch(() => undefined);
    throw err;
  }
}
