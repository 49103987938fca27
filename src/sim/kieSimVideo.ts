/**
 * The simulator's video files: a playable clip of the task's aspect ratio, length and sound
 * (kieSimClip), padded to the configured size by a `free` box that players skip. The box starts
 * with the task's fingerprint and holds an AES-CTR keystream keyed by the taskId: every task's
 * bytes differ, are known in advance (so tests can check the stored SHA-256), and are
 * incompressible like real video. Produced in chunks, so a 256 MB file never sits in memory.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { type ClipSpec, simClip } from './kieSimClip';

/** Sora 2 and Veo 3.1 clips come with sound; Kling and Seedance when `sound` is on; the others are silent. */
const MODELS_WITH_SOUND = new Set(['sora-2', 'sora-2-pro', 'sora-2-storyboard', 'veo-3.1', 'veo-3.1-fast']);

export function makesSound(modelId: string, options: Record<string, unknown>): boolean {
  return MODELS_WITH_SOUND.has(modelId) || options.sound === true;
}

const FREE_HEADER_BYTES = 8;
const CHUNK_BYTES = 64 * 1024;

/** The fingerprint at the start of the free box: the task, in ASCII. */
function stamp(taskId: string): Buffer {
  return Buffer.from(`kie-sim task ${taskId}\n`, 'latin1');
}

/** The clip and the header of a free box that fills the file to `size` bytes. */
export function paddedHead(clip: Buffer, size: number): Buffer {
  const header = Buffer.alloc(FREE_HEADER_BYTES);
  header.writeUInt32BE(size - clip.length, 0);
  header.write('free', 4, 'latin1');
  return Buffer.concat([clip, header]);
}

export interface SimVideo {
  /** `size` as asked, or the least that holds the clip and the fingerprint when that is more. */
  readonly size: number;
  /** The file's bytes: the head, then chunks of at most 64 KiB. */
  chunks(): Generator<Buffer>;
}

export function simVideo(taskId: string, spec: ClipSpec, size: number): SimVideo {
  const clip = simClip(spec);
  const fingerprint = stamp(taskId);
  const total = Math.max(size, clip.length + FREE_HEADER_BYTES + fingerprint.length);
  return {
    size: total,
    *chunks() {
      yield Buffer.concat([paddedHead(clip, total), fingerprint]);
      const key = createHash('sha256').update(`kie-sim-video:${taskId}`).digest().subarray(0, 16);
      const keystream = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
      const zeros = Buffer.alloc(CHUNK_BYTES);
      for (let left = total - clip.length - FREE_HEADER_BYTES - fingerprint.length; left > 0; left -= CHUNK_BYTES) {
        yield keystream.update(left >= CHUNK_BYTES ? zeros : zeros.subarray(0, left));
      }
    },
  };
}

export function measureVideo(video: SimVideo): { size: number; sha256: string } {
  const hash = createHash('sha256');
  for (const chunk of video.chunks()) hash.update(chunk);
  return { size: video.size, sha256: hash.digest('hex') };
}
