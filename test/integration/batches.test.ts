/**
 * Batches end to end on real Redis, S3 (s3rver) and the KIE simulator, through the HTTP API: a dry
 * run's figures are what the run then spends, the status counts what happened (a foreign job
 * joining on its first run, a bad one failing with its reason), and when the batch ends its
 * manifest lists every job with the SHA-256 that S3 holds, written once by a fleet of worker
 * processes, and one signed batch.completed reaches its notifyUrl.
 */
import { createHash } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { buildApiServer } from '../../src/producer/api/buildApiServer';
import type { BatchStatus } from '../../src/batch/batchStatus';
import type { BatchEstimate } from '../../src/batch/estimateBatch';
import type { ManifestLine } from '../../src/batch/batchLedger';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { RenderStack, startRenderStack } from '../support/renderStack';
import { waitForWorkersStarted, waitUntil } from '../support/fleet';

jest.setTimeout(120_000);

const TOKEN = 'batch-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const SECRET = `whsec_${Buffer.from('the batch tests own 32-byte key!').toString('base64')}`;

let stack: RenderStack;
let api: FastifyInstance;
let base: string;

beforeAll(async () => {
  stack = await startRenderStack({ env: { NOTIFY_SECRET: SECRET, NOTIFY_ALLOW_PRIVATE: 'true', NOTIFY_RETRY_BASE_MS: '100' } });
  api = buildApiServer({ config: loadConfig({ ...stack.env, API_TOKENS: TOKEN }), redis: stack.redis, logger: createLogger('silent', 'api') });
  await api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});

