/**
 * Reads an MP4's boxes as its bytes stream past: whether what arrived is one whole file, and what
 * movie it holds. The top level is walked here, header by header: each box says where it ends, so
 * the media data (mdat) and padding (free, skip, anything unknown) are only counted, never copied
 * or held, and the walk costs next to nothing per byte. The boxes that describe the file (ftyp,
 * moov) are held until complete and handed to mp4box, which parses the moov: duration, tracks,
 * picture size, codecs. Memory stays bounded: a held box larger than `maxHeldBytes` is refused.
 */
import { createFile, ISOFile, Log, MP4BoxBuffer } from 'mp4box';
import type { VideoFacts } from '../../shared/renderJob';

// mp4box prints its warnings on the console; what matters reaches onError, and from there the refusal.
// eslint-disable-next-line @typescript-eslint/unbound-method -- mp4box takes its level as one of its own functions, never called from here
Log.setLogLevel(Log.error);

/** A moov box lists every sample; even hours of video need a few MB. Nothing else is held. */
const DEFAULT_MAX_HELD_BYTES = 32 * 1024 * 1024;
/** The boxes mp4box needs to describe the movie; every other top-level box is skipped. */
const HELD = new Set(['ftyp', 'moov']);
/** ISO BMFF box types are four printable characters; anything else is not a box header. */
const BOX_TYPE = /^[\x20-\x7e]{4}$/;

interface OpenBox {
  type: string;
  start: number;
  size: number;
  /** The bytes of a held box received so far. */
  held?: Buffer[];
}

export class Mp4Structure {
  private readonly file: ISOFile = createFile();
  /** Bytes of the file received. */
  private received = 0;
  /** Bytes of a box header being read (8, or 16 with a 64-bit size). */
  private header: Buffer = Buffer.alloc(0);
  private box: OpenBox | undefined;
  /** Where the next held box goes in the stream mp4box reads (held boxes only, back to back). */
  private parsedBytes = 0;
  private invalid: string | undefined;
  private movie: VideoFacts | undefined;

  constructor(private readonly maxHeldBytes = DEFAULT_MAX_HELD_BYTES) {
    this.file.onError = (_module, message) => (this.invalid ??= message);
  }

  /** Feeds the next bytes of the file; returns why they cannot be an MP4, or undefined so far. */
  append(chunk: Buffer): string | undefined {
    let at = 0;
    while (at < chunk.length && !this.invalid) {
      if (this.box) at += this.readBody(chunk, at, this.box);
      else at += this.readHeader(chunk, at);
    }
    return this.invalid;
  }

  /** Why the bytes received are not one complete MP4 with a video track, or undefined when they are. */
  incompleteness(): string | undefined {
    if (this.invalid) return `its boxes are not a valid MP4 (${this.invalid})`;
    if (this.box) return `its ${this.box.type} box declares ${this.box.size} bytes from byte ${this.box.start}, but the file ended after ${this.received}`;
    if (this.header.length > 0) return `it ends inside a box header at byte ${this.received - this.header.length}`;
    if (!this.file.moov) return 'it has no complete moov box';
    try {
      this.movie ??= this.readFacts();
    } catch (err) {
      return `its moov box cannot be read (${(err as Error).message})`;
    }
    return this.movie ? undefined : 'its moov box describes no video track';
  }

  /** The movie the moov describes; only once incompleteness() found nothing. */
  facts(): VideoFacts {
    if (!this.movie) throw new Error('the MP4 has not been read to a complete moov with a video track');
    return this.movie;
  }

  private readFacts(): VideoFacts | undefined {
    const info = this.file.getInfo();
    const video = info.videoTracks[0];
    if (!video) return undefined;
    // A fragmented file's mvhd may say 0; its mehd (fragment_duration) then has the length.
    const fragmented = info.fragment_duration && info.fragment_duration.den > 0 ? info.fragment_duration.num / info.fragment_duration.den : 0;
    const seconds = info.timescale > 0 && info.duration > 0 ? info.duration / info.timescale : fragmented;
    return {
      durationSeconds: Math.round(seconds * 1000) / 1000,
      // The track header's size is the one players show (a sample entry may be anamorphic).
      width: Math.round(video.track_width) || video.video!.width,
      height: Math.round(video.track_height) || video.video!.height,
      codecs: info.tracks.map((t) => t.codec),
      hasAudio: info.audioTracks.length > 0,
    };
  }

  /** Reads (part of) a box header; opens the box once it is whole. Returns the bytes consumed. */
  private readHeader(chunk: Buffer, at: number): number {
    const wanted = this.header.length < 8 ? 8 : 16;
    const taken = chunk.subarray(at, at + wanted - this.header.length);
    this.header = Buffer.concat([this.header, taken]);
    this.received += taken.length;
    if (this.header.length < wanted) return taken.length;
    const start = this.received - this.header.length;
    const type = this.header.toString('latin1', 4, 8);
    const size32 = this.header.readUInt32BE(0);
    if (!BOX_TYPE.test(type)) {
      this.invalid = `the bytes at ${start} are not a box header (type ${JSON.stringify(type)})`;
      return taken.length;
    }
    if (size32 === 1 && wanted === 8) return taken.length; // a 64-bit size follows
    if (size32 === 0) {
      this.invalid = `its ${type} box at byte ${start} runs "to the end of the file": no declared end to check`;
      return taken.length;
    }
    const size = size32 === 1 ? Number(this.header.readBigUInt64BE(8)) : size32;
    if (size < this.header.length) {
      this.invalid = `its ${type} box at byte ${start} declares ${size} bytes, less than its own header`;
      return taken.length;
    }
    if (HELD.has(type) && size > this.maxHeldBytes) {
      this.invalid = `its ${type} box declares ${size} bytes, more than the ${this.maxHeldBytes} held at once`;
      return taken.length;
    }
    this.box = { type, start, size, held: HELD.has(type) ? [this.header] : undefined };
    this.header = Buffer.alloc(0);
    if (size === this.received - start) this.closeBox(this.box);
    return taken.length;
  }

  private readBody(chunk: Buffer, at: number, box: OpenBox): number {
    const n = Math.min(chunk.length - at, box.start + box.size - this.received);
    // A copy: the chunk belongs to the stream, and a held box outlives it.
    box.held?.push(Buffer.from(chunk.subarray(at, at + n)));
    this.received += n;
    if (this.received === box.start + box.size) this.closeBox(box);
    return n;
  }

  private closeBox(box: OpenBox): void {
    this.box = undefined;
    if (!box.held) return;
    const bytes = Buffer.concat(box.held);
    const buffer = Object.assign(new Uint8Array(bytes).buffer, { fileStart: this.parsedBytes }) as MP4BoxBuffer;
    this.parsedBytes += bytes.length;
    try {
      this.file.appendBuffer(buffer);
    } catch (err) {
      this.invalid ??= `its ${box.type} box cannot be read (${(err as Error).message})`;
    }
  }
}
