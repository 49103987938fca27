/**
 * What the worker does with each of KIE's failure modes, on the real stack (simulator, s3rver,
 * Redis): refusals fail a job at once with KIE's words, transient trouble is retried without a
 * second charge, broken downloads leave nothing half-written, expired links are refreshed, and a
 * failed generation follows KIE_FAILED_TASK_POLICY. Each test has a stack of its own.
 */
import { createHash } from 'node:crypto';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { accountStatus } from '../../src/pool/accountControl';
import { soraDialect } from '../../src/kie/soraDialect';
import type { SimFaults, SimOptions } from '../../src/sim/kieSimulator';
import { receiverInWorkerEnv } from '../chaos/support/chaosStack';
import { waitUntil } from '../support/fleet';
import { expectStoredAsServed } from '../support/expectStored';
import { expireLinksBeforeFirstDownload } from '../support/expireLinks';
import { RenderStack, StackOptions, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

/** Generous: a loaded 2-core machine runs several suites at once. */
const WAIT_MS = 60_000;
const CREATE = 'POST /api/v1/sora/generate';
const RECORD = 'GET /api/v1/sora/record-info';
const MiB = 1024 * 1024;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let stack: RenderStack | undefined;

afterEach(async () => {
  jest.restoreAllMocks();
  await stack?.close();
  stack = undefined;
});

async function startStack(opts: StackOptions = {}): Promise<RenderStack> {
  stack = await startRenderStack(opts);
  await stack.startWorker();
  return stack;
}

const requestsTo = (s: RenderStack, endpoint: string): number => s.sim.counters.requests.byEndpoint[endpoint] ?? 0;

async function enqueuePrompts(s: RenderStack, label: string, n: number): Promise<{ prompts: string[]; jobIds: string[] }> {
  const prompts = Array.from({ length: n }, (_, i) => `${label}, take ${i}`);
  const jobs = await s.producer.enqueueMany(prompts.map((prompt) => ({ prompt, batchId: label.replace(/\W+/g, '-') })));
  return { prompts, jobIds: jobs.map((j) => j.jobId) };
}

/** Every job stored, its object byte-for-byte what KIE served, every prompt paid for once. */
async function expectAllStoredOnce(s: RenderStack, prompts: string[], jobIds: string[]): Promise<void> {
  await expectStoredAsServed(s, jobIds, WAIT_MS);
  for (const p of prompts) expect(s.sim.counters.submitsByPrompt.get(p)).toBe(1);
  expect(s.sim.counters.tasks).toHaveLength(prompts.length);
}

/** Failed on its first attempt (of the producer's 5), with this text in its reason. */
async function expectFailedAtOnce(s: RenderStack, jobId: string, reason: string): Promise<void> {
  expect((await s.waitForJobs([jobId], WAIT_MS)).get(jobId)).toBe('failed');
  const job = (await s.queue.getJob(jobId))!;
  expect(job.opts.attempts).toBe(5);
  expect(job.attemptsMade).toBe(1);
  expect(job.failedReason).toContain(reason);
}

/** The limiter's view of the stack's one account, as any process of the fleet reads it. */
async function limiterStatus(s: RenderStack) {
  const [status] = await accountStatus(s.redis, s.config);
  return status!;
}

describe('KIE refusals fail the job at once, without retry', () => {
  it('a prompt with a banned word (1001) fails on the first attempt with KIE message, one create request', async () => {
    const s = await startStack();
    const { jobId } = await s.producer.enqueue({ prompt: 'a forbidden dance at midnight' });
    await expectFailedAtOnce(s, jobId, 'KIE 1001 prompt contains banned content ("forbidden")');
    expect(requestsTo(s, CREATE)).toBe(1);
    expect(s.sim.counters.tasks).toHaveLength(0);
    // KIE answered, so no task exists: the slot and the quota unit went back.
    expect(await limiterStatus(s)).toMatchObject({ inFlight: 0, submitsInWindow: 0 });
  });

  it('parameters KIE refuses (1004) fail on the first attempt with KIE message, one create request', async () => {
    // No job data that passes our schema draws a 1004 from KIE: the schema is at least as strict
    // as KIE on every parameter (kieSimulator.test.ts lists KIE's refusals). So a bug in the
    // adapter stands in for one: it sends a duration KIE does not offer.
    const build = soraDialect.createTask.bind(soraDialect);
    jest.spyOn(soraDialect, 'createTask').mockImplementation((req, callBackUrl) => {
      const wire = build(req, callBackUrl);
      return { ...wire, body: { ...(wire.body as object), duration: 12 } };
    });
    const s = await startStack();
    const { jobId } = await s.producer.enqueue({ prompt: 'a lighthouse in fog' });
    await expectFailedAtOnce(s, jobId, 'KIE 1004 duration must be one of 10, 15 (got 12)');
    expect(requestsTo(s, CREATE)).toBe(1);
    expect(s.sim.counters.tasks).toHaveLength(0);
    // KIE answered, so no task exists: the slot and the quota unit went back.
    expect(await limiterStatus(s)).toMatchObject({ inFlight: 0, submitsInWindow: 0 });
  });
});

describe('transient KIE trouble is retried, and nothing is paid twice', () => {
  it('a 1003 storm (half the creates overloaded): every job stored, each prompt created once', async () => {
    const s = await startStack({ sim: { faults: { overloadRate: 0.5 } } });
    const { prompts, jobIds } = await enqueuePrompts(s, 'an overloaded model', 8);
    await expectAllStoredOnce(s, prompts, jobIds);
    expect(s.sim.counters.faults.overload).toBeGreaterThan(0);
    expect(requestsTo(s, CREATE)).toBeGreaterThan(8);
    // An overloaded create is no submit: only the 8 tasks count against the quota.
    expect(await limiterStatus(s)).toMatchObject({ submitsInWindow: 8, inFlight: 0 });
  });

  it('HTTP 500 on 30% of all requests: every job stored, each prompt created once', async () => {
    const s = await startStack({ sim: { faults: { serverErrorRate: 0.3 } } });
    const { prompts, jobIds } = await enqueuePrompts(s, 'a server in trouble', 8);
    await expectAllStoredOnce(s, prompts, jobIds);
    expect(s.sim.counters.faults.serverError).toBeGreaterThan(0);
  });
});

describe('a create whose answer does not prove that nothing was created is never sent again', () => {
  it('a gateway’s 504 page, a success without a taskId, a body that does not parse: one create each, the task adopted from its callback, the quota unit kept', async () => {
    // Callbacks on; a grace beyond the test, so only a callback can settle these submits.
    const s = await startStack({ sim: { generationMs: [400, 600] }, env: { ...(await receiverInWorkerEnv()), KIE_AMBIGUOUS_GRACE_MS: '600000' } });
    const faults: Array<Partial<SimFaults>> = [{ createThenGatewayErrorRate: 1 }, { createWithoutTaskIdRate: 1 }, { createThenGarbledRate: 1 }];
    const jobIds: string[] = [];
    const prompts: string[] = [];
    for (const [i, fault] of faults.entries()) {
      s.sim.setFaults({ createThenGatewayErrorRate: 0, createWithoutTaskIdRate: 0, createThenGarbledRate: 0, ...fault });
      prompts.push(`an answer that proves nothing, take ${i}`);
      jobIds.push((await s.producer.enqueue({ prompt: prompts[i]! })).jobId);
      await waitUntil(() => s.sim.counters.tasks.length === i + 1, `the create of job ${i}`);
    }
    s.sim.setFaults({ createThenGatewayErrorRate: 0, createWithoutTaskIdRate: 0, createThenGarbledRate: 0 });

    await expectAllStoredOnce(s, prompts, jobIds);
    expect(requestsTo(s, CREATE)).toBe(3);
    const { createThenGatewayError, createWithoutTaskId, createThenGarbled } = s.sim.counters.faults;
    expect([createThenGatewayError, createWithoutTaskId, createThenGarbled]).toEqual([1, 1, 1]);
    expect(s.logs.filter((l) => l.includes('adopted the task a callback reported')).length).toBe(3);
    // Each unit was spent on a task that exists: none went back.
    expect(await limiterStatus(s)).toMatchObject({ inFlight: 0, submitsInWindow: 3 });
  });
});

describe('downloads', () => {
  it.each([
    ['after announcing its Content-Length (a reset)', 0, 'broke off'],
    // The cut looks like a clean end of the body: only the MP4's own boxes tell.
    ['without Content-Length (a clean close)', 1, 'came without Content-Length and its free box declares'],
  ])('a video body cut off mid-stream %s leaves no object behind at any moment, and the job recovers', async (_how, noContentLengthRate, logged) => {
    const videoBytes = 11 * MiB; // the cut at half comes after the first 5 MiB part is full: inside a multipart upload
    const s = await startStack({ sim: { videoBytes, faults: { cutBodyRate: 1, noContentLengthRate } } });
    const bucket = s.config.s3.bucket;
    const { prompts, jobIds } = await enqueuePrompts(s, 'a river cut short', 3);

    // Watches the bucket all along: a final key must only ever exist complete, hash included.
    const seenBroken: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const listed = await s.s3Client.send(new ListObjectsV2Command({ Bucket: bucket }));
        for (const { Key } of listed.Contents ?? []) {
          // Temporary uploads, and the batch's manifest (written when the batch ends), are not videos.
          if (!Key || Key.includes('.incoming-') || Key.endsWith('/manifest.jsonl')) continue;
          const head = await s.s3Client.send(new HeadObjectCommand({ Bucket: bucket, Key })).catch(() => undefined);
          if (head && (head.ContentLength !== videoBytes || !head.Metadata?.sha256)) seenBroken.push(`${Key}: ${head.ContentLength} bytes`);
        }
        if (s.sim.counters.faults.cutBody >= 3) s.sim.setFaults({ cutBodyRate: 0.5 });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await expectAllStoredOnce(s, prompts, jobIds);
    } finally {
      watching = false;
      await watcher;
    }

    expect(seenBroken).toEqual([]);
    expect(s.sim.counters.faults.cutBody).toBeGreaterThanOrEqual(3);
    const listed = await s.s3Client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const results = await Promise.all(jobIds.map(async (id) => (await s.queue.getJob(id))!.returnvalue.key));
    const batches = [...new Set(results.map((key) => key.split('/')[0]))];
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([...results, ...batches.map((b) => `${b}/manifest.jsonl`)].sort());
    const uploads = await s.s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(s.logs.join('\n')).toContain(logged);
    expect(s.sim.counters.faults.noContentLength).toBe(noContentLengthRate ? s.sim.counters.downloads.requests : 0);
  });

  it('an expired link is refreshed through record-info at once and the job succeeds', async () => {
    // One store step at a time, so one job's expiry never hits another job's fresh link.
    const s = await startStack({ env: { WORKER_CONCURRENCY: '1' } });
    // The links die between the status check that handed one out and the download it starts.
    const calls = expireLinksBeforeFirstDownload(s);
    const { prompts, jobIds } = await enqueuePrompts(s, 'a link that expired', 4);
    await expectAllStoredOnce(s, prompts, jobIds);
    // Each job: one refused download, one fresh link from record-info, one good download.
    expect(s.sim.counters.downloads.forbidden).toBe(4);
    expect([...calls.values()]).toEqual([2, 2, 2, 2]);
    expect(requestsTo(s, RECORD)).toBeGreaterThanOrEqual(4 + 4);
    expect(s.logs.filter((l) => l.includes('the link has expired')).length).toBe(4);
  });
});

