/**
 * Reads an MP4's top-level box structure as its bytes stream past (mp4box, fed chunk by chunk),
 * to tell whether what arrived is one whole file: a download without Content-Length has no other
 * way to show it was cut off. mp4box discards the media data (mdat) as it goes and keeps only
 * the boxes it is still parsing, so memory stays bounded: a box other than mdat that would need
 * more than `maxHeldBytes` held at once is refused. Once the moov box is parsed, mp4box knows the
 * movie (duration, tracks, codecs): the place to report them when something needs them.
 */
import { createFile, ISOFile, MP4BoxBuffer } from 'mp4box';

/** A moov box lists every sample; even hours of video need a few MB. Nothing else is held. */
const DEFAULT_MAX_HELD_BYTES = 32 * 1024 * 1024;

export class Mp4Structure {
  private readonly file: ISOFile = createFile();
  private received = 0;
  private invalid: string | undefined;

  constructor(private readonly maxHeldBytes = DEFAULT_MAX_HELD_BYTES) {
    this.file.onError = (_module, message) => (this.invalid ??= message);
  }

  /** Feeds the next bytes of the file; returns why they cannot be an MP4, or undefined so far. */
  append(chunk: Buffer): string | undefined {
    if (this.invalid || chunk.length === 0) return this.invalid;
    // A copy mp4box may keep (it holds at most the box it is parsing), positioned in the file.
    const buffer = Object.assign(new Uint8Array(chunk).buffer, { fileStart: this.received }) as MP4BoxBuffer;
    this.received += chunk.length;
    this.file.appendBuffer(buffer);
    const held = this.file.stream.buffers.reduce((sum, b) => sum + b.byteLength, 0);
    if (held > this.maxHeldBytes) this.invalid = `a box other than mdat needs more than ${this.maxHeldBytes} bytes held at once`;
    return this.invalid;
  }

  /** Why the bytes received are not one complete MP4, or undefined when they are. */
  incompleteness(): string | undefined {
    if (this.invalid) return `its boxes are not a valid MP4 (${this.invalid})`;
    const mdat = this.file.parsingMdat;
    if (mdat) return `its mdat box declares ${mdat.size} bytes from byte ${mdat.start ?? '?'}, but the file ended after ${this.received}`;
    if (!this.file.moov) return 'it has no complete moov box';
    const boxed = this.file.boxes.reduce((sum, box) => sum + box.size, 0);
    if (boxed !== this.received) return `its top-level boxes add up to ${boxed} bytes, but ${this.received} arrived`;
    return undefined;
  }
}
