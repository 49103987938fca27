/**
 * The store step: stream the finished video into S3 (verified, hashed), refreshing an expired
 * link through KIE (paced), and return the job's result.
 */
import { UnrecoverableError } from 'bullmq';
import { KieError, LinkRefusedError, ResultNotReadyError, StorageError } from '../../shared/errors';
import type { RenderResult, RenderWarning, VideoFacts } from '../../shared/renderJob';
import { estimateCostUsd } from '../../shared/renderRequest';
import { storePoster } from '../storage/storePoster';
import { findStoredVideo, StagedVideo, storeVideo, type StoredVideo, StoreVideoInput } from '../storage/storeVideo';
import { videoMismatches } from '../storage/videoMismatches';
import type { RenderRun } from './renderRun';

/** Download attempts within one store step before the job backs off as a whole. */
const STORE_ATTEMPTS = 4;

/** `key` under S3_PREFIX. */
export function prefixedKey(prefix: string, key: string): string {
  return prefix ? `${prefix.replace(/\/+$/, '')}/${key}` : key;
}

function objectKey(run: RenderRun): string {
  return prefixedKey(run.deps.config.s3.prefix, run.request.key ?? `${run.request.batchId ?? 'renders'}/${run.job.id}.mp4`);
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
    // VIDEO_CHECK=strict: a video unlike its request never reaches its key, and the job fails naming why.
    ...(config.videoCheck === 'strict' ? { refuse: (video: VideoFacts) => strictRefusal(run, video) } : {}),
    ...(signal ? { signal } : {}),
  };
}

function strictRefusal(run: RenderRun, video: VideoFacts): string | undefined {
  const mismatches = videoMismatches(video, run.request);
  return mismatches.length ? `it differs from the request (VIDEO_CHECK=strict): ${mismatches.map((m) => m.message).join('; ')}` : undefined;
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
  else if (staged)
    stored = await staged
      .commit()
      .catch((err: Error) => void run.log.warn({ err: err.message }, 'committing the video downloaded early failed; downloading it again'));
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
  run.log.info({ key, size: stored.size, sha256: stored.sha256, video: stored.video, transferMs: Date.now() - transferStartedAt }, 'video stored');
  const warnings: RenderWarning[] = stored.video ? videoMismatches(stored.video, run.request) : [];
  if (warnings.length) run.log.warn({ key, warnings: warnings.map((w) => w.message) }, 'stored video differs from the request');
  const posterKey = config.posters ? await posterOf(run, stored, warnings) : undefined;
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
    ...(stored.video ? { video: stored.video } : {}),
    ...(posterKey ? { posterKey } : {}),
    ...(warnings.length ? { warnings } : {}),
    submittedAt: new Date(state.submittedAt ?? Date.now()).toISOString(),
    completedAt: state.completedAt ?? new Date().toISOString(),
    storedAt: new Date().toISOString(),
    estimatedCostUsd: estimateCostUsd(run.request, config.kie.models, config.kie.usdPerCredit) * Math.max(1, state.submits),
    ...(state.possibleDuplicate ? { possibleDuplicate: true } : {}),
  };
}

/** The poster frame's key, or undefined with a `poster-failed` warning: a poster never fails its render. */
async function posterOf(run: RenderRun, stored: StoredVideo, warnings: RenderWarning[]): Promise<string | undefined> {
  const { config, s3, counters } = run.deps;
  try {
    return await storePoster({
      s3,
      bucket: stored.bucket,
      key: stored.key,
      durationSeconds: stored.video?.durationSeconds,
      timeoutMs: config.downloadTimeoutMs,
    });
  } catch (err) {
    const message = `no poster for ${stored.key}: ${(err as Error).message}`;
    warnings.push({ type: 'poster-failed', message });
    counters?.postersFailed.inc();
    run.log.warn({ key: stored.key, err: (err as Error).message }, 'poster failed');
    return undefined;
  }
}

/**
 * A new download link for the finished task (KIE links live 20 minutes), or the link of the version
 * the request asked for (Veo 1080p); staleUrl lets a dialect re-mint it.
 */
async function freshLink(run: RenderRun, staleUrl = ''): Promise<string> {
  const { account, taskId } = run.task;
  try {
    return await run.paced(account, 'refresh', () => run.client(account).refreshVideoUrl(taskId, staleUrl, run.request));
  } catch (err) {
    // KIE is still making that version: the job waits (its setbacks bound how long) and asks again.
    if (err instanceof ResultNotReadyError) return run.setback(err, `fetching the ${run.request.options?.resolution ?? 'requested'} video`);
    // KIE would not re-mint the stale link: the record has a fresh one, asked for on its own turn.
    if (err instanceof LinkRefusedError && staleUrl !== '') return freshLink(run);
    if (err instanceof KieError && !err.retryable) throw new UnrecoverableError(`cannot get a download link for task ${taskId}: ${err.message}`);
    return run.setback(err, 'link refresh');
  }
}