describe('a failed generation (status 2) follows KIE_FAILED_TASK_POLICY', () => {
  const failing: Partial<SimOptions> = { faults: { failRate: 1 } };

  it('by default resubmits once, then fails with KIE reason; a resubmit that succeeds is stored', async () => {
    const s = await startStack({ sim: failing });
    const { jobId } = await s.producer.enqueue({ prompt: 'a task that always fails' });
    await expectFailedAtOnce(s, jobId, 'failed: generation failed (simulated)');
    expect(s.sim.counters.submitsByPrompt.get('a task that always fails')).toBe(2);
    expect(s.sim.counters.faults.failedTasks).toBe(2);

    // Failing "for a while": the first task fails, the resubmitted one renders.
    const prompt = 'a task that fails once';
    const second = await s.producer.enqueue({ prompt });
    for (const deadline = Date.now() + WAIT_MS; !s.sim.counters.submitsByPrompt.get(prompt);) {
      if (Date.now() > deadline) throw new Error(`no task created for "${prompt}"`);
      await new Promise((r) => setTimeout(r, 10));
    }
    s.sim.setFaults({ failRate: 0 });
    expect((await s.waitForJobs([second.jobId], WAIT_MS)).get(second.jobId)).toBe('completed');
    const job = (await s.queue.getJob(second.jobId))!;
    const result = job.returnvalue;
    expect(s.sim.counters.submitsByPrompt.get(prompt)).toBe(2);
    expect(s.sim.task(result.taskId)).toMatchObject({ prompt, state: 'success' });
    expect(job.data.render).toMatchObject({ submits: 2, failedTasks: 1, taskId: result.taskId });
    expect(result.estimatedCostUsd).toBe(0.3);
    expect(sha256((await s.readObject(result.key)).body)).toBe(s.sim.expectedVideo(result.taskId).sha256);
  });

  it('with KIE_FAILED_TASK_POLICY=fail fails at once with KIE reason, one task', async () => {
    const s = await startStack({ sim: failing, env: { KIE_FAILED_TASK_POLICY: 'fail' } });
    const { jobId } = await s.producer.enqueue({ prompt: 'a task failed for good' });
    await expectFailedAtOnce(s, jobId, 'failed: generation failed (simulated)');
    expect(s.sim.counters.submitsByPrompt.get('a task failed for good')).toBe(1);
    expect(await limiterStatus(s)).toMatchObject({ inFlight: 0, submitsInWindow: 1 });
  });
});
