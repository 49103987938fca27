/**
 * The simulator's video files: deterministic per taskId, produced in chunks so a 50 MB file never
 * sits in memory. Each is a structurally valid MP4 (what storage checks for): an ftyp box, a moov
 * box with a movie header, and an mdat box holding the rest of the file, an AES-CTR keystream
 * keyed by the taskId: fast, reproducible, and incompressible like real video.
 */
import { createCipheriv, createHash } from 'node:crypto';

function box(type: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payload.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, payload]);
}

/** Major brand "mp42", minor version 0, compatible brands "mp42" "isom". */
const FTYP_BOX = box('ftyp', Buffer.concat([Buffer.from('mp42', 'latin1'), Buffer.alloc(4), Buffer.from('mp42isom', 'latin1')]));

/** A version-0 movie header (ISO/IEC 14496-12 8.2.2): timescale 1000, 10 s, rate 1.0, volume 1.0, unity matrix. */
function movieHeader(): Buffer {
  const body = Buffer.alloc(100);
  body.writeUInt32BE(1000, 12);
  body.writeUInt32BE(10_000, 16);
  body.writeUInt32BE(0x00010000, 20);
  body.writeUInt16BE(0x0100, 24);
  for (const [offset, value] of [[36, 0x00010000], [52, 0x00010000], [68, 0x40000000]] as const) body.writeUInt32BE(value, offset);
  body.writeUInt32BE(1, 96);
  return box('mvhd', body);
}

const MOOV_BOX = box('moov', movieHeader());
const MDAT_HEADER_BYTES = 8;

export const MIN_VIDEO_BYTES = FTYP_BOX.length + MOOV_BOX.length + MDAT_HEADER_BYTES;

/** ftyp, moov, and the header of an mdat box that fills a file of `size` bytes. */
export function mp4Head(size: number): Buffer {
  const mdatHeader = Buffer.alloc(MDAT_HEADER_BYTES);
  mdatHeader.writeUInt32BE(size - FTYP_BOX.length - MOOV_BOX.length, 0);
  mdatHeader.write('mdat', 4, 'latin1');
  return Buffer.concat([FTYP_BOX, MOOV_BOX, mdatHeader]);
}

const CHUNK_BYTES = 64 * 1024;

/** The video of a task, `size` bytes long, as a sequence of chunks of at most 64 KiB. */
export function* videoChunks(taskId: string, size: number): Generator<Buffer> {
  if (size < MIN_VIDEO_BYTES) throw new RangeError(`video size ${size} is below the ${MIN_VIDEO_BYTES} bytes of an MP4's ftyp, moov and mdat header`);
  yield mp4Head(size);
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
