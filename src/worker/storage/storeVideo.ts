/**
 * Streams a finished video from its (signed, short-lived) URL into S3 in one pass: verified,
 * hashed and counted on the way, its MP4 boxes read (the movie's duration, picture size, codecs
 * and audio go into the object's metadata), multipart with bounded memory, never buffered whole.
 *
 * Why a temporary key and a copy: the SHA-256 is known only once the last byte has passed, but S3
 * takes an object's metadata when the upload starts (CreateMultipartUpload or PutObject), and S3's
 * own SHA-256 checksum of a multipart object is a checksum of part checksums, not of the file. So
 * the bytes go to `<key>.incoming-<uuid>`, and a CopyObject with MetadataDirective REPLACE writes
 * the final key with the hash in its metadata; then the temporary object is deleted. CopyObject is
 * atomic in S3, MinIO and s3rver alike, so the final key appears only complete, hash included.
 * Copying the object onto itself would be one request cheaper, but the key would exist, for a
 * moment or after a crash, without its hash. Limits: CopyObject takes objects up to 5 GiB
 * (VIDEO_MAX_BYTES defaults to 2 GiB); a crash between the copy and the delete leaves an
 * `.incoming-` object behind, findable by its name (or expired by a bucket lifecycle rule).
 */
import { randomUUID } from 'node:crypto';
import { finished } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SpanKind } from '@opentelemetry/api';
import { StorageError } from '../../shared/errors';
import type { VideoFacts } from '../../shared/renderJob';
import { inSpan } from '../../shared/tracing';
import { describeUrl, openVideoDownload, VideoDownload } from './openVideoDownload';
import { VideoVerifier } from './videoVerifier';

export interface StoreVideoInput {
  s3: S3Client;
  bucket: string;
  key: string;
  url: string;
  /** Stored with the object, e.g. task-id, account, job-id (ASCII); `sha256` is added. */
  metadata: Record<string, string>;
  /** Host names (no port), matched against new URL(url).hostname, redirects included. */
  allowedHosts: readonly string[];
  maxBytes: number;
  /** Bounds the whole transfer: the link expires 20 minutes after the render completes. */
  timeoutMs: number;
  partSizeBytes: number;
  /**
   * Judges the movie once its bytes have passed, before the final key is written: a reason refuses
   * the video for good (no object appears), undefined lets it be stored.
   */
  refuse?: (video: VideoFacts) => string | undefined;
  signal?: AbortSignal;
}

export interface StoredVideo {
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  /** Absent only for an object stored before its movie was recorded in its metadata. */
  video?: VideoFacts;
}

/** A verified video uploaded under its temporary key: not under its final key until committed. */
export interface StagedVideo {
  readonly size: number;
  readonly sha256: string;
  /** What the MP4's boxes say: duration, picture size, codecs, audio. */
  readonly video: VideoFacts;
  /** When its download began (epoch ms). */
  readonly startedAt: number;
  /** Copies it to the final key with its hash, then deletes the temporary object. */
  commit(): Promise<StoredVideo>;
  /** Deletes the temporary object and any multipart upload left of the key: nothing stays behind. */
  discard(): Promise<void>;
}

const CONTENT_TYPE = 'video/mp4';
/** Parts in flight at once: memory stays near queueSize × partSize whatever the file size. */
const QUEUE_SIZE = 4;
/** S3 sends user metadata as HTTP headers. */
const METADATA_NAME = /^[a-z0-9-]+$/;
const METADATA_VALUE = /^[\x20-\x7e]*$/;

/** The movie as S3 metadata (ASCII strings), and back. */
function videoMetadata(video: VideoFacts): Record<string, string> {
  return {
    'duration-seconds': String(video.durationSeconds),
    width: String(video.width),
    height: String(video.height),
    codecs: video.codecs.join(','),
    'has-audio': String(video.hasAudio),
  };
}

function videoFromMetadata(m: Record<string, string>): VideoFacts | undefined {
  const [durationSeconds, width, height] = [m['duration-seconds'], m.width, m.height].map(Number);
  if (!(durationSeconds! >= 0 && width! > 0 && height! > 0) || m.codecs === undefined) return undefined;
  return {
    durationSeconds: durationSeconds!,
    width: width!,
    height: height!,
    codecs: m.codecs.split(',').filter(Boolean),
    hasAudio: m['has-audio'] === 'true',
  };
}

