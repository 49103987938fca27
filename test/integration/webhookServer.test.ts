/**
 * The KIE callback receiver against a real Redis and a real BullMQ queue: which callbacks wake a
 * job, which are refused (and leave the job exactly as it was), and how the process starts and stops.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { callbackToken, callbackUrl } from '../../src/shared/callbackToken';
import { Config, loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import type { RenderJobData, RenderState } from '../../src/shared/renderJob';
import { removeRunKeys } from '../../src/shared/removeRunKeys';
import { callbackTaskFor } from '../../src/worker/callbackInbox';
import { accountKeys } from '../../src/pool/limiter/limiterKeys';
import { slotMember } from '../../src/pool/slotMember';
import { startWebhookServer } from '../../src/worker/webhookServer/startWebhookServer';
import { runMain } from '../support/runMain';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'test-webhook-secret-0123456789';
const HMAC_KEY = 'kie-hmac-key-for-tests';
const LATER = 60 * 60_000;
const WEBHOOKS_MAIN = { script: 'src/worker/webhookServer/main.ts', listening: 'webhook receiver listening' };

interface Answer {
  statusCode: number;
  body: unknown;
}

interface Receiver {
  url: string;
  queue: Queue<RenderJobData>;
  config: Config;
  logs: Array<Record<string, unknown>>;
  logText(): string;
  /** The path (with token) KIE would have been given for this job. */
  callbackPath(jobId: string, queueName?: string): string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
}

const cleanups: Array<() => Promise<unknown>> = [];
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await redis.quit();
});

/** A receiver on its own queue and key prefix, logging into memory. */
async function receiver(env: Record<string, string> = {}, kieHmacKey?: string): Promise<Receiver> {
  const id = randomUUID();
  const config = loadConfig(
    {
      REDIS_URL,
      QUEUE_NAME: `test-webhooks-${id}`,
      LIMITER_PREFIX: `test-webhooks-${id}`,
      WEBHOOK_BASE_URL: 'http://127.0.0.1:1',
      WEBHOOK_SECRET: SECRET,
      ...env,
    },
    { accountsRequired: false },
  );
  const lines: string[] = [];
  const logger = createLogger('debug', 'test', { write: (line: string) => void lines.push(line) });
  const server = await startWebhookServer({ config, redis, logger, kieHmacKey, port: 0, host: '127.0.0.1' });
  const queue = new Queue<RenderJobData>(config.queueName, { connection: redis });
  cleanups.push(async () => {
    await server.close();
    await queue.close();
    await removeRunKeys(redis, config.queueName, config.limiterPrefix);
  });
  return {
    url: server.url,
    queue,
    config,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    logText: () => lines.join(''),
    callbackPath: (jobId, queueName = config.queueName) => callbackUrl('', SECRET, queueName, jobId),
    post: (path, body, headers = {}) =>
      request(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
  };
}

async function request(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { statusCode: res.status, body: text ? JSON.parse(text) : undefined };
}

const render = (state: Omit<RenderState, 'submits'>): RenderJobData => ({ prompt: 'a red kite over the sea', render: { submits: 0, ...state } });

async function delayedJob(r: Receiver, state: Omit<RenderState, 'submits'>, jobId: string = randomUUID()): Promise<Job<RenderJobData>> {
  return r.queue.add('render', render(state), { jobId, delay: LATER });
}

/** Takes the job as a worker would (it must be the only one waiting), so tests can finish or re-delay it. */
async function takeJob(r: Receiver): Promise<{ job: Job<RenderJobData>; token: string; worker: Worker }> {
  const worker = new Worker<RenderJobData>(r.queue.name, undefined, { connection: redis, autorun: false });
  cleanups.push(() => worker.close());
  const token = randomUUID();
  const job = await worker.getNextJob(token, { block: false });
  expect(job).toBeDefined();
  return { job, token, worker };
}

async function snapshot(queue: Queue<RenderJobData>, jobId: string): Promise<{ state: string; data: RenderJobData }> {
  const job = await Job.fromId<RenderJobData>(queue, jobId);
  return { state: await job!.getState(), data: job!.data };
}

const sign = (taskId: string, timestamp: number, key = HMAC_KEY): Record<string, string> => ({
  'x-webhook-timestamp': String(timestamp),
  'x-webhook-signature': createHmac('sha256', key).update(`${taskId}.${timestamp}`).digest('base64'),
});
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('callbacks that wake a job', () => {
  test('a callback for the task a delayed job waits on promotes the job', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const res = await r.post(r.callbackPath(job.id!), { taskId: 't1', status: 1, videoUrl: 'http://169.254.169.254/evil.mp4' });
    expect(res.statusCode).toBe(202);
    expect(res.body).toEqual({ accepted: 'wake' });
    const after = await snapshot(r.queue, job.id!);
    expect(after.state).toBe('waiting');
    // The body's videoUrl is never taken: the job's data is exactly what its worker wrote.
    expect(after.data).toEqual(job.data);
  });

  test('a callback for a task the status poller is watching makes its check due first, without waking the job', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const checks = accountKeys(r.config.limiterPrefix, 'a').checks;
    const member = slotMember(r.queue.name, job.id!);
    await redis.zadd(checks, Date.now() + 60_000, member);
    const res = await r.post(r.callbackPath(job.id!), { taskId: 't1', status: 1 });
    expect(res).toEqual({ statusCode: 202, body: { accepted: 'wake' } });
    expect(await redis.zscore(checks, member)).toBe('0');
    expect((await snapshot(r.queue, job.id!)).state).toBe('delayed');
  });

  test('an ambiguous submit gets the announced task in its inbox and is woken to adopt it', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'submitting', account: 'a', submitStartedAt: Date.now() });
    const res = await r.post(r.callbackPath(job.id!), { taskId: 'orphan-1', status: 1 });
    expect(res.statusCode).toBe(202);
    expect(res.body).toEqual({ accepted: 'adopt' });
    expect(await callbackTaskFor(redis, r.config.limiterPrefix, r.queue.name, job.id!)).toBe('orphan-1');
    const after = await snapshot(r.queue, job.id!);
    expect(after.state).toBe('waiting');
    // The job adopts the task itself, after asking KIE; the receiver never writes the job.
    expect(after.data).toEqual(job.data);
  });

  test('a second task announced for the same ambiguous submit is a possible duplicate, not adopted', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'submitting', account: 'a' });
    expect((await r.post(r.callbackPath(job.id!), { taskId: 'first', status: 1 })).statusCode).toBe(202);
    const res = await r.post(r.callbackPath(job.id!), { taskId: 'second', status: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ ignored: 'other task' });
    expect(await callbackTaskFor(redis, r.config.limiterPrefix, r.queue.name, job.id!)).toBe('first');
  });

  test('jobs dialect: the taskId is read from data', async () => {
    const r = await receiver({ KIE_API_STYLE: 'jobs' });
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 'j1' });
    const res = await r.post(r.callbackPath(job.id!), { code: 200, msg: 'success', data: { taskId: 'j1', state: 'success' } });
    expect(res.statusCode).toBe(202);
    expect((await snapshot(r.queue, job.id!)).state).toBe('waiting');
  });

  test('job ids that need URL encoding reach the right job', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' }, 'batch 7/item-3');
    const res = await r.post(r.callbackPath(job.id!), { taskId: 't1', status: 1 });
    expect(res.statusCode).toBe(202);
    expect((await snapshot(r.queue, job.id!)).state).toBe('waiting');
  });
});

