/**
 * Notifications to a job's notifyUrl, end to end on the render stack: signed the Standard Webhooks
 * way (verified here with the spec's own library), delivered from their own queue with retries,
 * never sent into a private network unless allowed, and never in the way of a render.
 */
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { ValidationError } from '../../src/shared/errors';
import { notificationQueueName } from '../../src/shared/renderJob';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

const SECRET = `whsec_${Buffer.from('a test secret of 32 random bytes').toString('base64')}`;
const NOTIFY_ENV = { NOTIFY_SECRET: SECRET, NOTIFY_RETRY_BASE_MS: '100', NOTIFY_ATTEMPTS: '10', NOTIFY_TIMEOUT_MS: '2000' };

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * A notifyUrl receiver on loopback: records every request and answers each path from a script (the
 * last answer repeats); 0 in a script means no answer at all.
 */
class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, number[]>();
  private server?: Server;
  port = 0;

  async listen(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        this.received.push({ path: req.url!, headers: req.headers, body, at: Date.now() });
        const script = this.scripts.get(req.url!) ?? [];
        const status = (script.length > 1 ? script.shift() : script[0]) ?? 200;
        if (status !== 0) res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  answer(path: string, ...statuses: number[]): string {
    this.scripts.set(path, statuses);
    return `http://127.0.0.1:${this.port}${path}`;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Verifies like a receiver would, with the Standard Webhooks library; throws on a bad signature. */
function verified(r: Received): Record<string, unknown> {
  return new Webhook(SECRET).verify(r.body, r.headers as Record<string, string>) as Record<string, unknown>;
}

async function counter(metricsUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

function logged(stack: RenderStack, msg: string): Array<Record<string, unknown>> {
  return stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

describe('notifications with private destinations allowed (NOTIFY_ALLOW_PRIVATE=true, as on a test machine)', () => {
  let stack: RenderStack;
  let receiver: Receiver;
  let metricsUrl: string;
  beforeAll(async () => {
    stack = await startRenderStack({ env: { ...NOTIFY_ENV, NOTIFY_ALLOW_PRIVATE: 'true' } });
    metricsUrl = (await stack.startWorker({ WORKER_HTTP: 'true', HTTP_PORT: '0' })).httpUrl!;
    receiver = await new Receiver().listen();
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it("signs a stored job's notification so the Standard Webhooks library verifies it, with the documented payload", async () => {
    const { jobId } = await stack.producer.enqueue({ prompt: 'a signed lighthouse', notifyUrl: receiver.answer('/stored') });
    expect((await stack.waitForJobs([jobId])).get(jobId)).toBe('completed');
    const [delivery] = await waitFor('the notification', () => receiver.at('/stored').length > 0 && receiver.at('/stored'));
    const result = (await stack.queue.getJob(jobId))!.returnvalue;
    expect(verified(delivery!)).toEqual({ jobId, status: 'stored', result, type: 'render.stored', timestamp: expect.any(String) });
    expect(delivery!.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Math.abs(Number(delivery!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    expect(delivery!.headers['content-type']).toBe('application/json');
    // A body changed on the way no longer verifies.
    expect(() => verified({ ...delivery!, body: delivery!.body.replace('stored', 'failed') })).toThrow();
  });

  it("tells a failed job's notifyUrl the reason, signed", async () => {
    const foreign = new Queue(stack.config.queueName, { connection: { url: stack.env.REDIS_URL } });
    const job = await foreign.add('render', { prompt: 'x', duration: 12, notifyUrl: receiver.answer('/failed') });
    await foreign.close();
    expect((await stack.waitForJobs([job.id!])).get(job.id!)).toBe('failed');
    const [delivery] = await waitFor('the notification', () => receiver.at('/failed').length > 0 && receiver.at('/failed'));
    expect(verified(delivery!)).toMatchObject({
      jobId: job.id,
      status: 'failed',
      reason: expect.stringContaining('duration: sora-2 (KIE_API_STYLE=sora) accepts 10 or 15 (got 12)'),
    });
  });

  it('retries after a 500 and a 429, with the same webhook-id, until the receiver takes it', async () => {
    const retriedBefore = await counter(metricsUrl, 'sora_notifications_retried_total');
    const deliveredBefore = await counter(metricsUrl, 'sora_notifications_delivered_total');
    const { jobId } = await stack.producer.enqueue({ prompt: 'a flaky receiver', notifyUrl: receiver.answer('/flaky', 500, 429, 204) });
    await stack.waitForJobs([jobId]);
    const attempts = await waitFor('three attempts', () => receiver.at('/flaky').length === 3 && receiver.at('/flaky'));
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
    for (const a of attempts) expect(verified(a)).toMatchObject({ jobId, status: 'stored' });
    // Backoff: 100 ms, then 200 ms, each ±20 %.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(80);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(160);
    await waitFor('the delivered counter', async () => (await counter(metricsUrl, 'sora_notifications_delivered_total')) === deliveredBefore + 1);
    expect(await counter(metricsUrl, 'sora_notifications_retried_total')).toBe(retriedBefore + 2);
    await sleep(1000);
    expect(receiver.at('/flaky')).toHaveLength(3);
  });

  it('gives a receiver that does not answer NOTIFY_TIMEOUT_MS, then tries again', async () => {
    const { jobId } = await stack.producer.enqueue({ prompt: 'a silent receiver', notifyUrl: receiver.answer('/silent', 0, 200) });
    expect((await stack.waitForJobs([jobId])).get(jobId)).toBe('completed');
    const attempts = await waitFor('the second attempt', () => receiver.at('/silent').length === 2 && receiver.at('/silent'));
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(2000);
    const [line] = logged(stack, 'notification not delivered; will retry').filter((l) => l.jobId === jobId);
    expect(line!.err).toBe('notifyUrl unreachable: no answer within 2000 ms');
    await waitFor('the delivery', () => logged(stack, 'notification delivered').some((l) => l.jobId === jobId));
  });

  it('keeps trying a receiver that is down for a while; the render was stored all along', async () => {
    const later = await new Receiver().listen();
    const port = later.port;
    await later.close();
    const { jobId } = await stack.producer.enqueue({ prompt: 'nobody home yet', notifyUrl: `http://127.0.0.1:${port}/back` });
    expect((await stack.waitForJobs([jobId])).get(jobId)).toBe('completed');
    const storedAt = Date.now();
    await waitFor('failed attempts', () => logged(stack, 'notification not delivered; will retry').filter((l) => l.jobId === jobId).length >= 3);
    await sleep(Math.max(0, storedAt + 4000 - Date.now()));
    expect(await stack.queue.getJobState(jobId)).toBe('completed');

    await later.listen(port);
    try {
      const [delivery] = await waitFor('the late notification', () => later.at('/back').length > 0 && later.at('/back'), 30_000);
      expect(verified(delivery!)).toMatchObject({ jobId, status: 'stored' });
    } finally {
      await later.close();
    }
  });

  it('gives up at once on a 4xx other than 408 and 429, and says so', async () => {
    const failedBefore = await counter(metricsUrl, 'sora_notifications_failed_total{reason="permanent"}');
    const { jobId } = await stack.producer.enqueue({ prompt: 'a receiver that says no', notifyUrl: receiver.answer('/gone', 404, 200) });
    await stack.waitForJobs([jobId]);
    const [line] = await waitFor('the give-up log', () => logged(stack, 'notification failed for good').filter((l) => l.jobId === jobId));
    expect(line).toMatchObject({ err: 'notifyUrl answered 404', destination: `http://127.0.0.1:${receiver.port}`, attempt: 1 });
    await sleep(1000);
    expect(receiver.at('/gone')).toHaveLength(1);
    expect(await counter(metricsUrl, 'sora_notifications_failed_total{reason="permanent"}')).toBe(failedBefore + 1);
    expect(await stack.queue.getJobState(jobId)).toBe('completed');
    expect(stack.logs.join('\n')).not.toContain(SECRET.slice('whsec_'.length));
  });

  it('follows no redirect: a 3xx ends delivery, and the notification goes nowhere else', async () => {
    const { jobId } = await stack.producer.enqueue({ prompt: 'a moved receiver', notifyUrl: receiver.answer('/moved', 302) });
    await stack.waitForJobs([jobId]);
    const [line] = await waitFor('the give-up log', () => logged(stack, 'notification failed for good').filter((l) => l.jobId === jobId));
    expect(line!.err).toBe('notifyUrl answered 302: redirects are not followed, point notifyUrl at the final address');
    expect(receiver.at('/moved')).toHaveLength(1);
  });

  it('delivers to a host name resolving to loopback when private destinations are allowed', async () => {
    receiver.answer('/named', 200);
    const { jobId } = await stack.producer.enqueue({ prompt: 'a named receiver', notifyUrl: `http://localhost:${receiver.port}/named` });
    await stack.waitForJobs([jobId]);
    const [delivery] = await waitFor('the notification', () => receiver.at('/named').length > 0 && receiver.at('/named'));
    expect(verified(delivery!)).toMatchObject({ jobId, status: 'stored' });
  });
});

describe('notifications with the default rule: no private destinations', () => {
  let stack: RenderStack;
  let receiver: Receiver;
  let metricsUrl: string;
  beforeAll(async () => {
    stack = await startRenderStack({ env: NOTIFY_ENV });
    metricsUrl = (await stack.startWorker({ WORKER_HTTP: 'true', HTTP_PORT: '0' })).httpUrl!;
    receiver = await new Receiver().listen();
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('refuses a literal private, loopback or metadata notifyUrl at the producer, adding nothing', async () => {
    const before = await stack.queue.count();
    for (const notifyUrl of [
      receiver.answer('/door'),
      'http://[::1]/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.5/hook',
      'http://2130706433/',
    ]) {
      const err = await stack.producer.enqueue({ prompt: 'x', notifyUrl }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues).toEqual([
        { field: 'notifyUrl', value: notifyUrl, rule: expect.stringMatching(/^must not point into a private network: /) },
      ]);
    }
    expect(await stack.queue.count()).toBe(before);
  });

  it('fails a foreign job whose notifyUrl is a literal internal address at once, without KIE, and sends nothing there', async () => {
    const requestsBefore = stack.sim.counters.requests.total;
    const foreign = new Queue(stack.config.queueName, { connection: { url: stack.env.REDIS_URL } });
    const metadata = await foreign.add('render', { prompt: 'a way in', notifyUrl: 'http://169.254.169.254/latest/meta-data/' });
    const loopback = await foreign.add('render', { prompt: 'another way in', notifyUrl: receiver.answer('/foreign') });
    await foreign.close();
    const states = await stack.waitForJobs([metadata.id!, loopback.id!]);
    expect([...states.values()]).toEqual(['failed', 'failed']);
    expect((await stack.queue.getJob(metadata.id!))!.failedReason).toContain(
      'notifyUrl: must not point into a private network: 169.254.169.254 is a cloud metadata address',
    );
    expect((await stack.queue.getJob(loopback.id!))!.failedReason).toContain(
      'notifyUrl: must not point into a private network: 127.0.0.1 is a loopback address',
    );
    expect(stack.sim.counters.requests.total).toBe(requestsBefore);
    await waitFor(
      'both refusals',
      () => logged(stack, 'notification failed for good').filter((l) => l.jobId === metadata.id || l.jobId === loopback.id).length === 2,
    );
    expect(receiver.at('/foreign')).toHaveLength(0);
  });

  it('refuses at delivery a host name that resolves to loopback; the render is stored anyway', async () => {
    const failedBefore = await counter(metricsUrl, 'sora_notifications_failed_total{reason="permanent"}');
    const { jobId } = await stack.producer.enqueue({ prompt: 'a rebinding name', notifyUrl: `http://localhost:${receiver.port}/named` });
    expect((await stack.waitForJobs([jobId])).get(jobId)).toBe('completed');
    const [line] = await waitFor('the refusal', () => logged(stack, 'notification failed for good').filter((l) => l.jobId === jobId));
    expect(line!.err).toBe('destination refused: localhost resolves to 127.0.0.1 is a loopback address (NOTIFY_ALLOW_PRIVATE=true allows it)');
    expect(await counter(metricsUrl, 'sora_notifications_failed_total{reason="permanent"}')).toBe(failedBefore + 1);
    expect(receiver.at('/named')).toHaveLength(0);
  });

  it('keeps a render completed when its notification cannot be queued, and logs it', async () => {
    // A Redis error on the notification queue only: its meta key of the wrong type makes every add fail.
    const metaKey = `bull:${notificationQueueName(stack.config.queueName)}:meta`;
    await stack.redis.set(metaKey, 'not a hash');
    try {
      const { jobId } = await stack.producer.enqueue({ prompt: 'redis hiccups', notifyUrl: `http://localhost:${receiver.port}/lost` });
      expect((await stack.waitForJobs([jobId])).get(jobId)).toBe('completed');
      const [line] = await waitFor('the log', () =>
        logged(stack, "notification could not be queued; the job's state in the queue stays the record").filter((l) => l.jobId === jobId),
      );
      expect(line!.err).toContain('WRONGTYPE');
      expect(await counter(metricsUrl, 'sora_notifications_failed_total{reason="not-queued"}')).toBe(1);
      expect(await stack.queue.getJobState(jobId)).toBe('completed');
      expect((await stack.queue.getJob(jobId))!.returnvalue.sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await stack.redis.del(metaKey);
    }
  });
});
