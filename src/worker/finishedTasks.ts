import type { Redis } from 'ioredis';
import type { TaskRecord } from '../kie/types';

/**
 * Task records the status poller found finished, handed to their job so it need not ask KIE
 * again. Kept shorter than KIE's 20-minute link: an older link is refreshed anyway.
 */
const TTL_SECONDS = 15 * 60;

const key = (prefix: string, member: string): string => `${prefix}:finished:${member}`;

export async function handOverFinishedTask(redis: Redis, prefix: string, member: string, record: TaskRecord): Promise<void> {
  await redis.set(key(prefix, member), JSON.stringify(record), 'EX', TTL_SECONDS);
}

export async function takeFinishedTask(redis: Redis, prefix: string, member: string): Promise<TaskRecord | undefined> {
  const text = await redis.getdel(key(prefix, member));
  return text ? (JSON.parse(text) as TaskRecord) : undefined;
}