/** One request to the API, as a client sends it. */
async function call(method: string, url: string, payload?: unknown): Promise<{ statusCode: number; body: string; json(): unknown }> {
  const res = await fetch(base + url, {
    method,
    headers: { ...auth, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const body = await res.text();
  return { statusCode: res.status, body, json: () => JSON.parse(body) as unknown };
}

afterAll(async () => {
  await api?.close();
  await stack?.close();
});

async function statusOf(id: string): Promise<BatchStatus> {
  const res = await call('GET', `/v1/batches/${encodeURIComponent(id)}`);
  expect(res.statusCode).toBe(200);
  return res.json() as BatchStatus;
}

async function ended(id: string, timeoutMs = 60_000): Promise<BatchStatus> {
  let st: BatchStatus | undefined;
  await waitUntil(
    async () => {
      st = await statusOf(id);
      return st.manifest !== null && (st.state === 'finished' || st.state === 'cancelled');
    },
    `batch ${id} to end with its manifest written`,
    timeoutMs,
    100,
  );
  return st!;
}

async function readManifest(key: string): Promise<ManifestLine[]> {
  const { body } = await stack.readObject(key);
  return body
    .toString('utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ManifestLine);
}

it("a dry run's figures are what the run then spends; the status counts a foreign job and a failure with its reason", async () => {
  const requests = [
    { prompt: 'spend: a heron at dawn' },
    { prompt: 'spend: a heron at noon', duration: 15 },
    { prompt: 'spend: a heron at dusk', duration: 15 },
    { prompt: 'spend: a fox in snow', model: 'kling-2.6', duration: 5 },
    { prompt: 'spend: a fox in rain', model: 'kling-2.6', duration: 10, options: { sound: true } },
  ];
  const body = { id: 'spend', budgetUsd: 10, requests };
  const dry = await call('POST', '/v1/batches?dryRun=true', body);
  expect(dry.statusCode).toBe(200);
  const estimate = (dry.json() as { estimate: BatchEstimate }).estimate;
  expect(estimate).toMatchObject({ jobs: 5, seconds: 55, budget: { budgetUsd: 10, jobsAllowed: 5 } });
  expect(estimate.perModel.map((m) => [m.model, m.jobs, m.seconds])).toEqual([
    ['sora-2', 3, 40],
    ['kling-2.6', 2, 15],
  ]);
  // A dry run writes nothing.
  expect(await stack.queue.count()).toBe(0);
  expect((await call('GET', '/v1/batches/spend')).statusCode).toBe(404);

  const posted = await call('POST', '/v1/batches', body);
  expect(posted.statusCode).toBe(201);
  expect((posted.json() as { jobs: unknown[] }).jobs).toHaveLength(5);
  // The same POST again (a client retrying after a timeout) adds nothing.
  const again = await call('POST', '/v1/batches', body);
  expect(again.statusCode).toBe(200);
  expect((again.json() as { jobs: Array<{ created: boolean }> }).jobs.every((j) => !j.created)).toBe(true);
  // A foreign backend's job in the same batch: it joins when a worker first runs it, and fails there.
  await stack.queue.add('render', { prompt: 'spend: a bad seed', seed: 12, batchId: 'spend' });
  expect((await statusOf('spend')).counts.waiting).toBe(5);

  const worker = await stack.startWorker();
  const st = await ended('spend').finally(() => worker.close());
  expect(st).toMatchObject({
    state: 'finished',
    jobs: 6,
    counts: { waiting: 0, submitted: 0, stored: 5, failed: 1, cancelled: 0 },
    videosStored: 5,
    secondsRendered: estimate.seconds,
    reservedUsd: 0,
    budgetUsd: 10,
    estimatedFinishAt: null,
    manifest: { key: 'spend/manifest.jsonl' },
  });
  expect(st.spentUsd).toBeCloseTo(estimate.costUsd, 6);
  expect(st.budgetLeftUsd).toBeCloseTo(10 - estimate.costUsd, 6);
  expect(st.failures).toEqual([
    { jobId: expect.any(String), reason: expect.stringContaining('seed: sora-2 (KIE_API_STYLE=sora) accepts 10000 to 99999 (got 12)') },
  ]);
  const stored = (await readManifest(st.manifest!.key)).filter((l) => l.state === 'stored');
  for (const m of estimate.perModel) {
    const lines = stored.filter((l) => l.model === m.model);
    expect([lines.length, lines.reduce((s, l) => s + l.costUsd, 0)]).toEqual([m.jobs, expect.closeTo(m.costUsd, 6)]);
  }

  const csv = await call('GET', '/v1/batches/spend/manifest?format=csv');
  expect(csv.statusCode).toBe(200);
  expect(csv.body.split('\n')[0]).toBe(
    'jobId,state,key,size,sha256,model,prompt,durationSeconds,costUsd,taskId,account,enqueuedAt,submittedAt,completedAt,storedAt,endedAt,reason',
  );
  expect(csv.body.trim().split('\n')).toHaveLength(7);
  const patched = await call('PATCH', '/v1/batches/spend', { budgetUsd: 20 });
  expect([patched.statusCode, (patched.json() as BatchStatus).budgetUsd]).toEqual([200, 20]);
  const bad = await call('PATCH', '/v1/batches/spend', { budgetUsd: -1, extra: 1 });
  expect(bad.statusCode).toBe(400);
  expect((bad.json() as { issues: unknown[] }).issues).toEqual([
    { field: 'budgetUsd', value: -1, rule: 'must be 0 or more' },
    { field: 'extra', value: 1, rule: 'is not a known field' },
  ]);
  const conflict = await call('POST', '/v1/batches', { id: 'spend', budgetUsd: 3 });
  expect(conflict.statusCode).toBe(409);
});

it('a bad request in a batch adds nothing and names its index and field', async () => {
  const res = await call('POST', '/v1/batches', { id: 'bad', requests: [{ prompt: 'fine' }, { prompt: 'x', duration: 12 }] });
  expect(res.statusCode).toBe(400);
  expect((res.json() as { issues: unknown[] }).issues).toEqual([
    { field: 'requests[1].duration', value: 12, rule: 'sora-2 (KIE_API_STYLE=sora) accepts 10 or 15' },
  ]);
  expect((await call('GET', '/v1/batches/bad')).statusCode).toBe(404);
});

/** A notifyUrl receiver on loopback that records what it gets and answers 204. */
async function receiver(): Promise<{ url: string; got: Array<{ headers: IncomingHttpHeaders; body: string }>; server: Server }> {
  const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/batches`, got, server };
}

it('three worker processes: the manifest lists every job with the SHA-256 S3 holds, is written once, and one signed batch.completed arrives', async () => {
  const hook = await receiver();
  try {
    const workers = [1, 2, 3].map(() => stack.spawnWorker({ WORKER_CONCURRENCY: '4' }));
    await waitForWorkersStarted(workers);
    const requests = Array.from({ length: 12 }, (_, i) => ({ prompt: `fleet: lighthouse ${i}` }));
    const posted = await call('POST', '/v1/batches', { id: 'fleet', notifyUrl: hook.url, requests });
    expect(posted.statusCode).toBe(201);
    const st = await ended('fleet');
    expect(st.counts).toEqual({ waiting: 0, submitted: 0, stored: 12, failed: 0, cancelled: 0 });

    const lines = await readManifest(st.manifest!.key);
    expect(lines.map((l) => l.prompt).sort()).toEqual(requests.map((r) => r.prompt).sort());
    for (const line of lines) {
      const object = await stack.readObject(line.key!);
      expect(createHash('sha256').update(object.body).digest('hex')).toBe(line.sha256);
      expect(object.metadata.sha256).toBe(line.sha256);
      expect(line).toMatchObject({
        state: 'stored',
        model: 'sora-2',
        durationSeconds: 10,
        costUsd: 0.15,
        size: object.body.length,
        account: 'default',
        taskId: expect.any(String),
      });
    }

    await waitUntil(() => hook.got.length > 0, 'batch.completed', 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(hook.got).toHaveLength(1);
    const event = new Webhook(SECRET).verify(hook.got[0]!.body, hook.got[0]!.headers as Record<string, string>) as Record<string, unknown>;
    expect(event).toMatchObject({
      type: 'batch.completed',
      batchId: 'fleet',
      status: 'finished',
      end: 1,
      manifest: { key: 'fleet/manifest.jsonl' },
      videosStored: 12,
    });
    const logs = workers.flatMap((w) => w.output.join('').split('\n'));
    expect(logs.filter((l) => l.includes('"msg":"batch manifest written"') && l.includes('"batchId":"fleet"'))).toHaveLength(1);
    // Several processes stored videos of the batch, so its last jobs ended in more than one.
    expect(workers.filter((w) => w.output.join('').includes('"msg":"video stored"')).length).toBeGreaterThanOrEqual(2);
  } finally {
    hook.server.close();
  }
});
