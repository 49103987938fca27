/**
 * Writes a job's data only while this run still holds the job's lock. A run whose process stalled
 * past WORKER_LOCK_MS has lost the job: BullMQ hands it to another run, and the stale run's late
 * writes would overwrite the newer state (a taskId, and with it what was paid for), and its create
 * request would pay twice. BullMQ's own updateData does not check the lock; its moves do.
 */
import type { Redis } from 'ioredis';
import type { RenderJob } from './render/renderProcessor';
import type { RenderJobData } from '../shared/renderJob';

/**
 * KEYS[1] the job's hash, KEYS[2] its lock (BullMQ's layout: `<prefix>:<queue>:<id>[:lock]`)
 * ARGV[1] this run's lock token, ARGV[2] the job data as JSON
 * Returns 1 when written, 0 when the lock is another run's (or gone).
 */
const SAVE_IF_LOCKED = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return 1`;

export class JobLockLostError extends Error {
  constructor(jobId: string) {
    super(`job ${jobId}: this run lost the job's lock (its process stalled past WORKER_LOCK_MS); another run has it, so this one stops without writing`);
    this.name = 'JobLockLostError';
  }
}

/** Saves `data` on the job (and on the local copy) if `token` still holds its lock; false otherwise. */
export async function saveRenderState(redis: Redis, job: RenderJob, token: string, data: RenderJobData): Promise<boolean> {
  const jobKey = `${job.queueQualifiedName}:${job.id}`;
  const saved = await redis.eval(SAVE_IF_LOCKED, 2, jobKey, `${jobKey}:lock`, token, JSON.stringify(data));
  if (saved !== 1) return false;
  job.data = data;
  return true;
}
