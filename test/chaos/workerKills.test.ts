/**
 * SIGKILL a worker process in each window of a job's life (the create answered by KIE but not yet
 * read, the wait for generation, an upload under way); another worker process finishes every job,
 * and every prompt is paid for once.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { RenderJobData } from '../../src/shared/renderJob';
import { waitUntil } from '../support/fleet';
import type { RenderStack } from '../support/renderStack';
import { sigkill, spawnReceiver, spawnStartedWorker, startChaosStack, stopProcesses, useChaosRedis, webhookEnv, WorkerProcess } from './support/chaosStack';
import { freePort } from './support/freePort';
import { KieProxy, startKieProxy } from './support/kieProxy';
import { EnqueuedPrompt, enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const JOBS = 5;
const SETTLE_MS = 120_000;
const CREATE = 'POST /api/v1/sora/generate';
const MiB = 1024 * 1024;

useChaosRedis();
let stack: RenderStack | undefined;
let proxy: KieProxy | undefined;
const processes: WorkerProcess[] = [];

afterEach(async () => {
  await stopProcesses(processes.splice(0));
  await proxy?.close();
  await stack?.close();
  stack = undefined;
  proxy = undefined;
});

async function worker(env: Record<string, string> = {}): Promise<WorkerProcess> {
  const w = await spawnStartedWorker(stack!, env);
  processes.push(w);
  return w;
}

async function renderStates(jobs: readonly EnqueuedPrompt[]): Promise<Array<RenderJobData['render']>> {
  return Promise.all(jobs.map(async (j) => (await stack!.queue.getJob(j.jobId))?.data.render));
}

it('killed after KIE created the tasks, before the taskIds reached the jobs: callbacks let another worker adopt them, one task per prompt', async () => {
  stack = await startChaosStack({ sim: { generationMs: [2000, 3000] } });
  // KIE's answers to creates are held in transit: the tasks exist, the worker cannot know their ids.
  proxy = await startKieProxy(stack.sim.url, async ({ route }) => {
    if (route === CREATE) await new Promise((r) => setTimeout(r, 3000));
  });
  const receiverPort = await freePort();
  processes.push(await spawnReceiver(stack, receiverPort));
  // A grace far beyond the test: only a callback may settle an ambiguous submit here, never a resubmit.
  const env = { ...webhookEnv(receiverPort), KIE_AMBIGUOUS_GRACE_MS: '600000', KIE_REQUEST_TIMEOUT_MS: '15000' };
  const doomed = await worker({ ...env, KIE_BASE_URL: proxy.url });

  const jobs = await enqueuePrompts(stack, 'killed right after submit', JOBS);
  await waitUntil(() => stack!.sim.counters.tasks.length === JOBS, `${JOBS} tasks created at KIE`);
  await sigkill(doomed);
  const unpersisted = (await renderStates(jobs)).filter((r) => r?.step === 'submitting' && !r.taskId).length;

  const survivor = await worker(env);
  await settle(stack, jobs, SETTLE_MS);
  const adopted = survivor.output.join('').split('adopted the task a callback reported').length - 1;
  const tally = await tallyJobs(stack, 'SIGKILL right after submit', jobs, { unpersistedAtKill: unpersisted, adoptedViaCallback: adopted });
  expectAllStored(tally);
  expect(unpersisted).toBe(JOBS);
  expect(adopted).toBe(JOBS);
  expect(tally.possibleDuplicates).toBe(0);
});

it('killed while the tasks generate: another worker polls them to the end, one task per prompt', async () => {
  stack = await startChaosStack({ sim: { generationMs: [5000, 6000] }, env: { POLL_INTERVAL_MS: '300' } });
  const doomed = await worker();
  const jobs = await enqueuePrompts(stack, 'killed while waiting', JOBS);
  await waitUntil(async () => (await renderStates(jobs)).every((r) => r?.step === 'generating'), 'every job waiting for its task');
  const generatingAtKill = stack.sim.counters.tasks.filter((t) => t.state === 'generating').length;
  await sigkill(doomed);

  await worker();
  await settle(stack, jobs, SETTLE_MS);
  const tally = await tallyJobs(stack, 'SIGKILL while waiting', jobs, { generatingAtKill });
  expectAllStored(tally);
  expect(generatingAtKill).toBe(JOBS);
});

it('killed mid-upload: another worker stores every video whole, one task per prompt; no partial object', async () => {
  stack = await startChaosStack({
    sim: { generationMs: [1000, 3000], videoBytes: 24 * MiB },
    env: { S3_PART_SIZE_MB: '5', POLL_INTERVAL_MS: '200' },
  });
  const bucket = stack.config.s3.bucket;
  const doomed = await worker();
  const jobs = await enqueuePrompts(stack, 'killed mid-upload', JOBS);
  let uploadsAtKill = 0;
  await waitUntil(async () => {
    uploadsAtKill = (await stack!.s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
    return uploadsAtKill > 0;
  }, 'a multipart upload under way');
  await sigkill(doomed);
  const storingAtKill = (await renderStates(jobs)).filter((r) => r?.step === 'storing').length;

  await worker();
  await settle(stack, jobs, SETTLE_MS);
  const tally = await tallyJobs(stack, 'SIGKILL mid-upload', jobs, { uploadsAtKill, storingAtKill });
  expectAllStored(tally);
  expect(storingAtKill).toBeGreaterThan(0);
  expect(tally.incomingLeft).toBe(0);
  // A retry that stores the video aborts the uploads its earlier tries left behind.
  expect(tally.multipartLeft).toBe(0);
});
