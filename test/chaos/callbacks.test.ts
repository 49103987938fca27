/**
 * KIE callbacks as the worker's in-process receiver sees them. Valid ones make completion ->
 * stored shorter than the poll interval; forged ones, ones for unknown jobs and replays touch
 * nothing; with none at all (dropped), polling still finishes every job.
 */
import type { Job } from 'bullmq';
import { callbackUrl } from '../../src/shared/callbackToken';
import type { RenderJobData } from '../../src/shared/renderJob';
import { waitUntil } from '../support/fleet';
import type { RenderStack, StackOptions } from '../support/renderStack';
import { receiverInWorkerEnv, spawnStartedWorker, startChaosStack, useChaosRedis, waitForHealthz, WEBHOOK_SECRET } from './support/chaosStack';
import { EnqueuedPrompt, enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const POLL_INTERVAL_MS = 5000;
const RECORD = 'GET /api/v1/sora/record-info';

useChaosRedis();
let stack: RenderStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** A stack whose one worker process runs the callback receiver; polls are 5 s apart. */
async function startWithReceiver(sim: StackOptions['sim']): Promise<RenderStack> {
  stack = await startChaosStack({ sim, env: { POLL_INTERVAL_MS: String(POLL_INTERVAL_MS) } });
  const env = await receiverInWorkerEnv();
  await spawnStartedWorker(stack, env);
  await waitForHealthz(Number(env.HTTP_PORT));
  return stack;
}

async function jobOf(s: RenderStack, jobId: string): Promise<Job<RenderJobData>> {
  return (await s.queue.getJob(jobId))!;
}

/** What a job looks like from outside: if a callback changed anything, this changes. */
async function snapshot(s: RenderStack, jobs: readonly EnqueuedPrompt[]): Promise<string> {
  return JSON.stringify(
    await Promise.all(
      jobs.map(async ({ jobId }) => {
        const job = await jobOf(s, jobId);
        return { data: job.data, state: await job.getState(), finishedOn: job.finishedOn, delay: job.delay, attemptsMade: job.attemptsMade };
      }),
    ),
  );
}

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

/** The sora-dialect callback KIE sends for a finished task. */
function callbackBody(taskId: string): unknown {
  return { taskId, status: 1, videoUrl: `http://127.0.0.1/files/${taskId}.mp4`, duration: 10, completedAt: new Date().toISOString() };
}

it('valid callbacks: completion -> stored well inside one poll interval; replays after the end touch nothing', async () => {
  const s = await startWithReceiver({ generationMs: [1000, 2000] });
  const jobs = await enqueuePrompts(s, 'woken by a callback', 6);
  await settle(s, jobs, 90_000);

  const latencies: number[] = [];
  for (const { jobId } of jobs) {
    const job = await jobOf(s, jobId);
    const task = s.sim.task(job.data.render!.taskId!)!;
    latencies.push(job.finishedOn! - task.completedAt!);
  }
  // A captured callback delivered again, after its job is done: acknowledged, ignored.
  const before = await snapshot(s, jobs);
  const replays = await Promise.all(s.sim.counters.tasks.map((t) => post(t.callBackUrl!, callbackBody(t.taskId))));
  const after = await snapshot(s, jobs);

  latencies.sort((a, b) => a - b);
  const tally = await tallyJobs(s, 'valid callbacks', jobs, {
    callbacks: s.sim.counters.callbacks,
    completionToStoredMs: { median: latencies[Math.floor(latencies.length / 2)], max: latencies.at(-1) },
    pollIntervalMs: POLL_INTERVAL_MS,
    replayAnswers: replays,
  });
  expectAllStored(tally);
  expect(s.sim.counters.callbacks).toEqual({ delivered: jobs.length, failed: 0 });
  expect(latencies.at(-1)).toBeLessThan(POLL_INTERVAL_MS);
  expect(replays).toEqual(jobs.map(() => 200));
  expect(after).toBe(before);
});

it('forged, unknown-job and replayed callbacks touch nothing; with callbacks dropped, polling finishes every job', async () => {
  const s = await startWithReceiver({ generationMs: [6000, 7000], faults: { dropCallbacks: true } });
  const jobs = await enqueuePrompts(s, 'no callback comes', 4);
  await waitUntil(async () => {
    const all = await Promise.all(jobs.map(async ({ jobId }) => jobOf(s, jobId)));
    return all.every((j) => j.data.render?.step === 'generating');
  }, 'every job waiting for its task');
  await waitUntil(async () => (await s.queue.getDelayedCount()) === jobs.length, 'every job asleep until its next check');

  const tasks = s.sim.counters.tasks;
  const forged = (url: string) => url.replace(/token=[^&]+/, 'token=forged');
  const unknownJob = callbackUrl(new URL(tasks[0]!.callBackUrl!).origin, WEBHOOK_SECRET, s.config.queueName, 'no-such-job');
  const otherJobsToken = (i: number) => tasks[i]!.callBackUrl!.replace(/token=[^&]+/, new URL(tasks[(i + 1) % tasks.length]!.callBackUrl!).search.slice(1));

  const before = await snapshot(s, jobs);
  const checksBefore = s.sim.counters.requests.byEndpoint[RECORD] ?? 0;
  const answers = {
    forged: await Promise.all(tasks.map((t) => post(forged(t.callBackUrl!), callbackBody(t.taskId)))),
    anotherJobsToken: await Promise.all(tasks.map((t, i) => post(otherJobsToken(i), callbackBody(t.taskId)))),
    unknownJob: await post(unknownJob, callbackBody(tasks[0]!.taskId)),
  };
  await new Promise((r) => setTimeout(r, 500));
  const after = await snapshot(s, jobs);
  const checksAfter = s.sim.counters.requests.byEndpoint[RECORD] ?? 0;

  // A genuine callback delivered twice: the first wakes its job (one status check), the second is a replay.
  const genuine = [await post(tasks[0]!.callBackUrl!, callbackBody(tasks[0]!.taskId)), await post(tasks[0]!.callBackUrl!, callbackBody(tasks[0]!.taskId))];

  await settle(s, jobs, 90_000);
  const tally = await tallyJobs(s, 'hostile and dropped callbacks', jobs, { answers, genuineThenReplay: genuine, callbacks: s.sim.counters.callbacks });
  expectAllStored(tally);
  expect(answers).toEqual({ forged: tasks.map(() => 401), anotherJobsToken: tasks.map(() => 401), unknownJob: 404 });
  expect(after).toBe(before);
  expect(checksAfter).toBe(checksBefore);
  expect(genuine).toEqual([202, 200]);
  expect(s.sim.counters.callbacks).toEqual({ delivered: 0, failed: 0 });
});
