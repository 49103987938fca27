/**
 * SIGSTOP a worker process past its job locks (a frozen VM, a long GC pause) while its tasks generate
 * and its uploads are under way; another worker takes the jobs over; then SIGCONT it. The thawed runs
 * write nothing and pay nothing: every video is stored whole, one task per prompt, nothing left behind.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { waitUntil } from '../support/fleet';
import type { RenderStack } from '../support/renderStack';
import { exitOf, spawnStartedWorker, startChaosStack, useChaosRedis } from './support/chaosStack';
import { enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const JOBS = 8;
const SETTLE_MS = 120_000;
const MiB = 1024 * 1024;

useChaosRedis();
let stack: RenderStack | undefined;

// Closing the stack stops the worker processes it spawned.
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

it('frozen past its locks mid-batch, then thawed: the stale runs change nothing; one task per prompt, every video whole', async () => {
  stack = await startChaosStack({
    sim: { generationMs: [1000, 4000], videoBytes: 16 * MiB },
    env: { S3_PART_SIZE_MB: '5', POLL_INTERVAL_MS: '200' },
  });
  const bucket = stack.config.s3.bucket;
  const frozen = await spawnStartedWorker(stack);
  const jobs = await enqueuePrompts(stack, 'frozen and thawed', JOBS);
  await waitUntil(
    async () => ((await stack!.s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0) > 0,
    'a multipart upload under way',
  );
  frozen.kill('SIGSTOP');
  const activeAtFreeze = await stack.queue.getActiveCount();

  // The survivor takes the frozen worker's jobs once their locks lapse (WORKER_LOCK_MS 2 s).
  const survivor = await spawnStartedWorker(stack);
  await waitUntil(() => survivor.output.join('').includes('video stored'), 'the survivor storing a video');
  frozen.kill('SIGCONT');
  await settle(stack, jobs, SETTLE_MS);
  // A graceful stop lets the thawed worker finish the steps it was in the middle of.
  frozen.kill('SIGTERM');
  expect((await exitOf(frozen)).code).toBe(0);

  // Each run the freeze overtook ends with a refused write or move (BullMQ's lock checks, ours).
  const staleRunsStopped = frozen.output.join('').match(/"lock-lost"|Missing lock for job|Lock mismatch for job|could not renew lock for job/g)?.length ?? 0;
  const tally = await tallyJobs(stack, 'SIGSTOP past the locks, then SIGCONT', jobs, { activeAtFreeze, staleRunsStopped });
  expectAllStored(tally);
  expect(activeAtFreeze).toBeGreaterThan(0);
  expect(staleRunsStopped).toBeGreaterThan(0);
  expect(tally.incomingLeft).toBe(0);
  expect(tally.multipartLeft).toBe(0);
});
