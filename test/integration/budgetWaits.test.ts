/**
 * Budgets end to end on real Redis, S3 and the KIE simulator: the jobs a batch's budget cannot pay
 * wait (delayed, reason `budget`, shown by the API and the batch status) while the others render;
 * raising the budget through the API wakes them at once; a job whose price alone exceeds the
 * budget fails with that reason and never reaches KIE; and worker processes racing for the last
 * dollars of the daily budget submit exactly what it pays for.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApiServer } from '../../src/producer/api/buildApiServer';
import type { BatchStatus } from '../../src/batch/batchStatus';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { estimateCostUsd, parseRenderRequest } from '../../src/shared/renderRequest';
import { RenderStack, startRenderStack } from '../support/renderStack';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitForWorkersStarted, waitUntil } from '../support/fleet';

jest.setTimeout(120_000);

const TOKEN = 'budget-test-token-0123456789';
let stack: RenderStack;
let api: FastifyInstance;
let base: string;

beforeAll(async () => {
  stack = await startRenderStack();
  api = buildApiServer({ config: loadConfig({ ...stack.env, API_TOKENS: TOKEN }), redis: stack.redis, logger: createLogger('silent', 'api') });
  await api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await api?.close();
  await stack?.close();
});

async function call<T>(method: string, url: string, payload?: unknown): Promise<T> {
  const res = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as T;
}

type RenderView = { state: string; waiting: { reason: string; scope: string; message: string } | null; failedReason: string | null };

it('jobs over the batch budget wait with reason budget; a raise wakes them; a price alone over the budget fails before KIE', async () => {
  const price = estimateCostUsd(parseRenderRequest({ prompt: 'x' }, stack.config.kie.models), stack.config.kie.models, stack.config.kie.usdPerCredit);
  const requests = [1, 2, 3, 4].map((i) => ({ prompt: `budget: lantern ${i}` }));
  const posted = await call<{ jobs: Array<{ jobId: string }> }>('POST', '/v1/batches', { id: 'lanterns', budgetUsd: price * 2, requests });
  const worker = await stack.startWorker();
  try {
    let st!: BatchStatus;
    await waitUntil(
      async () => {
        st = await call<BatchStatus>('GET', '/v1/batches/lanterns');
        return st.counts.stored === 2 && st.waitingForBudget === 2;
      },
      'two jobs stored and two waiting for the budget',
      60_000,
      100,
    );
    expect(st).toMatchObject({ counts: { waiting: 2, stored: 2 }, reservedUsd: 0 });
    expect(st.spentUsd).toBeCloseTo(price * 2, 6);
    const views = await Promise.all(posted.jobs.map((j) => call<RenderView>('GET', `/renders/${j.jobId}`)));
    const waiting = views.filter((v) => v.waiting);
    expect(waiting).toHaveLength(2);
    for (const v of waiting) {
      expect(v).toMatchObject({ state: 'delayed', waiting: { reason: 'budget', scope: 'batch', message: expect.stringContaining('batch lanterns') } });
    }

    // The failsafe is ten minutes: only the raise's wake brings them back within the test.
    const raised = Date.now();
    await call('PATCH', '/v1/batches/lanterns', { budgetUsd: price * 4 });
    await waitUntil(async () => (await call<BatchStatus>('GET', '/v1/batches/lanterns')).counts.stored === 4, 'the woken jobs to be stored', 30_000, 100);
    expect(Date.now() - raised).toBeLessThan(30_000);
    const done = await call<BatchStatus>('GET', '/v1/batches/lanterns');
    expect(done.spentUsd).toBeCloseTo(price * 4, 6);
    expect(done.waitingForBudget).toBe(0);

    const tiny = await call<{ jobs: Array<{ jobId: string }> }>('POST', '/v1/batches', {
      id: 'tiny',
      budgetUsd: price / 2,
      requests: [{ prompt: 'budget: too dear' }],
    });
    const outcome = await stack.waitForJobs([tiny.jobs[0]!.jobId], 30_000);
    expect(outcome.get(tiny.jobs[0]!.jobId)).toBe('failed');
    const view = await call<RenderView>('GET', `/renders/${tiny.jobs[0]!.jobId}`);
    expect(view.failedReason).toMatch(/^budget: the job's price \(\$[\d.]+\) alone exceeds the batch tiny's budget/);
    expect(stack.sim.counters.submitsByPrompt.get('budget: too dear')).toBeUndefined();
  } finally {
    await worker.close();
  }
});

it('three worker processes racing for the last dollars of the daily budget submit exactly what it pays for', async () => {
  const race = await startRenderStack({ sim: { generationMs: [100, 200] } });
  try {
    const price = estimateCostUsd(parseRenderRequest({ prompt: 'x' }, race.config.kie.models), race.config.kie.models, race.config.kie.usdPerCredit);
    const jobs = await race.producer.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ prompt: `race: the last dollars ${i}` })));
    // Seven jobs and a half: the eighth must wait.
    const workers = [0, 1, 2].map(() => race.spawnWorker({ KIE_DAILY_BUDGET_USD: (price * 7.5).toFixed(6) }));
    await waitForWorkersStarted(workers);
    await waitUntil(
      async () => (await race.queue.getCompletedCount()) === 7 && (await race.queue.getDelayedCount()) === 13,
      '7 stored and 13 waiting for the budget',
      60_000,
      100,
    );
    // Let the fleet go on a moment: nothing more is submitted.
    await sleep(1000);
    expect([...race.sim.counters.submitsByPrompt.values()].reduce((a, b) => a + b, 0)).toBe(7);
    const waiting = await Promise.all(jobs.map(async (j) => (await race.queue.getJob(j.jobId))!.data.render?.waiting?.reason));
    expect(waiting.filter((r) => r === 'budget')).toHaveLength(13);
  } finally {
    await race.close();
  }
});
