import axios from 'axios';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { startWebhookServer } from '../../src/worker/webhookServer/startWebhookServer';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

describe('a worker with WORKER_HTTP=true serves health and Prometheus metrics', () => {
  let stack: RenderStack;
  let url: string;
  beforeAll(async () => {
    stack = await startRenderStack();
    url = (await stack.startWorker({ WORKER_HTTP: 'true', HTTP_PORT: '0' })).httpUrl!;
  });
  afterAll(() => stack.close());

  it('answers /healthz while Redis answers', async () => {
    expect((await axios.get(`${url}/healthz`)).data).toEqual({ ok: true });
  });

  it('exposes queue, account and throughput metrics, and no key', async () => {
    const { jobId } = (await stack.producer.enqueueMany([{ prompt: 'a metrics fox' }]))[0]!;
    await stack.waitForJobs([jobId]);
    const text = (await axios.get(`${url}/metrics`)).data as string;
    expect(text).toMatch(/sora_queue_jobs\{state="completed"\} 1/);
    expect(text).toMatch(/sora_account_in_flight\{account="default"\} 0/);
    expect(text).toMatch(/sora_account_submits_in_window\{account="default"\} 1/);
    expect(text).toMatch(/sora_account_paused\{account="default"\} 0/);
    expect(text).toMatch(/sora_jobs_stored_total 1/);
    expect(text).toMatch(/sora_completion_to_stored_seconds_count 1/);
    expect(text).not.toContain(stack.env.KIE_ACCOUNTS.split(':')[1]);
  });

  it('has no callback route without webhooks configured', async () => {
    const res = await axios.post(`${url}/kie/callback/q/1?token=x`, {}, { validateStatus: () => true });
    expect(res.status).toBe(404);
  });
});

describe('where HTTP servers listen, and who may read /metrics', () => {
  let stack: RenderStack;
  beforeAll(async () => {
    stack = await startRenderStack();
  });
  afterAll(() => stack.close());

  it('every HTTP server listens on loopback unless HTTP_HOST says otherwise', async () => {
    for (const [httpHost, bound] of [
      [undefined, '127.0.0.1'],
      ['0.0.0.0', '0.0.0.0'],
    ] as const) {
      const config = loadConfig({ ...stack.env, ...(httpHost ? { HTTP_HOST: httpHost } : {}) });
      const server = await startWebhookServer({ config, redis: stack.redis, logger: createLogger('silent'), port: 0 });
      try {
        expect(server.host).toBe(bound);
        expect((await axios.get(`${server.url}/healthz`)).status).toBe(200);
      } finally {
        await server.close();
      }
    }
  });

  it('with METRICS_TOKEN, /metrics needs it as a Bearer token; /healthz stays open', async () => {
    const token = 'metrics-token-0123456789';
    const url = (await stack.startWorker({ WORKER_HTTP: 'true', HTTP_PORT: '0', METRICS_TOKEN: token })).httpUrl!;
    const get = (path: string, headers: Record<string, string> = {}) => axios.get(`${url}${path}`, { headers, validateStatus: () => true });
    const refused = await get('/metrics');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect((await get('/metrics', { authorization: 'Bearer not-the-token-at-all' })).status).toBe(401);
    const allowed = await get('/metrics', { authorization: `Bearer ${token}` });
    expect(allowed.status).toBe(200);
    expect(allowed.data).toMatch(/sora_queue_jobs/);
    expect((await get('/healthz')).status).toBe(200);
    expect(stack.logs.join('\n')).not.toContain(token);
  });

  it('HTTP_HOST must be an address or host name, METRICS_TOKEN at least 16 characters', () => {
    expect(() => loadConfig({ ...stack.env, HTTP_HOST: 'http://0.0.0.0', METRICS_TOKEN: 'short' })).toThrow(
      /HTTP_HOST="http:\/\/0.0.0.0": must be an IP address[\s\S]*METRICS_TOKEN="\*\*\*": must be at least 16 characters/,
    );
  });
});