describe('callbacks that are ignored', () => {
  test('a replay of a handled callback wakes nothing', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    expect((await r.post(r.callbackPath(job.id!), { taskId: 't1', status: 1 })).statusCode).toBe(202);
    // Its worker takes the job, checks KIE and parks it again, as a status check does.
    const { job: taken, token } = await takeJob(r);
    await taken.moveToDelayed(Date.now() + LATER, token);

    const res = await r.post(r.callbackPath(job.id!), { taskId: 't1', status: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ ignored: 'replay' });
    expect((await snapshot(r.queue, job.id!)).state).toBe('delayed');
  });

  test('a callback for a finished job is ignored', async () => {
    const r = await receiver();
    const added = await r.queue.add('render', render({ step: 'storing', account: 'a', taskId: 't1' }));
    const { job, token } = await takeJob(r);
    await job.moveToCompleted({ stored: true }, token, false);
    const res = await r.post(r.callbackPath(added.id!), { taskId: 't1', status: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ ignored: 'finished' });
    expect((await snapshot(r.queue, added.id!)).state).toBe('completed');
  });

  test('a callback for another task than the job waits on is logged as a possible duplicate', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const res = await r.post(r.callbackPath(job.id!), { taskId: 't2', status: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ ignored: 'other task' });
    expect(await snapshot(r.queue, job.id!)).toEqual({ state: 'delayed', data: job.data });
    expect(r.logs).toContainEqual(
      expect.objectContaining({ level: 40, jobId: job.id, taskId: 't2', jobTaskId: 't1', msg: expect.stringContaining('possible duplicate task') }),
    );
  });
});

