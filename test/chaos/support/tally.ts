/**
 * The account of a chaos scenario: every job enqueued ends stored (its object byte for byte what
 * KIE served) or failed with a reason, none lost, and each prompt paid for once unless a
 * documented policy allows more. Printed as one line, then asserted.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { RenderStack } from '../../support/renderStack';

export interface EnqueuedPrompt {
  jobId: string;
  prompt: string;
}

export interface Tally {
  enqueued: number;
  stored: number;
  /** Failed with a reason (the reasons are listed). */
  failed: number;
  failedReasons: string[];
  /** Neither stored nor failed. */
  lost: number;
  /** Completed, but the object is missing or differs from what KIE served. */
  corrupt: number;
  /** KIE tasks created for each job's prompt, in job order. */
  submits: number[];
  /** Jobs flagged possibleDuplicate (resubmitted after an ambiguous submit). */
  possibleDuplicates: number;
  /** Final keys in the bucket that no job returned (a batch's manifest is not one). */
  strayObjects: string[];
  /** Manifests of the jobs' batches (`<batchId>/manifest.jsonl`), written when a batch ends. */
  manifests: number;
  /** Temporary `.incoming-` objects left behind (a crash between copy and delete). */
  incomingLeft: number;
  /** Multipart uploads never completed nor aborted (a process killed mid-upload, or S3 down at abort). */
  multipartLeft: number;
}

async function sha256Of(stack: RenderStack, key: string): Promise<{ size: number; sha256: string } | undefined> {
  try {
    const obj = await stack.s3Client.send(new GetObjectCommand({ Bucket: stack.config.s3.bucket, Key: key }));
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of obj.Body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { size, sha256: hash.digest('hex') };
  } catch {
    return undefined;
  }
}

/** Counts where every job ended and prints the count as one line (`[chaos] scenario: ...`). */
export async function tallyJobs(stack: RenderStack, scenario: string, jobs: readonly EnqueuedPrompt[], extra: Record<string, unknown> = {}): Promise<Tally> {
  const tally: Tally = {
    enqueued: jobs.length,
    stored: 0,
    failed: 0,
    failedReasons: [],
    lost: 0,
    corrupt: 0,
    submits: jobs.map((j) => stack.sim.counters.submitsByPrompt.get(j.prompt) ?? 0),
    possibleDuplicates: 0,
    strayObjects: [],
    manifests: 0,
    incomingLeft: 0,
    multipartLeft: 0,
  };
  const resultKeys = new Set<string>();
  const manifestKeys = new Set<string>();
  for (const { jobId } of jobs) {
    const job = await stack.queue.getJob(jobId);
    const state = job ? await job.getState() : 'missing';
    if (job?.data.batchId) manifestKeys.add(`${job.data.batchId}/manifest.jsonl`);
    if (state === 'completed') {
      const result = job!.returnvalue;
      resultKeys.add(result.key);
      const stored = await sha256Of(stack, result.key);
      const expected = stack.sim.expectedVideo(result.taskId);
      if (stored?.size === expected.size && stored.sha256 === expected.sha256 && result.sha256 === expected.sha256) tally.stored++;
      else tally.corrupt++;
      if (result.possibleDuplicate) tally.possibleDuplicates++;
    } else if (state === 'failed' && job!.failedReason) {
      tally.failed++;
      tally.failedReasons.push(`${jobId}: ${job!.failedReason}`);
    } else {
      tally.lost++;
    }
  }
  const bucket = stack.config.s3.bucket;
  const listed = await stack.s3Client.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const { Key } of listed.Contents ?? []) {
    if (!Key) continue;
    if (Key.includes('.incoming-')) tally.incomingLeft++;
    else if (manifestKeys.has(Key)) tally.manifests++;
    else if (!resultKeys.has(Key)) tally.strayObjects.push(Key);
  }
  tally.multipartLeft = (await stack.s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;

  const submitCounts = [...new Set(tally.submits)].sort().map((n) => `${n}x${tally.submits.filter((s) => s === n).length}`);
  const extras = Object.entries(extra).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | boolean)}`);
  console.log(
    [
      `[chaos] ${scenario}:`,
      `enqueued=${tally.enqueued} stored=${tally.stored} failed=${tally.failed} lost=${tally.lost} corrupt=${tally.corrupt}`,
      `submits/job=${submitCounts.join(',')} possibleDuplicate=${tally.possibleDuplicates}`,
      `strayObjects=${tally.strayObjects.length} manifests=${tally.manifests} incomingLeft=${tally.incomingLeft} multipartLeft=${tally.multipartLeft}`,
      ...extras,
      ...(tally.failedReasons.length ? [`failedReasons=${JSON.stringify(tally.failedReasons)}`] : []),
    ].join(' '),
  );
  return tally;
}

/**
 * The promises every scenario keeps: all stored (none failed, none lost, none corrupt), no stray
 * object, and `submitsPerJob` KIE tasks per prompt (1 unless a documented policy resubmits).
 */
export function expectAllStored(tally: Tally, submitsPerJob = 1): void {
  expect(tally.failedReasons).toEqual([]);
  expect({ stored: tally.stored, lost: tally.lost, corrupt: tally.corrupt }).toEqual({ stored: tally.enqueued, lost: 0, corrupt: 0 });
  expect(tally.strayObjects).toEqual([]);
  expect(tally.submits).toEqual(tally.submits.map(() => submitsPerJob));
}

/** Enqueues `n` jobs with prompts of their own (submitsByPrompt then counts tasks per job). */
export async function enqueuePrompts(stack: RenderStack, label: string, n: number): Promise<EnqueuedPrompt[]> {
  const prompts = Array.from({ length: n }, (_, i) => `${label}, take ${i}`);
  const jobs = await stack.producer.enqueueMany(prompts.map((prompt) => ({ prompt, batchId: label.replace(/\W+/g, '-') })));
  return jobs.map((j, i) => ({ jobId: j.jobId, prompt: prompts[i]! }));
}

/** Waits for every job to finish; a timeout is not thrown here: the tally counts those jobs lost. */
export async function settle(stack: RenderStack, jobs: readonly EnqueuedPrompt[], timeoutMs: number): Promise<void> {
  await stack
    .waitForJobs(
      jobs.map((j) => j.jobId),
      timeoutMs,
    )
    .catch((err: Error) => console.log(`[chaos] ${err.message}`));
}
