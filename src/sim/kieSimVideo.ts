/**
 * The simulator's video files: deterministic per taskId, produced in chunks so a 50 MB file never
 * sits in memory. The bytes are an ftyp box (what storage checks for an MP4) followed by an
 * AES-CTR keystream keyed by the taskId: fast, reproducible, and incompressible like real video.
 */
import { createCipheriv, createHash } from 'node:crypto';

/** size 0x18, "ftyp", major brand "mp42", minor version 0, compatible brands "mp42" "isom". */
const FTYP_BOX = Buffer.concat([
  Buffer.from([0, 0, 0, 0x18]),
  Buffer.from('ftypmp42', 'latin1'),
  Buffer.alloc(4),
  Buffer.from('mp42isom', 'latin1'),
]);

export const MIN_VIDEO_BYTES = FTYP_BOX.length;
const CHUNK_BYTES = 64 * 1024;

/** The video of a task, `size` bytes long, as a sequence of chunks of at most 64 KiB. */
export function* videoChunks(taskId: string, size: number): Generator<Buffer> {
  if (size < MIN_VIDEO_BYTES) throw new RangeError(`video size ${size} is below the ${MIN_VIDEO_BYTES}-byte ftyp box`);
  yield FTYP_BOX;
  const key = createHash('sha256').update(`kie-sim-video:${taskId}`).digest().subarray(0, 16);
  const keystream = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK_BYTES);
  for (let left = size - MIN_VIDEO_BYTES; left > 0; left -= CHUNK_BYTES) {
    yield keystream.update(left >= CHUNK_BYTES ? zeros : zeros.subarray(0, left));
  }
}

export function measureVideo(taskId: string, size: number): { size: number; sha256: string } {
  const hash = createHash('sha256');
  for (const chunk of videoChunks(taskId, size)) hash.update(chunk);
  return { size, sha256: hash.digest('hex') };
}
