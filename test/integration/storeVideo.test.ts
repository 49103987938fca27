/**
 * storeVideo against a real S3-speaking server (s3rver via startLocalS3) and a real HTTP video
 * host (test/support/videoServer): what lands in S3, and what never does.
 */
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/shared/config';
import { StorageError } from '../../src/shared/errors';
import { startLocalS3, LocalS3 } from '../../src/sim/localS3';
import { createS3Client } from '../../src/worker/storage/s3Client';
import { findStoredVideo, storeVideo, StoreVideoInput } from '../../src/worker/storage/storeVideo';
import { waitUntil } from '../support/fleet';
import { SERVED_CLIP, startVideoServer, VideoServer, videoSha256 } from '../support/videoServer';
import { simClip } from '../../src/sim/kieSimClip';

// The SDK's default credential chain reads these; s3rver accepts only its own pair.
process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';

// Real disk I/O on a shared machine: the 5 s default is too tight for the multi-megabyte cases.
jest.setTimeout(30_000);

const MB = 1024 * 1024;
const BUCKET = 'store-video-test';
/** What the video server's MP4s are (SERVED_CLIP), as the worker reads them. */
const SERVED_VIDEO = { durationSeconds: 8, width: 320, height: 180, codecs: [expect.stringMatching(/^avc1\.64/), 'mp4a.40.2'], hasAudio: true };
const CLIP_BYTES = simClip(SERVED_CLIP).length;

let s3Server: LocalS3;
let videos: VideoServer;
let s3: S3Client;
let keyCounter = 0;

beforeAll(async () => {
  s3Server = await startLocalS3({ buckets: [BUCKET] });
  videos = await startVideoServer();
  s3 = createS3Client(loadConfig({ KIE_API_KEY: 'test', S3_ENDPOINT: s3Server.endpoint, S3_BUCKET: BUCKET }));
});

afterAll(async () => {
  s3.destroy();
  await videos.close();
  await s3Server.close();
});

/** A fresh key under a fresh prefix, so each test inspects only its own objects. */
function freshKey(): string {
  keyCounter += 1;
  return `t${keyCounter}/video.mp4`;
}

function store(url: string, key: string, overrides: Partial<StoreVideoInput> = {}) {
  return storeVideo({
    s3,
    bucket: BUCKET,
    key,
    url,
    metadata: { 'task-id': `task-${key}`, account: 'acct-a', 'job-id': 'job-1' },
    allowedHosts: ['127.0.0.1'],
    maxBytes: 300 * MB,
    timeoutMs: 30_000,
    partSizeBytes: 5 * MB,
    ...overrides,
  });
}

async function storeFailure(url: string, key: string, overrides: Partial<StoreVideoInput> = {}): Promise<StorageError> {
  const err = await store(url, key, overrides).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  if (process.env.SHOW_MESSAGES) console.log((err as Error).message);
  return err as StorageError;
}

/** Every object under the key's prefix, temporary ones included. */
async function keysNear(key: string): Promise<string[]> {
  const prefix = key.slice(0, key.indexOf('/') + 1);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

async function pendingUploads(key: string): Promise<string[]> {
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
  return (listed.Uploads ?? []).map((u) => u.Key!).filter((k) => k.startsWith(key));
}

async function readObject(key: string) {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  return { bytes, metadata: got.Metadata ?? {}, contentType: got.ContentType };
}

async function expectNothingStored(key: string): Promise<void> {
  expect(await keysNear(key)).toEqual([]);
  expect(await pendingUploads(key)).toEqual([]);
}

describe('the local S3 server', () => {
  // The leftover checks below rely on these two calls, which s3rver lacks and localS3 adds.
  it('lists a pending multipart upload until it is aborted', async () => {
    const key = freshKey();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1000) }));
    expect(await pendingUploads(key)).toEqual([key]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId }));
    expect(await pendingUploads(key)).toEqual([]);
  });

  // Two runs of one job (a lock lost to a stall) may abort each other's uploads; S3 copes.
  it('answers NoSuchUpload to a part sent after the abort, and an abort waits for a part under way', async () => {
    const key = freshKey();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const body = new PassThrough();
    const order: string[] = [];
    const slowPart = s3
      .send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: body, ContentLength: 2000 }))
      .then(() => order.push('part'));
    body.write(Buffer.alloc(1000));
    // The part is under way once s3rver has opened its file.
    await waitUntil(() => existsSync(path.join(s3Server.directory, BUCKET, '._S3rver_uploads', UploadId!, '1')), 'the part under way');
    const abort = s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId })).then(() => order.push('abort'));
    await new Promise((r) => setTimeout(r, 100));
    body.end(Buffer.alloc(1000));
    await Promise.all([slowPart, abort]);
    expect(order).toEqual(['part', 'abort']);
    expect(await pendingUploads(key)).toEqual([]);

    const late = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 2, Body: Buffer.alloc(1000) })).catch((e: Error) => e);
    expect((late as Error).name).toBe('NoSuchUpload');
  });
});

