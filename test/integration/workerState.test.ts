/**
 * A job's worker state (`job.data.render`) is parsed, not trusted: a foreign backend adding jobs
 * with a stock BullMQ client can put anything there. A state no step can resume fails its job at
 * once, naming `render`, without a KIE request; the same worker processes render every other job.
 */
import type { RenderJobData } from '../../src/shared/renderJob';
import * as submitStep from '../../src/worker/render/submitStep';
import { expectStoredAsServed } from '../support/expectStored';
import { waitForWorkersStarted } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(150_000);

const WAIT_MS = 90_000;
const CREATE = 'POST /api/v1/sora/generate';

let stack: RenderStack | undefined;

afterEach(async () => {
  jest.restoreAllMocks();
  await stack?.close();
  stack = undefined;
});

/** Kinds of state no worker can resume, with what the failure must say. */
const BAD_STATES: Array<[string, unknown, string]> = [
  // Three unknown steps, one per worker process: before, each one hung the process that took it.
  ['an unknown step', { step: 'queued' }, 'render.step: must be one of submitting, generating, storing'],
  ['another unknown step', { step: 'done', submits: 1 }, 'render.step: must be one of submitting, generating, storing'],
  ['a third unknown step', { step: 'waiting', submits: 0 }, 'render.step: must be one of submitting, generating, storing'],
  ['a wait for a task without its id', { step: 'generating', account: 'default', submits: 1 }, 'render.taskId: is required to resume step "generating"'],
  [
    'an ambiguous submit without its account',
    { step: 'submitting', submitStartedAt: 1_700_000_000_000, submits: 0 },
    'render.account: is required to resume step "submitting"',
  ],
  ['a negative counter', { submits: -1 }, 'render.submits: must not be negative'],
  ['a fractional counter', { submits: 0, setbacks: 2.5 }, 'render.setbacks: must be a whole number'],
  [
    'an account this worker does not have',
    { step: 'storing', account: 'ghost', taskId: 'task-x', submits: 1 },
    'render.account: must be an account this worker is configured with (default)',
  ],
  ['a state that is no object', 'garbage', 'render: must be an object'],
];

it('bad worker states fail at once naming render, and three worker processes store every other job, a non-ASCII job id included', async () => {
  stack = await startRenderStack({ env: { KIE_INTERVAL_MARGIN_MS: '250' } });
  const s = stack;
  const workers = [s.spawnWorker(), s.spawnWorker(), s.spawnWorker()];
  await waitForWorkersStarted(workers, 60_000);

  const add = async (jobId: string, data: RenderJobData): Promise<string> =>
    (await s.queue.add('render', data, { jobId, attempts: 5, backoff: { type: 'exponential', delay: 100 } })).id!;
  const bad: Array<{ jobId: string; prompt: string; reason: string }> = [];
  const good: string[] = [];
  // Bad and good jobs interleaved, as a backend would add them.
  for (const [i, [label, render, reason]] of BAD_STATES.entries()) {
    const prompt = `a bad state: ${label}`;
    bad.push({ jobId: await add(`bad-${i}`, { prompt, render } as unknown as RenderJobData), prompt, reason });
    good.push(await add(`good-${i}`, { prompt: `a good job among bad ones, take ${i}` }));
  }
  const utf8Id = await add('h-1-ñü', { prompt: 'a job whose id is not ASCII' });
  // Written by a newer worker during a rolling deploy: a key this version does not know.
  const newer = await add('from-a-newer-worker', {
    prompt: 'a job a newer worker started',
    render: { submits: 0, queuedBy: { version: 99 } },
  } as RenderJobData);

  const results = await expectStoredAsServed(s, [...good, utf8Id, newer], WAIT_MS);
  const states = await s.waitForJobs(
    bad.map((b) => b.jobId),
    WAIT_MS,
  );
  for (const { jobId, reason } of bad) {
    const job = (await s.queue.getJob(jobId))!;
    expect({ jobId, state: states.get(jobId), attemptsMade: job.attemptsMade }).toEqual({ jobId, state: 'failed', attemptsMade: 1 });
    expect(job.failedReason).toContain(`invalid worker state: ${reason}`);
  }

  // KIE was asked to create exactly the good jobs' tasks.
  expect(s.sim.counters.requests.byEndpoint[CREATE]).toBe(good.length + 2);
  for (const { prompt } of bad) expect(s.sim.counters.submitsByPrompt.get(prompt)).toBeUndefined();

  // The non-ASCII id: the default key keeps it as UTF-8, the metadata holds it percent-encoded.
  const utf8 = results[good.length]!;
  expect(utf8.key).toBe('renders/h-1-ñü.mp4');
  const { metadata } = await s.readObject(utf8.key);
  expect(metadata).toMatchObject({ 'job-id': 'h-1-%C3%B1%C3%BC', 'task-id': utf8.taskId, account: 'default' });
  expect(decodeURIComponent(metadata['job-id']!)).toBe('h-1-ñü');

  // The newer worker's key went through the whole run untouched.
  expect((await s.queue.getJob(newer))!.data.render).toMatchObject({ step: 'storing', queuedBy: { version: 99 } });
  // No worker process hung or died on the way.
  for (const w of workers) expect(w.exitCode).toBeNull();
});

it('a run whose step makes no progress fails after a bounded number of steps instead of looping', async () => {
  stack = await startRenderStack();
  await stack.startWorker();
  // A submit step that returns without moving the job on (a bug, or a state it cannot leave).
  const submit = jest.spyOn(submitStep, 'submitTask').mockResolvedValue(undefined);
  const { jobId } = await stack.producer.enqueue({ prompt: 'a job that goes nowhere' });
  expect((await stack.waitForJobs([jobId], WAIT_MS)).get(jobId)).toBe('failed');
  const job = (await stack.queue.getJob(jobId))!;
  expect(job.attemptsMade).toBe(1);
  expect(job.failedReason).toBe('render.step: still at step "(none)" after 25 steps in one run; the job cannot make progress');
  expect(submit).toHaveBeenCalledTimes(25);
  expect(stack.sim.counters.requests.total).toBe(0);
});