describe('callbacks that are refused', () => {
  test('a forged, missing or borrowed token is refused and the job is untouched', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const base = `/kie/callback/${encodeURIComponent(r.queue.name)}/${encodeURIComponent(job.id!)}`;
    const forged = `${base}?token=${callbackToken('not-the-secret-at-all', r.queue.name, job.id!)}`;
    const borrowed = `${base}?token=${callbackToken(SECRET, r.queue.name, 'another-job')}`;
    for (const url of [forged, borrowed, base, `${base}?token=`, `${r.callbackPath(job.id!)}&token=x`]) {
      const res = await r.post(url, { taskId: 't1', status: 1 });
      expect(res.statusCode).toBe(401);
    }
    expect(await snapshot(r.queue, job.id!)).toEqual({ state: 'delayed', data: job.data });
    expect(await redis.keys(`${r.config.limiterPrefix}:*`)).toEqual([]);
    expect(r.logs.filter((l) => l.msg === 'callback refused')).toHaveLength(5);
    expect(r.logs).toContainEqual(expect.objectContaining({ jobId: job.id, status: 401, reason: 'missing or invalid callback token' }));
  });

  test('an unauthenticated request is refused before its body is read', async () => {
    const r = await receiver();
    const url = `/kie/callback/${r.queue.name}/j1?token=nope`;
    expect((await r.post(url, '{not json')).statusCode).toBe(401);
    expect((await r.post(url, { taskId: 'x'.repeat(100_000) })).statusCode).toBe(401);
  });

  test('an unknown job is 404', async () => {
    const r = await receiver();
    const res = await r.post(r.callbackPath('no-such-job'), { taskId: 't1', status: 1 });
    expect(res.statusCode).toBe(404);
    expect(r.logs).toContainEqual(expect.objectContaining({ jobId: 'no-such-job', reason: 'unknown job' }));
  });

  test('a queue other than the configured one is 404, even with a token valid for it', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const res = await r.post(r.callbackPath(job.id!, 'some-other-queue'), { taskId: 't1', status: 1 });
    expect(res.statusCode).toBe(404);
    expect((await snapshot(r.queue, job.id!)).state).toBe('delayed');
  });

  test('bodies: malformed JSON 400, no taskId 400, not JSON 415, over 64 KB 413', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const url = r.callbackPath(job.id!);
    expect((await r.post(url, '{"taskId": "t1"')).statusCode).toBe(400);
    expect((await r.post(url, { status: 1 })).statusCode).toBe(400);
    expect((await r.post(url, ['t1'])).statusCode).toBe(400);
    expect((await r.post(url, { taskId: 42, status: 1 })).statusCode).toBe(400);
    expect((await r.post(url, { taskId: 't1', status: 'done' })).statusCode).toBe(400);
    expect((await r.post(url, 'null')).statusCode).toBe(400);
    expect((await r.post(url, 'taskId=t1', { 'content-type': 'text/plain' })).statusCode).toBe(415);
    expect((await r.post(url, 'taskId=t1', { 'content-type': 'application/x-www-form-urlencoded' })).statusCode).toBe(415);
    expect((await r.post(url, { taskId: 't1', padding: 'x'.repeat(64 * 1024) })).statusCode).toBe(413);
    expect(await snapshot(r.queue, job.id!)).toEqual({ state: 'delayed', data: job.data });
    const refusals = r.logs.filter((l) => l.msg === 'callback refused');
    expect(refusals.map((l) => l.status)).toEqual([400, 400, 400, 400, 400, 400, 415, 415, 413]);
    expect(refusals.every((l) => l.jobId === job.id && typeof l.reason === 'string')).toBe(true);
  });

  test('no log line carries the token or the secret', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const url = r.callbackPath(job.id!);
    await r.post(url, { taskId: 't1', status: 1 });
    await r.post(url, '{bad');
    await r.post(url, { taskId: 't9', status: 1 });
    await r.post(r.callbackPath('missing'), { taskId: 't1', status: 1 });
    expect(r.logs.length).toBeGreaterThanOrEqual(4);
    expect(r.logText()).not.toContain(callbackToken(SECRET, r.queue.name, job.id!));
    expect(r.logText()).not.toContain(SECRET);
  });
});

