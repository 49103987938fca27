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
const awaitedKey = (prefix: string, member: string): string => `${prefix}:outcome-awaited:${member}`;

/** Longer than a job waits for the confirmation of a callback (callbackFastPath.ts). */
const AWAITED_TTL_SECONDS = 60;

/**
 * The job will wait for the poller's next answer about its task, whatever it is: it downloads what
 * a callback announced and needs KIE's word before keeping it (callbackFastPath.ts).
 */
export async function awaitTaskOutcome(redis: Redis, prefix: string, member: string): Promise<void> {
  await redis.set(awaitedKey(prefix, member), '1', 'EX', AWAITED_TTL_SECONDS);
}

/** Whether a job waits for any answer about its task (and no longer, once asked). */
export async function takeOutcomeAwaited(redis: Redis, prefix: string, member: string): Promise<boolean> {
  return (await redis.getdel(awaitedKey(prefix, member))) !== null;
}

export async function handOverTaskOutcome(redis: Redis, prefix: string, member: string, outcome: TaskOutcome): Promise<void> {
  await redis.set(key(prefix, member), JSON.stringify(outcome), 'EX', TTL_SECONDS);
}

/** The outcome without taking it: for a job that waits for it before acting (see callbackFastPath.ts). */
export async function peekTaskOutcome(redis: Redis, prefix: string, member: string): Promise<TaskOutcome | undefined> {
  const text = await redis.get(key(prefix, member));
  return text ? (JSON.parse(text) as TaskOutcome) : undefined;
}

export async function takeTaskOutcome(redis: Redis, prefix: string, member: string): Promise<TaskOutcome | undefined> {
  const text = await redis.getdel(key(prefix, member));
  return text ? (JSON.parse(text) as TaskOutcome) : undefined;
}
