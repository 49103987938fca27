/**
 * The HTTP API and dashboard (`npm run api`) over real HTTP, on a real Redis, with a worker, the KIE
 * simulator and local S3 behind it: who gets in, what gets enqueued, what a caller can read.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { requireApiTokens } from '../../src/producer/api/apiAuth';
import { buildApiServer } from '../../src/producer/api/buildApiServer';
import { jobIdForIdempotencyKey } from '../../src/producer/renderProducer';
import { RenderStack, REDIS_URL, startRenderStack } from '../support/renderStack';
import { runMain } from '../support/runMain';

jest.setTimeout(60_000);

const TOKEN = 'api-token-0123456789abcdef';
const OTHER_TOKEN = 'second-token-0123456789';
const API_MAIN = { script: 'src/producer/api/main.ts', listening: 'api listening' };

let stack: RenderStack;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  stack = await startRenderStack();
  const config = loadConfig({ ...stack.env, API_TOKENS: `${TOKEN},${OTHER_TOKEN}` });
  app = buildApiServer({ config, redis: stack.redis, logger: createLogger('silent', 'api') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await stack?.close();
});

const bearer = (token = TOKEN) => ({ authorization: `Bearer ${token}` });
const basic = (token = TOKEN) => ({ authorization: `Basic ${Buffer.from(`ops:${token}`).toString('base64')}` });

async function post(path: string, body: unknown, headers: Record<string, string> = bearer()) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function get(path: string, headers: Record<string, string> = bearer()) {
  const res = await fetch(`${base}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, any> };
}

describe('who gets in', () => {
  it.each([
    ['no token', {}],
    ['an unknown token', bearer('not-a-token-0123456789')],
    ['an unknown Basic password', basic('not-a-token-0123456789')],
    ['a malformed header', { authorization: 'Bearer' }],
  ])('%s: 401 on every route, and nothing is enqueued', async (_what, headers) => {
    const before = await stack.queue.count();
    for (const path of ['/renders/1', '/schedules', '/dashboard', '/dashboard/api/queues', '/no-such-route']) {
      const res = await get(path, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Basic');
    }
    expect((await post('/renders', { prompt: 'let me in' }, headers)).status).toBe(401);
    expect(await stack.queue.count()).toBe(before);
  });

  it('any configured token, as Bearer or as the Basic password; healthz needs none', async () => {
    expect((await get('/renders/nope', bearer(OTHER_TOKEN))).status).toBe(404);
    expect((await get('/renders/nope', basic())).status).toBe(404);
    const health = await get('/healthz', {});
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ ok: true });
  });
});

describe('POST /renders', () => {
  it('enqueues one render as the job data the worker reads, with priority and delay', async () => {
    const res = await post('/renders?priority=3&delay=60000', { prompt: '  a lighthouse at dusk ', duration: 15, metadata: { order: 7 } });
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(true);
    const job = (await stack.queue.getJob(res.body.jobId))!;
    expect(job.name).toBe('render');
    expect(job.data).toEqual({
      type: 'text',
      model: 'sora-2',
      prompt: 'a lighthouse at dusk',
      duration: 15,
      aspectRatio: '16:9',
      quality: 'standard',
      metadata: { order: 7 },
    });
    expect(job.opts.priority).toBe(3);
    expect(job.opts.delay).toBe(60_000);
    await job.remove();
  });

  it('a delay beyond 30 days is a 400 naming delay, its value and the rule; nothing is added', async () => {
    const before = await stack.queue.getJobCountByTypes('waiting', 'delayed', 'prioritized');
    const res = await post('/renders?delay=2592000001', { prompt: 'a render for next year' });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ field: 'delay', value: 2_592_000_001, rule: 'must be a whole number of milliseconds from 0 to 2592000000 (30 days)' }]);
    expect(await stack.queue.getJobCountByTypes('waiting', 'delayed', 'prioritized')).toBe(before);
    expect((await post('/renders?delay=2592000000', { prompt: 'a render in 30 days' })).status).toBe(201);
  });

  it('Idempotency-Key: the same key gives the same job, never two', async () => {
    const key = `order-${Date.now()}`;
    const first = await post('/renders', { prompt: 'once only' }, { ...bearer(), 'idempotency-key': key });
    const again = await post('/renders', { prompt: 'once only' }, { ...bearer(), 'idempotency-key': key });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body).toEqual({ jobId: first.body.jobId, created: false });
    expect(first.body.jobId).toBe(jobIdForIdempotencyKey(key));
    await (await stack.queue.getJob(first.body.jobId))!.remove();
  });

  it('a batch (JSON array) is validated whole: one bad render adds nothing and is named by index', async () => {
    const before = await stack.queue.count();
    const res = await post('/renders', [{ prompt: 'fine' }, { prompt: 'bad seed', seed: 5 }, { prompt: 'fine too' }]);
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ field: '[1].seed', value: 5, rule: expect.stringContaining('10000') }]);
    expect(await stack.queue.count()).toBe(before);

    const ok = await post('/renders?batchId=b-42', [
      { prompt: 'first of three' },
      { prompt: 'second of three', idempotencyKey: `b42-${Date.now()}` },
      { prompt: 'third of three' },
    ]);
    expect(ok.status).toBe(201);
    expect(ok.body.jobs).toHaveLength(3);
    for (const { jobId } of ok.body.jobs as Array<{ jobId: string }>) {
      const job = (await stack.queue.getJob(jobId))!;
      expect(job.data.batchId).toBe('b-42');
      await job.remove();
    }
  });

  it.each([
    ['an empty prompt', '/renders', { prompt: '   ' }, {}, 'prompt'],
    ['duration 12', '/renders', { prompt: 'x', duration: 12 }, {}, 'duration'],
    ['a key with ..', '/renders', { prompt: 'x', key: '../escape.mp4' }, {}, 'key'],
    ['priority abc', '/renders?priority=abc', { prompt: 'x' }, {}, 'priority'],
    ['priority 0', '/renders?priority=0', { prompt: 'x' }, {}, 'priority'],
    ['an empty batch', '/renders', [], {}, 'body'],
    ['an Idempotency-Key on a batch', '/renders', [{ prompt: 'x' }], { 'idempotency-key': 'k' }, 'Idempotency-Key'],
    ['a loopback notifyUrl', '/renders', { prompt: 'x', notifyUrl: 'http://127.0.0.1:6379/' }, {}, 'notifyUrl'],
  ])('%s: 400 naming the field, nothing enqueued', async (_what, path, body, headers, field) => {
    const before = await stack.queue.count();
    const res = await post(path, body, { ...bearer(), ...headers });
    expect(res.status).toBe(400);
    expect((res.body.issues as Array<{ field: string }>).map((i) => i.field)).toContain(field);
    expect(await stack.queue.count()).toBe(before);
  });

  it('a 900-character prompt is echoed cut to 60 characters, its length stated', async () => {
    // No trailing blank: prompts are judged trimmed.
    const prompt = `${'a quiet harbour at dawn, '.repeat(36).slice(0, 899)}.`;
    expect(prompt).toHaveLength(900);
    const res = await post('/renders', { prompt });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ field: 'prompt', value: `${prompt.slice(0, 59)}…`, valueLength: 900, rule: expect.stringContaining('800') }]);
    expect(res.body.error).toContain('(900 characters)');
    expect(JSON.stringify(res.body).length).toBeLessThan(600);
  });

  it('malformed JSON and other content types are refused', async () => {
    expect((await post('/renders', '{"prompt": ')).status).toBe(400);
    const res = await fetch(`${base}/renders`, { method: 'POST', headers: { ...bearer(), 'content-type': 'text/plain' }, body: 'a cat' });
    expect(res.status).toBe(415);
  });
});

describe('schedules', () => {
  async function send(method: 'PUT' | 'DELETE', path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...bearer(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as Record<string, any>) };
  }

  it('PUT creates or replaces, GET lists, DELETE removes', async () => {
    const saved = await send('PUT', '/schedules/harbour', { cron: '0 3 * * *', tz: 'Europe/Lisbon', request: { prompt: 'the harbour at night' } });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ id: 'harbour', cron: '0 3 * * *', tz: 'Europe/Lisbon', request: { prompt: 'the harbour at night' } });
    await send('PUT', '/schedules/harbour', { everyMs: 3_600_000, request: { prompt: 'the harbour every hour' } });
    const listed = await get('/schedules');
    expect(listed.json().schedules).toEqual([
      expect.objectContaining({ id: 'harbour', everyMs: 3_600_000, request: expect.objectContaining({ prompt: 'the harbour every hour' }) }),
    ]);
    expect((await send('DELETE', '/schedules/harbour')).status).toBe(204);
    expect((await send('DELETE', '/schedules/harbour')).status).toBe(404);
    expect(listed.text).not.toContain(stack.config.kie.accounts[0]!.apiKey);
  });

  it('a schedule firing more often than SCHEDULE_MIN_INTERVAL_MS is a 400', async () => {
    const res = await send('PUT', '/schedules/flood', { cron: '* * * * * *', request: { prompt: 'every second' } });
    expect(res.status).toBe(400);
    expect(res.body!.issues).toEqual([
      {
        field: 'cron',
        value: '* * * * * *',
        rule: 'fires 1 s apart (at 00:00:00 and 00:00:01); a schedule needs at least SCHEDULE_MIN_INTERVAL_MS (60000 ms) between renders',
      },
    ]);
    expect((await get('/schedules')).json().schedules).toEqual([]);
  });

  it('a bad schedule is a 400 naming every bad field, and nothing is saved', async () => {
    const res = await send('PUT', '/schedules/bad', { everyMs: 5, tz: 'Europe/Lisbon', request: { prompt: 'x', key: 'fixed.mp4' } });
    expect(res.status).toBe(400);
    expect((res.body!.issues as Array<{ field: string }>).map((i) => i.field)).toEqual(['everyMs', 'tz', 'key']);
    expect((await get('/schedules')).json().schedules).toEqual([]);
  });

  it('a schedule whose notifyUrl is a metadata address is a 400 naming notifyUrl', async () => {
    const res = await send('PUT', '/schedules/meta', { everyMs: 60_000, request: { prompt: 'x', notifyUrl: 'http://169.254.169.254/latest/meta-data/' } });
    expect(res.status).toBe(400);
    expect(res.body!.issues).toEqual([
      { field: 'notifyUrl', value: 'http://169.254.169.254/latest/meta-data/', rule: expect.stringContaining('cloud metadata address') },
    ]);
    expect((await get('/schedules')).json().schedules).toEqual([]);
  });
});

describe('a render through the API, end to end', () => {
  it('GET /renders/:id follows the job to its stored video; neither it nor the dashboard shows the KIE key', async () => {
    await stack.startWorker();
    const { body } = await post('/renders', { prompt: 'a paper boat on a river' });
    const states = await stack.waitForJobs([body.jobId]);
    expect(states.get(body.jobId)).toBe('completed');

    const status = await get(`/renders/${body.jobId}`);
    expect(status.status).toBe(200);
    const job = status.json();
    expect(job).toMatchObject({ jobId: body.jobId, state: 'completed', step: 'stored', failedReason: null, possibleDuplicate: false });
    expect(job.request.prompt).toBe('a paper boat on a river');
    const stored = await stack.readObject(job.result.key);
    expect(job.result.sha256).toBe(stored.metadata.sha256);

    const page = await get('/dashboard', basic());
    expect(page.status).toBe(200);
    expect(page.text).toContain('<html');
    const queues = await get('/dashboard/api/queues?activeQueue=' + stack.config.queueName + '&status=completed', basic());
    expect(queues.status).toBe(200);
    const board = queues.json().queues.find((q: { name: string }) => q.name === stack.config.queueName);
    expect(board.readOnlyMode).toBe(true);
    expect(board.counts.completed).toBeGreaterThanOrEqual(1);
    expect(queues.text).toContain(body.jobId);

    const apiKey = stack.config.kie.accounts[0]!.apiKey;
    expect(status.text).not.toContain(apiKey);
    expect(queues.text).not.toContain(apiKey);
  });

  it('a failed job reads as failed, state and step', async () => {
    // Added past the API's validation, as a foreign backend could: the worker fails it at once.
    const bad = await stack.queue.add('render', { prompt: 'a bad seed', seed: 5 });
    expect((await stack.waitForJobs([bad.id!])).get(bad.id!)).toBe('failed');
    expect((await get(`/renders/${bad.id}`)).json()).toMatchObject({ state: 'failed', step: 'failed', failedReason: expect.stringContaining('seed') });
  });
});

describe('npm run api', () => {
  it('refuses to start without tokens, or with a short one: one readable message, exit code 2', async () => {
    for (const tokens of [undefined, 'short']) {
      const { code, stderr } = await runMain(API_MAIN, { REDIS_URL, HTTP_PORT: '0', ...(tokens ? { API_TOKENS: tokens } : {}) });
      expect(code).toBe(2);
      expect(stderr.trim().startsWith('sora-batch api: invalid configuration')).toBe(true);
      expect(stderr).toContain('API_TOKENS');
      if (tokens) expect(stderr).not.toContain(tokens);
    }
    expect(() => requireApiTokens(loadConfig({ KIE_API_KEY: 'k', API_TOKENS: TOKEN }))).not.toThrow();
  }, 30_000);

  it('serves healthz on loopback only (HTTP_HOST default) and stops cleanly on SIGTERM', async () => {
    const { code, port, host } = await runMain(
      API_MAIN,
      { REDIS_URL, HTTP_PORT: '0', API_TOKENS: TOKEN, QUEUE_NAME: stack.config.queueName, LOG_LEVEL: 'info' },
      async (p, child) => {
        expect((await fetch(`http://127.0.0.1:${p}/healthz`)).status).toBe(200);
        expect((await fetch(`http://127.0.0.1:${p}/renders/1`)).status).toBe(401);
        child.kill('SIGTERM');
      },
    );
    expect(port).toBeGreaterThan(0);
    expect(host).toBe('127.0.0.1');
    expect(code).toBe(0);
  }, 30_000);
});
