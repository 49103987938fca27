/**
 * A pool of KIE accounts on the real stack: an account that runs out of credits (1002) leaves
 * rotation fleet-wide while the others carry the backlog; an operator's resume brings it back.
 * Jobs name their account, never its key.
 */
import { randomUUID } from 'node:crypto';
import { accountStatus, resumeAccount } from '../../src/pool/accountControl';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

const WAIT_MS = 60_000;

describe('account pool', () => {
  const keyA = `sk-a-${randomUUID()}`;
  const keyB = `sk-b-${randomUUID()}`;
  let stack: RenderStack;

  beforeAll(async () => {
    stack = await startRenderStack({ accounts: { a: keyA, b: keyB }, sim: { faults: { insufficientCredits: [keyA] } } });
  });
  afterAll(() => stack.close());

  async function renderAll(label: string, n: number) {
    const jobs = await stack.producer.enqueueMany(Array.from({ length: n }, (_, i) => ({ prompt: `${label}, take ${i}` })));
    const jobIds = jobs.map((j) => j.jobId);
    const states = await stack.waitForJobs(jobIds, WAIT_MS);
    expect([...states.values()]).toEqual(jobIds.map(() => 'completed'));
    return Promise.all(jobIds.map(async (id) => (await stack.queue.getJob(id))!));
  }

  it('an account out of credits is paused fleet-wide; the other account stores every job; a resume brings it back', async () => {
    // Two workers: the pause must reach the whole fleet, not only the worker that met the 1002.
    const [first] = await Promise.all([stack.startWorker(), stack.startWorker()]);
    const before = await renderAll('a pool with one account broke', 8);

    for (const job of before) {
      expect(job.returnvalue.account).toBe('b');
      expect(job.data.render).toMatchObject({ account: 'b', submits: 1 });
      // One attempt, the one that completed: a 1002 never failed a job.
      expect({ attemptsMade: job.attemptsMade, failedReason: job.failedReason }).toEqual({ attemptsMade: 1, failedReason: undefined });
      const task = stack.sim.task(job.returnvalue.taskId)!;
      expect(task.key).toBe(keyB);
      expect(stack.sim.counters.submitsByPrompt.get(task.prompt)).toBe(1);
    }
    expect(stack.sim.counters.faults.insufficientCredits).toBeGreaterThanOrEqual(1);
    expect(stack.sim.counters.perKey[keyA]!.tasksCreated).toBe(0);
    expect(stack.sim.counters.perKey[keyB]!.tasksCreated).toBe(8);

    const statuses = await first.limiter.status();
    const a = statuses.find((s) => s.account === 'a')!;
    const b = statuses.find((s) => s.account === 'b')!;
    expect(a.paused).toContain('KIE 1002');
    expect(a.paused).toContain('insufficient credits');
    // Refused creates handed their quota units back.
    expect(a).toMatchObject({ inFlight: 0, submitsInWindow: 0 });
    expect(b.paused).toBeUndefined();
    // Read from Redis by anyone, not only from the worker's memory.
    expect((await accountStatus(stack.redis, stack.config)).find((s) => s.account === 'a')!.paused).toBe(a.paused);
    expect(stack.logs.some((l) => l.includes('"alert":"insufficient-credits"') && l.includes('"account":"a"'))).toBe(true);

    // The operator topped the account up.
    stack.sim.setFaults({ insufficientCredits: [] });
    await resumeAccount(stack.redis, stack.config, 'a');
    expect((await first.limiter.status()).find((s) => s.account === 'a')!.paused).toBeUndefined();

    const after = await renderAll('a pool made whole again', 8);
    const onA = after.filter((j) => j.returnvalue.account === 'a');
    expect(onA.length).toBeGreaterThan(0);
    for (const job of onA) expect(stack.sim.task(job.returnvalue.taskId)!.key).toBe(keyA);
    expect(stack.sim.counters.perKey[keyA]!.tasksCreated).toBe(onA.length);

    // Names only: no key in any job's data or result, nor in the logs.
    for (const job of [...before, ...after]) {
      const text = JSON.stringify({ data: job.data, result: job.returnvalue });
      expect(text).not.toContain(keyA);
      expect(text).not.toContain(keyB);
    }
    const logs = stack.logs.join('\n');
    expect(logs).not.toContain(keyA);
    expect(logs).not.toContain(keyB);
  });
});
