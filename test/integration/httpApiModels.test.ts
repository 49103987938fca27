/** The HTTP API validates renders against their model's catalog entry, at the door, before Redis is touched. */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Queue } from 'bullmq';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { connectRedis } from '../../src/shared/redis';
import { buildApiServer } from '../../src/producer/api/buildApiServer';
import { REDIS_URL } from '../support/renderStack';

const TOKEN = 'api-token-models-0123456789';
const QUEUE_NAME = `test-api-models-${randomUUID().slice(0, 8)}`;
const redis = connectRedis(REDIS_URL);
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  const config = loadConfig({ REDIS_URL, QUEUE_NAME, API_TOKENS: TOKEN, KIE_DEFAULT_MODEL: 'veo-3.1-fast' }, { accountsRequired: false });
  app = buildApiServer({ config, redis, logger: createLogger('silent', 'api') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  await queue.obliterate({ force: true });
  await queue.close();
  await redis.quit();
});

const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function post(payload: unknown) {
  const res = await fetch(`${base}/renders`, { method: 'POST', headers, body: JSON.stringify(payload) });
  return { statusCode: res.status, json: (await res.json()) as Record<string, any> };
}

it('refuses what the model cannot render with 400, naming the model and the field', async () => {
  const res = await post({ model: 'kling-2.6', prompt: 'a crane', duration: 15, images: ['https://img.example/a.png', 'https://img.example/b.png'] });
  expect(res.statusCode).toBe(400);
  expect(res.json.issues).toEqual([
    { field: 'duration', value: 15, rule: 'kling-2.6 accepts 5 or 10' },
    { field: 'images', value: 2, rule: 'kling-2.6 image-to-video takes at most 1 image' },
  ]);
});

it('renders with KIE_DEFAULT_MODEL and its defaults when the request names no model', async () => {
  const res = await post({ prompt: 'a heron at dawn' });
  expect(res.statusCode).toBe(201);
  const job = (await (await fetch(`${base}/renders/${res.json.jobId}`, { headers })).json()) as Record<string, any>;
  expect(job.request).toEqual({ type: 'text', model: 'veo-3.1-fast', prompt: 'a heron at dawn', duration: 8, aspectRatio: '16:9' });
});
