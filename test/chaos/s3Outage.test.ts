/**
 * The S3 server goes away for a few seconds while videos are being uploaded, then comes back on
 * the same port with its data: every video ends up stored whole, and no final key ever holds a
 * partial object, not even for a moment.
 */
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { waitUntil } from '../support/fleet';
import type { RenderStack } from '../support/renderStack';
import { spawnStartedWorker, startChaosStack, useChaosRedis } from './support/chaosStack';
import { enqueuePrompts, expectAllStored, settle, tallyJobs } from './support/tally';

jest.setTimeout(180_000);

const JOBS = 8;
const DOWN_MS = 4000;
const VIDEO_BYTES = 12 * 1024 * 1024;

useChaosRedis();
let stack: RenderStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** Watches the bucket until stopped: every final key it sees must be complete, hash included. */
function watchFinalKeys(s: RenderStack): { stop(): Promise<string[]> } {
  const bucket = s.config.s3.bucket;
  const broken: string[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      try {
        const listed = await s.s3Client.send(new ListObjectsV2Command({ Bucket: bucket }));
        for (const { Key } of listed.Contents ?? []) {
          // Temporary uploads, and the batch's manifest (written when the batch ends), are not videos.
          if (!Key || Key.includes('.incoming-') || Key.endsWith('/manifest.jsonl')) continue;
          const head = await s.s3Client.send(new HeadObjectCommand({ Bucket: bucket, Key }));
          if (head.ContentLength !== VIDEO_BYTES || !head.Metadata?.sha256) broken.push(`${Key}: ${head.ContentLength} bytes, sha256 ${head.Metadata?.sha256}`);
        }
      } catch {
        // S3 is down: nothing to see.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      watching = false;
      await watcher;
      return broken;
    },
  };
}

it('S3 down for a few seconds mid-upload, then back: every video stored whole, one task per prompt, no partial object', async () => {
  stack = await startChaosStack({
    sim: { generationMs: [500, 2500], videoBytes: VIDEO_BYTES },
    env: { S3_PART_SIZE_MB: '5', POLL_INTERVAL_MS: '200' },
  });
  const bucket = stack.config.s3.bucket;
  await Promise.all([spawnStartedWorker(stack), spawnStartedWorker(stack)]);
  const watcher = watchFinalKeys(stack);
  const jobs = await enqueuePrompts(stack, 'through an S3 outage', JOBS);

  let uploadsAtStop = 0;
  await waitUntil(async () => {
    uploadsAtStop = (await stack!.s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
    return uploadsAtStop > 0;
  }, 'a multipart upload under way');
  const storedBefore = await stack.queue.getCompletedCount();
  await stack.s3.stop();
  await new Promise((r) => setTimeout(r, DOWN_MS));
  await stack.s3.restart();

  await settle(stack, jobs, 120_000);
  const broken = await watcher.stop();
  const tally = await tallyJobs(stack, 'S3 outage mid-upload', jobs, {
    uploadsAtStop,
    storedBeforeStop: storedBefore,
    downMs: DOWN_MS,
    partialFinalKeysSeen: broken.length,
  });
  expectAllStored(tally);
  expect(broken).toEqual([]);
  expect(tally.incomingLeft).toBe(0);
  // A retry that stores the video aborts the uploads its earlier tries left behind.
  expect(tally.multipartLeft).toBe(0);
  expect(storedBefore).toBeLessThan(JOBS);
});
