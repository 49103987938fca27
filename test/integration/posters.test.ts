/**
 * POSTERS=true: a JPEG frame beside every stored video, made by ffmpeg from the stored object in
 * the local S3 server; a poster that cannot be made never fails its render; a worker told to make
 * posters without ffmpeg refuses to start.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import axios from 'axios';
import type { RenderResult } from '../../src/shared/renderJob';
import { simClip } from '../../src/sim/kieSimClip';
import { storePoster } from '../../src/worker/storage/storePoster';
import { expectStoredAsServed } from '../support/expectStored';
import { probeVideo } from '../support/probeVideo';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

let stack: RenderStack;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'posters-'));
  stack = await startRenderStack();
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function resultOf(jobId: string): Promise<RenderResult> {
  return (await stack.queue.getJob(jobId))!.returnvalue;
}

async function objectBytes(key: string): Promise<{ bytes: Buffer; contentType?: string }> {
  const got = await stack.s3Client.send(new GetObjectCommand({ Bucket: stack.config.s3.bucket, Key: key }));
  return { bytes: Buffer.from(await got.Body!.transformToByteArray()), contentType: got.ContentType };
}

describe('POSTERS=true', () => {
  it('stores a JPEG of the video beside it (same key, .jpg) and names it in the result', async () => {
    const worker = await stack.startWorker({ POSTERS: 'true' });
    try {
      const jobs = [
        await stack.producer.enqueue({ prompt: 'a lighthouse at dusk', aspectRatio: '9:16', key: 'posters/lighthouse.mp4' }),
        await stack.producer.enqueue({ model: 'seedance-1.5-pro', prompt: 'a fox in the snow', aspectRatio: '21:9', duration: 4, key: 'posters/fox' }),
      ];
      await expectStoredAsServed(
        stack,
        jobs.map((j) => j.jobId),
      );
      const [lighthouse, fox] = [await resultOf(jobs[0]!.jobId), await resultOf(jobs[1]!.jobId)];
      expect(lighthouse).toMatchObject({ key: 'posters/lighthouse.mp4', posterKey: 'posters/lighthouse.jpg' });
      expect(fox).toMatchObject({ key: 'posters/fox', posterKey: 'posters/fox.jpg' });
      expect(lighthouse.warnings).toBeUndefined();
      for (const [result, size] of [
        [lighthouse, { width: 180, height: 320 }],
        [fox, { width: 420, height: 180 }],
      ] as const) {
        const poster = await objectBytes(result.posterKey!);
        expect(poster.contentType).toBe('image/jpeg');
        expect(poster.bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
        const file = path.join(dir, path.basename(result.posterKey!));
        writeFileSync(file, poster.bytes);
        expect(await probeVideo(file)).toMatchObject({ ...size, codecs: ['mjpeg'] });
      }
    } finally {
      await worker.close();
    }
  });

  it('a poster that cannot be made leaves the render stored, with a poster-failed warning, logged and counted', async () => {
    // An ffmpeg that answers the start check and then fails every frame, as a broken install would.
    const bin = path.join(dir, 'broken-ffmpeg');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    writeFileSync(path.join(bin, 'ffmpeg'), '#!/bin/sh\n[ "$1" = -version ] && exit 0\necho "ffmpeg: broken on purpose" >&2\nexit 1\n', { mode: 0o755 });
    const port = await freePort();
    const worker = stack.spawnWorker({ POSTERS: 'true', PATH: bin, WORKER_HTTP: 'true', HTTP_PORT: String(port) });
    try {
      const { jobId } = await stack.producer.enqueue({ prompt: 'a harbour without a poster', key: 'posters/none.mp4' });
      await expectStoredAsServed(stack, [jobId]);
      const result = await resultOf(jobId);
      expect(result.posterKey).toBeUndefined();
      expect(result.warnings).toEqual([
        { type: 'poster-failed', message: 'no poster for posters/none.mp4: ffmpeg made no poster (exit 1): ffmpeg: broken on purpose' },
      ]);
      expect(worker.output.join('')).toMatch(/"msg":"poster failed"/);
      expect((await axios.get(`http://127.0.0.1:${port}/metrics`)).data).toMatch(/^sora_posters_failed_total 1$/m);
      const head = stack.s3Client.send(new HeadObjectCommand({ Bucket: stack.config.s3.bucket, Key: 'posters/none.jpg' }));
      await expect(head).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    } finally {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
  });

  it('storePoster says why it cannot read a video whose moov comes after its media (a pipe cannot seek back)', async () => {
    const clip = simClip({ aspectRatio: '16:9', seconds: 4, sound: false });
    const at = (type: string) => clip.indexOf(type) - 4;
    // ftyp, mdat, moov: the chunk offsets in the moov are wrong now, but ffmpeg fails before it reads them.
    const moovLast = Buffer.concat([clip.subarray(0, at('moov')), clip.subarray(at('mdat')), clip.subarray(at('moov'), at('mdat'))]);
    const { bucket } = stack.config.s3;
    await stack.s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: 'posters/moov-last.mp4', Body: moovLast }));
    const made = storePoster({ s3: stack.s3Client, bucket, key: 'posters/moov-last.mp4', durationSeconds: 4, timeoutMs: 10_000 });
    await expect(made).rejects.toThrow(/^ffmpeg made no poster \(exit \d+\): /);
  });
});

describe('a worker started with POSTERS=true and no ffmpeg on the PATH', () => {
  it('refuses to start with one readable message (exit 2)', async () => {
    const bin = path.join(dir, 'no-ffmpeg');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const child = stack.spawnWorker({ POSTERS: 'true', PATH: bin });
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(2);
    expect(child.output.join('')).toBe(
      'sora-batch worker: invalid configuration:\n  POSTERS="true": needs ffmpeg on the PATH, and running it failed (ENOENT): install ffmpeg, or set POSTERS=false\n',
    );
  });
});
