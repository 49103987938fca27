/**
 * Redis restarts in the middle of a batch (SIGTERM, as an orchestrator stops it; AOF with fsync
 * on every write, so nothing acknowledged is lost): the worker processes reconnect and carry on.
 */
import { waitUntil } from '../support/fleet';
import type { RenderStack } from '../support/renderStack';
import { spawnStartedWorker, startChaosStack, useChaosRedis, WorkerProcess } from './support/chaosStack';
import { enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const JOBS = 12;
const DOWN_MS = 2000;

const redisServer = useChaosRedis();
let stack: RenderStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

it('a Redis restart mid-batch: both worker processes reconnect and store every job, one task per prompt', async () => {
  stack = await startChaosStack({
    sim: { generationMs: [1000, 2500] },
    // Locks outlive the outage: a restart is no reason to hand a running job to another worker.
    env: { POLL_INTERVAL_MS: '200', WORKER_LOCK_MS: '10000', WORKER_CONCURRENCY: '4' },
  });
  const workers: WorkerProcess[] = await Promise.all([spawnStartedWorker(stack), spawnStartedWorker(stack)]);
  const jobs = await enqueuePrompts(stack, 'through a Redis restart', JOBS);
  await waitUntil(async () => (await stack!.queue.getCompletedCount()) >= 2, 'the first jobs stored');
  const storedBefore = await stack.queue.getCompletedCount();
  const tasksBefore = stack.sim.counters.tasks.length;

  const outputBefore = workers.map((w) => w.output.length);
  // The test's own queues see the outage too; without a listener BullMQ prints every refused connect.
  let queueErrors = 0;
  for (const queue of [stack.queue, stack.producer.queue]) queue.on('error', () => queueErrors++);
  await redisServer().restart(DOWN_MS);
  await settle(stack, jobs, 120_000);

  const tally = await tallyJobs(stack, 'Redis restart mid-batch', jobs, {
    storedBeforeRestart: storedBefore,
    tasksBeforeRestart: tasksBefore,
    downMs: DOWN_MS,
    testQueueErrors: queueErrors,
  });
  expectAllStored(tally);
  expect(storedBefore).toBeLessThan(JOBS);
  expect(workers.map((w) => w.exitCode)).toEqual([null, null]);
  // Both carried on: each stored a video after the restart.
  const storedSince = workers.map((w, i) => w.output.slice(outputBefore[i]).join('').includes('"msg":"video stored"'));
  expect(storedSince).toEqual([true, true]);
});
