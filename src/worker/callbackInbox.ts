import type { Redis } from 'ioredis';

/**
 * Tasks announced by authenticated KIE callbacks, per job. The webhook receiver writes here and wakes
 * the job; only the job's own worker changes the job, so the receiver never races a running step.
 */
const TTL_SECONDS = 3 * 24 * 3600;

function inboxKey(prefix: string, queueName: string, jobId: string): string {
  return `${prefix}:callback:${queueName}:${jobId}`;
}

/** Remembers the first task a callback named for the job (later ones do not overwrite it). */
export async function recordCallbackTask(redis: Redis, prefix: string, queueName: string, jobId: string, taskId: string): Promise<boolean> {
  return (await redis.set(inboxKey(prefix, queueName, jobId), taskId, 'EX', TTL_SECONDS, 'NX')) === 'OK';
}

export async function callbackTaskFor(redis: Redis, prefix: string, queueName: string, jobId: string): Promise<string | undefined> {
  return (await redis.get(inboxKey(prefix, queueName, jobId))) ?? undefined;
}

/** A new submit starts: a task announced for an earlier submit of this job must not be adopted. */
export async function clearCallbackTask(redis: Redis, prefix: string, queueName: string, jobId: string): Promise<void> {
  await redis.del(inboxKey(prefix, queueName, jobId));
}

/**
 * The video a callback announced for the job's own task, so the job can start downloading it while
 * KIE confirms (see callbackFastPath.ts). Kept no longer than a KIE download link lives.
 */
export interface CallbackVideo {
  taskId: string;
  videoUrl: string;
}

const VIDEO_TTL_SECONDS = 20 * 60;

function videoKey(prefix: string, queueName: string, jobId: string): string {
  return `${prefix}:callback-video:${queueName}:${jobId}`;
}

export async function recordCallbackVideo(redis: Redis, prefix: string, queueName: string, jobId: string, video: CallbackVideo): Promise<void> {
  await redis.set(videoKey(prefix, queueName, jobId), JSON.stringify(video), 'EX', VIDEO_TTL_SECONDS);
}

/** The announced video, once: a job that takes it is the one acting on it. */
export async function takeCallbackVideo(redis: Redis, prefix: string, queueName: string, jobId: string): Promise<CallbackVideo | undefined> {
  const text = await redis.getdel(videoKey(prefix, queueName, jobId));
  return text ? (JSON.parse(text) as CallbackVideo) : undefined;
}
