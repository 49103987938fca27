/**
 * Video links that are dead before the first download attempt: each job's first link expires
 * while KIE's answer carrying it is still in transit. The worker gets a fresh link through KIE and
 * stores the video; nothing is resubmitted.
 */
import type { RenderStack } from '../support/renderStack';
import { spawnStartedWorker, startChaosStack, useChaosRedis } from './support/chaosStack';
import { KieProxy, startKieProxy } from './support/kieProxy';
import { enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const JOBS = 6;
const RECORD = 'GET /api/v1/sora/record-info';

useChaosRedis();
let stack: RenderStack | undefined;
let proxy: KieProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  await stack?.close();
  stack = undefined;
  proxy = undefined;
});

it('every first link expires before its download starts: each job refreshes it and stores, one task per prompt', async () => {
  stack = await startChaosStack({ sim: { generationMs: [300, 1500] }, env: { POLL_INTERVAL_MS: '200' } });
  const sim = stack.sim;
  const expiredFor = new Set<string>();
  proxy = await startKieProxy(sim.url, ({ route, body }) => {
    const record = (body as { data?: { taskId?: string; videoUrl?: string } } | undefined)?.data;
    if (route === RECORD && record?.videoUrl && record.taskId && !expiredFor.has(record.taskId)) {
      expiredFor.add(record.taskId);
      sim.expireLinks();
    }
  });
  await spawnStartedWorker(stack, { KIE_BASE_URL: proxy.url });
  const jobs = await enqueuePrompts(stack, 'a link dead on arrival', JOBS);
  await settle(stack, jobs, 120_000);

  const { downloads } = sim.counters;
  const tally = await tallyJobs(stack, 'links expired before the first download', jobs, { linksExpired: expiredFor.size, downloads });
  expectAllStored(tally);
  expect(expiredFor.size).toBe(JOBS);
  // Every job's first download was refused (others may have been too: an expiry kills every link out).
  expect(downloads.forbidden).toBeGreaterThanOrEqual(JOBS);
});