function checkMetadata(metadata: Record<string, string>): void {
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_NAME.test(name)) throw new StorageError(`metadata name ${JSON.stringify(name)} must be lower-case letters, digits and -`, false, true);
    if (!METADATA_VALUE.test(value))
      throw new StorageError(`metadata ${name} must be printable ASCII (got ${JSON.stringify(value.slice(0, 40))})`, false, true);
  }
}

function s3Failure(action: string, bucket: string, key: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const e = err as { name?: string; code?: string; message?: string };
  const why = [e.name, e.code, e.message].filter(Boolean).join(': ');
  return new StorageError(`${action} s3://${bucket}/${key} failed: ${why || String(err)}`);
}

/** Left as they are in a copy source: S3 reads them either way, and decodeURI would not decode them. */
const RAW_IN_COPY_SOURCE: Record<string, string> = { '%3A': ':', '%40': '@', '%2C': ',', '%3B': ';', '%3D': '=', '%26': '&', '%24': '$' };

/**
 * x-amz-copy-source, URL-encoded as S3 wants it. Reserved characters that are harmless there stay
 * raw (e.g. ':' in keys made from scheduled job ids, `repeat:<id>:<ms>`): servers that decode it
 * with decodeURI, s3rver among them, would otherwise look for a key spelled "%3A". '?', '#' and
 * '+' stay encoded, as S3 would read them as a query, a fragment or a space. Other characters,
 * non-ASCII ones included (a job id such as `h-1-ñü` in the default key), go as percent-encoded
 * UTF-8, which S3 and decodeURI both read back.
 */
function copySource(bucket: string, key: string): string {
  const encode = (part: string) => encodeURIComponent(part).replace(/%(3A|40|2C|3B|3D|26|24)/g, (code) => RAW_IN_COPY_SOURCE[code]!);
  return `${bucket}/${key.split('/').map(encode).join('/')}`;
}

/** Cleanup after the outcome is decided: its own failure must not replace the real one. */
async function deleteQuietly(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
}

/**
 * Multipart uploads of earlier tries of this key that never completed (a worker killed mid-upload,
 * S3 down when the abort was sent): S3 bills their parts until aborted. Best effort; a bucket
 * lifecycle rule (AbortIncompleteMultipartUpload) stays the backstop.
 */
async function abortLeftoverUploads(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  try {
    const { Uploads = [] } = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    for (const { Key, UploadId } of Uploads) {
      if (Key && UploadId) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId })).catch(() => undefined);
    }
  } catch {
    // The video is stored; leftovers are only a cost, and the lifecycle rule covers them.
  }
}

export async function storeVideo(input: StoreVideoInput): Promise<StoredVideo> {
  return (await stageVideo(input)).commit();
}

/**
 * Downloads, verifies and uploads the video under a temporary key only. Aborting `input.signal`
 * before it resolves aborts the upload: nothing stays behind. The transfer is one span: bucket,
 * key and, once staged, size and SHA-256 (never the signed link's query).
 */
export function stageVideo(input: StoreVideoInput): Promise<StagedVideo> {
  const attributes = { 'aws.s3.bucket': input.bucket, 'aws.s3.key': input.key, 'video.source': describeUrl(input.url) };
  return inSpan(
    `store video ${input.bucket}`,
    attributes,
    async (span) => {
      const staged = await transferVideo(input);
      span.setAttributes({ 'video.bytes': staged.size, 'video.sha256': staged.sha256 });
      return staged;
    },
    SpanKind.CLIENT,
  );
}

async function transferVideo(input: StoreVideoInput): Promise<StagedVideo> {
  const startedAt = Date.now();
  checkMetadata(input.metadata);
  const source = describeUrl(input.url);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new StorageError(`storing ${source} took longer than ${input.timeoutMs} ms`)), input.timeoutMs);
  const onCancel = () => stop.abort(new StorageError(`storing ${source} was cancelled`));
  if (input.signal?.aborted) onCancel();
  input.signal?.addEventListener('abort', onCancel, { once: true });
  try {
    const download = await openVideoDownload(input.url, {
      allowedHosts: input.allowedHosts,
      maxBytes: input.maxBytes,
      timeoutMs: input.timeoutMs,
      signal: stop.signal,
    });
    return { ...(await uploadVerified(input, download, stop.signal)), startedAt };
  } finally {
    clearTimeout(timer);
    input.signal?.removeEventListener('abort', onCancel);
  }
}

