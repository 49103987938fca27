/**
 * Recurring renders (cron schedules): a BullMQ job scheduler per schedule adds one `render` job per
 * iteration, with the same validated data, so workers render them like any other job. Every
 * iteration is a new KIE task (it counts against the daily quota), stored under its own job id.
 */
import { getNextMillis } from 'bullmq';
import { ValidationError, FieldIssue } from '../shared/errors';
import type { RenderRequest } from '../shared/renderRequest';
import { RENDER_JOB_NAME, RenderJobData } from '../shared/renderJob';
import { DEFAULT_JOB_OPTIONS, RenderProducer } from './renderProducer';
import { shortestCronGap } from './shortestCronGap';

export interface ScheduleTiming {
  /** A cron pattern (with seconds optional), e.g. "0 3 * * *" for 03:00 every day. */
  cron?: string;
  /** Or a fixed period in milliseconds. */
  everyMs?: number;
  /** Time zone for `cron`, e.g. "Europe/Berlin"; default UTC. */
  tz?: string;
}

export interface RenderSchedule {
  id: string;
  cron?: string;
  everyMs?: number;
  tz?: string;
  /** When the next render is enqueued (ISO 8601). */
  next?: string;
  request: RenderRequest;
}

export interface ScheduleOptions {
  /**
   * Least time between two renders of a schedule (SCHEDULE_MIN_INTERVAL_MS), for cron patterns and
   * everyMs alike: each render is a paid KIE task, and `* * * * * *` would enqueue one a second.
   */
  minIntervalMs?: number;
}

const SCHEDULE_ID = /^[A-Za-z0-9._-]{1,100}$/;
export const DEFAULT_SCHEDULE_MIN_INTERVAL_MS = 60_000;

function checkTiming(id: string, timing: ScheduleTiming, minIntervalMs: number): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const atLeast = `at least SCHEDULE_MIN_INTERVAL_MS (${minIntervalMs} ms) between renders`;
  if (!SCHEDULE_ID.test(id)) issues.push({ field: 'id', value: id, rule: 'letters, digits, ".", "_" or "-", 1 to 100 characters' });
  if ((timing.cron === undefined) === (timing.everyMs === undefined)) {
    issues.push({ field: 'cron', value: timing.cron, rule: 'give exactly one of cron or everyMs' });
  }
  if (timing.everyMs !== undefined && !(Number.isInteger(timing.everyMs) && timing.everyMs >= minIntervalMs)) {
    issues.push({ field: 'everyMs', value: timing.everyMs, rule: `must be a whole number of milliseconds, ${atLeast}` });
  }
  if (timing.tz !== undefined && timing.cron === undefined) issues.push({ field: 'tz', value: timing.tz, rule: 'applies to a cron schedule only' });
  else if (timing.tz !== undefined && !isTimeZone(timing.tz))
    issues.push({ field: 'tz', value: timing.tz, rule: 'must be an IANA time zone, e.g. Europe/Berlin' });
  else if (timing.cron !== undefined) {
    // The parser BullMQ itself schedules with.
    try {
      getNextMillis(Date.now(), { pattern: timing.cron, tz: timing.tz });
      const gap = shortestCronGap(timing.cron);
      if (gap.ms < minIntervalMs) {
        issues.push({
          field: 'cron',
          value: timing.cron,
          rule: `fires ${gap.ms / 1000} s apart (at ${gap.between.join(' and ')}); a schedule needs ${atLeast}`,
        });
      }
    } catch (err) {
      issues.push({ field: 'cron', value: timing.cron, rule: `not a cron pattern: ${(err as Error).message}` });
    }
  }
  return issues;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates or replaces the schedule `id`. The timing and the request are validated (like any
 * enqueue) before Redis is touched; a fixed `key` is refused, since every iteration stores a new video.
 */
export async function scheduleRender(
  producer: RenderProducer,
  id: string,
  timing: ScheduleTiming,
  input: unknown,
  opts: ScheduleOptions = {},
): Promise<RenderSchedule> {
  const issues = checkTiming(id, timing, opts.minIntervalMs ?? DEFAULT_SCHEDULE_MIN_INTERVAL_MS);
  let request: RenderRequest | undefined;
  try {
    request = producer.validate(input);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    issues.push(...err.issues);
  }
  if (request?.key !== undefined) {
    issues.push({
      field: 'key',
      value: request.key,
      rule: 'a schedule renders a new video each time: leave key out (each render is stored under its own job id)',
    });
  }
  if (issues.length || !request) throw new ValidationError(issues);

  const repeat = timing.cron !== undefined ? { pattern: timing.cron, ...(timing.tz ? { tz: timing.tz } : {}) } : { every: timing.everyMs! };
  await producer.queue.upsertJobScheduler(id, repeat, { name: RENDER_JOB_NAME, data: request as RenderJobData, opts: DEFAULT_JOB_OPTIONS });
  return (await listRenderSchedules(producer)).find((s) => s.id === id)!;
}

export async function listRenderSchedules(producer: RenderProducer): Promise<RenderSchedule[]> {
  const schedulers = await producer.queue.getJobSchedulers(0, -1, true);
  return schedulers.map((s) => ({
    id: s.key,
    ...(s.pattern ? { cron: s.pattern } : {}),
    ...(s.every ? { everyMs: Number(s.every) } : {}),
    ...(s.tz ? { tz: s.tz } : {}),
    ...(s.next ? { next: new Date(Number(s.next)).toISOString() } : {}),
    request: s.template?.data as RenderRequest,
  }));
}

/** Stops the schedule; renders it already enqueued still run. False when there was none. */
export function removeRenderSchedule(producer: RenderProducer, id: string): Promise<boolean> {
  return producer.queue.removeJobScheduler(id);
}
