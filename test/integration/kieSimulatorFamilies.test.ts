/**
 * The simulator's catalog-driven families, over HTTP: each model's validation generated from its
 * entry, KIE's answers for a paused or unknown model, Veo's endpoints (generate, record-info,
 * get-1080p-video) and callback, per-model generation times and prices.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type KieSimulator, type SimOptions, startKieSimulator } from '../../src/sim/kieSimulator';

const KEY = 'sk-sim-families';
const sims: KieSimulator[] = [];

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(options: Partial<SimOptions> = {}): Promise<KieSimulator> {
  const s = await startKieSimulator({ apiKeys: [KEY], minIntervalMs: 0, generationMs: 100, ...options });
  sims.push(s);
  return s;
}

async function api(s: KieSimulator, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(s.url + path, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const veo = (body: object) => ({ prompt: 'a heron takes off', model: 'veo3_fast', ...body });
const kling = (input: object) => ({
  model: 'kling-2.6/text-to-video',
  input: { prompt: 'a crane', duration: '5', aspect_ratio: '16:9', sound: false, ...input },
});

describe('validation generated from each model entry', () => {
  it.each<[string, string, object, string]>([
    ['a jobs field the model has not', '/api/v1/jobs/createTask', kling({ cfg_scale: 0.5 }), 'input.cfg_scale is not a known parameter'],
    ['a duration the model has not', '/api/v1/jobs/createTask', kling({ duration: '15' }), 'input.duration must be one of "5", "10" (got "15")'],
    [
      "an option value in our spelling, not KIE's",
      '/api/v1/jobs/createTask',
      { model: 'hailuo/02-image-to-video-standard', input: { prompt: 'x', image_url: 'https://i.example/a.png', resolution: '768p' } },
      'input.resolution must be one of "512P", "768P"',
    ],
    [
      'an image-to-video create without its image',
      '/api/v1/jobs/createTask',
      { model: 'kling-2.6/image-to-video', input: { prompt: 'x', duration: '5', sound: false } },
      'input.image_urls is required',
    ],
    [
      'a Veo field that is not one (the 1080p is fetched, not asked for)',
      '/api/v1/veo/generate',
      veo({ resolution: '1080p' }),
      'resolution is not a known parameter',
    ],
    ['a Veo ratio', '/api/v1/veo/generate', veo({ aspectRatio: '1:1' }), 'aspectRatio must be one of "16:9", "9:16", "Auto" (got "1:1")'],
    [
      'references with the quality model',
      '/api/v1/veo/generate',
      veo({ model: 'veo3', imageUrls: ['https://i.example/a.png'], generationType: 'REFERENCE_2_VIDEO' }),
      'generationType REFERENCE_2_VIDEO does not fit 1 image(s) with model veo3',
    ],
    ['a Veo seed out of range', '/api/v1/veo/generate', veo({ seeds: 12 }), 'seeds must be a whole number in 10000..99999'],
  ])('refuses %s with 422 naming it', async (_case, path, body, message) => {
    const s = await sim();
    expect(await api(s, 'POST', path, body)).toEqual({ status: 422, body: { code: 422, msg: expect.stringContaining(message), data: null } });
    expect(s.counters.tasks).toHaveLength(0);
  });

  it.each([
    ['/api/v1/jobs/createTask', { model: 'kling-9/text-to-video', input: { prompt: 'x' } }],
    ['/api/v1/veo/generate', veo({ model: 'veo4' })],
  ])('answers a model it does not serve (%s) as KIE does', async (path, body) => {
    const s = await sim();
    expect(await api(s, 'POST', path, body)).toEqual({
      status: 422,
      body: {
        code: 422,
        msg: 'The model name you specified is not supported. Please verify your input and use one of the supported models provided by KIE.',
        data: null,
      },
    });
  });

  it("serves a model a test teaches it, with that entry's validation", async () => {
    const s = await sim({
      models: [
        {
          id: 'taught',
          title: 'Taught',
          family: 'jobs',
          status: 'live',
          docs: ['https://docs.kie.ai/market/taught'],
          checked: '2026-12-02',
          modes: {
            text: {
              kieModel: 'taught/t2v',
              prompt: { field: 'text', maxChars: 10 },
              duration: { field: 'secs', seconds: [3], default: 3, as: 'number' },
              price: { per: 'clip', credits: 7, verified: false },
            },
          },
        },
      ],
    });
    expect((await api(s, 'POST', '/api/v1/jobs/createTask', { model: 'taught/t2v', input: { text: 'x'.repeat(11) } })).body.msg).toContain(
      'input.text must be 1..10 characters',
    );
    const created = await api(s, 'POST', '/api/v1/jobs/createTask', { model: 'taught/t2v', input: { text: 'hello', secs: 3 } });
    expect(s.task(created.body.data.taskId)).toMatchObject({ model: 'taught/t2v', durationSeconds: 3, credits: 7 });
  });
});

describe('a paused model', () => {
  it('answers 500 "This interface is temporarily paused" in every family, creates nothing, and recovers when unpaused', async () => {
    const s = await sim({ faults: { pausedModels: ['sora-2', 'kling-2.6/text-to-video', 'veo3_fast'] } });
    expect(await api(s, 'POST', '/api/v1/jobs/createTask', kling({}))).toEqual({
      status: 500,
      body: { code: 500, msg: 'This interface is temporarily paused', data: null },
    });
    expect(await api(s, 'POST', '/api/v1/veo/generate', veo({}))).toEqual({
      status: 500,
      body: { code: 500, msg: 'This interface is temporarily paused', data: null },
    });
    expect(await api(s, 'POST', '/api/v1/sora/generate', { prompt: 'x' })).toEqual({
      status: 500,
      body: { code: 500, message: 'This interface is temporarily paused', data: null },
    });
    // Another model of the same family is served.
    expect((await api(s, 'POST', '/api/v1/sora/generate', { prompt: 'x', quality: 'high' })).body.code).toBe(0);
    expect(s.counters.faults.modelPaused).toBe(3);
    expect(s.counters.tasks.map((t) => t.model)).toEqual(['sora-2-pro']);
    s.setFaults({ pausedModels: [] });
    expect((await api(s, 'POST', '/api/v1/jobs/createTask', kling({}))).status).toBe(200);
  });
});

describe('a Veo task', () => {
  it('reports successFlag 0 then 1 with response.resultUrls, and its 1080p once upscaled', async () => {
    const s = await sim({ hdDelayMs: 300, generationMsByModel: { veo3: 400 } });
    const created = await api(s, 'POST', '/api/v1/veo/generate', veo({ model: 'veo3', aspectRatio: '9:16', generationType: 'TEXT_2_VIDEO' }));
    expect(created).toEqual({ status: 200, body: { code: 200, msg: 'success', data: { taskId: expect.stringMatching(/^veo_task_/) } } });
    const taskId: string = created.body.data.taskId;
    expect(s.task(taskId)).toMatchObject({ dialect: 'veo', model: 'veo3', durationSeconds: 8, credits: 250, generationMs: 400 });
    const record = () => api(s, 'GET', `/api/v1/veo/record-info?taskId=${taskId}`);
    const hd = () => api(s, 'GET', `/api/v1/veo/get-1080p-video?taskId=${taskId}&index=0`);
    expect((await record()).body.data).toMatchObject({ taskId, successFlag: 0, response: null });
    expect(await hd()).toEqual({ status: 400, body: expect.objectContaining({ msg: expect.stringContaining('1080P is processing') }) });
    await sleep(450);
    const done = (await record()).body.data;
    expect(done).toMatchObject({
      successFlag: 1,
      response: { resultUrls: [expect.stringContaining(`/files/${taskId}.mp4`)] },
      completeTime: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
    });
    expect((await hd()).status).toBe(400);
    await sleep(350);
    const ready = await hd();
    expect(ready).toEqual({ status: 200, body: { code: 200, msg: 'success', data: { resultUrl: expect.stringContaining(`/files/${taskId}.mp4`) } } });
    expect((await fetch(ready.body.data.resultUrl)).status).toBe(200);
  });

  it('calls back in the Veo shape: code 200, data.info.resultUrls', async () => {
    const received: unknown[] = [];
    const hook = http.createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        received.push(JSON.parse(text));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const s = await sim();
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/cb`;
      const taskId: string = (await api(s, 'POST', '/api/v1/veo/generate', veo({ callBackUrl: url }))).body.data.taskId;
      for (const deadline = Date.now() + 3000; received.length === 0 && Date.now() < deadline;) await sleep(20);
      expect(received).toEqual([
        {
          code: 200,
          msg: 'Veo3.1 video generated successfully.',
          data: { taskId, info: { resultUrls: [expect.stringContaining(taskId)], originUrls: null, resolution: '720p' }, fallbackFlag: false },
        },
      ]);
    } finally {
      await new Promise((r) => hook.close(r));
    }
  });
});