describe('storing a video', () => {
  it.each([
    ['a small video in one PUT', 1 * MB + 123],
    ['a 12 MB video in 5 MB parts', 12 * MB + 5],
  ])('stores %s with the served bytes and their SHA-256 in the metadata', async (_label, size) => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size });
    const stored = await store(`${videos.origin}/${key}?sig=abc`, key);

    const expected = videoSha256({ size });
    expect(stored).toEqual({ bucket: BUCKET, key, size, sha256: expected, contentType: 'video/mp4', video: SERVED_VIDEO });
    const object = await readObject(key);
    expect(object.bytes.length).toBe(size);
    expect(createHash('sha256').update(object.bytes).digest('hex')).toBe(expected);
    expect(object.metadata).toMatchObject({ sha256: expected, 'task-id': `task-${key}`, account: 'acct-a', 'job-id': 'job-1' });
    expect(object.metadata).toMatchObject({
      'duration-seconds': '8',
      width: '320',
      height: '180',
      codecs: expect.stringMatching(/^avc1\.64[0-9a-f]+,mp4a\.40\.2$/),
      'has-audio': 'true',
    });
    expect(object.contentType).toBe('video/mp4');
    // The temporary object is gone and no multipart upload is left open.
    expect(await keysNear(key)).toEqual([key]);
    expect(await pendingUploads(key)).toEqual([]);
  });

  it('stores under keys with spaces, colons and other characters a URL must escape', async () => {
    const key = `${freshKey().replace('video.mp4', '')}repeat:nightly:1795612632681 (take 2, 50% @home; a=b&c $).mp4`;
    videos.route('/odd-key', { kind: 'video', size: 1 * MB });
    const stored = await store(`${videos.origin}/odd-key`, key);
    expect(stored.key).toBe(key);
    expect((await readObject(key)).metadata.sha256).toBe(videoSha256({ size: 1 * MB }));
  });

  it('stores under a key with non-ASCII characters (a job id such as h-1-ñü), kept as UTF-8', async () => {
    const key = `${freshKey().replace('video.mp4', '')}h-1-ñü 東京.mp4`;
    videos.route('/utf8-key', { kind: 'video', size: 1 * MB });
    const stored = await store(`${videos.origin}/utf8-key`, key, { metadata: { 'task-id': 't-utf8', 'job-id': encodeURIComponent('h-1-ñü') } });
    expect(stored.key).toBe(key);
    expect(await keysNear(key)).toEqual([key]);
    const object = await readObject(key);
    expect(object.metadata).toMatchObject({ sha256: videoSha256({ size: 1 * MB }), 'job-id': 'h-1-%C3%B1%C3%BC' });
    expect(await findStoredVideo(s3, BUCKET, key, 't-utf8')).toMatchObject({ key, size: 1 * MB });
  });

  it('stores a video sent without Content-Length once its boxes add up to the bytes received', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 12 * MB + 7, contentLength: 'none' });
    const stored = await store(`${videos.origin}/${key}`, key);
    expect(stored).toMatchObject({ size: 12 * MB + 7, sha256: videoSha256({ size: 12 * MB + 7 }) });
    expect(await keysNear(key)).toEqual([key]);
  });

  it('follows redirects to allowlisted hosts', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 2 * MB });
    videos.route(`/hop1/${key}`, { kind: 'redirect', location: `/${key}` });
    videos.route(`/hop0/${key}`, { kind: 'redirect', location: `${videos.origin}/hop1/${key}`, status: 307 });
    const stored = await store(`${videos.origin}/hop0/${key}`, key);
    expect(stored.sha256).toBe(videoSha256({ size: 2 * MB }));
  });
});

