/**
 * Playable clips for the simulator's videos: H.264 (and AAC where the model makes sound) of the
 * task's aspect ratio and length, built from the fixtures in `fixtures/` (made once by
 * `fixtures/makeClips.sh`): one second of video per aspect ratio and four seconds of beeps.
 *
 * A clip loops its fixture rather than stretching it, so it plays at its natural speed: every
 * output sample points back at the bytes of a fixture sample (chunks of a track share the same
 * data, which ISO BMFF allows and players follow), so a 30 s clip costs its sample tables (4 bytes
 * a frame), not 30 s of media. mp4box parses the fixtures and writes the rebuilt moov; the edit
 * lists cut each track to the requested length exactly (the audio's also skips the AAC priming).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createFile, DataStream, type ISOFile } from 'mp4box';

type TrakBox = ISOFile['moov']['traks'][number];

export interface ClipSpec {
  /** '16:9', '9:16', '1:1', '4:3', '3:4', '21:9', '3:2' or '2:3'; anything else (Veo's 'auto', none) is 16:9. */
  aspectRatio?: string;
  seconds: number;
  /** With the beep track (AAC). */
  sound: boolean;
}

const FIXTURES = path.join(__dirname, 'fixtures');
/** The fixture of each aspect ratio: 180 pixels on the short side. */
export const CLIP_SIZES: Readonly<Record<string, { width: number; height: number }>> = {
  '16:9': { width: 320, height: 180 },
  '9:16': { width: 180, height: 320 },
  '1:1': { width: 180, height: 180 },
  '4:3': { width: 240, height: 180 },
  '3:4': { width: 180, height: 240 },
  '21:9': { width: 420, height: 180 },
  '3:2': { width: 270, height: 180 },
  '2:3': { width: 180, height: 270 },
};
const DEFAULT_RATIO = '16:9';
const AUDIO_FIXTURE = 'audio-beep.mp4';
/** Only the boxes a sample table needs; the fixtures' sample groups (AAC roll) would count the old samples. */
const SAMPLE_TABLE_BOXES = new Set(['stsd', 'stts', 'stss', 'stsc', 'stsz', 'stco']);

interface SourceSample {
  bytes: Buffer;
  duration: number;
  sync: boolean;
}

/** A fixture track: `lead` samples played once (the AAC priming), then `loop` samples repeated. */
interface SourceTrack {
  trak: TrakBox;
  samples: SourceSample[];
  lead: number;
  loop: number;
  /** The edit list's media_time: where the track starts playing, in its own timescale. */
  mediaTime: number;
}

function parseFixture(name: string): { file: ISOFile; bytes: Buffer } {
  const bytes = readFileSync(path.join(FIXTURES, name));
  const file = createFile();
  file.appendBuffer(Object.assign(new Uint8Array(bytes).buffer, { fileStart: 0 }));
  file.flush();
  if (!file.moov || file.moov.traks.length !== 1) throw new Error(`fixture ${name} must be an MP4 with one track`);
  return { file, bytes };
}

function sourceTrack(name: string): { file: ISOFile; track: SourceTrack } {
  const { file, bytes } = parseFixture(name);
  const trak = file.moov.traks[0]!;
  if (trak.mdia.minf.stbl.ctts) throw new Error(`fixture ${name} must have no B-frames (it has a ctts box)`);
  const samples = file.getTrackSamplesInfo(trak.tkhd.track_id).map((s) => ({
    bytes: bytes.subarray(s.offset, s.offset + s.size),
    duration: s.duration,
    sync: s.is_sync,
  }));
  const edit = trak.edts?.elst?.entries[0];
  const mediaTime = edit?.media_time ?? 0;
  const mediaScale = trak.mdia.mdhd.timescale;
  const content = edit ? (edit.segment_duration * mediaScale) / file.moov.mvhd.timescale : trak.mdia.mdhd.duration - mediaTime;
  let lead = 0;
  let dts = 0;
  let loop = 0;
  for (const sample of samples) {
    if (dts + sample.duration <= mediaTime) lead++;
    else if (dts < mediaTime + content) loop++;
    dts += sample.duration;
  }
  if (loop === 0 || !samples[lead]!.sync) throw new Error(`fixture ${name} must loop from a sync sample`);
  return { file, track: { trak, samples, lead, loop, mediaTime } };
}

/** The sample table of a track looped to `mediaEnd` (in its timescale): which source sample each output sample is. */
function loopedSamples(track: SourceTrack, mediaEnd: number): number[] {
  const order: number[] = [];
  let dts = 0;
  for (let i = 0; dts < mediaEnd; i++) {
    const source = i < track.lead ? i : track.lead + ((i - track.lead) % track.loop);
    order.push(source);
    dts += track.samples[source]!.duration;
  }
  return order;
}

/** Runs of consecutive output samples stored back to back in the source: one chunk each. */
function chunkRuns(track: SourceTrack, count: number): Array<{ first: number; samples: number }> {
  const runs: Array<{ first: number; samples: number }> = [];
  if (track.lead > 0) runs.push({ first: 0, samples: Math.min(track.lead, count) });
  for (let left = count - track.lead; left > 0; left -= track.loop) runs.push({ first: track.lead, samples: Math.min(track.loop, left) });
  return runs;
}

