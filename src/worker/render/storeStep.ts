/**
 * The store step: stream the finished video into S3 (verified, hashed), refreshing an expired
 * link through KIE (paced), and return the job's result.
 */
import { UnrecoverableError } from 'bullmq';
import { KieError, LinkRefusedError, StorageError } from '../../shared/errors';
import type { RenderResult } from '../../shared/renderJob';
import { estimateCostUsd } from '../../shared/renderRequest';
import { findStoredVideo, StagedVideo, storeVideo, StoreVideoInput } from '../storage/storeVideo';
import type { RenderRun } from './renderRun';

/** Download attempts within one store step before the job backs off as a whole. */
const STORE_ATTEMPTS = 4;

function objectKey(run: RenderRun): string {
  const { prefix } = run.deps.config.s3;
  const key = run.request.key ?? `${run.request.batchId ?? 'renders'}/${run.job.id}.mp4`;
  return prefix ? `${prefix.replace(/\/+$/, '')}/${key}` : key;
}

/** Where and how the job's video is stored, from `url`. */
export function videoStoreInput(run: RenderRun, url: string, signal?: AbortSignal): StoreVideoInput {
  const { config, s3 } = run.deps;
  const { account, taskId } = run.task;
  return {
    s3,
    bucket: config.s3.bucket,
    key: objectKey(run),
    url,
    // S3 user metadata travels as HTTP headers (ASCII); a job id may be any string BullMQ takes.
    metadata: { 'task-id': taskId, account, 'job-id': encodeURIComponent(run.job.id!) },
    allowedHosts: config.videoHosts,
    maxBytes: config.videoMaxBytes,
    timeoutMs: config.downloadTimeoutMs,
    partSizeBytes: config.s3.partSizeBytes,
    ...(signal ? { signal } : {}),
  };
}

/**
 * Streams the video into S3, refreshing an expired link through KIE (paced) when needed. A job
 * resumed here (no link in hand) asks KIE for one only if the object is not stored already. A video
 * already `staged` from the same link (callbackFastPath.ts) is only committed.
 */
export async function storeVideoStep(run: RenderRun, firstUrl: string | undefined, staged?: StagedVideo): Promise<RenderResult> {
  const { config, s3 } = run.deps;
  const { account, taskId } = run.task;
  const bucket = config.s3.bucket;
  const key = objectKey(run);
  let stored = await findStoredVideo(s3, bucket, key, taskId).catch(() => undefined);
  if (staged && stored) await staged.discard();
  else if (staged) stored = await staged.commit().catch((err: Error) => void run.log.warn({ err: err.message }, 'committing the video downloaded early failed; downloading it again'));
  let url = firstUrl;
  let transferStartedAt = staged?.startedAt ?? Date.now();
  for (let attempt = 1; !stored; attempt++) {
    url ??= await freshLink(run);
    transferStartedAt = Date.now();
    try {
      // No shutdown signal here: a download under way may finish within the shutdown deadline.
      stored = await storeVideo(videoStoreInput(run, url));
    } catch (err) {
      if (err instanceof StorageError && err.permanent) throw new UnrecoverableError(`cannot store the video: ${err.message}`);
      run.log.warn({ attempt, err: (err as Error).message }, 'storing the video failed');
      // Another run of this job (one whose lock lapsed) may have stored it meanwhile.
      stored = await findStoredVideo(s3, bucket, key, taskId).catch(() => undefined);
      if (stored) break;
      if (attempt >= STORE_ATTEMPTS) return run.setback(err, 'store');
      if (err instanceof StorageError && err.linkExpired) url = await freshLink(run, url);
      else await run.sleep(Math.min(500 * 2 ** attempt, 10_000));
    }
  }
  run.log.info({ key, size: stored.size, sha256: stored.sha256, transferMs: Date.now() - transferStartedAt }, 'video stored');
  const { state } = run;
  return {
    taskId,
    account,
    bucket: stored.bucket,
    key: stored.key,
    size: stored.size,
    sha256: stored.sha256,
    contentType: stored.contentType,
    durationSeconds: state.durationSeconds,
    resolution: state.resolution,
    submittedAt: new Date(state.submittedAt ?? Date.now()).toISOString(),
    completedAt: state.completedAt ?? new Date().toISOString(),
    storedAt: new Date().toISOString(),
    estimatedCostUsd: estimateCostUsd(run.request) * Math.max(1, state.submits),
    ...(state.possibleDuplicate ? { possibleDuplicate: true } : {}),
  };
}

/** A new download link for the finished task (KIE links live 20 minutes); staleUrl lets a dialect re-mint it. */
async function freshLink(run: RenderRun, staleUrl = ''): Promise<string> {
  const { account, taskId } = run.task;
  try {
    return await run.paced(account, 'refresh', () => run.client(account).refreshVideoUrl(taskId, staleUrl));
  } catch (err) {
    // KIE would not re-mint the stale link: the record has a fresh one, asked for on its own turn.
    if (err instanceof LinkRefusedError && staleUrl !== '') return freshLink(run);
    if (err instanceof KieError && !err.retryable) throw new UnrecoverableError(`cannot get a download link for task ${taskId}: ${err.message}`);
    return run.setback(err, 'link refresh');
  }
}