async function uploadVerified(input: StoreVideoInput, download: VideoDownload, stop: AbortSignal): Promise<Omit<StagedVideo, 'startedAt'>> {
  const { s3, bucket, key } = input;
  const { body, source } = download;
  const verifier = new VideoVerifier({ source, maxBytes: input.maxBytes, expectedBytes: download.contentLength });

  // The first failure wins: it is the cause, later ones (an aborted upload, a closed socket) its echoes.
  let failure: StorageError | undefined;
  const fail = (err: StorageError) => {
    failure ??= err;
    body.destroy();
    verifier.destroy(failure);
  };
  verifier.on('error', (err) => fail(s3Failure('streaming into', bucket, key, err)));
  finished(body, (err) => {
    // axios destroys the body itself when `stop` fires; the reason is the stop, not a broken link.
    if (err) fail(stop.aborted ? (stop.reason as StorageError) : new StorageError(`download of ${source} broke off: ${err.message}`));
  });
  const onStop = () => fail(stop.reason as StorageError);
  if (stop.aborted) onStop();
  stop.addEventListener('abort', onStop, { once: true });
  body.pipe(verifier);

  const incomingKey = `${key}.incoming-${randomUUID()}`;
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: incomingKey, Body: verifier, ContentType: CONTENT_TYPE, Metadata: input.metadata },
    partSize: input.partSizeBytes,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
  });
  let verified: { size: number; sha256: string; video: VideoFacts };
  try {
    await upload.done();
    verified = verifier.result();
    const refusal = input.refuse?.(verified.video);
    if (refusal) throw new StorageError(`video at ${source} was not stored: ${refusal}`, false, true);
  } catch (err) {
    fail(s3Failure('storing into', bucket, key, err));
    // Upload has already aborted the multipart upload when the stream failed; this covers the
    // failures that did not come through the stream. If S3 itself is down, parts may stay
    // behind: a lifecycle rule AbortIncompleteMultipartUpload is the backstop.
    await upload.abort();
    // A single-PUT upload (a file smaller than one part) may have landed before the failure.
    await deleteQuietly(s3, bucket, incomingKey);
    throw failure!;
  } finally {
    stop.removeEventListener('abort', onStop);
  }
  return {
    ...verified,
    commit: () => commitStaged(input, incomingKey, verified),
    async discard() {
      await deleteQuietly(s3, bucket, incomingKey);
      await abortLeftoverUploads(s3, bucket, `${key}.incoming-`);
    },
  };
}

/** The final key, written by one atomic copy with the hash in its metadata (see the top of this file). */
async function commitStaged(
  input: StoreVideoInput,
  incomingKey: string,
  { size, sha256, video }: { size: number; sha256: string; video: VideoFacts },
): Promise<StoredVideo> {
  const { s3, bucket, key } = input;
  try {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: key,
        CopySource: copySource(bucket, incomingKey),
        MetadataDirective: 'REPLACE',
        Metadata: { ...input.metadata, ...videoMetadata(video), sha256 },
        ContentType: CONTENT_TYPE,
      }),
      { abortSignal: AbortSignal.timeout(input.timeoutMs) },
    );
  } catch (err) {
    await deleteQuietly(s3, bucket, incomingKey);
    throw s3Failure('storing into', bucket, key, err);
  }
  await deleteQuietly(s3, bucket, incomingKey);
  await abortLeftoverUploads(s3, bucket, `${key}.incoming-`);
  return { bucket, key, size, sha256, contentType: CONTENT_TYPE, video };
}

/**
 * The object a previous attempt of the same task stored completely (metadata task-id and sha256
 * are written only by the final copy), so a resumed job never uploads twice.
 */
export async function findStoredVideo(s3: S3Client, bucket: string, key: string, taskId: string): Promise<StoredVideo | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const metadata = head.Metadata ?? {};
    const sha256 = metadata.sha256;
    if (metadata['task-id'] !== taskId || !sha256) return undefined;
    const video = videoFromMetadata(metadata);
    return { bucket, key, size: head.ContentLength ?? 0, sha256, contentType: head.ContentType ?? CONTENT_TYPE, ...(video ? { video } : {}) };
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw s3Failure('looking up', bucket, key, err);
  }
}
