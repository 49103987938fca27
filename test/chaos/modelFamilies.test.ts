/**
 * The fleet's promises hold for every endpoint family: SIGKILL a worker process while tasks of the
 * sora, jobs and veo families generate and a paused model's jobs wait; another worker process
 * finishes every job (the paused model's once KIE serves it again, by probe), each prompt paid for
 * once, no cap broken.
 */
import type { RenderJobData } from '../../src/shared/renderJob';
import type { RenderRequestInput } from '../../src/shared/renderRequest';
import { waitUntil } from '../support/fleet';
import type { RenderStack } from '../support/renderStack';
import { sigkill, spawnStartedWorker, startChaosStack, useChaosRedis } from './support/chaosStack';
import { EnqueuedPrompt, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(240_000);

const SETTLE_MS = 150_000;
const PAUSED = 'hailuo/02-text-to-video-standard';
const IMAGE = 'https://img.example/frame.png';

useChaosRedis();
let stack: RenderStack | undefined;

// Closing the stack stops the worker processes it spawned.
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

it('killed while tasks of every family generate and a paused model waits: one task per prompt, nothing lost, caps held', async () => {
  stack = await startChaosStack({
    // Long enough that four tasks generate at once even when a loaded host spaces their submits out.
    sim: { generationMs: [8000, 10000], faults: { pausedModels: [PAUSED] } },
    env: { POLL_INTERVAL_MS: '300', KIE_MODEL_PROBE_MS: '1500', KIE_MAX_CONCURRENT: '4' },
  });
  const requests: Array<RenderRequestInput & { prompt: string }> = [
    { prompt: 'mixed fleet: sora, take 0' },
    { prompt: 'mixed fleet: sora, take 1', duration: 15 },
    { model: 'veo-3.1-fast', prompt: 'mixed fleet: veo, take 0' },
    { model: 'veo-3.1-fast', prompt: 'mixed fleet: veo, take 1', images: [IMAGE] },
    { model: 'kling-2.6', prompt: 'mixed fleet: kling, take 0' },
    { model: 'kling-2.6', prompt: 'mixed fleet: kling, take 1', images: [IMAGE] },
    { model: 'hailuo-02', prompt: 'mixed fleet: hailuo, take 0' },
    { model: 'hailuo-02', prompt: 'mixed fleet: hailuo, take 1' },
  ];
  const doomed = await spawnStartedWorker(stack);
  const enqueued = await stack.producer.enqueueMany(requests);
  const jobs: EnqueuedPrompt[] = enqueued.map((j, i) => ({ jobId: j.jobId, prompt: requests[i]!.prompt }));
  const states = async (): Promise<Array<RenderJobData['render']>> => Promise.all(jobs.map(async (j) => (await stack!.queue.getJob(j.jobId))?.data.render));
  // Four slots for six renderable jobs: some generate, some wait for a slot, the paused model's wait for it.
  await waitUntil(
    async () => (await states()).filter((r) => r?.step === 'generating').length === 4 && stack!.sim.counters.faults.modelPaused > 0,
    'four tasks generating and the paused model refused',
  );
  const generatingAtKill = stack.sim.counters.tasks.filter((t) => t.state === 'generating').map((t) => t.dialect);
  await sigkill(doomed);

  stack.sim.setFaults({ pausedModels: [] });
  await spawnStartedWorker(stack);
  await settle(stack, jobs, SETTLE_MS);
  const tally = await tallyJobs(stack, 'SIGKILL with every family in flight and a paused model', jobs, {
    generatingAtKill,
    pausedAnswers: stack.sim.counters.faults.modelPaused,
  });
  expectAllStored(tally);
  expect(new Set(stack.sim.counters.tasks.map((t) => t.dialect))).toEqual(new Set(['sora', 'jobs', 'veo']));
  expect(stack.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
  expect(Object.values(stack.sim.counters.perKey).every((k) => k.peakGenerating <= 4)).toBe(true);
});
