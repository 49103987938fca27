/**
 * The one pass over a video's bytes on their way to S3: MP4 signature, SHA-256, byte count, and the
 * MP4's own box structure (a complete moov with a video track, every box as long as it declares;
 * without Content-Length, the only way to tell a cut-off body from a whole one), which also tells
 * what the movie is. Every check fails the stream before it ends, so an upload reading from it can
 * never complete with bytes that did not pass.
 */
import { createHash } from 'node:crypto';
import { Transform, TransformCallback } from 'node:stream';
import { StorageError } from '../../shared/errors';
import type { VideoFacts } from '../../shared/renderJob';
import { Mp4Structure } from './mp4Structure';

export interface VideoVerifierOptions {
  /** The source as it may be shown in messages: host and path, never a signed query string. */
  source: string;
  maxBytes: number;
  /** Content-Length announced by the server; the file must prove itself whole by its boxes either way. */
  expectedBytes?: number;
}

export interface VerifiedVideo {
  size: number;
  sha256: string;
  video: VideoFacts;
}

/** An MP4 file starts with an `ftyp` box: 4 bytes of box size, then the type. */
const SIGNATURE_END = 8;
const FTYP = Buffer.from('ftyp', 'latin1');

export class VideoVerifier extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  /** Bytes held back until the signature can be read (at most the first chunks, 8 bytes needed). */
  private head: Buffer[] | undefined = [];
  private verified: VerifiedVideo | undefined;
  private readonly structure = new Mp4Structure();

  constructor(private readonly options: VideoVerifierOptions) {
    super();
  }

  /** Size, hash and movie of what passed through; only available once the stream has ended cleanly. */
  result(): VerifiedVideo {
    if (this.verified === undefined) throw new Error(`video from ${this.options.source} has not been verified to its end`);
    return this.verified;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.options.maxBytes) {
      callback(new StorageError(`video at ${this.options.source} is larger than the limit of ${this.options.maxBytes} bytes`, false, true));
      return;
    }
    this.hash.update(chunk);
    let passing = chunk;
    if (this.head) {
      this.head.push(chunk);
      if (this.bytes < SIGNATURE_END) {
        callback();
        return;
      }
      passing = Buffer.concat(this.head);
      this.head = undefined;
      const failure = this.signatureFailure(passing);
      if (failure) {
        callback(failure);
        return;
      }
    }
    const invalid = this.structure.append(passing);
    if (invalid) {
      callback(this.structureFailure(`its boxes are not a valid MP4 (${invalid})`));
      return;
    }
    callback(null, passing);
  }

  override _flush(callback: TransformCallback): void {
    if (this.head) {
      callback(this.signatureFailure(Buffer.concat(this.head)));
      return;
    }
    const { expectedBytes, source } = this.options;
    if (expectedBytes !== undefined && this.bytes !== expectedBytes) {
      callback(new StorageError(`video at ${source} ended after ${this.bytes} bytes, but Content-Length announced ${expectedBytes}`));
      return;
    }
    const incomplete = this.structure.incompleteness();
    if (incomplete) {
      callback(this.structureFailure(incomplete));
      return;
    }
    this.verified = { size: this.bytes, sha256: this.hash.digest('hex'), video: this.structure.facts() };
    callback();
  }

  /** Retryable, like any cut-off body: the next download may be whole. */
  private structureFailure(why: string): StorageError {
    const { source, expectedBytes } = this.options;
    const what = expectedBytes === undefined ? 'came without Content-Length and' : 'is not a complete MP4:';
    return new StorageError(`video at ${source} ${what} ${why}: refused as possibly cut off`);
  }

  /**
   * Retryable on purpose: a CDN error page served with 200 is as likely as a broken render, and
   * a paid video given up too early is worse than a few more attempts.
   */
  private signatureFailure(head: Buffer): StorageError | null {
    if (head.length >= SIGNATURE_END && head.subarray(4, SIGNATURE_END).equals(FTYP)) return null;
    const seen = JSON.stringify(head.subarray(0, SIGNATURE_END).toString('latin1'));
    return new StorageError(`video at ${this.options.source} is not an MP4: bytes 4..7 should be "ftyp", the file starts with ${seen}`);
  }
}
