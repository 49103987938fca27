/**
 * The webhook fast path: a callback for a job's own task starts the download into the temporary key
 * while KIE confirms; only a confirmed task with the same video becomes the final object, and a
 * callback KIE does not confirm leaves nothing behind.
 */
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { callbackUrl } from '../../src/shared/callbackToken';
import { waitUntil } from '../support/fleet';
import { RenderStack, StackOptions, startRenderStack } from '../support/renderStack';
import { startVideoServer, VideoServer } from '../support/videoServer';
import { freePort } from '../chaos/support/freePort';

jest.setTimeout(120_000);

const WEBHOOK_SECRET = 'fast-path-webhook-secret-0123456789';
let stack: RenderStack | undefined;
let videos: VideoServer | undefined;

afterEach(async () => {
  await stack?.close();
  await videos?.close();
  stack = videos = undefined;
});

/** A stack whose in-process worker receives KIE's callbacks. */
async function startWithReceiver(sim: StackOptions['sim'], env: Record<string, string> = {}): Promise<RenderStack> {
  const port = await freePort();
  stack = await startRenderStack({
    sim,
    env: { WORKER_HTTP: 'true', HTTP_PORT: String(port), WEBHOOK_BASE_URL: `http://127.0.0.1:${port}`, WEBHOOK_SECRET, POLL_INTERVAL_MS: '500', ...env },
  });
  await stack.startWorker();
  return stack;
}

const logged = (s: RenderStack, msg: string): number => s.logs.filter((line) => line.includes(`"msg":"${msg}"`)).length;

/** Every object and every unfinished multipart upload in the bucket. */
async function bucketContents(s: RenderStack): Promise<{ keys: string[]; uploads: string[] }> {
  const bucket = s.config.s3.bucket;
  const objects = await s.s3Client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const uploads = await s.s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return { keys: (objects.Contents ?? []).map((o) => o.Key!), uploads: (uploads.Uploads ?? []).map((u) => u.Key!) };
}

/** The job's task, once its submit was answered. */
async function taskOf(s: RenderStack, jobId: string): Promise<string> {
  let taskId: string | undefined;
  await waitUntil(async () => (taskId = (await s.queue.getJob(jobId))?.data.render?.taskId) !== undefined, `a task for job ${jobId}`);
  return taskId!;
}

/** A callback as KIE's sora API sends it, on the job's own callBackUrl. */
async function announce(s: RenderStack, jobId: string, taskId: string, videoUrl: string): Promise<number> {
  const url = callbackUrl(s.env.WEBHOOK_BASE_URL!, WEBHOOK_SECRET, s.config.queueName, jobId);
  const body = { taskId, status: 1, videoUrl, duration: 10, completedAt: new Date().toISOString() };
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

async function expectStoredAsKieServed(s: RenderStack, jobId: string): Promise<void> {
  expect((await s.waitForJobs([jobId], 60_000)).get(jobId)).toBe('completed');
  const job = await s.queue.getJob(jobId);
  const { body, metadata } = await s.readObject(job!.returnvalue.key);
  expect(metadata.sha256).toBe(s.sim.expectedVideo(job!.data.render!.taskId!).sha256);
  expect(body.length).toBe(s.sim.expectedVideo(job!.data.render!.taskId!).size);
}

it('a confirmed callback: its video is downloaded while KIE confirms it, and stored once, complete', async () => {
  const s = await startWithReceiver({ generationMs: [300, 600] });
  const jobs = await s.producer.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ prompt: `announced by its callback, take ${i}` })));
  for (const { jobId } of jobs) await expectStoredAsKieServed(s, jobId);
  expect(s.sim.counters.callbacks.delivered).toBe(3);
  expect(logged(s, 'callback: downloading the announced video while KIE confirms it')).toBe(3);
  // One download per job: the callback's, kept once KIE confirmed it.
  expect(s.sim.counters.downloads.requests).toBe(3);
  expect(await bucketContents(s)).toEqual({ keys: jobs.map((j) => `renders/${j.jobId}.mp4`).sort(), uploads: [] });
});

it('a callback KIE does not confirm leaves nothing behind: the upload under way is aborted, no object, no multipart upload', async () => {
  videos = await startVideoServer();
  // Big enough for a multipart upload: its first part goes up, then the source stalls.
  videos.route('/early.mp4', { kind: 'stall', size: 24 * 1024 * 1024, after: 12 * 1024 * 1024 });
  // The next read turn comes 2 s after the submit: time for the first part to be uploaded.
  const s = await startWithReceiver({ generationMs: 5000, minIntervalMs: 2000, faults: { dropCallbacks: true } }, { S3_PART_SIZE_MB: '5' });
  const { jobId } = (await s.producer.enqueueMany([{ prompt: 'announced before it was done' }]))[0]!;
  const taskId = await taskOf(s, jobId);
  expect(await announce(s, jobId, taskId, `${videos.origin}/early.mp4`)).toBe(202);

  let sawUpload = false;
  await waitUntil(async () => {
    sawUpload ||= (await bucketContents(s)).uploads.length > 0;
    return logged(s, 'KIE does not confirm the callback (the task is still generating): nothing kept') === 1;
  }, 'the callback refused by KIE');
  expect(sawUpload).toBe(true);
  expect(videos.requests).toEqual(['/early.mp4']);
  expect(await bucketContents(s)).toEqual({ keys: [], uploads: [] });

  // The task finishes for real later; the status poller finds it, and KIE's video is stored.
  await expectStoredAsKieServed(s, jobId);
  expect(await bucketContents(s)).toEqual({ keys: [`renders/${jobId}.mp4`], uploads: [] });
});

it("a confirmed task whose record links another video than the callback: KIE's is stored, the callback's discarded", async () => {
  videos = await startVideoServer();
  videos.route('/other.mp4', { kind: 'video', size: 64 * 1024 });
  const s = await startWithReceiver({ generationMs: 300, faults: { dropCallbacks: true } });
  const { jobId } = (await s.producer.enqueueMany([{ prompt: "announced with a stranger's link" }]))[0]!;
  const taskId = await taskOf(s, jobId);
  await waitUntil(() => s.sim.task(taskId)?.state === 'success', 'the task to finish');
  expect(await announce(s, jobId, taskId, `${videos.origin}/other.mp4`)).toBe(202);
  await expectStoredAsKieServed(s, jobId);
  expect(videos.requests).toEqual(['/other.mp4']);
  expect(logged(s, "KIE's record links another video than the callback did: storing KIE's")).toBe(1);
  expect(await bucketContents(s)).toEqual({ keys: [`renders/${jobId}.mp4`], uploads: [] });
});

it("a callback's video on a host outside VIDEO_HOSTS is never fetched; KIE's link is stored", async () => {
  const s = await startWithReceiver({ generationMs: 300, faults: { dropCallbacks: true } });
  const { jobId } = (await s.producer.enqueueMany([{ prompt: 'announced from elsewhere' }]))[0]!;
  const taskId = await taskOf(s, jobId);
  await waitUntil(() => s.sim.task(taskId)?.state === 'success', 'the task to finish');
  expect(await announce(s, jobId, taskId, 'http://169.254.169.254/latest/meta-data.mp4')).toBe(202);
  await expectStoredAsKieServed(s, jobId);
  expect(s.logs.some((l) => l.includes('downloading the video a callback announced failed') && l.includes('not in VIDEO_HOSTS'))).toBe(true);
  expect(await bucketContents(s)).toEqual({ keys: [`renders/${jobId}.mp4`], uploads: [] });
});
