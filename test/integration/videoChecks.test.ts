/**
 * What the worker reads in every video it stores, while it streams: the movie (duration, picture,
 * codecs, audio) in the job's result and the object's metadata, and a video unlike its request
 * stored with a `mismatch` warning (VIDEO_CHECK=warn) or refused (VIDEO_CHECK=strict).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { RenderResult } from '../../src/shared/renderJob';
import { expectStoredAsServed } from '../support/expectStored';
import { probeVideo } from '../support/probeVideo';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

const AVC = expect.stringMatching(/^avc1\.64/);
const stacks: RenderStack[] = [];
let dir: string;

beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'video-checks-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

async function stack(opts: Parameters<typeof startRenderStack>[0] = {}): Promise<RenderStack> {
  const s = await startRenderStack(opts);
  stacks.push(s);
  await s.startWorker();
  return s;
}

async function resultOf(s: RenderStack, jobId: string): Promise<RenderResult> {
  return (await s.queue.getJob(jobId))!.returnvalue;
}

describe('the movie the worker read while storing', () => {
  it('is in the result and the object metadata, and the stored object plays as requested', async () => {
    const s = await stack();
    const jobs = [
      await s.producer.enqueue({ model: 'seedance-1.5-pro', prompt: 'a fox runs through snow', aspectRatio: '21:9', duration: 4, options: { sound: true } }),
      await s.producer.enqueue({ model: 'grok-imagine', prompt: 'a comet over the sea', aspectRatio: '2:3', duration: 12 }),
    ];
    const [seedance, grok] = await expectStoredAsServed(
      s,
      jobs.map((j) => j.jobId),
    );
    expect(seedance!.video).toEqual({ durationSeconds: 4, width: 420, height: 180, codecs: [AVC, 'mp4a.40.2'], hasAudio: true });
    expect(grok!.video).toEqual({ durationSeconds: 12, width: 180, height: 270, codecs: [AVC], hasAudio: false });
    expect(seedance!.warnings).toBeUndefined();
    expect(grok!.warnings).toBeUndefined();

    const { body, metadata } = await s.readObject(seedance!.key);
    expect(metadata).toMatchObject({
      'duration-seconds': '4',
      width: '420',
      height: '180',
      codecs: expect.stringMatching(/^avc1\.64[0-9a-f]+,mp4a\.40\.2$/),
      'has-audio': 'true',
    });
    const file = path.join(dir, 'seedance.mp4');
    writeFileSync(file, body);
    expect(await probeVideo(file)).toEqual({ durationSeconds: 4, width: 420, height: 180, codecs: ['h264', 'aac'] });
  });
});

describe('a video unlike its request', () => {
  const request = { model: 'kling-2.6', prompt: 'a crane takes off', aspectRatio: '16:9', duration: 10 } as const;

  it('is stored with a mismatch warning per difference, logged (VIDEO_CHECK=warn, the default)', async () => {
    const s = await stack({ sim: { faults: { offSpecVideoRate: 1 } } });
    const { jobId } = await s.producer.enqueue(request);
    await expectStoredAsServed(s, [jobId]);
    const result = await resultOf(s, jobId);
    expect(result.video).toMatchObject({ durationSeconds: 5, width: 180, height: 320 });
    expect(result.warnings).toEqual([
      { type: 'mismatch', field: 'duration', requested: 10, found: 5, message: 'duration: the video lasts 5 s, the request asked for 10 s' },
      { type: 'mismatch', field: 'aspectRatio', requested: '16:9', found: '180x320', message: 'aspectRatio: the video is 180x320, the request asked for 16:9' },
    ]);
    const logged = s.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'stored video differs from the request');
    expect(logged).toMatchObject({ level: 40, key: result.key, warnings: result.warnings!.map((w) => w.message) });
  });

  it('fails its job naming what differs, and nothing is stored (VIDEO_CHECK=strict)', async () => {
    const s = await startRenderStack({ sim: { faults: { offSpecVideoRate: 1 } } });
    stacks.push(s);
    await s.startWorker({ VIDEO_CHECK: 'strict' });
    const { jobId } = await s.producer.enqueue({ ...request, key: 'strict/crane.mp4' });
    expect((await s.waitForJobs([jobId])).get(jobId)).toBe('failed');
    const job = (await s.queue.getJob(jobId))!;
    expect(job.failedReason).toContain(
      'it differs from the request (VIDEO_CHECK=strict): duration: the video lasts 5 s, the request asked for 10 s; aspectRatio: the video is 180x320, the request asked for 16:9',
    );
    expect(job.attemptsMade).toBe(1);
    const listed = await s.s3Client.send(new ListObjectsV2Command({ Bucket: s.config.s3.bucket, Prefix: 'strict/' }));
    expect(listed.Contents ?? []).toEqual([]);
    expect(s.sim.counters.tasks).toHaveLength(1);
  });
});
