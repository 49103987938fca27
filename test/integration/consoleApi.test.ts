/**
 * What the console stands on, over real HTTP with a worker, Redis, S3 and the simulator: the login
 * (a session cookie, never the token), the batch list and a batch's videos (links S3 answers, the
 * stored bytes' SHA-256), failures with their reasons and advice, a batch file read into requests,
 * the fleet with a paused account resumed from it, recent alerts, and the event stream.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ALERTS_KEPT, readAlerts, recordAlerts } from '../../src/shared/alerts';
import { createLogger } from '../../src/shared/logger';
import { pauseAccount } from '../../src/pool/accountControl';
import { pauseModel } from '../../src/pool/modelControl';
import { consoleSessions, SESSION_TTL_MS } from '../../src/producer/console/consoleSession';
import { startRenderStack, type RenderStack } from '../support/renderStack';
import { CONSOLE_TOKEN, startConsoleServer } from '../support/consoleServer';

jest.setTimeout(60_000);

let stack: RenderStack;
let api: { app: FastifyInstance; url: string };

beforeAll(async () => {
  stack = await startRenderStack();
  await stack.startWorker();
  api = await startConsoleServer(stack);
});

afterAll(async () => {
  await api?.app.close();
  await stack?.close();
});

const bearer = { authorization: `Bearer ${CONSOLE_TOKEN}` };

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = bearer) {
  const res = await fetch(api.url + path, {
    method,
    redirect: 'manual',
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

async function waitForBatch(id: string, ended: number) {
  for (let i = 0; i < 300; i++) {
    const b = (await call('GET', `/v1/batches/${id}`)).json();
    if (b.counts.stored + b.counts.failed >= ended) return b;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`batch ${id} did not finish`);
}

describe('login', () => {
  it('trades a token for an HttpOnly, SameSite=Strict session cookie that holds no token', async () => {
    const res = await call('POST', '/console/session', { token: CONSOLE_TOKEN }, {});
    expect(res.status).toBe(204);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^sora_session=\d{13}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(cookie).not.toContain(CONSOLE_TOKEN);
    const session = { cookie: cookie.split(';')[0]! };
    expect((await call('GET', '/v1/fleet', undefined, session)).status).toBe(200);
    expect((await call('GET', '/', undefined, session)).status).toBe(200);
    const logout = await call('POST', '/console/logout', undefined, session);
    expect(logout.headers.get('set-cookie')).toContain('Max-Age=0');
  });

  it('refuses an unknown token, a forged, expired or foreign cookie', async () => {
    expect((await call('POST', '/console/session', { token: 'not-a-token-0123456789' }, {})).status).toBe(401);
    const issued = consoleSessions([CONSOLE_TOKEN]).issue(CONSOLE_TOKEN);
    const sessions = consoleSessions([CONSOLE_TOKEN]);
    expect(sessions.valid(`sora_session=${issued}`)).toBe(true);
    expect(sessions.valid(`sora_session=${issued}`, Date.now() + SESSION_TTL_MS + 1)).toBe(false);
    const [expires, mac] = issued.split('.');
    expect(sessions.valid(`sora_session=${Number(expires) + 1000}.${mac}`)).toBe(false);
    expect(sessions.valid(`sora_session=${consoleSessions(['another-token-0123456789']).issue('another-token-0123456789')}`)).toBe(false);
    const forged = await call('GET', '/v1/fleet', undefined, { cookie: `sora_session=${expires}.${'A'.repeat(43)}` });
    expect(forged.status).toBe(401);
    // A browser without a session is sent to the login page; the login page and its files are open.
    const page = await call('GET', '/', undefined, {});
    expect([page.status, page.headers.get('location')]).toEqual([302, '/login']);
    expect((await call('GET', '/login', undefined, {})).status).toBe(200);
    expect((await call('GET', '/console/assets/login.js', undefined, {})).status).toBe(200);
    expect((await call('GET', '/console/assets/index.html', undefined, {})).status).toBe(404);
  });

  it('serves pages that load nothing from elsewhere', async () => {
    const page = await call('GET', '/');
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self'; media-src 'self' http:\/\/127\.0\.0\.1:\d+;/);
    expect(page.text).not.toMatch(/https?:\/\//);
  });
});

describe('batches and videos', () => {
  it("lists batches and plays a batch's videos from S3 through short-lived links", async () => {
    const created = await call('POST', '/v1/batches', { id: 'console-ok', requests: [{ prompt: 'a red kite' }, { prompt: 'a blue kite', duration: 15 }] });
    expect(created.status).toBe(201);
    await waitForBatch('console-ok', 2);
    const list = (await call('GET', '/v1/batches')).json();
    expect(list.batches).toContainEqual(expect.objectContaining({ batchId: 'console-ok', state: 'finished', jobs: 2, done: 2, failed: 0 }));

    const { videos, linkTtlSeconds } = (await call('GET', '/v1/batches/console-ok/videos')).json();
    expect(linkTtlSeconds).toBe(900);
    expect(videos.map((v: any) => [v.prompt, v.durationSeconds, v.state]).sort()).toEqual([
      ['a blue kite', 15, 'stored'],
      ['a red kite', 10, 'stored'],
    ]);
    for (const v of videos) {
      const res = await fetch(v.url);
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(v.size);
      expect(createHash('sha256').update(body).digest('hex')).toBe(v.sha256);
    }
    expect((await call('GET', '/v1/batches/no-such-batch/videos')).status).toBe(404);
  });

  it('shows a failure with its reason and what to do', async () => {
    stack.sim.setFaults({ failRate: 1 });
    try {
      await call('POST', '/v1/batches', { id: 'console-failed', requests: [{ prompt: 'a storm at sea' }] });
      await waitForBatch('console-failed', 1);
    } finally {
      stack.sim.setFaults({ failRate: 0 });
    }
    const [failed] = (await call('GET', '/v1/batches/console-failed/videos')).json().videos;
    expect(failed).toMatchObject({ state: 'failed', url: null, prompt: 'a storm at sea' });
    expect(failed.reason).toContain('generation failed (simulated)');
    expect(failed.advice).toMatch(/enqueue it again/);
  });

  it('reads a CSV or JSON Lines file into requests, naming the lines that are not', async () => {
    const csv = (await call('POST', '/v1/batch-files', { format: 'csv', text: 'prompt,duration,aspectRatio\na kite,10,16:9\na boat,7,16:9\n' })).json();
    expect(csv.requests).toEqual([{ prompt: 'a kite', duration: 10, aspectRatio: '16:9' }]);
    expect(csv.bad).toEqual([{ line: '3', issues: [expect.objectContaining({ field: 'duration', value: 7 })] }]);
    const jsonl = (await call('POST', '/v1/batch-files', { format: 'jsonl', text: '{"prompt":"a kite"}\nnot json\n' })).json();
    expect(jsonl.requests).toEqual([{ prompt: 'a kite' }]);
    expect(jsonl.bad[0].line).toBe('2');
    const wrong = await call('POST', '/v1/batch-files', { format: 'xlsx', text: '' });
    expect(wrong.status).toBe(400);
    expect(wrong.json().issues).toEqual([expect.objectContaining({ field: 'format', value: 'xlsx', rule: 'must be csv or jsonl' })]);
  });
});

describe('fleet', () => {
  it('shows a paused account with its reason and resumes it', async () => {
    await pauseAccount(stack.redis, stack.config, 'default', 'billing check');
    const paused = (await call('GET', '/v1/fleet')).json();
    expect(paused.accounts).toEqual([expect.objectContaining({ account: 'default', paused: 'billing check', maxConcurrent: 10, dailyLimit: 100 })]);
    expect(Object.keys(paused.counts)).toEqual(expect.arrayContaining(['waiting', 'active', 'completed', 'failed']));
    const resumed = await call('POST', '/v1/accounts/default/resume');
    expect(resumed.json()).toEqual({ resumed: 'default', woken: 0 });
    expect((await call('GET', '/v1/fleet')).json().accounts[0].paused).toBeUndefined();
    expect((await call('POST', '/v1/accounts/nobody/resume')).status).toBe(404);
    expect((await call('POST', '/v1/models/no-such-model/resume')).status).toBe(404);
  });

  it("shows a paused model, the worker's alert about it, and resumes it: the waiting job goes on", async () => {
    await pauseModel(stack.redis, stack.config, 'sora-2', 'quality regression');
    await call('POST', '/v1/batches', { id: 'console-model-paused', requests: [{ prompt: 'a lighthouse' }] });
    let fleet: any;
    for (let i = 0; i < 100; i++) {
      fleet = (await call('GET', '/v1/fleet')).json();
      if (fleet.alerts.some((a: any) => a.alert === 'model-paused') && fleet.pausedModels[0]?.waiters === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fleet.pausedModels).toEqual([{ model: 'sora-2', paused: expect.objectContaining({ reason: 'quality regression', by: 'operator' }), waiters: 1 }]);
    expect(fleet.alerts[0]).toMatchObject({ alert: 'model-paused', details: { model: 'sora-2', reason: 'quality regression' } });
    expect((await call('POST', '/v1/models/sora-2/resume')).json()).toEqual({ resumed: 'sora-2', woken: 1 });
    expect((await waitForBatch('console-model-paused', 1)).counts.stored).toBe(1);
    expect((await call('GET', '/v1/fleet')).json().pausedModels).toEqual([]);
  });

  it("keeps the workers' alert lines, newest first, capped", async () => {
    const logger = recordAlerts(createLogger('warn', 'test', new Writable({ write: (_c, _e, done) => done() })), stack.redis, stack.config.limiterPrefix);
    for (let i = 0; i < ALERTS_KEPT + 5; i++) logger.error({ alert: 'insufficient-credits', account: `acct-${i}`, apiKey: 'sk-secret' }, 'paused');
    logger.error({ account: 'plain' }, 'no alert field: not kept');
    await new Promise((r) => setTimeout(r, 200));
    const alerts = await readAlerts(stack.redis, stack.config.limiterPrefix);
    expect(alerts).toHaveLength(ALERTS_KEPT);
    expect(alerts[0]).toMatchObject({ alert: 'insufficient-credits', details: { account: `acct-${ALERTS_KEPT + 4}` } });
    expect(JSON.stringify(alerts)).not.toContain('sk-secret');
    expect((await call('GET', '/v1/fleet')).json().alerts).toHaveLength(ALERTS_KEPT);
  });
});

describe('event stream', () => {
  it('sends the fleet, the batches and a batch with its videos, then only what changes', async () => {
    const controller = new AbortController();
    const res = await fetch(`${api.url}/v1/events?batch=console-ok`, { headers: bearer, signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const events = new Map<string, any>();
    let text = '';
    const started = Date.now();
    while (events.size < 4 && Date.now() - started < 10_000) {
      text += new TextDecoder().decode((await reader.read()).value);
      for (const m of text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)) events.set(m[1]!, JSON.parse(m[2]!));
    }
    expect([...events.keys()].sort()).toEqual(['batch', 'batches', 'fleet', 'videos']);
    expect(events.get('batch')).toMatchObject({ batchId: 'console-ok', videosStored: 2 });
    expect(events.get('videos').videos).toHaveLength(2);

    // Nothing changes: the next seconds bring no event again.
    const before = text.length;
    const quiet = await Promise.race([reader.read().then(() => 'data'), new Promise((r) => setTimeout(() => r('quiet'), 2_500))]);
    expect([quiet, text.length]).toEqual(['quiet', before]);
    controller.abort();

    const bad = await call('GET', '/v1/events?batch=');
    expect(bad.status).toBe(400);
  });
});
