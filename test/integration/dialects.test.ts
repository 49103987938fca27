/**
 * The same worker against either KIE dialect (KIE_API_STYLE=sora | jobs), on the real stack: the
 * simulator serves both on one server, so each behaviour is checked in each dialect, and what only
 * one dialect can do (storyboards, 1:1, seeds, download-url, signed callbacks) is checked where it
 * applies. Each test has a stack of its own.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { ApiStyle } from '../../src/shared/config';
import { callbackUrl } from '../../src/shared/callbackToken';
import type { RenderResult } from '../../src/shared/renderJob';
import type { WorkerRuntime } from '../../src/worker/runtime';
import { expectStoredAsServed } from '../support/expectStored';
import { expireLinksBeforeFirstDownload } from '../support/expireLinks';
import { RenderStack, StackOptions, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

/** Generous: a loaded 2-core machine runs several suites at once. */
const WAIT_MS = 60_000;
const CREATE: Record<ApiStyle, string> = { sora: 'POST /api/v1/sora/generate', jobs: 'POST /api/v1/jobs/createTask' };
const DOWNLOAD_URL = 'POST /api/v1/common/download-url';
const RECORD = 'GET /api/v1/jobs/recordInfo';

let stack: RenderStack | undefined;
let worker: WorkerRuntime | undefined;

afterEach(async () => {
  jest.restoreAllMocks();
  await stack?.close();
  stack = undefined;
  worker = undefined;
});

async function startStack(style: ApiStyle, opts: StackOptions = {}, workerEnv: Record<string, string> = {}): Promise<RenderStack> {
  stack = await startRenderStack({ ...opts, env: { KIE_API_STYLE: style, ...opts.env } });
  worker = await stack.startWorker(workerEnv);
  return stack;
}

const requestsTo = (s: RenderStack, endpoint: string): number => s.sim.counters.requests.byEndpoint[endpoint] ?? 0;

/** Every job stored, byte for byte what KIE served, each paid for once. */
function expectStored(s: RenderStack, jobIds: string[]): Promise<RenderResult[]> {
  return expectStoredAsServed(s, jobIds, WAIT_MS);
}

function expectKeysNotLogged(s: RenderStack): void {
  const text = s.logs.join('\n');
  expect(s.logs.length).toBeGreaterThan(5);
  for (const entry of s.env.KIE_ACCOUNTS.split(',')) expect(text).not.toContain(entry.slice(entry.indexOf(':') + 1));
}

