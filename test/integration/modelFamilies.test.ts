/**
 * Every catalog model, end to end on the real stack (Redis, s3rver, the simulator over HTTP):
 * text-to-video and image-to-video through each endpoint family (sora, jobs, veo), the wire fields
 * each model's entry maps a request to, Veo's 1080p fetch, and a model added by KIE_MODELS_FILE
 * rendering without a code change. Each job is one KIE task and one verified object.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RenderRequestInput } from '../../src/shared/renderRequest';
import { expectStoredAsServed } from '../support/expectStored';
import { KLING_MASTER } from '../support/modelFixtures';
import { RenderStack, StackOptions, startRenderStack } from '../support/renderStack';

jest.setTimeout(120_000);

const WAIT_MS = 90_000;
const FIRST = 'https://img.example/first.png';
const LAST = 'https://img.example/last.png';
const KEY = 'sk-test-model-families';

let stack: RenderStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function startStack(opts: StackOptions): Promise<RenderStack> {
  stack = await startRenderStack(opts);
  await stack.startWorker();
  return stack;
}

const requestsTo = (s: RenderStack, endpoint: string): number => s.sim.counters.requests.byEndpoint[endpoint] ?? 0;

/** Renders the requests, checks each stored as served from one task, and returns each task as the simulator saw it. */
async function render(s: RenderStack, requests: RenderRequestInput[]) {
  const jobs = await s.producer.enqueueMany(requests);
  const results = await expectStoredAsServed(
    s,
    jobs.map((j) => j.jobId),
    WAIT_MS,
  );
  for (const r of requests) expect(s.sim.counters.submitsByPrompt.get('prompt' in r ? r.prompt : '')).toBe(1);
  expect(s.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
  return results.map((result) => ({ result, task: s.sim.task(result.taskId)! }));
}

describe('every model of the catalog renders text-to-video and image-to-video (KIE_API_STYLE=jobs)', () => {
  it('jobs and veo families: each request reaches KIE as its model spells it, and is stored once', async () => {
    // Fourteen tasks cost about 1400 credits: more than the simulator's default balance.
    const s = await startStack({
      env: { KIE_API_STYLE: 'jobs', WORKER_CONCURRENCY: '30' },
      accounts: { default: KEY },
      sim: { maxConcurrent: 30, credits: { [KEY]: 10_000 } },
    });
    const cases: Array<[RenderRequestInput, { dialect: string; model: string; params: object }]> = [
      [
        { model: 'kling-2.6', prompt: 'kling: a paper crane unfolds', duration: 10 },
        { dialect: 'jobs', model: 'kling-2.6/text-to-video', params: { input: { duration: '10', aspect_ratio: '16:9', sound: false } } },
      ],
      [
        { model: 'kling-2.6', prompt: 'kling: the crane flies off', images: [FIRST], options: { sound: true } },
        { dialect: 'jobs', model: 'kling-2.6/image-to-video', params: { input: { image_urls: [FIRST], sound: true, duration: '5' } } },
      ],
      [
        { model: 'seedance-1.5-pro', prompt: 'seedance: waves at dusk', options: { cameraFixed: true } },
        {
          dialect: 'jobs',
          model: 'bytedance/seedance-1.5-pro',
          params: { input: { duration: 8, fixed_lens: true, resolution: '720p', generate_audio: false } },
        },
      ],
      [
        { model: 'seedance-1.5-pro', prompt: 'seedance: from first to last', images: [FIRST, LAST] },
        { dialect: 'jobs', model: 'bytedance/seedance-1.5-pro', params: { input: { input_urls: [FIRST, LAST] } } },
      ],
      [
        { model: 'wan-2.6', prompt: 'wan: a lantern festival', duration: 15 },
        { dialect: 'jobs', model: 'wan/2-6-text-to-video', params: { input: { duration: '15', resolution: '1080p' } } },
      ],
      [
        { model: 'wan-2.6', prompt: 'wan: the lanterns rise', images: [FIRST], options: { resolution: '720p' } },
        { dialect: 'jobs', model: 'wan/2-6-image-to-video', params: { input: { image_urls: [FIRST], resolution: '720p' } } },
      ],
      [
        { model: 'hailuo-02', prompt: 'hailuo: a fox in snow', options: { promptOptimizer: true } },
        { dialect: 'jobs', model: 'hailuo/02-text-to-video-standard', params: { input: { duration: '6', prompt_optimizer: true } } },
      ],
      [
        { model: 'hailuo-02', prompt: 'hailuo: the fox sleeps', images: [FIRST, LAST], options: { resolution: '512p' } },
        {
          dialect: 'jobs',
          model: 'hailuo/02-image-to-video-standard',
          params: { input: { image_url: FIRST, end_image_url: LAST, resolution: '512P', duration: '10' } },
        },
      ],
      [
        { model: 'grok-imagine', prompt: 'grok: a robot waltz', duration: 12, aspectRatio: '2:3', options: { mode: 'fun' } },
        { dialect: 'jobs', model: 'grok-imagine/text-to-video', params: { input: { duration: '12', aspect_ratio: '2:3', mode: 'fun', resolution: '480p' } } },
      ],
      [
        { model: 'grok-imagine', prompt: 'grok: @image1 meets @image2', images: [FIRST, LAST] },
        { dialect: 'jobs', model: 'grok-imagine/image-to-video', params: { input: { image_urls: [FIRST, LAST] } } },
      ],
      [
        { model: 'sora-2', prompt: 'sora: a kite from this photo', images: [FIRST] },
        { dialect: 'jobs', model: 'sora-2-image-to-video', params: { input: { image_urls: [FIRST], n_frames: '10', aspect_ratio: 'landscape' } } },
      ],
      [
        { model: 'veo-3.1', prompt: 'veo: a lighthouse at night', aspectRatio: '9:16', seed: 23456 },
        { dialect: 'veo', model: 'veo3', params: { generationType: 'TEXT_2_VIDEO', aspectRatio: '9:16', seeds: 23456 } },
      ],
      [
        { model: 'veo-3.1', prompt: 'veo: dawn to dusk', images: [FIRST, LAST], options: { enableTranslation: false } },
        { dialect: 'veo', model: 'veo3', params: { generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', imageUrls: [FIRST, LAST], enableTranslation: false } },
      ],
      [
        {
          model: 'veo-3.1-fast',
          prompt: 'veo fast: these two characters meet',
          images: [
            { url: FIRST, role: 'reference' },
            { url: LAST, role: 'reference' },
          ],
        },
        { dialect: 'veo', model: 'veo3_fast', params: { generationType: 'REFERENCE_2_VIDEO', imageUrls: [FIRST, LAST] } },
      ],
    ];
    const rendered = await render(
      s,
      cases.map(([request]) => request),
    );
    for (const [i, { result, task }] of rendered.entries()) {
      const [request, expected] = cases[i]!;
      expect(task).toMatchObject({ dialect: expected.dialect, model: expected.model, params: expected.params });
      expect(result.durationSeconds).toBe(request.duration ?? { veo: 8 }[expected.dialect] ?? result.durationSeconds);
    }
    // Nothing a model has not was sent: Veo got no duration, Wan no aspect ratio.
    expect(rendered[11]!.task.params).not.toHaveProperty('duration');
    expect((rendered[4]!.task.params as { input: object }).input).not.toHaveProperty('aspect_ratio');
    // Prices from the catalog: credits at $0.005 (Kling 55 a clip), Seedance by the second.
    expect(rendered[0]!.result.estimatedCostUsd).toBe(0.275);
    expect(rendered[2]!.result.estimatedCostUsd).toBe(0.14);
    expect(rendered[0]!.task.credits).toBe(55);
    expect(requestsTo(s, 'POST /api/v1/veo/generate')).toBe(3);
    expect(requestsTo(s, 'POST /api/v1/jobs/createTask')).toBe(11);
  });

  it('a Veo request for 1080p waits while KIE upscales, then stores the 1080p video', async () => {
    const s = await startStack({ env: { KIE_API_STYLE: 'jobs' }, sim: { hdDelayMs: 600 } });
    const { result } = (await render(s, [{ model: 'veo-3.1-fast', prompt: 'veo fast: a harbour in 1080p', options: { resolution: '1080p' } }]))[0]!;
    // At least one "1080P is processing" answer, then the link; the record's own link is never stored.
    expect(requestsTo(s, 'GET /api/v1/veo/get-1080p-video')).toBeGreaterThanOrEqual(2);
    expect(result.estimatedCostUsd).toBe(0.865);
    expect(s.logs.join('\n')).toContain('1080P is processing');
  });
});

describe('families side by side with the default KIE_API_STYLE=sora', () => {
  it('Sora 2 through the reference API, Veo and Kling in one queue', async () => {
    const s = await startStack({});
    const rendered = await render(s, [
      { prompt: 'sora: a paper boat', duration: 15, seed: 34567 },
      { model: 'veo-3.1', prompt: 'veo: a paper plane', images: [FIRST] },
      { model: 'kling-2.6', prompt: 'kling: a paper lantern' },
    ]);
    expect(rendered.map(({ task }) => [task.dialect, task.model])).toEqual([
      ['sora', 'sora-2'],
      ['veo', 'veo3'],
      ['jobs', 'kling-2.6/text-to-video'],
    ]);
    expect(rendered[0]!.result).toMatchObject({ durationSeconds: 15, estimatedCostUsd: 0.225 });
    expect(rendered[1]!.task.params).toMatchObject({ generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', imageUrls: [FIRST] });
  });
});

describe("callbacks in each family's shape", () => {
  it('Veo and jobs callbacks wake their jobs long before the next status check', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    const pollMs = 45_000;
    stack = await startRenderStack({
      // Generation outlasts the submit step, so every callback finds its job parked.
      sim: { generationMs: [1200, 1500] },
      env: { POLL_INTERVAL_MS: String(pollMs), WEBHOOK_BASE_URL: `http://127.0.0.1:${port}`, WEBHOOK_SECRET: `secret-${randomUUID()}` },
    });
    await stack.startWorker({ WORKER_HTTP: 'true', HTTP_PORT: String(port) });
    const started = Date.now();
    const rendered = await render(stack, [
      { model: 'veo-3.1', prompt: 'a callback from veo' },
      { model: 'kling-2.6', prompt: 'a callback from kling' },
    ]);
    expect(Date.now() - started).toBeLessThan(pollMs / 2);
    expect(stack.sim.counters.callbacks).toEqual({ delivered: 2, failed: 0 });
    expect(rendered.map(({ task }) => task.dialect)).toEqual(['veo', 'jobs']);
  });
});

describe('KIE_MODELS_FILE', () => {
  it('a jobs-family model added through the file renders end to end, with no code change', async () => {
    const entry = KLING_MASTER;
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'models-file-')), 'models.json');
    writeFileSync(file, JSON.stringify([entry]));
    // KIE knows the model; sora-batch learns it from the file only.
    const s = await startStack({ env: { KIE_MODELS_FILE: file, KIE_API_STYLE: 'jobs' }, sim: { models: [entry] } });
    const { result, task } = (
      await render(s, [
        { model: 'kling-2.1-master', prompt: 'a master shot of a glacier', aspectRatio: '1:1', options: { negativePrompt: 'blur', cfgScale: 0.7 } },
      ])
    )[0]!;
    expect(task).toMatchObject({
      model: 'kling/v2-1-master-text-to-video',
      params: { input: { prompt: 'a master shot of a glacier', duration: '5', aspect_ratio: '1:1', negative_prompt: 'blur', cfg_scale: 0.7 } },
      credits: 160,
    });
    expect(result.estimatedCostUsd).toBe(0.8);
    // And it is validated like a built-in model, at the door.
    await expect(s.producer.enqueue({ model: 'kling-2.1-master', prompt: 'x', options: { cfgScale: 2 } })).rejects.toThrow(
      'options.cfgScale: kling-2.1-master accepts a number from 0 to 1 (got 2)',
    );
  });
});
