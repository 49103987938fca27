/**
 * The simulator's videos play: every family's finished task links to an MP4 that ffprobe reads as
 * H.264 (with AAC where the model makes sound) of the requested length and aspect ratio, padded to
 * the configured size, whose SHA-256 is known in advance.
 */
import { createHash } from 'node:crypto';
import { type KieSimulator, startKieSimulator } from '../../src/sim/kieSimulator';
import { probeVideo } from '../support/probeVideo';

const KEY = 'sk-sim-playable';
const VIDEO_BYTES = 300_000;
let sim: KieSimulator;

beforeAll(async () => {
  sim = await startKieSimulator({ apiKeys: [KEY], minIntervalMs: 0, generationMs: 50, videoBytes: VIDEO_BYTES, faults: {} });
});
afterAll(() => sim.close());

async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const res = await fetch(sim.url + path, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

type Family = 'sora' | 'jobs' | 'veo';
const CREATE: Record<Family, string> = { sora: '/api/v1/sora/generate', jobs: '/api/v1/jobs/createTask', veo: '/api/v1/veo/generate' };

/** Creates the task and waits for its video link, as each family reports it. */
async function videoUrl(family: Family, body: object): Promise<{ taskId: string; url: string }> {
  const created = await api('POST', CREATE[family], body);
  const taskId: string = created.data?.taskId;
  if (!taskId) throw new Error(`no task: ${JSON.stringify(created)}`);
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 30));
    const rec = (
      await api(
        'GET',
        family === 'sora'
          ? `/api/v1/sora/record-info?taskId=${taskId}`
          : family === 'jobs'
            ? `/api/v1/jobs/recordInfo?taskId=${taskId}`
            : `/api/v1/veo/record-info?taskId=${taskId}`,
      )
    ).data;
    const url =
      family === 'sora'
        ? rec.videoUrl
        : family === 'jobs'
          ? rec.resultJson
            ? JSON.parse(rec.resultJson).resultUrls[0]
            : undefined
          : rec.response?.resultUrls[0];
    if (url) return { taskId, url };
  }
  throw new Error(`task ${taskId} did not finish`);
}

const AV = ['h264', 'aac'];
const V = ['h264'];

describe('the simulator serves videos that play as requested', () => {
  it.each<[string, Family, object, { seconds: number; width: number; height: number; codecs: string[] }]>([
    [
      'Sora 2 (reference API), 9:16, 15 s, with sound',
      'sora',
      { prompt: 'a lighthouse', aspectRatio: '9:16', duration: 15 },
      { seconds: 15, width: 180, height: 320, codecs: AV },
    ],
    [
      'Sora 2 (jobs API), landscape, 10 s, with sound',
      'jobs',
      { model: 'sora-2-text-to-video', input: { prompt: 'a lighthouse', aspect_ratio: 'landscape', n_frames: '10' } },
      { seconds: 10, width: 320, height: 180, codecs: AV },
    ],
    [
      'Veo 3.1 Fast, Auto (16:9), 8 s, with sound',
      'veo',
      { model: 'veo3_fast', prompt: 'a heron', aspectRatio: 'Auto' },
      { seconds: 8, width: 320, height: 180, codecs: AV },
    ],
    [
      'Kling 2.6, 1:1, 10 s, sound on',
      'jobs',
      { model: 'kling-2.6/text-to-video', input: { prompt: 'a crane', duration: '10', aspect_ratio: '1:1', sound: true } },
      { seconds: 10, width: 180, height: 180, codecs: AV },
    ],
    [
      'Kling 2.6, 16:9, 5 s, sound off',
      'jobs',
      { model: 'kling-2.6/text-to-video', input: { prompt: 'a crane', duration: '5', aspect_ratio: '16:9', sound: false } },
      { seconds: 5, width: 320, height: 180, codecs: V },
    ],
    [
      'Seedance 1.5 Pro, 21:9, 4 s',
      'jobs',
      { model: 'bytedance/seedance-1.5-pro', input: { prompt: 'a fox runs', duration: 4, aspect_ratio: '21:9' } },
      { seconds: 4, width: 420, height: 180, codecs: V },
    ],
    [
      'Seedance 1.5 Pro, 4:3, 8 s, with audio',
      'jobs',
      { model: 'bytedance/seedance-1.5-pro', input: { prompt: 'a fox runs', duration: 8, aspect_ratio: '4:3', generate_audio: true } },
      { seconds: 8, width: 240, height: 180, codecs: AV },
    ],
    [
      'Seedance 1.5 Pro, 3:4, 12 s',
      'jobs',
      { model: 'bytedance/seedance-1.5-pro', input: { prompt: 'a fox runs', duration: 12, aspect_ratio: '3:4' } },
      { seconds: 12, width: 180, height: 240, codecs: V },
    ],
    [
      'Grok Imagine, 2:3, 30 s',
      'jobs',
      { model: 'grok-imagine/text-to-video', input: { prompt: 'a comet', duration: '30', aspect_ratio: '2:3' } },
      { seconds: 30, width: 180, height: 270, codecs: V },
    ],
    [
      'Grok Imagine, 3:2, 7 s',
      'jobs',
      { model: 'grok-imagine/text-to-video', input: { prompt: 'a comet', duration: '7', aspect_ratio: '3:2' } },
      { seconds: 7, width: 270, height: 180, codecs: V },
    ],
    [
      'Hailuo 02 (no aspect ratio: 16:9), 6 s',
      'jobs',
      { model: 'hailuo/02-text-to-video-standard', input: { prompt: 'rain on a window', duration: '6' } },
      { seconds: 6, width: 320, height: 180, codecs: V },
    ],
  ])('%s', async (_label, family, body, want) => {
    const { taskId, url } = await videoUrl(family, body);
    const probed = await probeVideo(url);
    expect(probed).toEqual({ durationSeconds: want.seconds, width: want.width, height: want.height, codecs: want.codecs });

    const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }).toEqual(sim.expectedVideo(taskId));
    expect(bytes.length).toBe(VIDEO_BYTES);
    // The padding is a free box that starts with the task's fingerprint.
    const freeAt = bytes.indexOf(`free`) - 4;
    expect(bytes.readUInt32BE(freeAt)).toBe(VIDEO_BYTES - freeAt);
    expect(bytes.toString('latin1', freeAt + 8, freeAt + 8 + 14 + taskId.length)).toBe(`kie-sim task ${taskId}\n`);
  });

  it('offSpecVideoRate serves another length and aspect ratio than asked for, still playable', async () => {
    sim.setFaults({ offSpecVideoRate: 1 });
    try {
      const { url } = await videoUrl('jobs', {
        model: 'kling-2.6/text-to-video',
        input: { prompt: 'a crane', duration: '10', aspect_ratio: '16:9', sound: false },
      });
      expect(await probeVideo(url)).toEqual({ durationSeconds: 5, width: 180, height: 320, codecs: V });
      expect(sim.counters.faults.offSpecVideo).toBe(1);
    } finally {
      sim.setFaults({ offSpecVideoRate: 0 });
    }
  });

  it('a size too small for the clip sends the clip whole, its fingerprint in a free box', async () => {
    const tiny = await startKieSimulator({ apiKeys: [KEY], minIntervalMs: 0, generationMs: 20, videoBytes: 1000 });
    try {
      const created = await fetch(`${tiny.url}/api/v1/sora/generate`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt: 'a small one' }),
      });
      const { taskId } = ((await created.json()) as { data: { taskId: string } }).data;
      expect(tiny.expectedVideo(taskId).size).toBeGreaterThan(1000);
    } finally {
      await tiny.close();
    }
  });
});
