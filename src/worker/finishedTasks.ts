import type { Redis } from 'ioredis';
import type { TaskRecord } from '../kie/types';

/**
 * What the status poller found out about a task, handed to its job so the job need not ask KIE
 * itself: the record of a finished task, or why KIE refused to report on it. Kept shorter than
 * KIE's 20-minute link: an older link is refreshed anyway.
 */
export type TaskOutcome = { record: TaskRecord } | { refused: string; unknownTask: boolean };

const TTL_SECONDS = 15 * 60;

const key = (prefix: string, member: string): string => `${prefix}:finished:${member}`;

export async function handOverTaskOutcome(redis: Redis, prefix: string, member: string, outcome: TaskOutcome): Promise<void> {
  await redis.set(key(prefix, member), JSON.stringify(outcome), 'EX', TTL_SECONDS);
}

export async function takeTaskOutcome(redis: Redis, prefix: string, member: string): Promise<TaskOutcome | undefined> {
  const text = await redis.getdel(key(prefix, member));
  return text ? (JSON.parse(text) as TaskOutcome) : undefined;
}