describe('findStoredVideo', () => {
  it('finds a video stored for the same task only', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 300_000 });
    const stored = await store(`${videos.origin}/${key}`, key);
    expect(await findStoredVideo(s3, BUCKET, key, `task-${key}`)).toEqual(stored);
    expect(stored.video).toEqual(SERVED_VIDEO);
    expect(await findStoredVideo(s3, BUCKET, key, 'another-task')).toBeUndefined();
    expect(await findStoredVideo(s3, BUCKET, `${key}.missing`, `task-${key}`)).toBeUndefined();
  });

  it('ignores an object without a sha256 (not written by a completed store)', async () => {
    const key = freshKey();
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', Metadata: { 'task-id': 'task-x' } }));
    expect(await findStoredVideo(s3, BUCKET, key, 'task-x')).toBeUndefined();
  });
});

describe('a failed store leaves nothing behind', () => {
  it('a cut-off download leaves no object and no pending multipart upload', async () => {
    const key = freshKey();
    // Two 5 MB parts have been uploaded by the time the body breaks.
    videos.route(`/${key}`, { kind: 'video', size: 14 * MB, cutAfter: 11 * MB });
    const err = await storeFailure(`${videos.origin}/${key}`, key);
    expect(err.permanent).toBe(false);
    expect(err.linkExpired).toBe(false);
    expect(err.message).toMatch(/broke off/);
    await expectNothingStored(key);
  });

  it('a small cut-off download (single PUT path) leaves no object', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 1 * MB, cutAfter: 500_000 });
    const err = await storeFailure(`${videos.origin}/${key}`, key);
    expect(err.permanent).toBe(false);
    await expectNothingStored(key);
  });

  it('a download without Content-Length cut off inside its mdat (a clean close) leaves no object and no pending upload', async () => {
    const key = freshKey();
    // Two 5 MB parts are uploaded before the close: the abort must undo a multipart upload.
    videos.route(`/${key}`, { kind: 'video', size: 14 * MB, contentLength: 'none', cutAfter: 11 * MB });
    const err = await storeFailure(`${videos.origin}/${key}`, key);
    expect(err).toMatchObject({ permanent: false, linkExpired: false });
    expect(err.message).toMatch(
      new RegExp(
        `came without Content-Length and its free box declares ${14 * MB - CLIP_BYTES} bytes from byte ${CLIP_BYTES}, but the file ended after ${11 * MB}`,
      ),
    );
    await expectNothingStored(key);
  });

  it.each([
    [
      'whose mdat is shorter than it declares',
      'short-mdat',
      /is not a complete MP4: its mdat box declares \d+ bytes from byte \d+, but the file ended after 12582912: refused as possibly cut off/,
    ],
    ['without a moov', 'no-moov', /is not a complete MP4: it has no complete moov box: refused as possibly cut off/],
  ] as const)('a body of the announced length %s is refused like a cut-off one (retryable), leaving nothing', async (_label, broken, message) => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 12 * MB, broken });
    const err = await storeFailure(`${videos.origin}/${key}`, key);
    expect(err).toMatchObject({ permanent: false, linkExpired: false });
    expect(err.message).toMatch(message);
    await expectNothingStored(key);
  });

  it('a video its caller refuses once read (VIDEO_CHECK=strict) never reaches its key, permanently', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 6 * MB });
    const seen: unknown[] = [];
    const err = await storeFailure(`${videos.origin}/${key}`, key, { refuse: (video) => (seen.push(video), 'it is not what was asked for') });
    expect(seen).toEqual([SERVED_VIDEO]);
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/was not stored: it is not what was asked for/);
    await expectNothingStored(key);
  });

  it('bytes without an ftyp signature are refused', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 7 * MB, ftyp: false });
    const err = await storeFailure(`${videos.origin}/${key}`, key);
    expect(err.message).toMatch(/not an MP4/);
    await expectNothingStored(key);
  });

  it('a body shorter than its Content-Length is refused', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 6 * MB, contentLength: 6 * MB + 1000 });
    const err = await storeFailure(`${videos.origin}/${key}`, key);
    expect(err.permanent).toBe(false);
    await expectNothingStored(key);
  });

  it('a Content-Length over maxBytes is refused before reading, permanently', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 3 * MB });
    const err = await storeFailure(`${videos.origin}/${key}`, key, { maxBytes: 2 * MB });
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(new RegExp(`is ${3 * MB} bytes, larger than the limit of ${2 * MB}`));
    await expectNothingStored(key);
  });

  it('a body without Content-Length is cut off once it passes maxBytes, permanently', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 12 * MB, contentLength: 'none' });
    const err = await storeFailure(`${videos.origin}/${key}`, key, { maxBytes: 7 * MB });
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/larger than the limit/);
    await expectNothingStored(key);
  });

  it('a stalled download times out as a retryable error', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'stall', size: 6 * MB });
    const err = await storeFailure(`${videos.origin}/${key}`, key, { timeoutMs: 500 });
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(/took longer than 500 ms/);
    await expectNothingStored(key);
  });

  it('a cancelled store stops with a retryable error', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'stall', size: 6 * MB });
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 200);
    const err = await storeFailure(`${videos.origin}/${key}`, key, { signal: cancel.signal });
    expect(err.message).toMatch(/cancelled/);
    await expectNothingStored(key);
  });
});

