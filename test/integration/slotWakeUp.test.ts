/**
 * A job joins the slot waiters inside acquireSubmit and moves itself to delayed a moment later. A
 * slot freed in between wakes it while it is still active; that wake must not be lost (it used to
 * be: the job slept its 60 s failsafe while the slot stayed idle).
 */
import type { SubmitGrant } from '../../src/pool/limiter/accountLimiter';
import { slotMember } from '../../src/pool/slotMember';
import { JobWaker } from '../../src/pool/wakeJobs';
import { waitUntil } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

let stack: RenderStack;
afterAll(() => stack?.close());

it('a slot released between a job joining the waiters and its move to delayed wakes the job at once', async () => {
  stack = await startRenderStack({ sim: { maxConcurrent: 1 } });
  const runtime = await stack.startWorker();
  const { limiter } = runtime;
  // Another queue's job holds the only slot.
  const holder = slotMember('elsewhere', 'holder');
  expect(await limiter.acquireSubmit(holder)).toMatchObject({ granted: true });

  // Pinned order: the holder's release (and the wake-up it sends, as its run's freeSlot does)
  // happens after the job's acquire registered it as a waiter, before the job moves to delayed.
  const waker = new JobWaker(stack.redis);
  const acquire = limiter.acquireSubmit.bind(limiter);
  const answers: SubmitGrant[] = [];
  limiter.acquireSubmit = async (jobId, opts) => {
    const grant = await acquire(jobId, opts);
    answers.push(grant);
    if (answers.length === 1) {
      expect(grant).toEqual({ granted: false, reason: 'concurrency' });
      const woken = await limiter.releaseSlot('default', holder);
      expect(woken).toEqual([jobId]);
      await waker.wake(woken);
    }
    return grant;
  };
  try {
    const { jobId } = (await stack.producer.enqueueMany([{ prompt: 'woken while still active' }]))[0]!;
    // Well inside the 60 s failsafe: the job took the freed slot.
    await waitUntil(() => stack.sim.counters.tasks.length === 1, 'the woken job to submit', 5_000);
    // Woken, it found the slot free (waiting in-process for its request turn, at most).
    expect(answers.slice(1).map((a) => (a.granted ? 'granted' : a.reason))).toEqual([...answers.slice(2).map(() => 'interval'), 'granted']);
    expect((await stack.waitForJobs([jobId])).get(jobId)).toBe('completed');
  } finally {
    await waker.close();
  }
});
