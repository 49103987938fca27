/**
 * Ambiguous submits: KIE creates the task, then the connection dies before the answer. With
 * webhooks the task reports back through the job's callBackUrl and is adopted (one task per
 * prompt); without them, the documented policy resubmits after KIE_AMBIGUOUS_GRACE_MS and flags
 * the job and the log with a possible duplicate charge.
 */
import { waitUntil } from '../support/fleet';
import type { RenderStack } from '../support/renderStack';
import { receiverInWorkerEnv, spawnStartedWorker, startChaosStack, useChaosRedis, waitForHealthz } from './support/chaosStack';
import { enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const JOBS = 6;

useChaosRedis();
let stack: RenderStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const occurrences = (text: string, what: string): number => text.split(what).length - 1;

it('with webhooks (receiver in the worker process): every task created behind a reset is adopted, one task per prompt', async () => {
  stack = await startChaosStack({
    sim: { generationMs: [1500, 2500], faults: { createThenResetRate: 0.7 } },
    // A grace beyond the test: only a callback may settle an ambiguous submit here.
    env: { POLL_INTERVAL_MS: '300', KIE_AMBIGUOUS_GRACE_MS: '600000' },
  });
  const env = await receiverInWorkerEnv();
  const worker = await spawnStartedWorker(stack, env);
  await waitForHealthz(Number(env.HTTP_PORT));
  const jobs = await enqueuePrompts(stack, 'adopted after a reset', JOBS + 2);
  await settle(stack, jobs, 120_000);

  const ambiguous = stack.sim.counters.faults.createThenReset;
  const adopted = occurrences(worker.output.join(''), 'adopted the task a callback reported');
  const tally = await tallyJobs(stack, 'ambiguous submit, webhooks', jobs, {
    ambiguousCreates: ambiguous,
    adoptedViaCallback: adopted,
    callbacks: stack.sim.counters.callbacks,
  });
  expectAllStored(tally);
  expect(ambiguous).toBeGreaterThan(0);
  expect(adopted).toBe(ambiguous);
  expect(tally.possibleDuplicates).toBe(0);
  for (const { jobId, prompt } of jobs) {
    const result = (await stack.queue.getJob(jobId))!.returnvalue;
    expect(stack.sim.task(result.taskId)?.prompt).toBe(prompt);
  }
});

it('without webhooks and a short grace: resubmitted once, the job flagged possibleDuplicate and a possible duplicate charge logged', async () => {
  stack = await startChaosStack({
    sim: { generationMs: [500, 1000], faults: { createThenResetRate: 1 } },
    env: { POLL_INTERVAL_MS: '200', KIE_AMBIGUOUS_GRACE_MS: '3000' },
  });
  const worker = await spawnStartedWorker(stack);
  const jobs = await enqueuePrompts(stack, 'resubmitted after a reset', JOBS);
  // Each job's first create is ambiguous; the resubmits, after the grace, are answered.
  await waitUntil(() => stack!.sim.counters.faults.createThenReset >= JOBS, `${JOBS} ambiguous creates`);
  stack.sim.setFaults({ createThenResetRate: 0 });
  await settle(stack, jobs, 120_000);

  const warnings = occurrences(worker.output.join(''), 'possible duplicate charge');
  const tally = await tallyJobs(stack, 'ambiguous submit, no webhooks', jobs, {
    ambiguousCreates: stack.sim.counters.faults.createThenReset,
    duplicateChargeWarnings: warnings,
  });
  // The policy's documented cost: two tasks per prompt, each job saying so.
  expectAllStored(tally, 2);
  expect(stack.sim.counters.faults.createThenReset).toBe(JOBS);
  expect(tally.possibleDuplicates).toBe(JOBS);
  expect(warnings).toBe(JOBS);
  for (const { jobId } of jobs) {
    const job = (await stack.queue.getJob(jobId))!;
    expect(job.data.render).toMatchObject({ possibleDuplicate: true, submits: 2 });
  }
});