describe('signed callbacks (KIE_WEBHOOK_HMAC_KEY)', () => {
  test('a good signature is accepted', async () => {
    const r = await receiver({ KIE_API_STYLE: 'jobs', KIE_WEBHOOK_HMAC_KEY: HMAC_KEY });
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 's1' });
    const res = await r.post(r.callbackPath(job.id!), { code: 200, data: { taskId: 's1', state: 'success' } }, sign('s1', nowSeconds()));
    expect(res.statusCode).toBe(202);
    expect((await snapshot(r.queue, job.id!)).state).toBe('waiting');
  });

  test('a stale, future, forged, mismatched or missing signature is refused and the job untouched', async () => {
    const r = await receiver({ KIE_API_STYLE: 'jobs', KIE_WEBHOOK_HMAC_KEY: HMAC_KEY });
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 's1' });
    const body = { code: 200, data: { taskId: 's1', state: 'success' } };
    const cases: Array<[Record<string, string>, string]> = [
      [sign('s1', nowSeconds() - 301), 'forged, or'],
      [sign('s1', nowSeconds() + 400), 'forged, or'],
      [sign('s1', nowSeconds(), 'wrong-key'), 'forged, or'],
      [sign('other-task', nowSeconds()), 'forged, or'],
      [{ 'x-webhook-timestamp': String(nowSeconds()) }, 'are required'],
      [{}, 'are required'],
      [{ ...sign('s1', nowSeconds()), 'x-webhook-timestamp': 'yesterday' }, 'forged, or'],
    ];
    for (const [headers] of cases) expect((await r.post(r.callbackPath(job.id!), body, headers)).statusCode).toBe(401);
    expect(await snapshot(r.queue, job.id!)).toEqual({ state: 'delayed', data: job.data });
    const reasons = r.logs.filter((l) => l.msg === 'callback refused').map((l) => l.reason as string);
    cases.forEach(([, reason], i) => expect(reasons[i]).toContain(reason));
    expect(r.logText()).not.toContain(HMAC_KEY);
  });

  test('the key can be given directly, overriding the configuration', async () => {
    const r = await receiver({}, HMAC_KEY);
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 's1' });
    expect((await r.post(r.callbackPath(job.id!), { taskId: 's1', status: 1 })).statusCode).toBe(401);
    expect((await r.post(r.callbackPath(job.id!), { taskId: 's1', status: 1 }, sign('s1', nowSeconds()))).statusCode).toBe(202);
  });
});

describe('health', () => {
  test('healthz answers 200 while Redis answers', async () => {
    const r = await receiver();
    const res = await request(`${r.url}/healthz`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  test('healthz answers 503 when Redis does not', async () => {
    const r = await receiver();
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 100 });
    const server = await startWebhookServer({ config: r.config, redis: dead, logger: createLogger('silent'), port: 0, host: '127.0.0.1' });
    cleanups.push(async () => {
      await server.close();
      dead.disconnect();
    });
    const started = Date.now();
    const res = await request(`${server.url}/healthz`);
    expect(res.statusCode).toBe(503);
    expect(res.body).toEqual({ ok: false });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('running the receiver', () => {
  test('in-process: listens, takes a real HTTP callback, stops', async () => {
    const r = await receiver();
    const job = await delayedJob(r, { step: 'generating', account: 'a', taskId: 't1' });
    const server = await startWebhookServer({ config: r.config, redis, logger: createLogger('silent'), port: 0, host: '127.0.0.1' });
    cleanups.push(() => server.close());
    const res = await fetch(`${server.url}${r.callbackPath(job.id!)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ taskId: 't1', status: 1 }),
    });
    expect(res.status).toBe(202);
    expect((await snapshot(r.queue, job.id!)).state).toBe('waiting');
    await server.close();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  test('npm run webhooks: invalid configuration is one readable message and exit code 2', async () => {
    const { code, stderr } = await runMain(WEBHOOKS_MAIN, { REDIS_URL, HTTP_PORT: '0' });
    expect(code).toBe(2);
    expect(stderr).toContain('WEBHOOK_SECRET');
    expect(stderr.trim().startsWith('sora-batch webhooks: invalid configuration')).toBe(true);
  }, 30_000);

  test('npm run webhooks: serves healthz on loopback only (HTTP_HOST default) and stops cleanly on SIGTERM', async () => {
    const queueName = `test-webhooks-${randomUUID()}`;
    // The receiver's queue writes its meta key: gone with the test.
    cleanups.push(() => removeRunKeys(redis, queueName, queueName));
    const { code, port, host } = await runMain(
      WEBHOOKS_MAIN,
      { REDIS_URL, HTTP_PORT: '0', WEBHOOK_BASE_URL: 'http://127.0.0.1:1', WEBHOOK_SECRET: SECRET, QUEUE_NAME: queueName, LOG_LEVEL: 'info' },
      async (port, child) => {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(res.status).toBe(200);
        child.kill('SIGTERM');
      },
    );
    expect(port).toBeGreaterThan(0);
    expect(host).toBe('127.0.0.1');
    expect(code).toBe(0);
  }, 30_000);
});
