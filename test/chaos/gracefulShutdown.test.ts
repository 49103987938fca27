/**
 * SIGTERM a worker process mid-batch (tasks generating, an upload under way): it exits 0 within
 * SHUTDOWN_TIMEOUT_MS, and another worker resumes its jobs from their persisted steps.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { waitUntil } from '../support/fleet';
import type { RenderStack } from '../support/renderStack';
import { exitOf, spawnStartedWorker, startChaosStack, useChaosRedis } from './support/chaosStack';
import { enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const JOBS = 8;
const SHUTDOWN_TIMEOUT_MS = 5000;
/** Process exit after the deadline: closing the queue and the Redis connection. */
const EXIT_SLACK_MS = 2000;

useChaosRedis();
let stack: RenderStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

it('SIGTERM mid-batch: the worker exits 0 within SHUTDOWN_TIMEOUT_MS; another resumes its jobs; one task per prompt', async () => {
  stack = await startChaosStack({
    sim: { generationMs: [1000, 4000], videoBytes: 16 * 1024 * 1024 },
    env: { S3_PART_SIZE_MB: '5', POLL_INTERVAL_MS: '200', SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
  });
  const bucket = stack.config.s3.bucket;
  const stopping = await spawnStartedWorker(stack);
  const jobs = await enqueuePrompts(stack, 'through a graceful shutdown', JOBS);
  await waitUntil(
    async () => ((await stack!.s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0) > 0,
    'a multipart upload under way',
  );
  const generatingAtTerm = stack.sim.counters.tasks.filter((t) => t.state === 'generating').length;
  const sentAt = Date.now();
  stopping.kill('SIGTERM');
  const { code, signal } = await exitOf(stopping);
  const exitMs = Date.now() - sentAt;
  const storedByFirst = await stack.queue.getCompletedCount();

  await spawnStartedWorker(stack);
  await settle(stack, jobs, 120_000);
  const tally = await tallyJobs(stack, 'graceful shutdown mid-batch', jobs, {
    exitCode: code,
    exitMs,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    generatingAtTerm,
    storedByFirst,
  });
  expectAllStored(tally);
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(exitMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + EXIT_SLACK_MS);
  expect(storedByFirst).toBeLessThan(JOBS);
  expect(stopping.output.join('')).toContain('"msg":"shutting down"');
});
