/**
 * The real KIE client (createKieClient) against the simulator over HTTP, in both dialects: the
 * same calls must work whichever wire format is configured, and no error may carry the API key.
 */
import { inspect } from 'node:util';
import { type ApiStyle, loadConfig } from '../../src/shared/config';
import {
  AuthenticationError,
  InsufficientCreditsError,
  InvalidParametersError,
  InvalidPromptError,
  KieAmbiguousError,
  KieConnectionError,
  type KieError,
  LinkRefusedError,
  TaskNotFoundError,
  TransientKieError,
} from '../../src/shared/errors';
import { createKieClient } from '../../src/kie/client';
import { builtinCatalog } from '../../src/kie/catalog/modelCatalog';
import type { KieClient, TaskRecord } from '../../src/kie/types';
import { parseRenderRequest, type RenderRequest, type RenderRequestInput } from '../../src/shared/renderRequest';
import { type KieSimulator, type SimFaults, startKieSimulator } from '../../src/sim/kieSimulator';

const API_KEY = 'sk-live-SECRET-4f2c9a7e1b';
const WRONG_KEY = 'sk-live-WRONG-0d1e2f3a4b';
const STARTING_CREDITS = 500;
const sims: KieSimulator[] = [];

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function setUp(style: ApiStyle, apiKey = API_KEY): Promise<{ sim: KieSimulator; kie: KieClient }> {
  const sim = await startKieSimulator({ apiKeys: [API_KEY], minIntervalMs: 0, generationMs: 150, credits: { [API_KEY]: STARTING_CREDITS } });
  sims.push(sim);
  return { sim, kie: clientFor(style, sim.url, apiKey) };
}

function clientFor(style: ApiStyle, baseUrl: string, apiKey = API_KEY): KieClient {
  const config = loadConfig({ KIE_BASE_URL: baseUrl, KIE_API_KEY: apiKey, KIE_API_STYLE: style, KIE_REQUEST_TIMEOUT_MS: '5000' });
  return createKieClient(config, config.kie.accounts[0]!);
}

const request = (input: Partial<RenderRequestInput> = {}): RenderRequest =>
  parseRenderRequest({ prompt: 'a lighthouse in a storm', aspectRatio: '9:16', duration: 15, quality: 'high', ...input });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function recordUntilDone(kie: KieClient, taskId: string): Promise<TaskRecord> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const record = await kie.getTaskRecord(taskId);
    if (record.state !== 'generating' || Date.now() > deadline) return record;
    await sleep(25);
  }
}

/** The error a call fails with, checked for its class and for the API key in every form it can be shown. */
async function failure<E extends KieError>(call: Promise<unknown>, cls: new (...args: never[]) => E): Promise<E> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  for (const shown of [(err as Error).message, (err as Error).stack, JSON.stringify(err), inspect(err, { depth: 10 })]) {
    expect(shown).not.toContain(API_KEY);
    expect(shown).not.toContain(WRONG_KEY);
  }
  return err as E;
}

const downloadStatus = async (url: string) => (await fetch(url)).status;
const calls = (sim: KieSimulator, route: string) => sim.counters.requests.byEndpoint[route] ?? 0;

