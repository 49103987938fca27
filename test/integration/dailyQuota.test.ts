/**
 * The daily quota on the real stack, with the window scaled down to seconds: a backlog larger
 * than the quota spends it all, the rest waits as delayed jobs (never failed, never spinning) and
 * is submitted as soon as the rolling window gives units back, without one refusal from KIE.
 */
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

const LIMIT = 5;
const WINDOW_MS = 4000;
const JOBS = 8;
/** How late a waiting job may be submitted after its unit comes back (a loaded machine included). */
const PROMPTNESS_MS = 2000;

describe('daily quota', () => {
  let stack: RenderStack;
  beforeAll(async () => {
    stack = await startRenderStack({ sim: { dailyLimit: LIMIT, dailyWindowMs: WINDOW_MS }, env: { KIE_DAILY_WINDOW_MS: String(WINDOW_MS) } });
    await stack.startWorker();
  });
  afterAll(() => stack.close());

  it('spends the quota, delays the rest until the window opens, then submits them: all stored, no violation', async () => {
    const prompts = Array.from({ length: JOBS }, (_, i) => `a quota-bound sunrise, take ${i}`);
    const jobIds = (await stack.producer.enqueueMany(prompts.map((prompt) => ({ prompt })))).map((j) => j.jobId);
    const tasks = stack.sim.counters.tasks;

    // While the first window lasts: five tasks, and three jobs parked as delayed with nothing sent.
    let parked: string[];
    for (;;) {
      const windowEnds = tasks.length > 0 ? tasks[0]!.createdAt + WINDOW_MS : Infinity;
      const waiting = [];
      for (const id of jobIds) {
        const job = (await stack.queue.getJob(id))!;
        if (!job.data.render?.taskId && (await job.getState()) === 'delayed') waiting.push(id);
      }
      if (Date.now() >= windowEnds) throw new Error(`the window ended before ${JOBS - LIMIT} jobs were seen delayed (saw ${waiting.length})`);
      if (waiting.length === JOBS - LIMIT) {
        expect(tasks).toHaveLength(LIMIT);
        parked = waiting;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(stack.logs.some((l) => l.includes('daily quota used up on every account'))).toBe(true);

    const states = await stack.waitForJobs(jobIds, 60_000);
    expect([...states.values()]).toEqual(jobIds.map(() => 'completed'));
    expect(tasks).toHaveLength(JOBS);
    const created = tasks.map((t) => t.createdAt);
    // Exactly LIMIT in the first window; each later one once a unit came back, and soon after.
    expect(created.filter((t) => t < created[0]! + WINDOW_MS)).toHaveLength(LIMIT);
    for (let i = LIMIT; i < JOBS; i++) {
      const unitBack = created[i - LIMIT]! + WINDOW_MS;
      expect(created[i]).toBeGreaterThanOrEqual(unitBack);
      expect(created[i]! - unitBack).toBeLessThan(PROMPTNESS_MS);
    }
    for (const id of parked) {
      const job = (await stack.queue.getJob(id))!;
      // Waiting for quota was never a failed attempt.
      expect({ attemptsMade: job.attemptsMade, failedReason: job.failedReason }).toEqual({ attemptsMade: 1, failedReason: undefined });
      expect(stack.sim.task(job.returnvalue.taskId)!.createdAt).toBeGreaterThanOrEqual(created[0]! + WINDOW_MS);
    }
    for (const p of prompts) expect(stack.sim.counters.submitsByPrompt.get(p)).toBe(1);
    expect(stack.sim.counters.violations.daily).toBe(0);
  });
});