describe('links and hosts', () => {
  it('never contacts a host outside the allowlist', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 1000 });
    const before = videos.requests.length;
    const err = await storeFailure(`http://localhost:${videos.port}/${key}?sig=secret`, key);
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/localhost is not in VIDEO_HOSTS/);
    expect(err.message).not.toContain('secret');
    expect(videos.requests.length).toBe(before);
  });

  it('never follows a redirect to a host outside the allowlist', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 1000 });
    videos.route(`/away/${key}`, { kind: 'redirect', location: `http://localhost:${videos.port}/${key}` });
    const before = videos.requests.length;
    const err = await storeFailure(`${videos.origin}/away/${key}`, key);
    expect(err.permanent).toBe(true);
    expect(videos.requests.slice(before)).toEqual([`/away/${key}`]);
  });

  it('gives up after 3 redirects', async () => {
    const key = freshKey();
    videos.route(`/loop/${key}`, { kind: 'redirect', location: `/loop/${key}` });
    const before = videos.requests.length;
    const err = await storeFailure(`${videos.origin}/loop/${key}`, key);
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/more than 3 times/);
    expect(videos.requests.length - before).toBe(4);
  });

  it.each([403, 404, 410])('%i means the link expired, and the message keeps the signature out', async (status) => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'status', status });
    const err = await storeFailure(`${videos.origin}/${key}?Expires=1&Signature=s3cr3t`, key);
    expect(err.linkExpired).toBe(true);
    expect(err.permanent).toBe(false);
    expect(err.message).toContain(`${videos.origin}/${key}`);
    expect(err.message).not.toMatch(/s3cr3t|Expires/);
  });

  it('a 5xx from the video host is retryable', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'status', status: 503 });
    const err = await storeFailure(`${videos.origin}/${key}`, key);
    expect(err).toMatchObject({ linkExpired: false, permanent: false });
    expect(err.message).toMatch(/HTTP 503/);
  });

  it('a refused connection is retryable', async () => {
    const closed = await startVideoServer();
    await closed.close();
    const err = await storeFailure(`${closed.origin}/gone.mp4`, freshKey());
    expect(err).toMatchObject({ linkExpired: false, permanent: false });
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('S3 outage', () => {
  it('fails retryably while S3 is down and stores once it is back', async () => {
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size: 12 * MB });
    await s3Server.stop();
    try {
      const err = await storeFailure(`${videos.origin}/${key}`, key);
      expect(err.permanent).toBe(false);
      expect(err.message).toContain(`s3://${BUCKET}/${key}`);
    } finally {
      await s3Server.restart();
    }
    const stored = await store(`${videos.origin}/${key}`, key);
    expect(stored.sha256).toBe(videoSha256({ size: 12 * MB }));
    expect(await findStoredVideo(s3, BUCKET, key, `task-${key}`)).toEqual(stored);
    expect(stored.video).toEqual(SERVED_VIDEO);
  });
});

describe('memory', () => {
  it('stays bounded while storing a 200 MB stream', async () => {
    const size = 200 * MB;
    const key = freshKey();
    videos.route(`/${key}`, { kind: 'video', size });
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const stored = await store(`${videos.origin}/${key}`, key, { timeoutMs: 110_000 });
      expect(stored.size).toBe(size);
      expect(stored.sha256).toBe(videoSha256({ size }));
    } finally {
      clearInterval(sampler);
    }
    const growthMb = (peak - baseline) / MB;
    console.log(
      `storing 200 MB (5 MB parts, 4 in flight): RSS ${Math.round(baseline / MB)} MB before, peak ${Math.round(peak / MB)} MB (+${growthMb.toFixed(0)} MB)`,
    );
    // Whole-file buffering would add at least 200 MB; parts in flight are 4 x 5 MB plus copies.
    expect(growthMb).toBeLessThan(150);
  }, 120_000);
});
