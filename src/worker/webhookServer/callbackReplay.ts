import type { Redis } from 'ioredis';

/**
 * Callbacks already acted on, per job and task. KIE (or anyone replaying a captured request) may
 * deliver the same callback again; acting once is enough, and a replay must not wake anything.
 */
const REPLAY_WINDOW_SECONDS = 24 * 3600;

function seenKey(prefix: string, queueName: string, jobId: string, taskId: string): string {
  return `${prefix}:callback-seen:${queueName}:${jobId}:${taskId}`;
}

/** True the first time this job+task callback is seen within the window. */
export async function markCallbackSeen(redis: Redis, prefix: string, queueName: string, jobId: string, taskId: string): Promise<boolean> {
  return (await redis.set(seenKey(prefix, queueName, jobId, taskId), '1', 'EX', REPLAY_WINDOW_SECONDS, 'NX')) === 'OK';
}

/** Undoes the mark when acting on the callback failed, so a retried delivery is not taken for a replay. */
export async function forgetCallbackSeen(redis: Redis, prefix: string, queueName: string, jobId: string, taskId: string): Promise<void> {
  await redis.del(seenKey(prefix, queueName, jobId, taskId));
}