/** Rewrites the track's sample table, durations and edit list for `seconds`; `dataAt` is where its source bytes start in the file. */
function retime(track: SourceTrack, seconds: number, movieScale: number, dataAt: number): void {
  const { trak, samples } = track;
  const stbl = trak.mdia.minf.stbl;
  const order = loopedSamples(track, track.mediaTime + seconds * trak.mdia.mdhd.timescale);

  const counts: number[] = [];
  const deltas: number[] = [];
  for (const source of order) {
    const delta = samples[source]!.duration;
    if (deltas.at(-1) === delta) {
      counts[counts.length - 1]!++;
    } else {
      counts.push(1);
      deltas.push(delta);
    }
  }
  stbl.stts.sample_counts = counts;
  stbl.stts.sample_deltas = deltas;
  stbl.stsz.sample_size = 0;
  stbl.stsz.sample_sizes = order.map((source) => samples[source]!.bytes.length);
  if (stbl.stss) stbl.stss.sample_numbers = order.flatMap((source, i) => (samples[source]!.sync ? [i + 1] : []));

  const sourceOffsets: number[] = [];
  let offset = dataAt;
  for (const sample of samples.slice(0, track.lead + track.loop)) {
    sourceOffsets.push(offset);
    offset += sample.bytes.length;
  }
  const runs = chunkRuns(track, order.length);
  stbl.stco.chunk_offsets = runs.map((run) => sourceOffsets[run.first]!);
  const [firstChunk, perChunk]: [number[], number[]] = [[], []];
  runs.forEach((run, i) => {
    if (perChunk.at(-1) === run.samples) return;
    firstChunk.push(i + 1);
    perChunk.push(run.samples);
  });
  stbl.stsc.first_chunk = firstChunk;
  stbl.stsc.samples_per_chunk = perChunk;
  stbl.stsc.sample_description_index = perChunk.map(() => 1);
  stbl.boxes = stbl.boxes!.filter((box) => SAMPLE_TABLE_BOXES.has(box.type));

  trak.mdia.mdhd.duration = order.reduce((sum, source) => sum + samples[source]!.duration, 0);
  trak.tkhd.duration = Math.round(seconds * movieScale);
  const elst = trak.edts?.elst;
  if (elst) elst.entries = [{ segment_duration: trak.tkhd.duration, media_time: track.mediaTime, media_rate_integer: 1, media_rate_fraction: 0 }];
}

function written(box: { write(stream: DataStream): void }): Buffer {
  const stream = new DataStream(); // big-endian, as MP4 is
  box.write(stream);
  return Buffer.from(stream.buffer, 0, stream.getPosition());
}

function mdatHeader(payloadBytes: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payloadBytes, 0);
  header.write('mdat', 4, 'latin1');
  return header;
}

/** ftyp, moov, mdat: a complete MP4 of the spec's ratio and length (moov first, as players stream best). */
function buildClip(spec: ClipSpec): Buffer {
  const ratio = CLIP_SIZES[spec.aspectRatio ?? ''] ? spec.aspectRatio! : DEFAULT_RATIO;
  const { width, height } = CLIP_SIZES[ratio]!;
  const { file, track: video } = sourceTrack(`video-${width}x${height}.mp4`);
  const tracks = [video];
  const moov = file.moov;
  if (spec.sound) {
    const { track: audio } = sourceTrack(AUDIO_FIXTURE);
    audio.trak.tkhd.track_id = 2;
    moov.boxes!.splice(moov.boxes!.indexOf(moov.traks[0]!) + 1, 0, audio.trak);
    tracks.push(audio);
  }
  const movieScale = moov.mvhd.timescale;
  moov.mvhd.duration = Math.round(spec.seconds * movieScale);
  moov.mvhd.next_track_id = tracks.length + 1;
  moov.boxes = moov.boxes!.filter((box) => box.type !== 'udta');

  const ftyp = written(file.ftyp);
  const payload = tracks.flatMap((t) => t.samples.slice(0, t.lead + t.loop).map((s) => s.bytes));
  // The moov's size does not depend on the offsets in it: write it once to learn where the mdat's data begins.
  const place = (dataStart: number) => {
    let at = dataStart;
    for (const t of tracks) {
      retime(t, spec.seconds, movieScale, at);
      at += t.samples.slice(0, t.lead + t.loop).reduce((sum, s) => sum + s.bytes.length, 0);
    }
    return written(moov);
  };
  const dataStart = ftyp.length + place(0).length + 8;
  const moovBytes = place(dataStart);
  const payloadBytes = payload.reduce((sum, b) => sum + b.length, 0);
  return Buffer.concat([ftyp, moovBytes, mdatHeader(payloadBytes), ...payload]);
}

/** A clip unlike the one asked for (the offSpecVideoRate fault): half the seconds, the aspect ratio turned. */
export function offSpecClip(asked: ClipSpec): ClipSpec {
  const [w, h] = (CLIP_SIZES[asked.aspectRatio ?? ''] ? asked.aspectRatio! : DEFAULT_RATIO).split(':');
  return { ...asked, seconds: Math.max(1, Math.round(asked.seconds / 2)), aspectRatio: w === h ? DEFAULT_RATIO : `${h}:${w}` };
}

const built = new Map<string, Buffer>();

/** The clip of a spec, built once per distinct spec (a few KB each). */
export function simClip(spec: ClipSpec): Buffer {
  if (!(Number.isFinite(spec.seconds) && spec.seconds > 0)) throw new RangeError(`clip seconds must be a number above 0 (got ${spec.seconds})`);
  const key = `${spec.aspectRatio}|${spec.seconds}|${spec.sound}`;
  let clip = built.get(key);
  if (!clip) built.set(key, (clip = buildClip(spec)));
  return clip;
}
