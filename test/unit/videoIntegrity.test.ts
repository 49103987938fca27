import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError } from '../../src/shared/errors';
import { simClip } from '../../src/sim/kieSimClip';
import { paddedHead } from '../../src/sim/kieSimVideo';
import { VideoVerifier, VideoVerifierOptions } from '../../src/worker/storage/videoVerifier';

/** A playable 8 s clip with sound (ftyp, moov, mdat), then a free box of 2000 bytes. */
const clip = simClip({ aspectRatio: '9:16', seconds: 8, sound: true });
const video = Buffer.concat([paddedHead(clip, clip.length + 2000), Buffer.alloc(1992, 7)]);
const mdatAt = clip.indexOf('mdat') - 4;

/** Feeds the chunks through a verifier; reports what came out, whether it ended, and any error. */
async function verify(chunks: Buffer[], options: Partial<VideoVerifierOptions> = {}) {
  const verifier = new VideoVerifier({ source: 'https://cdn.example/v.mp4', maxBytes: 1 << 20, ...options });
  const out: Buffer[] = [];
  let ended = false;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk);
      cb();
    },
    final(cb) {
      ended = true;
      cb();
    },
  });
  const error = await pipeline(Readable.from(chunks), verifier, sink).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { verifier, output: Buffer.concat(out), ended, error };
}

function splitEvery(buf: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return parts;
}

describe('video integrity check', () => {
  it('passes an MP4 through unchanged and reports its size and SHA-256', async () => {
    const { verifier, output, ended, error } = await verify([video], { expectedBytes: video.length });
    expect(error).toBeUndefined();
    expect(ended).toBe(true);
    expect(output.equals(video)).toBe(true);
    expect(verifier.result()).toEqual({
      size: video.length,
      sha256: createHash('sha256').update(video).digest('hex'),
      video: { durationSeconds: 8, width: 180, height: 320, codecs: [expect.stringMatching(/^avc1\./), 'mp4a.40.2'], hasAudio: true },
    });
  });

  it('reads a silent clip as one without audio', async () => {
    const silent = simClip({ aspectRatio: '21:9', seconds: 12, sound: false });
    const { verifier, error } = await verify(splitEvery(silent, 999), { expectedBytes: silent.length });
    expect(error).toBeUndefined();
    expect(verifier.result().video).toEqual({ durationSeconds: 12, width: 420, height: 180, codecs: [expect.stringMatching(/^avc1\./)], hasAudio: false });
  });

  it('with Content-Length too: fails a file whose mdat is shorter than it declares, before the stream ends', async () => {
    const cut = video.subarray(0, mdatAt + 100);
    const { ended, error } = await verify([cut], { expectedBytes: cut.length });
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).permanent).toBe(false);
    expect((error as Error).message).toMatch(
      new RegExp(
        `is not a complete MP4: its mdat box declares ${clip.length - mdatAt} bytes from byte ${mdatAt}, but the file ended after ${mdatAt + 100}: refused as possibly cut off`,
      ),
    );
    expect(ended).toBe(false);
  });

  it('with Content-Length too: fails a file without a moov box', async () => {
    const moovAt = clip.indexOf('moov') - 4;
    const noMoov = Buffer.concat([clip.subarray(0, moovAt), clip.subarray(mdatAt)]);
    const { error } = await verify([noMoov], { expectedBytes: noMoov.length });
    expect((error as Error).message).toMatch(/is not a complete MP4: it has no complete moov box/);
  });

  it('reads the signature across chunks of a few bytes', async () => {
    const { verifier, output, error } = await verify(splitEvery(video, 3));
    expect(error).toBeUndefined();
    expect(output.equals(video)).toBe(true);
    expect(verifier.result().size).toBe(video.length);
  });

  it('fails without ftyp at bytes 4..7, before anything passes downstream', async () => {
    const html = Buffer.from('<html><body>Service unavailable</body></html>');
    const { output, ended, error } = await verify([html]);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toMatch(/not an MP4.*"ftyp"/);
    expect((error as StorageError).permanent).toBe(false);
    expect(output.length).toBe(0);
    expect(ended).toBe(false);
  });

  it('fails a file too short to hold a signature', async () => {
    const { error, ended } = await verify([Buffer.from('ab')]);
    expect((error as Error).message).toMatch(/not an MP4/);
    expect(ended).toBe(false);
  });

  it('fails at the end, before the stream ends, when the byte count differs from Content-Length', async () => {
    const { verifier, ended, error } = await verify([video], { expectedBytes: video.length + 1 });
    expect((error as Error).message).toMatch(new RegExp(`ended after ${video.length} bytes, but Content-Length announced ${video.length + 1}`));
    expect(ended).toBe(false);
    expect(() => verifier.result()).toThrow(/not been verified/);
  });

  it('stops as soon as more than maxBytes have come, as a permanent failure', async () => {
    const { error, ended } = await verify(splitEvery(video, 100), { maxBytes: 500 });
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).permanent).toBe(true);
    expect((error as Error).message).toMatch(/larger than the limit of 500 bytes/);
    expect(ended).toBe(false);
  });

  it('without Content-Length: passes a file whose boxes add up to the bytes received', async () => {
    const { verifier, ended, error } = await verify(splitEvery(video, 100));
    expect(error).toBeUndefined();
    expect(ended).toBe(true);
    expect(verifier.result().size).toBe(video.length);
  });

  it('without Content-Length: fails a file cut off inside its padding, before the stream ends', async () => {
    const { verifier, ended, error } = await verify([video.subarray(0, video.length - 1)]);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).permanent).toBe(false);
    expect((error as Error).message).toMatch(
      new RegExp(`came without Content-Length and its free box declares 2000 bytes from byte ${clip.length}, but the file ended after ${video.length - 1}`),
    );
    expect(ended).toBe(false);
    expect(() => verifier.result()).toThrow(/not been verified/);
  });

  it('without Content-Length: fails bytes that are not MP4 boxes as soon as they come', async () => {
    const garbage = Buffer.concat([video.subarray(0, 32), Buffer.alloc(5000, 0xab)]);
    const { output, error } = await verify(splitEvery(garbage, 1000));
    expect((error as Error).message).toMatch(/came without Content-Length and its boxes are not a valid MP4/);
    expect(output.length).toBeLessThan(garbage.length);
  });

  it('names the source it was given and nothing else', async () => {
    const { error } = await verify([Buffer.alloc(20)], { source: 'https://cdn.example/a/b.mp4' });
    expect((error as Error).message).toContain('https://cdn.example/a/b.mp4');
  });
});
