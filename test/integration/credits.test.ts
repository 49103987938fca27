/**
 * Credit balances (KIE_API_STYLE=jobs) on the real stack: an account whose known balance cannot
 * pay the next job gets none, so KIE never answers 402; when no account can pay, the job waits
 * (delayed, with an alert) instead of failing; a top-up is noticed by the periodic refresh.
 */
import { randomUUID } from 'node:crypto';
import { readBalances } from '../../src/pool/accountCredits';
import { startKieSimulator } from '../../src/sim/kieSimulator';
import type { KieSimulator } from '../../src/sim/kieSimulator';
import type { WorkerRuntime } from '../../src/worker/runtime';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

const WAIT_MS = 60_000;
/** Short, so the test sees a top-up within a second; production reads every few minutes. */
const REFRESH_MS = 400;
/** The default price table: a 10 s standard clip costs 30 credits. */
const PRICE = 30;

describe('credit balances (jobs dialect)', () => {
  const keyA = `sk-a-${randomUUID()}`;
  const keyB = `sk-b-${randomUUID()}`;
  const simOptions = { generationMs: [150, 300] as [number, number], minIntervalMs: 30, linkTtlMs: 60_000, videoBytes: 64 * 1024, seed: 7 };
  let stack: RenderStack;
  let worker: WorkerRuntime;
  let toppedUp: KieSimulator | undefined;

  beforeAll(async () => {
    // a cannot pay one clip; b can pay exactly three.
    stack = await startRenderStack({
      accounts: { a: keyA, b: keyB },
      sim: { ...simOptions, credits: { [keyA]: PRICE - 10, [keyB]: 3 * PRICE + 10 } },
      env: { KIE_API_STYLE: 'jobs', KIE_CREDITS_REFRESH_MS: String(REFRESH_MS) },
    });
    worker = await stack.startWorker();
  });
  afterAll(async () => {
    await stack.close();
    await toppedUp?.close();
  });

  const balances = async () => Object.fromEntries((await readBalances(stack.redis, stack.config.limiterPrefix, ['a', 'b'])).map((b) => [b.account, b.credits]));

  it('reads every balance before taking work, and keeps it in Redis with the time it was read', async () => {
    const read = await readBalances(stack.redis, stack.config.limiterPrefix, ['a', 'b']);
    expect(read.map(({ account, credits }) => ({ account, credits }))).toEqual([
      { account: 'a', credits: PRICE - 10 },
      { account: 'b', credits: 3 * PRICE + 10 },
    ]);
    for (const b of read) expect(Date.now() - b.readAt).toBeLessThan(WAIT_MS);
  });

  it('gives no work to an account that cannot pay; no 402 ever; a job nobody can pay waits; a top-up brings the account back', async () => {
    const jobs = await stack.producer.enqueueMany(Array.from({ length: 4 }, (_, i) => ({ prompt: `a thrifty render, take ${i}` })));
    const ids = jobs.map((j) => j.jobId);

    // b pays three; the fourth finds nobody who can pay and waits.
    const done = new Map<string, string>();
    for (const deadline = Date.now() + WAIT_MS; done.size < 3 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      for (const id of ids) if ((await stack.queue.getJobState(id)) === 'completed') done.set(id, 'completed');
    }
    expect(done.size).toBe(3);
    const waiting = ids.find((id) => !done.has(id))!;
    for (const id of done.keys()) expect((await stack.queue.getJob(id))!.returnvalue.account).toBe('b');
    await waitFor(() => stack.logs.some((l) => l.includes('"alert":"insufficient-credits"')));
    // The alert is logged just before the job moves to delayed: it must get there, and not fail.
    await waitFor(async () => (await stack.queue.getJobState(waiting)) === 'delayed');
    expect((await stack.queue.getJob(waiting))!.data.render?.step).toBeUndefined();
    expect(stack.sim.counters.faults.insufficientCredits).toBe(0);
    expect(stack.sim.counters.perKey[keyA]!.tasksCreated).toBe(0);
    expect(await balances()).toEqual({ a: PRICE - 10, b: 10 });
    expect((await worker.limiter.status()).every((s) => s.paused === undefined)).toBe(true);

    // The owner tops a up at KIE (a new simulator on the same address, with the same tasks done).
    const port = Number(new URL(stack.sim.url).port);
    await stack.sim.close();
    toppedUp = await startKieSimulator({ ...simOptions, port, apiKeys: [keyA, keyB], credits: { [keyA]: 1000, [keyB]: 10 } });

    expect((await stack.waitForJobs([waiting], WAIT_MS)).get(waiting)).toBe('completed');
    const result = (await stack.queue.getJob(waiting))!.returnvalue;
    expect(result.account).toBe('a');
    expect(toppedUp.task(result.taskId)!.key).toBe(keyA);
    expect(toppedUp.counters.faults.insufficientCredits).toBe(0);
    await worker.credits!.refresh('a');
    expect(await balances()).toEqual({ a: 1000 - PRICE, b: 10 });
    expect(stack.logs.join('\n')).not.toContain(keyA);
    expect(stack.logs.join('\n')).not.toContain(keyB);
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
  }
}
