/**
 * The OpenAPI document (/openapi.json) describes every route the API registers, and nothing it does
 * not; it is OpenAPI 3.1 whose references all resolve; the unversioned aliases are marked
 * deprecated and answer with a Deprecation header; /docs serves Swagger UI from the API itself.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildApiServer } from '../../src/producer/api/buildApiServer';
import { openApiPath } from '../../src/producer/api/openapi/openApiDocument';
import { registeredRoutes } from '../../src/producer/api/openapi/routeList';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { connectRedis } from '../../src/shared/redis';
import { REDIS_URL } from '../support/renderStack';

const TOKEN = 'openapi-token-0123456789';
/** Pages for people, not API: the console, its login and files, Swagger UI, bull-board. */
const PAGES = [/^\/$/, /^\/login$/, /^\/console\//, /^\/docs(\/|$)/, /^\/dashboard(\/|$)/];

let redis: Redis;
let app: FastifyInstance;
let base: string;
let doc: { openapi: string; paths: Record<string, Record<string, any>>; components: { schemas: Record<string, unknown> } };

beforeAll(async () => {
  redis = connectRedis(REDIS_URL);
  const config = loadConfig(
    { REDIS_URL, QUEUE_NAME: `test-openapi-${process.pid}`, LIMITER_PREFIX: `test-openapi-${process.pid}`, API_TOKENS: TOKEN },
    { accountsRequired: false },
  );
  app = buildApiServer({ config, redis, logger: createLogger('silent', 'api') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const res = await get('/openapi.json');
  expect(res.statusCode).toBe(200);
  doc = res.json();
});

/** A GET with the token (or, with `anonymous`, none), read as text. */
async function get(path: string, anonymous = false) {
  const res = await fetch(base + path, { headers: anonymous ? {} : { authorization: `Bearer ${TOKEN}` }, redirect: 'manual' });
  const body = await res.text();
  return { statusCode: res.status, headers: Object.fromEntries(res.headers), body, json: () => JSON.parse(body) };
}

afterAll(async () => {
  await app?.close();
  await redis.quit();
});

const apiRoutes = () => registeredRoutes(app).filter((r) => r.method !== 'HEAD' && !PAGES.some((p) => p.test(r.url)));

test('every route the API registers is in the document', () => {
  expect(apiRoutes().length).toBeGreaterThan(20);
  const missing = apiRoutes().filter((r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]);
  expect(missing).toEqual([]);
});

test('every operation in the document is a route', () => {
  const registered = new Set(apiRoutes().map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`));
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
  expect(documented.filter((op) => !registered.has(op))).toEqual([]);
});

test('OpenAPI 3.1: unique operation ids, declared path parameters, every $ref resolves', () => {
  expect(doc.openapi).toBe('3.1.0');
  const ops = Object.entries(doc.paths).flatMap(([path, o]) => Object.values(o).map((op) => ({ path, op })));
  expect(new Set(ops.map(({ op }) => op.operationId)).size).toBe(ops.length);
  for (const { path, op } of ops) {
    const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    expect(op.parameters?.filter((p: any) => p.in === 'path').map((p: any) => p.name) ?? []).toEqual(inPath);
    expect(Object.keys(op.responses).length).toBeGreaterThan(0);
  }
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
  expect(refs.length).toBeGreaterThan(10);
  expect(refs.filter((name) => !(name in doc.components.schemas))).toEqual([]);
});

test('bodies are described by the schemas the routes check with', () => {
  const body = (path: string, method: string) => doc.paths[path]![method].requestBody.content['application/json'].schema;
  expect(body('/v1/renders', 'post')).toEqual({ $ref: '#/components/schemas/EnqueueBody' });
  const enqueue = JSON.stringify(doc.components.schemas.EnqueueBody);
  // The render request's own fields and rules (a client sends `type` or not: it has a default).
  for (const field of ['"prompt"', '"aspectRatio"', '"images"', '"storyboard"', '"maxLength":20000']) expect(enqueue).toContain(field);
  const patch = doc.components.schemas.PatchBatchBody as { required: string[]; additionalProperties: boolean };
  expect(patch).toMatchObject({ required: ['budgetUsd'], additionalProperties: false });
  expect(doc.paths['/v1/batches']!.post.parameters).toEqual([
    expect.objectContaining({ name: 'dryRun', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] } }),
  ]);
});

test('the unversioned paths are deprecated aliases that say so', async () => {
  expect(doc.paths['/renders']!.post).toMatchObject({ deprecated: true, operationId: 'enqueueRendersUnversioned' });
  expect(doc.paths['/schedules/{id}']!.put.deprecated).toBe(true);
  expect(doc.paths['/v1/renders']!.post.deprecated).toBeUndefined();
  const old = await get('/schedules');
  expect(old.statusCode).toBe(200);
  expect(old.headers.deprecation).toMatch(/^@\d+$/);
  expect(old.headers.link).toBe('</v1/schedules>; rel="successor-version"');
  const current = await get('/v1/schedules');
  expect(current.json()).toEqual(old.json());
  expect(current.headers.deprecation).toBeUndefined();
});

test('/docs is Swagger UI served by the API, no CDN', async () => {
  const page = await get('/docs');
  expect(page.statusCode).toBe(200);
  const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(sources.length).toBe(3);
  for (const src of sources) {
    expect(src).toMatch(/^\//);
    const asset = await get(src);
    expect(asset.statusCode).toBe(200);
    expect(asset.body.length).toBeGreaterThan(50);
  }
  expect((await get('/docs/package.json')).statusCode).toBe(404);
  // Without a token or a session, a browser goes to the login page.
  const anonymous = await get('/docs', true);
  expect([anonymous.statusCode, anonymous.headers.location]).toEqual([302, '/login']);
});
