/**
 * The webhook fast path: a verified callback that announces the job's own task finished starts the
 * download at once, into the temporary key only, while the account's status poller confirms the
 * task with KIE on its very next read turn (the callback hurried that check ahead of every other
 * request). The final key is written only once KIE's record confirms the same task finished with
 * the same video; a callback KIE does not confirm leaves nothing behind. Completion to stored is
 * then one read turn or the transfer, whichever is longer, instead of their sum.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RenderResult } from '../../shared/renderJob';
import { takeCallbackVideo } from '../callbackInbox';
import { peekTaskOutcome, takeTaskOutcome, type TaskOutcome } from '../finishedTasks';
import { stageVideo, type StagedVideo } from '../storage/storeVideo';
import { checkTask } from './generatingStep';
import type { RenderRun } from './renderRun';
import { storeVideoStep, videoStoreInput } from './storeStep';

/** How long the job waits for KIE's confirmation; the poller's hurried check normally takes one read turn. */
const CONFIRM_WAIT_MS = 30_000;
/** How often the job looks for the poller's answer while it waits: a tenth of a read turn, within these. */
const CONFIRM_POLL_MS = { min: 5, max: 50 };

/**
 * The stored result when a callback's video was downloaded while KIE confirmed it; undefined when
 * there was no such callback, or KIE did not confirm it (the generating step then goes on as usual).
 */
export async function storeOnCallback(run: RenderRun): Promise<RenderResult | undefined> {
  const { redis, config } = run.deps;
  const { taskId } = run.task;
  const video = await takeCallbackVideo(redis, config.limiterPrefix, run.job.queueName, run.job.id!);
  // The poller may have confirmed it already: then KIE's own link is in hand.
  if (!video || video.taskId !== taskId || (await peekTaskOutcome(redis, config.limiterPrefix, run.member))) return undefined;
  // A request for another version of the video (Veo 1080p) fetches its link in the store step: the announced one is not it.
  if (!run.client(run.task.account).recordLinkServes(run.request)) return undefined;

  run.log.info({ taskId }, 'callback: downloading the announced video while KIE confirms it');
  const stop = new AbortController();
  const staging = stageVideo(videoStoreInput(run, video.videoUrl, stop.signal)).catch((err: Error) => {
    // A hint only: a link off the allowlist or a broken download leaves the usual path to KIE's link.
    if (!stop.signal.aborted) run.log.warn({ err: err.message }, "downloading the video a callback announced failed; waiting for KIE's record");
    return undefined;
  });
  const outcome = await confirmation(run);
  const record = outcome && 'record' in outcome ? outcome.record : undefined;
  const confirmed = record?.state === 'success' && record.videoUrl !== undefined && sameVideo(record.videoUrl, video.videoUrl);
  if (!confirmed) stop.abort();
  const staged = await staging;
  if (confirmed && staged) return commitConfirmed(run, staged);
  await staged?.discard();
  if (!outcome) {
    run.log.warn({ taskId, waitedMs: CONFIRM_WAIT_MS }, 'KIE did not confirm the callback in time: nothing kept, waiting for the status poller');
  } else if (record?.state === 'generating') {
    // The poller has the task scheduled again; this answer was this job's alone.
    await takeTaskOutcome(redis, config.limiterPrefix, run.member);
    run.log.warn({ taskId }, 'KIE does not confirm the callback (the task is still generating): nothing kept');
    return run.delay(run.generationFailsafeMs(), 'waiting for the status poller');
  } else if (record?.state === 'success' && !confirmed) {
    run.log.warn({ taskId }, "KIE's record links another video than the callback did: storing KIE's");
  }
  return undefined;
}

/** The poller's answer about the task, left in place for checkTask to take; undefined after the wait. */
async function confirmation(run: RenderRun): Promise<TaskOutcome | undefined> {
  const { redis, config, limiter } = run.deps;
  const everyMs = Math.min(CONFIRM_POLL_MS.max, Math.max(CONFIRM_POLL_MS.min, limiter.unitMs(run.task.account, 'read') / 10));
  const deadline = Date.now() + CONFIRM_WAIT_MS;
  while (Date.now() < deadline && !run.deps.signal?.aborted) {
    const outcome = await peekTaskOutcome(redis, config.limiterPrefix, run.member);
    if (outcome) return outcome;
    await sleep(everyMs);
  }
  return undefined;
}

/** KIE confirmed: the generating step takes the record (slot, state) and the staged video becomes the object. */
async function commitConfirmed(run: RenderRun, staged: StagedVideo): Promise<RenderResult | undefined> {
  const record = await checkTask(run).catch(async (err: unknown) => {
    await staged.discard();
    throw err;
  });
  if (!record) {
    await staged.discard();
    return undefined;
  }
  return storeVideoStep(run, record.videoUrl, staged);
}

/**
 * Whether two links serve the same video. KIE signs its links afresh (the query string), so the
 * same host and path is the same file.
 */
function sameVideo(a: string, b: string): boolean {
  try {
    const [x, y] = [new URL(a), new URL(b)];
    return x.origin === y.origin && x.pathname === y.pathname;
  } catch {
    return false;
  }
}