describe.each<[ApiStyle, { create: string; record: string }]>([
  ['sora', { create: 'POST /api/v1/sora/generate', record: 'GET /api/v1/sora/record-info' }],
  ['jobs', { create: 'POST /api/v1/jobs/createTask', record: 'GET /api/v1/jobs/recordInfo' }],
])('KIE client, KIE_API_STYLE=%s', (style, routes) => {
  test('creates a task and reads its record until success, with a working video link', async () => {
    const { sim, kie } = await setUp(style);
    const taskId = await kie.createTask(request(), 'https://hooks.example/kie?job=1');
    expect(sim.task(taskId)).toMatchObject({ durationSeconds: 15, quality: 'high', callBackUrl: 'https://hooks.example/kie?job=1' });
    expect(calls(sim, routes.create)).toBe(1);

    const record = await recordUntilDone(kie, taskId);
    expect(record).toMatchObject({ taskId, state: 'success', durationSeconds: 15 });
    expect(Date.parse(record.createdAt!)).toBeLessThanOrEqual(Date.parse(record.completedAt!));
    expect(await downloadStatus(record.videoUrl!)).toBe(200);
  });

  test('refreshes an expired link', async () => {
    const { sim, kie } = await setUp(style);
    const taskId = await kie.createTask(request());
    const { videoUrl: stale } = await recordUntilDone(kie, taskId);
    sim.expireLinks();
    expect(await downloadStatus(stale!)).toBe(403);

    const fresh = await kie.refreshVideoUrl(taskId, stale!);
    expect(fresh).not.toBe(stale);
    expect(await downloadStatus(fresh)).toBe(200);
  });

  test('reports a failed generation with KIE’s reason', async () => {
    const { sim, kie } = await setUp(style);
    sim.setFaults({ failRate: 1 });
    const record = await recordUntilDone(kie, await kie.createTask(request()));
    expect(record.state).toBe('failed');
    expect(record.failReason).toContain('generation failed (simulated)');
  });

  test('insufficient credits is an InsufficientCreditsError, and no task is created', async () => {
    const { sim, kie } = await setUp(style);
    sim.setFaults({ insufficientCredits: [API_KEY] });
    const err = await failure(kie.createTask(request()), InsufficientCreditsError);
    expect(err.code).toBe(style === 'jobs' ? 402 : 1002);
    expect(err.retryable).toBe(false);
    expect(sim.counters.tasks).toHaveLength(0);
  });

  test('parameters KIE refuses are an InvalidParametersError (jobs 422, sora 1004)', async () => {
    const { kie } = await setUp(style);
    // Past the schema on purpose: only KIE's own validation can catch it.
    const err = await failure(kie.createTask({ ...request(), duration: 20 }), InvalidParametersError);
    expect(err.code).toBe(style === 'jobs' ? 422 : 1004);
    expect(err.message).toMatch(/20/);
  });

  test('a refused prompt fails unretryable (jobs 422, sora 1001)', async () => {
    const { kie } = await setUp(style);
    const err = await failure(kie.createTask(request({ prompt: 'something forbidden' })), style === 'jobs' ? InvalidParametersError : InvalidPromptError);
    expect(err.code).toBe(style === 'jobs' ? 422 : 1001);
    expect(err.retryable).toBe(false);
  });

  test('an unknown task is a TaskNotFoundError', async () => {
    const { kie } = await setUp(style);
    await failure(kie.getTaskRecord('no-such-task'), TaskNotFoundError);
  });

  test('a wrong key is an AuthenticationError that names neither key', async () => {
    const { kie } = await setUp(style, WRONG_KEY);
    await failure(kie.createTask(request()), AuthenticationError);
  });

  test('KIE’s own refusal in its envelope (here a 500) proves nothing was created: transient, not ambiguous', async () => {
    const { sim, kie } = await setUp(style);
    sim.setFaults({ serverErrorRate: 1 });
    const err = await failure(kie.createTask(request()), TransientKieError);
    expect(err).toMatchObject({ httpStatus: 500, code: 500, ambiguous: false, retryable: true });
    expect(sim.counters.tasks).toHaveLength(0);
  });

  test.each<[string, Partial<SimFaults>, number, RegExp]>([
    ['a gateway’s HTML 502, sent before KIE saw it', { gatewayErrorRate: 1 }, 0, /answered HTTP 502 without KIE's envelope \("<html>/],
    ['a gateway’s HTML 504, sent after the task was made', { createThenGatewayErrorRate: 1 }, 1, /answered HTTP 504 without KIE's envelope \("<html>/],
    [
      'a success without a taskId',
      { createWithoutTaskIdRate: 1 },
      1,
      /has no data object \(HTTP 200, \{"code":(0|200),"(message|msg)":"success","data":null\}\): a task may have been created$/,
    ],
    ['a body that does not parse', { createThenGarbledRate: 1 }, 1, /answered HTTP 200 without KIE's envelope \("\{\\"code\\":/],
  ])('a create answered with %s is an ambiguous submit: a task may exist', async (_label, faults, tasks, message) => {
    const { sim, kie } = await setUp(style);
    sim.setFaults(faults);
    const err = await failure(kie.createTask(request()), KieAmbiguousError);
    expect(err.ambiguous).toBe(true);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/: a task may have been created$/);
    expect(sim.counters.tasks).toHaveLength(tasks);
  });

  test('status reads and link refreshes behind a gateway’s 502 stay transient (retried), never ambiguous', async () => {
    const { sim, kie } = await setUp(style);
    const taskId = await kie.createTask(request());
    const { videoUrl } = await recordUntilDone(kie, taskId);
    sim.setFaults({ gatewayErrorRate: 1 });
    for (const call of [kie.getTaskRecord(taskId), kie.refreshVideoUrl(taskId, videoUrl!)]) {
      expect(await failure(call, TransientKieError)).toMatchObject({ httpStatus: 502, ambiguous: false, retryable: true });
    }
  });

  test('transport failures keep the key out: a reset is ambiguous, a refused connection is not', async () => {
    const { sim, kie } = await setUp(style);
    sim.setFaults({ resetRate: 1 });
    await failure(kie.createTask(request()), KieAmbiguousError);
    const url = sim.url;
    await sim.close();
    sims.splice(sims.indexOf(sim), 1);
    await failure(clientFor(style, url).createTask(request()), KieConnectionError);
  });
});

describe('KIE client, jobs-only endpoints', () => {
  test('a refreshed link comes from download-url, without reading the record', async () => {
    const { sim, kie } = await setUp('jobs');
    const taskId = await kie.createTask(request());
    const { videoUrl: stale } = await recordUntilDone(kie, taskId);
    const records = calls(sim, 'GET /api/v1/jobs/recordInfo');
    sim.expireLinks();

    expect(await downloadStatus(await kie.refreshVideoUrl(taskId, stale!))).toBe(200);
    expect(calls(sim, 'POST /api/v1/common/download-url')).toBe(1);
    expect(calls(sim, 'GET /api/v1/jobs/recordInfo')).toBe(records);
  });

  test('without a stale link the record mints the fresh link; a refused one is a LinkRefusedError after one request', async () => {
    const { sim, kie } = await setUp('jobs');
    const taskId = await kie.createTask(request());
    await recordUntilDone(kie, taskId);
    const records = calls(sim, 'GET /api/v1/jobs/recordInfo');
    sim.expireLinks();

    expect(await downloadStatus(await kie.refreshVideoUrl(taskId, ''))).toBe(200);
    expect(calls(sim, 'POST /api/v1/common/download-url')).toBe(0);
    expect(calls(sim, 'GET /api/v1/jobs/recordInfo')).toBe(records + 1);

    // A link this service never issued: download-url answers 422, and nothing else is sent: the
    // record read the caller falls back to needs a request turn of its own.
    const before = sim.counters.requests.total;
    const err = await failure(kie.refreshVideoUrl(taskId, 'https://elsewhere.example/files/x.mp4'), LinkRefusedError);
    expect(err).toMatchObject({ code: 422, retryable: false });
    expect(sim.counters.requests.total).toBe(before + 1);
    expect(calls(sim, 'POST /api/v1/common/download-url')).toBe(1);
  });

  test('a transient download-url failure is not papered over by a second request', async () => {
    const { sim, kie } = await setUp('jobs');
    const taskId = await kie.createTask(request());
    const { videoUrl: stale } = await recordUntilDone(kie, taskId);
    sim.setFaults({ serverErrorRate: 1 });
    const before = sim.counters.requests.total;
    await failure(kie.refreshVideoUrl(taskId, stale!), TransientKieError);
    expect(sim.counters.requests.total).toBe(before + 1);
  });

  test('the credit balance drops by what a task costs', async () => {
    const { kie } = await setUp('jobs');
    expect(await kie.getCredits()).toBe(STARTING_CREDITS);
    await kie.createTask(request()); // pro, 15 s: 90 credits in the simulator's price list
    expect(await kie.getCredits()).toBe(STARTING_CREDITS - 90);
  });

  test('the sora dialect has no balance and asks nothing for it', async () => {
    const { sim, kie } = await setUp('sora');
    expect(await kie.getCredits()).toBeUndefined();
    expect(sim.counters.requests.total).toBe(0);
  });

  test('a storyboard and the watermark option travel to KIE intact', async () => {
    const { sim, kie } = await setUp('jobs');
    const taskId = await kie.createTask(
      parseRenderRequest(
        {
          type: 'storyboard',
          aspectRatio: '16:9',
          removeWatermark: true,
          shots: [
            { prompt: 'harbour at dawn', seconds: 10 },
            { prompt: 'gulls', seconds: 15 },
          ],
        },
        builtinCatalog('jobs'),
      ),
    );
    expect(sim.task(taskId)).toMatchObject({
      model: 'sora-2-pro-storyboard',
      durationSeconds: 25,
      prompt: 'harbour at dawn\ngulls',
      params: { input: { remove_watermark: true, aspect_ratio: 'landscape' } },
    });
    expect(await recordUntilDone(kie, taskId)).toMatchObject({ state: 'success', durationSeconds: 25 });
  });
});
