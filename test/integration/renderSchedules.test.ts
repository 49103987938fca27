/**
 * Recurring renders (BullMQ job schedulers) through real Redis, a worker, the KIE simulator and
 * local S3: each iteration is one job, one task, one stored video, even though a render job
 * passes through "active" several times (the step pattern); removing the schedule stops them.
 */
import { ValidationError } from '../../src/shared/errors';
import { listRenderSchedules, removeRenderSchedule, scheduleRender, ScheduleTiming } from '../../src/producer/renderSchedules';
import { waitUntil } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

let stack: RenderStack;
afterAll(() => stack?.close());
beforeAll(async () => {
  // Generation spans several status checks, so every job goes active -> delayed -> active.
  stack = await startRenderStack({ sim: { generationMs: [600, 900] } });
});

async function validationIssues(promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).issues.map((i) => i.field);
}

it('each iteration is one job, one KIE task and one stored video; removing the schedule stops new ones', async () => {
  await stack.startWorker();
  // A short period for the test, allowed by a lower SCHEDULE_MIN_INTERVAL_MS.
  const schedule = await scheduleRender(
    stack.producer,
    'every-2s',
    { everyMs: 2000 },
    { prompt: 'a clock tower, hourly', batchId: 'clock' },
    { minIntervalMs: 1000 },
  );
  expect(schedule).toMatchObject({ id: 'every-2s', everyMs: 2000, request: { prompt: 'a clock tower, hourly', batchId: 'clock' } });
  expect(Date.parse(schedule.next!)).toBeGreaterThan(0);

  await waitUntil(async () => (await stack.queue.getCompletedCount()) >= 3, 'three scheduled renders completed', 30_000);
  expect(await removeRenderSchedule(stack.producer, 'every-2s')).toBe(true);
  expect(await listRenderSchedules(stack.producer)).toEqual([]);
  // Whatever the schedule had already enqueued finishes; then nothing more comes.
  const unfinished = async (): Promise<number> =>
    Object.values(await stack.queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized')).reduce((a, b) => a + b, 0);
  await waitUntil(async () => (await unfinished()) === 0, 'the queue to drain', 20_000);
  const completed = await stack.queue.getCompleted();
  await new Promise((r) => setTimeout(r, 2500));
  expect(await stack.queue.getCompletedCount()).toBe(completed.length);

  const tasks = stack.sim.counters.tasks.filter((t) => t.prompt === 'a clock tower, hourly');
  expect(tasks).toHaveLength(completed.length);
  expect(new Set(completed.map((j) => j.returnvalue.taskId)).size).toBe(completed.length);
  for (const job of completed) {
    expect(job.id).toMatch(/^repeat:every-2s:/);
    const stored = await stack.readObject(job.returnvalue.key);
    expect(job.returnvalue.key.startsWith('clock/')).toBe(true);
    expect(stored.metadata.sha256).toBe(job.returnvalue.sha256);
  }
  expect(stack.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
});

it('a cron schedule is listed with its pattern, zone and next run; upserting the same id replaces it', async () => {
  await scheduleRender(stack.producer, 'nightly', { cron: '0 3 * * *', tz: 'Europe/Berlin' }, { prompt: 'the city at 3 a.m.' });
  await scheduleRender(stack.producer, 'nightly', { cron: '30 4 * * *', tz: 'Europe/Berlin' }, { prompt: 'the city at 4.30 a.m.', duration: 15 });
  const [nightly, ...others] = await listRenderSchedules(stack.producer);
  expect(others).toEqual([]);
  expect(nightly).toMatchObject({ id: 'nightly', cron: '30 4 * * *', tz: 'Europe/Berlin', request: { prompt: 'the city at 4.30 a.m.', duration: 15 } });
  const next = new Date(nightly!.next!);
  expect(next.getTime()).toBeGreaterThan(Date.now());
  expect(next.getUTCMinutes()).toBe(30);
  expect(await removeRenderSchedule(stack.producer, 'nightly')).toBe(true);
  expect(await removeRenderSchedule(stack.producer, 'nightly')).toBe(false);
});

it('refuses bad schedules with field-level errors, and writes nothing', async () => {
  expect(await validationIssues(scheduleRender(stack.producer, 'bad id!', { everyMs: 3_600_000 }, { prompt: 'x' }))).toEqual(['id']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', {}, { prompt: 'x' }))).toEqual(['cron']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { cron: '* * * * *', everyMs: 3_600_000 }, { prompt: 'x' }))).toEqual(['cron']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 10 }, { prompt: 'x' }))).toEqual(['everyMs']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 3_600_000, tz: 'Europe/Berlin' }, { prompt: 'x' }))).toEqual(['tz']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { cron: 'every tuesday' }, { prompt: 'x' }))).toEqual(['cron']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { cron: '0 3 * * *', tz: 'Mars/Olympus' }, { prompt: 'x' }))).toEqual(['tz']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 3_600_000 }, { prompt: '', duration: 12 }))).toEqual(['prompt', 'duration']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 3_600_000 }, { prompt: 'x', key: 'fixed.mp4' }))).toEqual(['key']);
  expect(await listRenderSchedules(stack.producer)).toEqual([]);
});

it('a schedule fires at least SCHEDULE_MIN_INTERVAL_MS apart: everyMs, and the actual gaps of a cron pattern', async () => {
  const refused = async (timing: ScheduleTiming, minIntervalMs?: number) => {
    const err = await scheduleRender(stack.producer, 's', timing, { prompt: 'x' }, { minIntervalMs }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  };
  expect(await refused({ everyMs: 59_999 })).toEqual([
    { field: 'everyMs', value: 59_999, rule: 'must be a whole number of milliseconds, at least SCHEDULE_MIN_INTERVAL_MS (60000 ms) between renders' },
  ]);
  expect(await refused({ cron: '* * * * * *' })).toEqual([
    {
      field: 'cron',
      value: '* * * * * *',
      rule: 'fires 1 s apart (at 00:00:00 and 00:00:01); a schedule needs at least SCHEDULE_MIN_INTERVAL_MS (60000 ms) between renders',
    },
  ]);
  // A step of 50 s fires at :00 and :50 of every minute: 10 s apart, not 50.
  expect((await refused({ cron: '*/50 * * * * *' }, 30_000))[0]!.rule).toMatch(/^fires 10 s apart \(at 00:00:50 and 00:01:00\)/);
  // 23 hours apart within the day, but one hour across midnight.
  expect((await refused({ cron: '0 50 0,23 * * *' }, 7_200_000))[0]!.rule).toMatch(/^fires 3600 s apart \(at 23:50:00 and 00:50:00\)/);
  expect(await listRenderSchedules(stack.producer)).toEqual([]);

  expect(await scheduleRender(stack.producer, 'every-minute', { cron: '* * * * *' }, { prompt: 'x' })).toMatchObject({ cron: '* * * * *' });
  expect(await scheduleRender(stack.producer, 'often', { cron: '*/50 * * * * *' }, { prompt: 'x' }, { minIntervalMs: 10_000 })).toMatchObject({ id: 'often' });
  expect(await removeRenderSchedule(stack.producer, 'every-minute')).toBe(true);
  expect(await removeRenderSchedule(stack.producer, 'often')).toBe(true);
});