describe.each<ApiStyle>(['sora', 'jobs'])('KIE_API_STYLE=%s', (style) => {
  it('renders N jobs end to end into objects whose SHA-256 is what KIE served; the key is never logged', async () => {
    const s = await startStack(style);
    const requests = Array.from({ length: 6 }, (_, i) => ({
      prompt: `a lighthouse in ${style} weather, take ${i}`,
      quality: i % 2 ? 'high' : 'standard',
      batchId: style,
    }));
    const jobs = await s.producer.enqueueMany(requests);
    const results = await expectStored(
      s,
      jobs.map((j) => j.jobId),
    );
    expect(requestsTo(s, CREATE[style])).toBe(6);
    expect(requestsTo(s, CREATE[style === 'sora' ? 'jobs' : 'sora'])).toBe(0);
    for (const [i, result] of results.entries()) {
      expect(result.estimatedCostUsd).toBe(i % 2 ? 0.3 : 0.15);
      const task = s.sim.task(result.taskId)!;
      expect(task).toMatchObject({ dialect: style, prompt: requests[i]!.prompt, quality: requests[i]!.quality });
      if (style === 'jobs') expect(task.model).toBe(i % 2 ? 'sora-2-pro-text-to-video' : 'sora-2-text-to-video');
    }
    for (const r of requests) expect(s.sim.counters.submitsByPrompt.get(r.prompt)).toBe(1);
    expect(s.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
    expectKeysNotLogged(s);
  });

  it(`an account out of credits (${style === 'sora' ? '1002' : '402'}) is paused fleet-wide; the other account stores every job`, async () => {
    const keyA = `sk-a-${randomUUID()}`;
    const s = await startStack(style, { accounts: { a: keyA, b: `sk-b-${randomUUID()}` }, sim: { faults: { insufficientCredits: [keyA] } } });
    const jobs = await s.producer.enqueueMany(Array.from({ length: 4 }, (_, i) => ({ prompt: `an empty wallet, take ${i}` })));
    const results = await expectStored(
      s,
      jobs.map((j) => j.jobId),
    );
    expect(results.map((r) => r.account)).toEqual(['b', 'b', 'b', 'b']);
    expect(s.sim.counters.faults.insufficientCredits).toBeGreaterThanOrEqual(1);
    expect(s.sim.counters.perKey[keyA]!.tasksCreated).toBe(0);
    const a = (await worker!.limiter.status()).find((st) => st.account === 'a')!;
    expect(a.paused).toContain(style === 'sora' ? 'KIE 1002' : 'KIE 402');
    expect(a).toMatchObject({ inFlight: 0, submitsInWindow: 0 });
    expectKeysNotLogged(s);
  });
});

describe('what only one dialect can express is refused at the producer, naming the dialect', () => {
  const storyboard = {
    type: 'storyboard',
    shots: [
      { prompt: 'a door opens', seconds: 4 },
      { prompt: 'a cat walks in', seconds: 6 },
    ],
  };

  it('a storyboard renders with the storyboard model in jobs', async () => {
    const s = await startStack('jobs');
    const job = await s.producer.enqueue(storyboard);
    const [result] = await expectStored(s, [job.jobId]);
    expect(result!.estimatedCostUsd).toBe(0.6);
    expect(s.sim.task(result!.taskId)).toMatchObject({ model: 'sora-2-pro-storyboard', durationSeconds: 10, prompt: 'a door opens\na cat walks in' });
  });

  it('a storyboard is refused in sora, and nothing is added', async () => {
    const s = await startStack('sora');
    await expect(s.producer.enqueue(storyboard)).rejects.toThrow('storyboard needs KIE_API_STYLE=jobs');
    expect(await s.queue.count()).toBe(0);
  });

  it('1:1 and a seed are refused in jobs, and nothing is added', async () => {
    const s = await startStack('jobs');
    await expect(s.producer.enqueue({ prompt: 'a square', aspectRatio: '1:1' })).rejects.toThrow(
      'aspectRatio: sora-2 (KIE_API_STYLE=jobs) text-to-video accepts 16:9 or 9:16',
    );
    await expect(s.producer.enqueue({ prompt: 'a seed', seed: 12345 })).rejects.toThrow('seed: sora-2 (KIE_API_STYLE=jobs) text-to-video has no seed option');
    expect(await s.queue.count()).toBe(0);
    expect(s.sim.counters.requests.byEndpoint[CREATE.jobs]).toBeUndefined();
  });
});

describe('jobs: an expired link', () => {
  it('is minted afresh through download-url and the job succeeds', async () => {
    // One store step at a time, so one job's expiry never hits another job's fresh link.
    const s = await startStack('jobs', { env: { WORKER_CONCURRENCY: '1' } });
    const calls = expireLinksBeforeFirstDownload(s);
    const jobs = await s.producer.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ prompt: `a link gone stale, take ${i}` })));
    await expectStored(
      s,
      jobs.map((j) => j.jobId),
    );
    expect(s.sim.counters.downloads.forbidden).toBe(3);
    expect([...calls.values()]).toEqual([2, 2, 2]);
    expect(requestsTo(s, DOWNLOAD_URL)).toBe(3);
    expect(s.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
  });

  it('that download-url refuses is read from the record instead, each request on a request turn of its own', async () => {
    const s = await startStack('jobs', { env: { WORKER_CONCURRENCY: '1' }, sim: { faults: { linkRefreshRefusedRate: 1 } } });
    const limiter = worker!.limiter;
    const tryTurn = limiter.tryRequestTurn.bind(limiter);
    const grantedTurns: string[] = [];
    jest.spyOn(limiter, 'tryRequestTurn').mockImplementation(async (account, kind, nowMs) => {
      const turn = await tryTurn(account, kind, nowMs);
      if (turn.granted) grantedTurns.push(kind);
      return turn;
    });
    const calls = expireLinksBeforeFirstDownload(s);
    const jobs = await s.producer.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ prompt: `a link KIE will not refresh, take ${i}` })));
    await expectStored(
      s,
      jobs.map((j) => j.jobId),
    );
    expect([...calls.values()]).toEqual([2, 2, 2]);
    // Each job: download-url refused, then the record read on the next turn; no request shared one.
    expect(s.sim.counters.faults.linkRefreshRefused).toBe(3);
    expect(requestsTo(s, DOWNLOAD_URL)).toBe(3);
    expect(grantedTurns.filter((k) => k === 'refresh')).toHaveLength(6);
    expect(grantedTurns.filter((k) => k === 'retry')).toHaveLength(0);
    expect(s.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
  });
});

