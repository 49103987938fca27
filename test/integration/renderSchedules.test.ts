/**
 * Recurring renders (BullMQ job schedulers) through real Redis, a worker, the KIE simulator and
 * local S3: each iteration is one job, one task, one stored video, even though a render job
 * passes through "active" several times (the step pattern); removing the schedule stops them.
 */
import { ValidationError } from '../../src/shared/errors';
import { listRenderSchedules, removeRenderSchedule, scheduleRender } from '../../src/producer/renderSchedules';
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
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).issues.map((i) => i.field);
}

it('each iteration is one job, one KIE task and one stored video; removing the schedule stops new ones', async () => {
  await stack.startWorker();
  const schedule = await scheduleRender(stack.producer, 'every-2s', { everyMs: 2000 }, { prompt: 'a clock tower, hourly', batchId: 'clock' });
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
  expect(await validationIssues(scheduleRender(stack.producer, 'bad id!', { everyMs: 5000 }, { prompt: 'x' }))).toEqual(['id']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', {}, { prompt: 'x' }))).toEqual(['cron']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { cron: '* * * * *', everyMs: 5000 }, { prompt: 'x' }))).toEqual(['cron']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 10 }, { prompt: 'x' }))).toEqual(['everyMs']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 5000, tz: 'Europe/Berlin' }, { prompt: 'x' }))).toEqual(['tz']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { cron: 'every tuesday' }, { prompt: 'x' }))).toEqual(['cron']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { cron: '0 3 * * *', tz: 'Mars/Olympus' }, { prompt: 'x' }))).toEqual(['tz']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 5000 }, { prompt: '', duration: 12 }))).toEqual(['prompt', 'duration']);
  expect(await validationIssues(scheduleRender(stack.producer, 's', { everyMs: 5000 }, { prompt: 'x', key: 'fixed.mp4' }))).toEqual(['key']);
  expect(await listRenderSchedules(stack.producer)).toEqual([]);
});
