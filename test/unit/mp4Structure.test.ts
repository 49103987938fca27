import { mp4Head } from '../../src/sim/kieSimVideo';
import { Mp4Structure } from '../../src/worker/storage/mp4Structure';

function box(type: string, payload: Buffer, declaredSize = 8 + payload.length): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(declaredSize, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, payload]);
}

const MEDIA = 200_000;
/** ftyp, moov, mdat: a file whose moov comes first (what the simulator serves). */
const moovFirst = Buffer.concat([mp4Head(148 + MEDIA), Buffer.alloc(MEDIA, 1)]);
const ftyp = moovFirst.subarray(0, 24);
const moov = moovFirst.subarray(24, 140);

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
    ['a free box and a 64-bit mdat size', Buffer.concat([ftyp, moov, box('free', Buffer.alloc(10)), Buffer.from([0, 0, 0, 1, ...Buffer.from('mdat'), 0, 0, 0, 0, 0, 0, 0x03, 0xf8]), Buffer.alloc(1000)])],
  ])('complete: %s', (_label, bytes) => {
    expect(inspect(bytes)).toBeUndefined();
    expect(inspect(bytes, 7)).toBeUndefined();
  });

  it('cut inside the mdat: names what was declared and what came', () => {
    expect(inspect(moovFirst.subarray(0, 100_000))).toBe('its mdat box declares 200008 bytes from byte 140, but the file ended after 100000');
  });

  it('cut inside a moov that comes last', () => {
    const bytes = Buffer.concat([ftyp, box('mdat', Buffer.alloc(MEDIA, 2)), moov]);
    expect(inspect(bytes.subarray(0, bytes.length - 30))).toBe('it has no complete moov box');
  });

  it('no moov at all', () => {
    expect(inspect(Buffer.concat([ftyp, box('mdat', Buffer.alloc(1000))]))).toBe('it has no complete moov box');
  });

  it('bytes after the last box', () => {
    expect(inspect(Buffer.concat([moovFirst, Buffer.from('trailing')]))).toBe(`its top-level boxes add up to ${moovFirst.length} bytes, but ${moovFirst.length + 8} arrived`);
  });

  it('an mdat of size 0 ("to the end of the file") declares no end to check: refused', () => {
    // mp4box ends such a box with the bytes it has; what comes next is not a box.
    expect(inspect(Buffer.concat([ftyp, moov, box('mdat', Buffer.alloc(50_000, 1), 0)]))).toMatch(/^invalid: Invalid data found/);
  });

  it('bytes that are not boxes are refused as they come', () => {
    expect(inspect(Buffer.concat([ftyp, Buffer.alloc(50_000, 0xab)]))).toMatch(/^invalid: Invalid data found while parsing box/);
  });

  it('a box other than mdat too large to hold is refused, so memory stays bounded', () => {
    const huge = box('moov', Buffer.alloc(0), 1_000_000_000);
    const bytes = Buffer.concat([ftyp, huge, Buffer.alloc(300_000)]);
    expect(inspect(bytes, 16 * 1024, new Mp4Structure(100_000))).toBe('invalid: a box other than mdat needs more than 100000 bytes held at once');
  });
});