describe('jobs: signed callbacks (KIE_WEBHOOK_HMAC_KEY) through the worker receiver', () => {
  const HMAC_KEY = `kie-hmac-${randomUUID()}`;
  const SECRET = `webhook-secret-${randomUUID()}`;
  /** Far longer than the test waits: only a callback can bring a job back in time. */
  const POLL_MS = '45000';

  async function freePort(): Promise<number> {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    return port;
  }

  async function signedStack(): Promise<RenderStack> {
    const port = await freePort();
    return startStack(
      'jobs',
      {
        // Generation outlasts the submit step, so every callback finds its job parked.
        sim: { callbackHmacKey: HMAC_KEY, generationMs: [1200, 1500] },
        env: { POLL_INTERVAL_MS: POLL_MS, WEBHOOK_BASE_URL: `http://127.0.0.1:${port}`, WEBHOOK_SECRET: SECRET },
      },
      { KIE_WEBHOOK_HMAC_KEY: HMAC_KEY, WORKER_HTTP: 'true', HTTP_PORT: String(port) },
    );
  }

  const sign = (taskId: string, seconds: number, key = HMAC_KEY): Record<string, string> => ({
    'X-Webhook-Timestamp': String(seconds),
    'X-Webhook-Signature': createHmac('sha256', key).update(`${taskId}.${seconds}`).digest('base64'),
  });

  it('callbacks KIE signed wake their jobs, long before the next status check', async () => {
    const s = await signedStack();
    const started = Date.now();
    const jobs = await s.producer.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ prompt: `a signed letter, take ${i}` })));
    await expectStored(
      s,
      jobs.map((j) => j.jobId),
    );
    expect(Date.now() - started).toBeLessThan(Number(POLL_MS));
    expect(s.sim.counters.callbacks).toEqual({ delivered: 3, failed: 0 });
    expect(s.logs.join('\n')).not.toContain(HMAC_KEY);
    expectKeysNotLogged(s);
  });

  it('a forged or stale signature is refused and changes nothing; a good one then wakes the job', async () => {
    const s = await signedStack();
    s.sim.setFaults({ dropCallbacks: true });
    const { jobId } = await s.producer.enqueue({ prompt: 'a letter someone else signed' });
    // Wait for the task to be created, finished at KIE, and its job parked until the next check.
    let taskId: string | undefined;
    for (const deadline = Date.now() + WAIT_MS; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      const job = (await s.queue.getJob(jobId))!;
      taskId = job.data.render?.taskId;
      if (taskId && s.sim.task(taskId)?.state === 'success' && (await job.isDelayed())) break;
    }
    expect(taskId).toBeDefined();
    const url = callbackUrl(s.env.WEBHOOK_BASE_URL!, SECRET, s.config.queueName, jobId);
    const body = JSON.stringify({ code: 200, msg: 'success', data: { taskId, state: 'success' } });
    const post = (headers: Record<string, string>) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    const before = { data: (await s.queue.getJob(jobId))!.data, checks: requestsTo(s, RECORD) };
    const now = Math.floor(Date.now() / 1000);

    for (const headers of [sign(taskId!, now, 'not-the-key'), sign(taskId!, now - 600), {}]) {
      expect((await post(headers)).status).toBe(401);
    }
    expect(await s.queue.getJobState(jobId)).toBe('delayed');
    expect((await s.queue.getJob(jobId))!.data).toEqual(before.data);
    expect(requestsTo(s, RECORD)).toBe(before.checks);

    const woken = Date.now();
    expect((await post(sign(taskId!, now))).status).toBe(202);
    await expectStored(s, [jobId]);
    expect(Date.now() - woken).toBeLessThan(Number(POLL_MS) / 2);
    expect(s.logs.join('\n')).not.toContain(HMAC_KEY);
  });
});
