import { videoMismatches } from '../../src/worker/storage/videoMismatches';

const video = (durationSeconds: number, width: number, height: number) => ({ durationSeconds, width, height, codecs: ['avc1.640028'], hasAudio: false });
const fields = (v: ReturnType<typeof video>, duration: number, aspectRatio?: string) => videoMismatches(v, { duration, aspectRatio }).map((m) => m.field);

describe('how a stored video may differ from its request', () => {
  it('a duration within half a second is the requested one (frames and AAC padding); beyond it, a mismatch', () => {
    expect(fields(video(5.04, 1280, 720), 5, '16:9')).toEqual([]);
    expect(fields(video(10.5, 1280, 720), 10, '16:9')).toEqual([]);
    expect(fields(video(9.5, 1280, 720), 10, '16:9')).toEqual([]);
    expect(fields(video(10.51, 1280, 720), 10, '16:9')).toEqual(['duration']);
    expect(fields(video(9, 1280, 720), 10, '16:9')).toEqual(['duration']);
  });

  it('an aspect ratio within 2 % is the requested one (encoders round sizes); the next catalog ratio is not', () => {
    expect(fields(video(8, 854, 480), 8, '16:9')).toEqual([]);
    expect(fields(video(8, 1920, 1088), 8, '16:9')).toEqual([]);
    expect(fields(video(8, 480, 854), 8, '9:16')).toEqual([]);
    expect(fields(video(8, 1470, 630), 8, '21:9')).toEqual([]);
    expect(fields(video(8, 960, 720), 8, '3:2')).toEqual(['aspectRatio']);
    expect(fields(video(8, 480, 720), 8, '3:4')).toEqual(['aspectRatio']);
    expect(fields(video(8, 720, 1280), 8, '16:9')).toEqual(['aspectRatio']);
  });

  it('no aspect ratio is checked where the request leaves it to the model', () => {
    expect(fields(video(8, 720, 1280), 8, 'auto')).toEqual([]);
    expect(fields(video(8, 720, 1280), 8, undefined)).toEqual([]);
  });

  it('names what differs, both ways', () => {
    expect(videoMismatches(video(4, 720, 1280), { duration: 8, aspectRatio: '16:9' })).toEqual([
      { type: 'mismatch', field: 'duration', requested: 8, found: 4, message: 'duration: the video lasts 4 s, the request asked for 8 s' },
      {
        type: 'mismatch',
        field: 'aspectRatio',
        requested: '16:9',
        found: '720x1280',
        message: 'aspectRatio: the video is 720x1280, the request asked for 16:9',
      },
    ]);
  });
});
