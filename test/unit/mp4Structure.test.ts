import { simClip } from '../../src/sim/kieSimClip';
import { Mp4Structure } from '../../src/worker/storage/mp4Structure';

function box(type: string, payload: Buffer, declaredSize = 8 + payload.length): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(declaredSize, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, payload]);
}

/** ftyp, moov, mdat: a playable file whose moov comes first (what the simulator serves). */
const moovFirst = simClip({ aspectRatio: '4:3', seconds: 10, sound: true });
const at = (type: string) => moovFirst.indexOf(type) - 4;
const ftyp = moovFirst.subarray(0, at('moov'));
const moov = moovFirst.subarray(at('moov'), at('mdat'));
const mdat = moovFirst.subarray(at('mdat'));
const MEDIA = 200_000;

/** Feeds the bytes in chunks; what the structure says at the end (or as soon as it refuses them). */
function inspect(bytes: Buffer, chunk = 16 * 1024, structure = new Mp4Structure()): string | undefined {
  for (let at = 0; at < bytes.length; at += chunk) {
    const invalid = structure.append(bytes.subarray(at, at + chunk));
    if (invalid) return `invalid: ${invalid}`;
  }
  return structure.incompleteness();
}

describe('an MP4 proves itself whole by its boxes', () => {
  it.each([
    ['moov before mdat', moovFirst],
    ['moov after mdat', Buffer.concat([ftyp, box('mdat', Buffer.alloc(MEDIA, 2)), moov])],
    ["a large free box after the mdat (the simulator's padding)", Buffer.concat([moovFirst, box('free', Buffer.alloc(MEDIA, 3))])],
    [
      'a free box and a 64-bit mdat size',
      Buffer.concat([
        ftyp,
        moov,
        box('free', Buffer.alloc(10)),
        Buffer.from([0, 0, 0, 1, ...Buffer.from('mdat'), 0, 0, 0, 0, 0, 0, 0x03, 0xf8]),
        Buffer.alloc(1000),
      ]),
    ],
  ])('complete: %s', (_label, bytes) => {
    expect(inspect(bytes)).toBeUndefined();
    expect(inspect(bytes, 7)).toBeUndefined();
  });

  it('reads the movie the moov describes', () => {
    const structure = new Mp4Structure();
    expect(inspect(moovFirst, 1000, structure)).toBeUndefined();
    expect(structure.facts()).toEqual({
      durationSeconds: 10,
      width: 240,
      height: 180,
      codecs: [expect.stringMatching(/^avc1\./), 'mp4a.40.2'],
      hasAudio: true,
    });
  });

  it('cut inside the mdat: names what was declared and what came', () => {
    const bytes = Buffer.concat([ftyp, moov, box('mdat', Buffer.alloc(MEDIA, 1))]);
    const mdatAt = ftyp.length + moov.length;
    expect(inspect(bytes.subarray(0, 100_000))).toBe(`its mdat box declares ${MEDIA + 8} bytes from byte ${mdatAt}, but the file ended after 100000`);
  });

  it('cut inside a moov that comes last', () => {
    const bytes = Buffer.concat([ftyp, box('mdat', Buffer.alloc(MEDIA, 2)), moov]);
    const moovAt = ftyp.length + MEDIA + 8;
    expect(inspect(bytes.subarray(0, bytes.length - 30))).toBe(
      `its moov box declares ${moov.length} bytes from byte ${moovAt}, but the file ended after ${bytes.length - 30}`,
    );
  });

  it('cut inside a box header', () => {
    expect(inspect(Buffer.concat([moovFirst, Buffer.from([0, 0, 1])]))).toBe(`it ends inside a box header at byte ${moovFirst.length}`);
  });

  it('a moov without a video track', () => {
    const audioOnly = Buffer.concat([ftyp, box('moov', moov.subarray(8, 8 + 108)), mdat]);
    expect(inspect(audioOnly)).toBe('its moov box describes no video track');
  });

  it('no moov at all', () => {
    expect(inspect(Buffer.concat([ftyp, box('mdat', Buffer.alloc(1000))]))).toBe('it has no complete moov box');
  });

  it('bytes after the last box: read as a box that never ends', () => {
    expect(inspect(Buffer.concat([moovFirst, Buffer.from('trailing')]))).toBe(
      `its ling box declares ${Buffer.from('trai').readUInt32BE(0)} bytes from byte ${moovFirst.length}, but the file ended after ${moovFirst.length + 8}`,
    );
  });

  it('an mdat of size 0 ("to the end of the file") declares no end to check: refused', () => {
    expect(inspect(Buffer.concat([ftyp, moov, box('mdat', Buffer.alloc(50_000, 1), 0)]))).toBe(
      `invalid: its mdat box at byte ${ftyp.length + moov.length} runs "to the end of the file": no declared end to check`,
    );
  });

  it('bytes that are not boxes are refused as they come', () => {
    expect(inspect(Buffer.concat([ftyp, Buffer.alloc(50_000, 0xab)]))).toBe(
      `invalid: the bytes at ${ftyp.length} are not a box header (type "${'\xab'.repeat(4)}")`,
    );
  });

  it('a garbled moov is refused, not thrown', () => {
    const garbled = Buffer.from(moov);
    garbled.fill(0xff, 8, 16); // the movie header's own box header
    expect(inspect(Buffer.concat([ftyp, garbled, mdat]))).toMatch(/^its moov box cannot be read \(/);
  });

  it('a moov too large to hold is refused, so memory stays bounded', () => {
    const huge = box('moov', Buffer.alloc(0), 1_000_000_000);
    const bytes = Buffer.concat([ftyp, huge, Buffer.alloc(300_000)]);
    expect(inspect(bytes, 16 * 1024, new Mp4Structure(100_000))).toBe('invalid: its moov box declares 1000000000 bytes, more than the 100000 held at once');
  });

  it('a huge free or unknown box is skipped, never held', () => {
    const structure = new Mp4Structure(100_000);
    expect(inspect(Buffer.concat([moovFirst, box('free', Buffer.alloc(500_000)), box('wxyz', Buffer.alloc(500_000))]), 16 * 1024, structure)).toBeUndefined();
  });
});
