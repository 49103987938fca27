/**
 * A task KIE keeps reporting "generating" must not hold its slot forever: past KIE_TASK_TIMEOUT_MS
 * (from its submit) the status poller treats it as failed: its slot is freed with a warning,
 * KIE_FAILED_TASK_POLICY applies, the metric counts it. A job woken early (as by a callback) never
 * reads its task itself: it hands the task back to the poller, due at once, which judges it.
 */
import { accountStatus } from '../../src/pool/accountControl';
import { wakeJobs } from '../../src/pool/wakeJobs';
import type { WorkerRuntime } from '../../src/worker/runtime';
import { waitUntil } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

const WAIT_MS = 30_000;
const TIMEOUT_MS = 1500;
/** Far beyond the test: these tasks never finish while it runs. */
const STUCK = { generationMs: 300_000 };

let stack: RenderStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function startStack(env: Record<string, string>): Promise<{ s: RenderStack; worker: WorkerRuntime }> {
  stack = await startRenderStack({ sim: STUCK, env: { KIE_TASK_TIMEOUT_MS: String(TIMEOUT_MS), WORKER_HTTP: 'true', HTTP_PORT: '0', ...env } });
  return { s: stack, worker: await stack.startWorker() };
}

/** The warnings logged for stuck tasks, as parsed log lines. */
const stuckWarnings = (s: RenderStack): Array<{ jobId?: string; taskId: string; msg: string }> =>
  s.logs.map((l) => JSON.parse(l)).filter((l) => l.alert === 'task-timed-out');

async function timedOutMetric(worker: WorkerRuntime): Promise<number> {
  const text = await (await fetch(`${worker.httpUrl}/metrics`)).text();
  return Number(/^sora_tasks_timed_out_total (\d+)$/m.exec(text)?.[1]);
}

async function expectFailedAtOnce(s: RenderStack, jobId: string): Promise<string> {
  expect((await s.waitForJobs([jobId], WAIT_MS)).get(jobId)).toBe('failed');
  const job = (await s.queue.getJob(jobId))!;
  expect(job.attemptsMade).toBe(1);
  return job.failedReason;
}

it('seen by the status poller: the slot is freed, the task resubmitted once (the default policy), then the job fails naming the timeout', async () => {
  const { s, worker } = await startStack({});
  const prompt = 'a render that never ends';
  const started = Date.now();
  const { jobId } = await s.producer.enqueue({ prompt });

  const reason = await expectFailedAtOnce(s, jobId);
  expect(reason).toMatch(/^KIE task \S+ failed: stuck in generating for \d+\.\d min \(KIE_TASK_TIMEOUT_MS=1500\)$/);
  // Two stuck tasks, each judged past the timeout, well before the job's own 60 s failsafe check.
  expect(Date.now() - started).toBeLessThan(60_000);
  expect(s.sim.counters.submitsByPrompt.get(prompt)).toBe(2);
  const warnings = stuckWarnings(s);
  expect(warnings.map((w) => w.taskId)).toEqual(s.sim.counters.tasks.map((t) => t.taskId));
  // The poller's log lines name no job: it is the poller that saw them.
  expect(warnings.every((w) => w.jobId === undefined && w.msg.endsWith('treated as failed, its slot freed'))).toBe(true);
  const [status] = await accountStatus(s.redis, s.config);
  expect(status).toMatchObject({ inFlight: 0, submitsInWindow: 2 });
  expect(await timedOutMetric(worker)).toBe(2);
});

it('a job woken early (as by a callback) hands its task back to the poller, which judges it stuck at once; with KIE_FAILED_TASK_POLICY=fail the job fails, its slot freed', async () => {
  // The poller's own schedule would check a minute after the submit: only the wake brings it forward.
  const { s, worker } = await startStack({ POLL_INTERVAL_MS: '60000', KIE_FAILED_TASK_POLICY: 'fail' });
  const prompt = 'a render stuck at KIE';
  const { jobId } = await s.producer.enqueue({ prompt });
  await waitUntil(async () => {
    const job = await s.queue.getJob(jobId);
    return job?.data.render?.step === 'generating' && (await job.isDelayed());
  }, 'the job parked while its task generates');
  expect(await accountStatus(s.redis, s.config)).toMatchObject([{ inFlight: 1 }]);
  await new Promise((r) => setTimeout(r, TIMEOUT_MS));
  const woken = Date.now();
  await wakeJobs(s.redis, s.queue, [jobId]);

  expect(await expectFailedAtOnce(s, jobId)).toContain('stuck in generating for');
  expect(Date.now() - woken).toBeLessThan(30_000);
  expect(s.sim.counters.submitsByPrompt.get(prompt)).toBe(1);
  // Judged by the poller (its lines name no job), not by a status read of the job's own.
  expect(stuckWarnings(s).map((w) => w.jobId)).toEqual([undefined]);
  expect(await accountStatus(s.redis, s.config)).toMatchObject([{ inFlight: 0, submitsInWindow: 1 }]);
  expect(await timedOutMetric(worker)).toBe(1);
});
