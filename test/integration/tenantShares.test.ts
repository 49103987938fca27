/**
 * Fair shares end to end, on real Redis, S3 and the KIE simulator: 60 jobs of one tenant enqueued
 * first and 5 of another a moment later, one account of 10 slots. The small tenant's last video is
 * stored within a small multiple of its own time alone (measured in the same run), long before the
 * big backlog is through; with fair shares off (FIFO) it would come after most of it.
 */
import { RenderStack, startRenderStack } from '../support/renderStack';
import { raceTenants } from '../support/tenantRace';

jest.setTimeout(180_000);

let stack: RenderStack;

beforeAll(async () => {
  stack = await startRenderStack({ sim: { generationMs: [400, 600], dailyLimit: 100_000 }, env: { LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '50' } });
});

afterAll(async () => {
  await stack?.close();
});

it('a small tenant behind a big one is served within a small multiple of its own time alone', async () => {
  await stack.startWorker();
  const race = await raceTenants(stack, { big: 60, small: 5, gapMs: 300, tag: 'share', timeoutMs: 120_000 });
  // The figures, for a failure's reader: alone, its 5 jobs take one generation; behind 60 FIFO, about six rounds of ten.
  console.log(`fair shares, 60 vs 5: ${JSON.stringify(race)}`);
  expect(race.ratio).toBeLessThan(4);
  expect(race.bigStoredBefore).toBeLessThan(30);
});
