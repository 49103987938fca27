/**
 * The HTTP API (`npm run api`): enqueue renders, read a job's state, manage schedules, and the
 * queue dashboard (bull-board, read-only). Every route but `GET /healthz` needs one of API_TOKENS. Requests are
 * validated by the producer library, with the schema the worker applies.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config';
import { BatchConflictError, echoIssue, ValidationError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { redisAnswers } from '../../shared/redis';
import type { RenderResult, RenderState } from '../../shared/renderJob';
import { EnqueueOptions, RenderProducer } from '../renderProducer';
import { queueTelemetry } from '../../shared/tracing';
import { listRenderSchedules, removeRenderSchedule, scheduleRender } from '../renderSchedules';
import { presentedToken, tokenChecker } from '../../shared/httpTokens';
import { registerBatchRoutes } from './batchRoutes';

export interface ApiServerDeps {
  config: Config;
  redis: Redis;
  logger: Logger;
}

export const DASHBOARD_PATH = '/dashboard';
/** Renders one POST may carry; larger backlogs come in several requests (or through the library). */
export const MAX_RENDERS_PER_REQUEST = 1000;
/** A render request is at most ~5 KB (prompt 800 chars, metadata 4 KB): room for a full batch. */
const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

type EnqueueRoute = {
  Body: unknown;
  Querystring: { priority?: string; delay?: string; batchId?: string };
  Headers: { 'idempotency-key'?: string };
};
type JobRoute = { Params: { jobId: string } };
type ScheduleRoute = { Params: { id: string }; Body: unknown };
type RenderStep = NonNullable<RenderState['step']>;
type ScheduleBody = { cron?: string; tz?: string; everyMs?: number; request?: unknown };

function wholeNumber(field: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new ValidationError([{ field, value: raw, rule: 'must be a whole number' }]);
  return Number(raw);
}

function enqueueOptions(request: FastifyRequest<EnqueueRoute>): EnqueueOptions {
  const { priority, delay, batchId } = request.query;
  const idempotencyKey = request.headers['idempotency-key'];
  if (idempotencyKey !== undefined && Array.isArray(request.body)) {
    throw new ValidationError([
      { field: 'Idempotency-Key', value: idempotencyKey, rule: 'applies to a single render; give each render of a batch its own idempotencyKey field' },
    ]);
  }
  return { priority: wholeNumber('priority', priority), delay: wholeNumber('delay', delay), batchId, idempotencyKey };
}

/** A finished job's step says it is finished; otherwise the last step it reached (null before its submit). */
function stepOf(state: string, step: RenderStep | undefined): RenderStep | 'stored' | 'failed' | null {
  if (state === 'completed') return 'stored';
  if (state === 'failed') return 'failed';
  return step ?? null;
}

export function buildApiServer(deps: ApiServerDeps): FastifyInstance {
  const { config, redis } = deps;
  const logger = deps.logger.child({ component: 'api' });
  // The connection reports its own outages; healthz answers 503 meanwhile.
  const producer = new RenderProducer({
    connection: redis,
    queueName: config.queueName,
    limiterPrefix: config.limiterPrefix,
    models: config.kie.models,
    notifyAllowPrivate: config.notify.allowPrivate,
    logger,
    telemetry: queueTelemetry(config),
  });
  const isKnownToken = tokenChecker(config.apiTokens);

  // No fastify request logger: requests carry the caller's token.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
  // JSON only: without the text parser, any other content type is refused with 415.
  app.removeContentTypeParser('text/plain');
  app.addHook('onClose', () => producer.close());

  // Registered before the routes and the dashboard, so it guards all of them.
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url === '/healthz') return;
    if (!isKnownToken(presentedToken(request.headers.authorization))) {
      // Basic makes a browser ask for the token (as the password) on the dashboard.
      return reply.code(401).header('www-authenticate', 'Basic realm="sora-batch", charset="UTF-8"').send({ error: 'missing or invalid API token' });
    }
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ValidationError) return reply.code(400).send({ error: err.message, issues: err.issues.map(echoIssue) });
    if (err instanceof BatchConflictError) return reply.code(409).send({ error: err.message });
    // Body errors (413 too large, 400 malformed JSON, 415 not JSON) come from the parser.
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    logger.error({ method: request.method, route: request.routeOptions.url, err: err.message }, 'API request failed');
    return reply.code(500).send({ error: 'internal error' });
  });

  app.get('/healthz', async (_request, reply) => {
    const ok = await redisAnswers(redis);
    return reply.code(ok ? 200 : 503).send({ ok });
  });

  app.post<EnqueueRoute>('/renders', async (request, reply) => {
    const opts = enqueueOptions(request);
    const { body } = request;
    if (!Array.isArray(body)) {
      const job = await producer.enqueue(body, opts);
      logger.info({ jobId: job.jobId, created: job.created }, 'render enqueued');
      return reply.code(job.created ? 201 : 200).send(job);
    }
    if (body.length === 0 || body.length > MAX_RENDERS_PER_REQUEST) {
      throw new ValidationError([{ field: 'body', value: `${body.length} renders`, rule: `a batch holds 1 to ${MAX_RENDERS_PER_REQUEST} renders` }]);
    }
    const jobs = await producer.enqueueMany(body, opts);
    const created = jobs.filter((j) => j.created).length;
    logger.info({ renders: jobs.length, created }, 'renders enqueued');
    return reply.code(created > 0 ? 201 : 200).send({ jobs });
  });

  app.get<JobRoute>('/renders/:jobId', async (request, reply) => {
    const job = await producer.queue.getJob(request.params.jobId);
    if (!job) return reply.code(404).send({ error: `no job ${request.params.jobId} in queue ${config.queueName}` });
    const { render, ...renderRequest } = job.data;
    const state = await job.getState();
    return {
      jobId: job.id,
      state,
      step: stepOf(state, render?.step),
      request: renderRequest,
      result: (job.returnvalue as RenderResult | undefined) ?? null,
      failedReason: job.failedReason || null,
      possibleDuplicate: render?.possibleDuplicate ?? false,
      // Why a delayed job waits, where a person can act on it: { reason: 'budget' | 'tenant', scope, message, since }.
      waiting: state === 'delayed' && render?.waiting ? { ...render.waiting, since: new Date(render.waiting.since).toISOString() } : null,
      attemptsMade: job.attemptsMade,
      createdAt: new Date(job.timestamp).toISOString(),
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  });

  app.get('/schedules', async () => ({ schedules: await listRenderSchedules(producer) }));

  app.put<ScheduleRoute>('/schedules/:id', async (request) => {
    const { cron, tz, everyMs, request: render } = (request.body ?? {}) as ScheduleBody;
    const schedule = await scheduleRender(producer, request.params.id, { cron, tz, everyMs }, render, { minIntervalMs: config.scheduleMinIntervalMs });
    logger.info({ schedule: schedule.id }, 'schedule saved');
    return schedule;
  });

  app.delete<ScheduleRoute>('/schedules/:id', async (request, reply) => {
    if (!(await removeRenderSchedule(producer, request.params.id))) return reply.code(404).send({ error: `no schedule ${request.params.id}` });
    logger.info({ schedule: request.params.id }, 'schedule removed');
    return reply.code(204).send();
  });

  registerBatchRoutes(app, { config, redis, producer, logger });

  // Read-only: a retry or a promotion from a browser must not bypass the worker's own rules.
  const board = new FastifyAdapter();
  board.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(producer.queue, { readOnlyMode: true })],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'sora-batch' } },
  });
  void app.register(board.registerPlugin(), { prefix: DASHBOARD_PATH });

  return app;
}
