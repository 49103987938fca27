/**
 * A backlog far larger than an account's request turns: jobs wait their turn, in-process at first
 * and parked as delayed jobs once they have lost several turns, and every one is stored.
 */
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(180_000);

let stack: RenderStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

it("a hundred and fifty jobs with free slots, racing for one account's turns, are all stored; none fails for waiting its turn", async () => {
  // Slots are never short: every job is told "your turn soon", and all but one lose it to another
  // job, for the 15 s it takes to submit them all (100 ms a request).
  stack = await startRenderStack({
    sim: { minIntervalMs: 50, maxConcurrent: 1000, dailyLimit: 1000, generationMs: [500, 1000] },
    env: { WORKER_CONCURRENCY: '150' },
  });
  await stack.startWorker();
  const jobs = await stack.producer.enqueueMany(Array.from({ length: 150 }, (_, i) => ({ prompt: `waiting its turn, take ${i}` })));
  const states = await stack.waitForJobs(
    jobs.map((j) => j.jobId),
    120_000,
  );
  const failed = await Promise.all([...states].filter(([, s]) => s === 'failed').map(async ([id]) => (await stack!.queue.getJob(id))!.failedReason));
  expect(failed).toEqual([]);
  // Parked and resumed, each still submitted exactly once.
  expect(stack.sim.counters.tasks).toHaveLength(150);
  expect([...stack.sim.counters.submitsByPrompt.values()].every((n) => n === 1)).toBe(true);
});
