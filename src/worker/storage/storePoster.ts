/**
 * A poster frame beside a stored video (POSTERS=true): a JPEG under the video's key with `.jpg`,
 * made by ffmpeg from the stored object itself, streamed from S3 into ffmpeg's stdin (no copy on
 * disk, no URL with a signature on a command line). ffmpeg reads only as far as the frame it takes
 * (about 1 s in, the middle of a shorter clip) and then exits; the rest of the download is dropped.
 * A video whose moov comes after its media cannot be read from a pipe: its poster fails, with the
 * reason, which never fails the render (the caller warns and counts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { Config } from '../../shared/config';
import { ConfigError } from '../../shared/errors';

const FFMPEG = 'ffmpeg';
/** A poster of a few hundred KB at most; anything larger is not what was asked for. */
const MAX_POSTER_BYTES = 10 * 1024 * 1024;
const STDERR_KEPT = 2000;

/** The worker refuses to start with POSTERS=true when ffmpeg cannot be run. */
export function requireFfmpegForPosters(config: Config): void {
  if (!config.posters) return;
  const probe = spawnSync(FFMPEG, ['-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? ((probe.error as NodeJS.ErrnoException).code ?? probe.error.message) : `exit ${probe.status}`;
    throw new ConfigError([
      { field: 'POSTERS', value: 'true', rule: `needs ffmpeg on the PATH, and running it failed (${why}): install ffmpeg, or set POSTERS=false` },
    ]);
  }
}

/** `renders/a.mp4` -> `renders/a.jpg`; a key without `.mp4` gets `.jpg` added. */
export function posterKeyFor(videoKey: string): string {
  return videoKey.endsWith('.mp4') ? `${videoKey.slice(0, -'.mp4'.length)}.jpg` : `${videoKey}.jpg`;
}

export interface StorePosterInput {
  s3: S3Client;
  bucket: string;
  /** The stored video's key. */
  key: string;
  /** The video's duration: the frame is taken 1 s in, or in the middle of a shorter clip (unknown: 1 s in). */
  durationSeconds?: number;
  timeoutMs: number;
}

/** Makes and stores the poster; returns its key. Throws with the reason when it cannot. */
export async function storePoster(input: StorePosterInput): Promise<string> {
  const { s3, bucket, key } = input;
  const at = Math.min(1, (input.durationSeconds ?? 2) / 2);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), input.timeoutMs);
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: stop.signal });
    const jpeg = await frameFrom(object.Body as Readable, at, stop.signal);
    const posterKey = posterKeyFor(key);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: posterKey, Body: jpeg, ContentType: 'image/jpeg' }), { abortSignal: stop.signal });
    return posterKey;
  } catch (err) {
    if (stop.signal.aborted) throw new Error(`the poster of s3://${bucket}/${key} took longer than ${input.timeoutMs} ms`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** One JPEG frame `at` seconds into the MP4 that `video` streams. */
function frameFrom(video: Readable, at: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ffmpeg = spawn(
      FFMPEG,
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        'pipe:0',
        '-ss',
        at.toFixed(3),
        '-frames:v',
        '1',
        '-f',
        'image2pipe',
        '-c:v',
        'mjpeg',
        '-q:v',
        '3',
        'pipe:1',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        signal,
      },
    );
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    ffmpeg.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > MAX_POSTER_BYTES) ffmpeg.kill('SIGKILL');
      else out.push(d);
    });
    ffmpeg.stderr.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-STDERR_KEPT)));
    // ffmpeg stops reading once it has its frame: the pipe it closes is expected, not a failure.
    ffmpeg.stdin.on('error', () => undefined);
    video.on('error', () => ffmpeg.stdin.destroy());
    video.pipe(ffmpeg.stdin);
    ffmpeg.on('error', (err) => reject(new Error(`ffmpeg could not run: ${err.message}`)));
    ffmpeg.on('close', (code) => {
      video.unpipe(ffmpeg.stdin);
      video.destroy();
      const jpeg = Buffer.concat(out);
      if (code === 0 && jpeg.length > 0 && outBytes <= MAX_POSTER_BYTES) resolve(jpeg);
      else reject(new Error(`ffmpeg made no poster (exit ${code}): ${stderr.trim().split('\n').at(-1) || (jpeg.length ? 'output too large' : 'no frame')}`));
    });
  });
}
