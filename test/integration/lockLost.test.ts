/**
 * A run that lost its job's lock (its process stalled past WORKER_LOCK_MS, so BullMQ gave the job to
 * another run) must not write the job's state nor send a create: that would pay twice.
 */
import { waitUntil } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

const INTERVAL_MS = 2500;

let stack: RenderStack;
afterAll(() => stack?.close());

it('a run whose lock another run took writes nothing and sends no create; the job is the new owner’s', async () => {
  // A long request interval: the second job sleeps in-process for its turn, holding its lock.
  stack = await startRenderStack({ sim: { minIntervalMs: INTERVAL_MS, generationMs: [300, 400] } });
  await stack.startWorker();
  const [first] = await stack.producer.enqueueMany([{ prompt: 'takes the first turn' }]);
  await waitUntil(() => stack.sim.counters.tasks.length === 1, 'the first task created');
  const [second] = await stack.producer.enqueueMany([{ prompt: 'waits for the next turn, and loses its lock meanwhile' }]);
  const lockKey = `${stack.queue.qualifiedName}:${second!.jobId}:lock`;
  await waitUntil(async () => (await stack.redis.get(lockKey)) !== null, 'the second job taken by the worker');

  // Another run takes over the job while this one sleeps (what a lapsed lock lets BullMQ do).
  await stack.redis.set(lockKey, 'another-run', 'PX', 60_000);
  await new Promise((r) => setTimeout(r, INTERVAL_MS + 1500));

  expect(stack.sim.counters.tasks.map((t) => t.prompt)).toEqual(['takes the first turn']);
  const job = (await stack.queue.getJob(second!.jobId))!;
  expect(job.data.render).toBeUndefined();
  expect(await stack.redis.get(lockKey)).toBe('another-run');
  expect(stack.logs.join('\n')).toContain("lost the job's lock");
  expect((await stack.waitForJobs([first!.jobId])).get(first!.jobId)).toBe('completed');
});
