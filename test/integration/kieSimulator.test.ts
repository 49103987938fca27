/** The KIE simulator over real HTTP: the contract every other test and the benchmarks lean on. */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type KieSimulator, type SimOptions, startKieSimulator } from '../../src/sim/kieSimulator';

const KEY = 'key-a';
const OTHER = 'key-b';
const sims: KieSimulator[] = [];

/** Fast defaults; the interval cap is off unless a test is about it. */
async function sim(options: Partial<SimOptions> = {}): Promise<KieSimulator> {
  const s = await startKieSimulator({ apiKeys: [KEY, OTHER], minIntervalMs: 0, generationMs: 150, ...options });
  sims.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

interface Reply {
  status: number;
  body: any;
}

async function api(s: KieSimulator, method: 'GET' | 'POST', path: string, body?: unknown, key: string | null = KEY): Promise<Reply> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(s.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

const generate = (s: KieSimulator, body: unknown, key: string | null = KEY) => api(s, 'POST', '/api/v1/sora/generate', body, key);
const soraRecord = (s: KieSimulator, taskId: string, key = KEY) => api(s, 'GET', `/api/v1/sora/record-info?taskId=${taskId}`, undefined, key);
const createJob = (s: KieSimulator, body: unknown, key = KEY) => api(s, 'POST', '/api/v1/jobs/createTask', body, key);
const jobRecord = (s: KieSimulator, taskId: string) => api(s, 'GET', `/api/v1/jobs/recordInfo?taskId=${taskId}`);
const textJob = (prompt: string, extra: Record<string, unknown> = {}) => ({
  model: 'sora-2-text-to-video',
  input: { prompt, aspect_ratio: 'landscape', n_frames: '10' },
  ...extra,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
    await sleep(20);
  }
}

async function download(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

async function finishedSoraTask(s: KieSimulator, prompt = 'a calm sea at dawn'): Promise<{ taskId: string; videoUrl: string }> {
  const created = await generate(s, { prompt });
  const taskId: string = created.body.data.taskId;
  const rec = await until(
    () => soraRecord(s, taskId),
    (r) => r.body.data.status !== 0,
  );
  return { taskId, videoUrl: rec.body.data.videoUrl };
}

/** A loopback receiver that records every callback it gets. */
async function callbackReceiver(status = 200) {
  const received: Array<{ headers: http.IncomingHttpHeaders; body: any }> = [];
  const server = http.createServer(async (req, res) => {
    let text = '';
    for await (const part of req) text += part;
    received.push({ headers: req.headers, body: JSON.parse(text) });
    res.writeHead(status).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('auth', () => {
  it('answers 401 in each dialect to a missing or unknown key', async () => {
    const s = await sim();
    const missing = await generate(s, { prompt: 'x' }, null);
    expect(missing).toEqual({ status: 401, body: expect.objectContaining({ code: 401, message: expect.any(String) }) });
    const unknown = await createJob(s, textJob('x'), 'nope');
    expect(unknown).toEqual({ status: 401, body: expect.objectContaining({ code: 401, msg: expect.any(String) }) });
    expect(s.counters.tasks).toHaveLength(0);
  });
});

describe('sora dialect validation', () => {
  it.each([
    ['an empty prompt', 1001, { prompt: '' }, 'prompt'],
    ['an 801-character prompt', 1001, { prompt: 'x'.repeat(801) }, 'prompt'],
    ['a banned word', 1001, { prompt: 'something Forbidden here' }, 'banned'],
    ['an unknown field', 1004, { prompt: 'ok', colour: 'red' }, 'colour'],
    ['duration 12', 1004, { prompt: 'ok', duration: 12 }, 'duration'],
    ['aspectRatio 4:3', 1004, { prompt: 'ok', aspectRatio: '4:3' }, 'aspectRatio'],
    ['quality ultra', 1004, { prompt: 'ok', quality: 'ultra' }, 'quality'],
    ['seed 9999', 1004, { prompt: 'ok', seed: 9999 }, 'seed'],
    ['a fractional seed', 1004, { prompt: 'ok', seed: 12345.5 }, 'seed'],
    ['an ftp callBackUrl', 1004, { prompt: 'ok', callBackUrl: 'ftp://example.test/x' }, 'callBackUrl'],
  ])('refuses %s with %i naming it', async (_case, code, body, word) => {
    const s = await sim();
    const r = await generate(s, body);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ code, message: expect.stringContaining(word), data: null });
    expect(s.counters.tasks).toHaveLength(0);
  });

  it('accepts an 800-character prompt with every parameter', async () => {
    const s = await sim();
    const r = await generate(s, {
      prompt: 'y'.repeat(800),
      aspectRatio: '9:16',
      duration: 15,
      quality: 'high',
      seed: 12345,
      callBackUrl: 'https://hooks.example.test/kie',
    });
    expect(r.body).toEqual({ code: 0, message: 'success', data: { taskId: expect.stringMatching(/^sora_/), status: 0 } });
    expect(s.counters.submitsBySeed.get(12345)).toBe(1);
  });
});

describe('jobs dialect validation', () => {
  it.each([
    ['an unknown model', { model: 'sora-3', input: { prompt: 'x', aspect_ratio: 'landscape', n_frames: '10' } }, 'model'],
    ['aspect_ratio square', textJob('x', { input: { prompt: 'x', aspect_ratio: 'square', n_frames: '10' } }), 'aspect_ratio'],
    ['a numeric n_frames', textJob('x', { input: { prompt: 'x', aspect_ratio: 'landscape', n_frames: 10 } }), 'n_frames'],
    ['an unknown input field', textJob('x', { input: { prompt: 'x', aspect_ratio: 'landscape', n_frames: '10', quality: 'hd' } }), 'quality'],
    ['a banned word', textJob('forbidden fruit'), 'banned'],
    [
      'storyboard shots not adding up to n_frames',
      {
        model: 'sora-2-pro-storyboard',
        input: {
          n_frames: '15',
          aspect_ratio: 'portrait',
          shots: [
            { Scene: 'a', duration: 5 },
            { Scene: 'b', duration: 5 },
          ],
        },
      },
      'add up',
    ],
  ])('refuses %s with 422 naming it', async (_case, body, word) => {
    const s = await sim();
    const r = await createJob(s, body);
    expect(r).toEqual({ status: 422, body: { code: 422, msg: expect.stringContaining(word), data: null } });
  });

  it('accepts a storyboard whose shots add up to n_frames', async () => {
    const s = await sim();
    const body = {
      model: 'sora-2-pro-storyboard',
      input: {
        n_frames: '25',
        aspect_ratio: 'portrait',
        shots: [
          { Scene: 'a', duration: 10 },
          { Scene: 'b', duration: 15 },
        ],
      },
    };
    const r = await createJob(s, body);
    expect(r).toEqual({ status: 200, body: { code: 200, msg: 'success', data: { taskId: expect.any(String) } } });
    expect(s.task(r.body.data.taskId)).toMatchObject({ prompt: 'a\nb', durationSeconds: 25, credits: 150 });
  });
});

describe('a sora task', () => {
  it('goes from status 0 to 1 and its video downloads intact', async () => {
    const s = await sim({ videoBytes: 300_000 });
    const created = await generate(s, { prompt: 'a calm sea at dawn', duration: 15 });
    const taskId: string = created.body.data.taskId;
    expect((await soraRecord(s, taskId)).body.data).toMatchObject({ taskId, status: 0, duration: 15, resolution: '1080p' });
    expect(s.counters.perKey[KEY]!.generating).toBe(1);

    const done = await until(
      () => soraRecord(s, taskId),
      (r) => r.body.data.status !== 0,
    );
    expect(done.body.data).toMatchObject({ status: 1, videoUrl: expect.stringContaining(`/files/${taskId}.mp4?expires=`) });
    expect(Date.parse(done.body.data.completedAt)).toBeGreaterThanOrEqual(Date.parse(done.body.data.createdAt));

    const video = await download(done.body.data.videoUrl);
    expect(video.status).toBe(200);
    expect(video.type).toBe('video/mp4');
    expect(video.bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect({ size: video.bytes.length, sha256: createHash('sha256').update(video.bytes).digest('hex') }).toEqual(s.expectedVideo(taskId));

    const c = s.counters;
    expect(c.perKey[KEY]).toMatchObject({ tasksCreated: 1, generating: 0, peakGenerating: 1 });
    expect(c.perKey[KEY]!.generatingSeries.map((p) => p.generating)).toEqual([1, 0]);
    expect(c.submitsByPrompt.get('a calm sea at dawn')).toBe(1);
    expect(c.tasks[0]).toMatchObject({ taskId, key: KEY, state: 'success', completedAt: expect.any(Number) });
    expect(c.requests.byEndpoint['POST /api/v1/sora/generate']).toBe(1);
    expect(c.downloads).toEqual({ requests: 1, forbidden: 0 });
  });

  it('is unknown (404) to another key and when it never existed', async () => {
    const s = await sim();
    const { taskId } = await finishedSoraTask(s);
    expect(await soraRecord(s, taskId, OTHER)).toEqual({ status: 200, body: expect.objectContaining({ code: 404 }) });
    expect((await soraRecord(s, 'sora_nope')).body.code).toBe(404);
  });

  it('gives different tasks different videos', async () => {
    const s = await sim();
    const [a, b] = [await finishedSoraTask(s), await finishedSoraTask(s)];
    expect(s.expectedVideo(a.taskId).sha256).not.toBe(s.expectedVideo(b.taskId).sha256);
    expect(() => s.expectedVideo('sora_nope')).toThrow('the simulator created no task sora_nope');
  });
});

describe('a jobs task', () => {
  it('reports waiting or queuing first, then generating, then success with resultJson', async () => {
    const s = await sim({ generationMs: 600 });
    const body = textJob('a fox in snow', { input: { prompt: 'a fox in snow', aspect_ratio: 'portrait', n_frames: '15' } });
    const taskId: string = (await createJob(s, body)).body.data.taskId;
    const first = (await jobRecord(s, taskId)).body.data;
    expect(first).toMatchObject({ taskId, model: 'sora-2-text-to-video', resultJson: '', failCode: '', completeTime: null });
    expect(['waiting', 'queuing']).toContain(first.state);
    expect(JSON.parse(first.param)).toEqual(body);

    const mid = await until(
      () => jobRecord(s, taskId),
      (r) => r.body.data.state === 'generating',
    );
    expect(mid.body.data.state).toBe('generating');
    const done = await until(
      () => jobRecord(s, taskId),
      (r) => r.body.data.state === 'success',
    );
    const { resultUrls } = JSON.parse(done.body.data.resultJson);
    expect(done.body.data.costTime).toBeGreaterThanOrEqual(550);
    const video = await download(resultUrls[0]);
    expect(createHash('sha256').update(video.bytes).digest('hex')).toBe(s.expectedVideo(taskId).sha256);
  });

  it('spends credits (30 per 10 s standard, 60 per 10 s high) and refuses with 402 when they run out', async () => {
    const s = await sim({ credits: { [KEY]: 100 } });
    expect((await api(s, 'GET', '/api/v1/chat/credit')).body).toEqual({ code: 200, msg: 'success', data: 100 });
    await createJob(s, textJob('one'));
    await createJob(
      s,
      textJob('two', { model: 'sora-2-pro-text-to-video', input: { prompt: 'two', aspect_ratio: 'landscape', n_frames: '10', size: 'high' } }),
    );
    expect((await api(s, 'GET', '/api/v1/chat/credit')).body.data).toBe(10);
    const broke = await createJob(s, textJob('three'));
    expect(broke).toEqual({ status: 402, body: expect.objectContaining({ code: 402, msg: expect.stringContaining('balance is 10') }) });
    expect(s.counters.tasks).toHaveLength(2);
  });
});

describe('video links', () => {
  it('answers 403 once expired, and record-info mints a fresh one', async () => {
    const s = await sim();
    const { taskId, videoUrl } = await finishedSoraTask(s);
    s.expireLinks();
    expect((await download(videoUrl)).status).toBe(403);
    const fresh = (await soraRecord(s, taskId)).body.data.videoUrl;
    expect(fresh).not.toBe(videoUrl);
    expect((await download(fresh)).status).toBe(200);
    expect(s.counters.downloads).toEqual({ requests: 2, forbidden: 1 });
  });

  it('expire after linkTtlMs on their own', async () => {
    const s = await sim({ linkTtlMs: 100 });
    const { videoUrl } = await finishedSoraTask(s);
    await sleep(150);
    expect((await download(videoUrl)).status).toBe(403);
  });

  it('answer 403 to a tampered signature', async () => {
    const s = await sim();
    const { videoUrl } = await finishedSoraTask(s);
    expect((await download(videoUrl.replace(/sig=./, 'sig=A'))).status).toBe(403);
    expect((await download(videoUrl.replace(/expires=\d+/, (m) => `${m}1`))).status).toBe(403);
  });

  it('are renewed by download-url even when expired, for their own key only', async () => {
    const s = await sim();
    const taskId: string = (await createJob(s, textJob('a lighthouse'))).body.data.taskId;
    const done = await until(
      () => jobRecord(s, taskId),
      (r) => r.body.data.state === 'success',
    );
    const stale: string = JSON.parse(done.body.data.resultJson).resultUrls[0];
    s.expireLinks();
    expect((await download(stale)).status).toBe(403);

    const renewed = await api(s, 'POST', '/api/v1/common/download-url', { url: stale });
    expect(renewed.body).toEqual({ code: 200, msg: 'success', data: expect.stringContaining(`/files/${taskId}.mp4`) });
    expect((await download(renewed.body.data)).status).toBe(200);

    expect((await api(s, 'POST', '/api/v1/common/download-url', { url: stale }, OTHER)).status).toBe(422);
    expect((await api(s, 'POST', '/api/v1/common/download-url', { url: 'https://elsewhere.test/x.mp4' })).status).toBe(422);
  });
});

describe('caps', () => {
  it('refuses a request arriving less than minIntervalMs after the previous one, on any endpoint', async () => {
    const s = await sim({ minIntervalMs: 300 });
    expect((await generate(s, { prompt: 'first' })).status).toBe(200);
    const tooSoon = await soraRecord(s, 'sora_whatever');
    expect(tooSoon).toEqual({ status: 429, body: expect.objectContaining({ code: 429, message: expect.stringContaining('300 ms') }) });
    // The refused request still counted as an arrival: the clock restarted.
    await sleep(320);
    expect((await soraRecord(s, 'sora_whatever')).body.code).toBe(404);
    // Another key has its own clock.
    expect((await generate(s, { prompt: 'other' }, OTHER)).status).toBe(200);
    expect(s.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 1 });
    expect(s.counters.perKey[KEY]!.violations.interval).toBe(1);
    expect(s.counters.perKey[KEY]!.requests).toBe(3);
  });

  it('does not pace video downloads', async () => {
    const s = await sim({ minIntervalMs: 100, generationMs: 50 });
    const taskId: string = (await generate(s, { prompt: 'p' })).body.data.taskId;
    await sleep(150);
    const { videoUrl } = (await soraRecord(s, taskId)).body.data;
    const results = await Promise.all([download(videoUrl), download(videoUrl), download(videoUrl)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(s.counters.violations.interval).toBe(0);
    expect(s.counters.perKey[KEY]!.requests).toBe(2);
  });

  it('refuses a create beyond maxConcurrent generating tasks', async () => {
    const s = await sim({ maxConcurrent: 2, generationMs: 300 });
    await generate(s, { prompt: 'one' });
    await generate(s, { prompt: 'two' });
    const third = await generate(s, { prompt: 'three' });
    expect(third).toEqual({ status: 429, body: expect.objectContaining({ code: 429, message: expect.stringContaining('2 tasks generating') }) });
    expect((await createJob(s, textJob('three'))).status).toBe(429);
    expect((await generate(s, { prompt: 'for b' }, OTHER)).status).toBe(200);
    await sleep(350);
    expect((await generate(s, { prompt: 'three' })).status).toBe(200);
    expect(s.counters.perKey[KEY]).toMatchObject({ peakGenerating: 2, violations: { concurrency: 2, daily: 0, interval: 0 } });
    expect(s.counters.violations.concurrency).toBe(2);
  });

  it('refuses a create beyond dailyLimit within the rolling window', async () => {
    const s = await sim({ dailyLimit: 2, dailyWindowMs: 400, generationMs: 10 });
    await generate(s, { prompt: 'one' });
    await generate(s, { prompt: 'two' });
    const third = await generate(s, { prompt: 'three' });
    expect(third).toEqual({ status: 429, body: expect.objectContaining({ code: 429, message: expect.stringContaining('daily limit of 2') }) });
    expect(s.counters.violations.daily).toBe(1);
    await sleep(420);
    expect((await generate(s, { prompt: 'three' })).body.code).toBe(0);
    expect(s.counters.perKey[KEY]!.tasksCreated).toBe(3);
  });
});

describe("rates per request class (KIE's live limits)", () => {
  it('refuses the create or read beyond N in any window, each class on its own budget, and counts it', async () => {
    const s = await sim({ rates: { create: { limit: 2, windowMs: 400 }, read: { limit: 3, windowMs: 400 } }, generationMs: 50 });
    const first = await createJob(s, textJob('one'));
    expect((await createJob(s, textJob('two'))).status).toBe(200);
    const third = await createJob(s, textJob('three'));
    expect(third).toEqual({ status: 429, body: expect.objectContaining({ code: 429, msg: expect.stringContaining('more than 2 create requests in 400 ms') }) });
    // Reads are another budget: three go, the fourth does not.
    const taskId: string = first.body.data.taskId;
    for (let i = 0; i < 3; i++) expect((await jobRecord(s, taskId)).status).toBe(200);
    expect((await jobRecord(s, taskId)).status).toBe(429);
    expect(s.counters.rateViolations).toEqual({ create: 1, read: 1 });
    expect(s.counters.perKey[KEY]!.rateViolations).toEqual({ create: 1, read: 1 });
    expect(s.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
    // Refused arrivals count too: the window moves on from the last of them.
    await sleep(420);
    expect((await createJob(s, textJob('three'))).status).toBe(200);
    expect(s.counters.perKey[OTHER]!.rateViolations).toEqual({ create: 0, read: 0 });
  });

  it('records the tightest spacing of arrivals it saw for each rate', async () => {
    const s = await sim({ minIntervalMs: 50, rates: { read: { limit: 2, windowMs: 1000 } } });
    await soraRecord(s, 'sora_a');
    await sleep(80);
    await soraRecord(s, 'sora_b');
    await sleep(120);
    await soraRecord(s, 'sora_c');
    const { tightestMs } = s.counters.perKey[KEY]!;
    expect(tightestMs.interval).toBeGreaterThanOrEqual(80);
    expect(tightestMs.interval).toBeLessThan(120);
    // Three reads within ~200 ms: the span of limit + 1 of them.
    expect(tightestMs.read).toBeGreaterThanOrEqual(200);
    expect(tightestMs.create).toBeUndefined();
    expect(s.counters.rateViolations.read).toBe(1);
  });
});

describe('callbacks', () => {
  it('deliver the sora shape on completion', async () => {
    const hook = await callbackReceiver();
    try {
      const s = await sim();
      const taskId: string = (await generate(s, { prompt: 'p', callBackUrl: hook.url })).body.data.taskId;
      await until(
        async () => hook.received.length,
        (n) => n > 0,
      );
      expect(hook.received[0]!.body).toEqual({
        taskId,
        status: 1,
        videoUrl: expect.stringContaining(`/files/${taskId}.mp4`),
        duration: 10,
        completedAt: expect.any(String),
      });
      expect((await download(hook.received[0]!.body.videoUrl)).status).toBe(200);
      expect(s.counters.callbacks).toEqual({ delivered: 1, failed: 0 });
    } finally {
      await hook.close();
    }
  });

  it('deliver the jobs shape with a valid HMAC signature, and code 501 for a failed task', async () => {
    const hook = await callbackReceiver();
    try {
      const s = await sim({ callbackHmacKey: 'hmac-secret' });
      const okId: string = (await createJob(s, textJob('p', { callBackUrl: hook.url }))).body.data.taskId;
      await until(
        async () => hook.received.length,
        (n) => n > 0,
      );
      s.setFaults({ failRate: 1 });
      const failId: string = (await createJob(s, textJob('q', { callBackUrl: hook.url }))).body.data.taskId;
      await until(
        async () => hook.received.length,
        (n) => n > 1,
      );

      const [ok, failed] = hook.received;
      expect(ok!.body).toEqual({ code: 200, msg: 'success', data: expect.objectContaining({ taskId: okId, state: 'success' }) });
      expect(JSON.parse(ok!.body.data.resultJson).resultUrls).toHaveLength(1);
      expect(failed!.body).toEqual({
        code: 501,
        msg: expect.any(String),
        data: expect.objectContaining({ taskId: failId, state: 'fail', failCode: '501', resultJson: '' }),
      });
      for (const { headers, body } of hook.received) {
        const timestamp = headers['x-webhook-timestamp'] as string;
        expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(5);
        const expected = createHmac('sha256', 'hmac-secret').update(`${body.data.taskId}.${timestamp}`).digest('base64');
        expect(headers['x-webhook-signature']).toBe(expected);
      }
    } finally {
      await hook.close();
    }
  });

  it('are counted as failed when the receiver refuses them, and not sent when dropped', async () => {
    const hook = await callbackReceiver(500);
    try {
      const s = await sim();
      await generate(s, { prompt: 'p', callBackUrl: hook.url });
      await until(
        async () => s.counters.callbacks.failed,
        (n) => n > 0,
      );
      expect(s.counters.callbacks).toEqual({ delivered: 0, failed: 1 });
      s.setFaults({ dropCallbacks: true });
      await generate(s, { prompt: 'q', callBackUrl: hook.url });
      await sleep(250);
      expect(hook.received).toHaveLength(1);
    } finally {
      await hook.close();
    }
  });
});

describe('fault knobs', () => {
  it('overloadRate answers 1003 / 455 without creating', async () => {
    const s = await sim({ faults: { overloadRate: 1 } });
    expect((await generate(s, { prompt: 'p' })).body).toEqual({ code: 1003, message: expect.any(String), data: null });
    expect((await createJob(s, textJob('p'))).status).toBe(455);
    expect(s.counters.tasks).toHaveLength(0);
    expect(s.counters.faults.overload).toBe(2);
  });

  it('serverErrorRate answers HTTP 500 without effect', async () => {
    const s = await sim({ faults: { serverErrorRate: 1 } });
    expect(await generate(s, { prompt: 'p' })).toEqual({ status: 500, body: expect.objectContaining({ code: 500 }) });
    expect((await createJob(s, textJob('p'))).status).toBe(500);
    expect(s.counters.tasks).toHaveLength(0);
    expect(s.counters.faults.serverError).toBe(2);
  });

  it('resetRate destroys the connection before anything happens', async () => {
    const s = await sim({ faults: { resetRate: 1 } });
    await expect(generate(s, { prompt: 'p' })).rejects.toThrow();
    expect(s.counters.tasks).toHaveLength(0);
    expect(s.counters.requests.total).toBe(0);
    expect(s.counters.faults.reset).toBe(1);
  });

  it('createThenResetRate creates the task, then destroys the connection', async () => {
    const s = await sim({ faults: { createThenResetRate: 1 } });
    await expect(generate(s, { prompt: 'ambiguous' })).rejects.toThrow();
    expect(s.counters.tasks).toHaveLength(1);
    expect(s.counters.submitsByPrompt.get('ambiguous')).toBe(1);
    s.setFaults({ createThenResetRate: 0 });
    const taskId = s.counters.tasks[0]!.taskId;
    const rec = await until(
      () => soraRecord(s, taskId),
      (r) => r.body.data.status === 1,
    );
    expect(rec.body.data.status).toBe(1);
  });

  /** A create's answer as it came over the wire, whether or not it is JSON. */
  async function rawCreate(s: KieSimulator, path: string, body: unknown): Promise<{ status: number; type: string | null; text: string }> {
    const res = await fetch(s.url + path, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }

  it('gatewayErrorRate answers a gateway 502 page (HTML, no envelope) before KIE sees the request', async () => {
    const s = await sim({ faults: { gatewayErrorRate: 1 } });
    const answer = await rawCreate(s, '/api/v1/sora/generate', { prompt: 'p' });
    expect(answer).toMatchObject({ status: 502, type: 'text/html' });
    expect(answer.text).toContain('<h1>502 Bad Gateway</h1>');
    expect(s.counters.tasks).toHaveLength(0);
    expect(s.counters.requests.total).toBe(0);
    expect(s.counters.faults.gatewayError).toBe(1);
  });

  it('createThenGatewayErrorRate creates the task, then a gateway answers a 504 page in place of KIE', async () => {
    const s = await sim({ faults: { createThenGatewayErrorRate: 1 } });
    const answer = await rawCreate(s, '/api/v1/jobs/createTask', textJob('behind a gateway'));
    expect(answer).toMatchObject({ status: 504, type: 'text/html' });
    expect(answer.text).toContain('504 Gateway Time-out');
    expect(s.counters.submitsByPrompt.get('behind a gateway')).toBe(1);
    expect(s.counters.faults.createThenGatewayError).toBe(1);
  });

  it('createWithoutTaskIdRate creates the task and answers success without a taskId', async () => {
    const s = await sim({ faults: { createWithoutTaskIdRate: 1 } });
    expect(await generate(s, { prompt: 'no id' })).toEqual({ status: 200, body: { code: 0, message: 'success', data: null } });
    expect(await createJob(s, textJob('no id either'))).toEqual({ status: 200, body: { code: 200, msg: 'success', data: null } });
    expect(s.counters.tasks).toHaveLength(2);
    expect(s.counters.faults.createWithoutTaskId).toBe(2);
  });

  it('createThenGarbledRate creates the task and answers KIE JSON cut in half', async () => {
    const s = await sim({ faults: { createThenGarbledRate: 1 } });
    const answer = await rawCreate(s, '/api/v1/sora/generate', { prompt: 'garbled' });
    expect(answer).toMatchObject({ status: 200, type: 'application/json' });
    expect(() => JSON.parse(answer.text)).toThrow();
    expect(answer.text.startsWith('{"code":0')).toBe(true);
    expect(s.counters.submitsByPrompt.get('garbled')).toBe(1);
    expect(s.counters.faults.createThenGarbled).toBe(1);
  });

  it('linkRefreshRefusedRate makes download-url refuse a link it issued (422); the record still mints one', async () => {
    const s = await sim();
    const created = await createJob(s, textJob('a link kept'));
    const taskId = created.body.data.taskId;
    const rec = await until(
      () => jobRecord(s, taskId),
      (r) => r.body.data.state === 'success',
    );
    const url = JSON.parse(rec.body.data.resultJson).resultUrls[0];
    s.setFaults({ linkRefreshRefusedRate: 1 });
    expect(await api(s, 'POST', '/api/v1/common/download-url', { url })).toEqual({
      status: 422,
      body: { code: 422, msg: expect.stringContaining('cannot be refreshed'), data: null },
    });
    expect(s.counters.faults.linkRefreshRefused).toBe(1);
    expect((await jobRecord(s, taskId)).body.data.state).toBe('success');
  });

  it('cutBodyRate sends the Content-Length and then about half the body', async () => {
    const s = await sim({ videoBytes: 1_000_000 });
    const { videoUrl } = await finishedSoraTask(s);
    s.setFaults({ cutBodyRate: 1 });
    const received = await new Promise<{ length: string | undefined; bytes: number; error: boolean }>((resolve) => {
      http.get(videoUrl, (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('error', () => resolve({ length: res.headers['content-length'], bytes, error: true }));
        res.on('end', () => resolve({ length: res.headers['content-length'], bytes, error: false }));
      });
    });
    expect(received.length).toBe('1000000');
    expect(received.error).toBe(true);
    expect(received.bytes).toBeLessThan(1_000_000);
    expect(received.bytes).toBeGreaterThan(200_000);
    expect(s.counters.faults.cutBody).toBe(1);
  });

  it('noContentLengthRate sends neither a length nor chunks; cut off too, the body ends as cleanly as a whole one', async () => {
    const s = await sim({ videoBytes: 1_000_000 });
    const { taskId, videoUrl } = await finishedSoraTask(s);
    const fetchRaw = () =>
      new Promise<{ length: string | undefined; chunked: boolean; bytes: Buffer; error: boolean }>((resolve) => {
        http.get(videoUrl, (res) => {
          const parts: Buffer[] = [];
          const done = (error: boolean) =>
            resolve({ length: res.headers['content-length'], chunked: res.headers['transfer-encoding'] === 'chunked', bytes: Buffer.concat(parts), error });
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('error', () => done(true));
          res.on('end', () => done(false));
        });
      });
    s.setFaults({ noContentLengthRate: 1 });
    const whole = await fetchRaw();
    expect(whole).toMatchObject({ length: undefined, chunked: false, error: false });
    expect(createHash('sha256').update(whole.bytes).digest('hex')).toBe(s.expectedVideo(taskId).sha256);
    s.setFaults({ cutBodyRate: 1 });
    const cut = await fetchRaw();
    expect(cut).toMatchObject({ length: undefined, error: false });
    expect(cut.bytes.length).toBe(500_000);
    expect(s.counters.faults).toMatchObject({ noContentLength: 2, cutBody: 1 });
  });

  it('failRate ends tasks with status 2 and an errorMessage', async () => {
    const s = await sim({ faults: { failRate: 1 } });
    const created = await generate(s, { prompt: 'doomed' });
    const rec = await until(
      () => soraRecord(s, created.body.data.taskId),
      (r) => r.body.data.status !== 0,
    );
    expect(rec.body.data).toMatchObject({ status: 2, errorMessage: expect.any(String) });
    expect(rec.body.data.videoUrl).toBeUndefined();
    expect(s.counters.faults.failedTasks).toBe(1);
    expect(s.counters.perKey[KEY]!.generating).toBe(0);
  });

  it('insufficientCredits answers 1002 / 402 for the listed keys only', async () => {
    const s = await sim({ faults: { insufficientCredits: [KEY] } });
    expect((await generate(s, { prompt: 'p' })).body.code).toBe(1002);
    expect((await createJob(s, textJob('p'))).status).toBe(402);
    expect((await generate(s, { prompt: 'p' }, OTHER)).body.code).toBe(0);
    expect(s.counters.faults.insufficientCredits).toBe(2);
  });

  it('draws faults and generation times from the seed, so a run can be replayed', async () => {
    const draw = async () => {
      const s = await sim({ generationMs: [100, 400], seed: 7, faults: { failRate: 0.5 } });
      for (let i = 0; i < 6; i++) await generate(s, { prompt: `p${i}` });
      return s.counters.tasks.map((t) => t.generationMs);
    };
    const first = await draw();
    expect(await draw()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(1);
    expect(first.every((ms) => ms >= 100 && ms <= 400)).toBe(true);
  });
});

describe('close()', () => {
  it('returns while a keep-alive client holds a connection and a download is streaming', async () => {
    const s = await startKieSimulator({ apiKeys: [KEY], minIntervalMs: 0, generationMs: 10, videoBytes: 20_000_000 });
    const { videoUrl } = await finishedSoraTask(s);
    const agent = new http.Agent({ keepAlive: true });
    const streaming = new Promise<void>((resolve) => {
      http.get(videoUrl, { agent }, (res) => {
        res.once('data', () => resolve());
        res.on('error', () => undefined);
        res.on('aborted', () => undefined);
      });
    });
    await streaming;
    await s.close();
    agent.destroy();
    await expect(fetch(s.url)).rejects.toThrow();
  });

  it('stops pending completions and callbacks', async () => {
    const hook = await callbackReceiver();
    try {
      const s = await startKieSimulator({ apiKeys: [KEY], minIntervalMs: 0, generationMs: 100 });
      await generate(s, { prompt: 'p', callBackUrl: hook.url });
      await s.close();
      await sleep(200);
      expect(hook.received).toHaveLength(0);
      expect(s.counters.tasks[0]!.state).toBe('generating');
    } finally {
      await hook.close();
    }
  });
});
