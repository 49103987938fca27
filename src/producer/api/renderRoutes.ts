/**
 * The render and schedule routes: enqueue renders, read a job, manage recurring renders. They live
 * under /v1; buildApiServer also mounts them at their old unversioned paths for one release.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../shared/config';
import { ValidationError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { RenderResult, RenderState } from '../../shared/renderJob';
import { parseWith } from '../../batch/batchSchemas';
import type { EnqueueOptions, RenderProducer } from '../renderProducer';
import { listRenderSchedules, removeRenderSchedule, scheduleRender } from '../renderSchedules';
import { scheduleBodySchema } from './openapi/apiSchemas';

/** Renders one POST may carry; larger backlogs come in several requests (or through the library). */
export const MAX_RENDERS_PER_REQUEST = 1000;

export interface RenderRouteDeps {
  config: Config;
  producer: RenderProducer;
  logger: Logger;
}

type EnqueueRoute = {
  Body: unknown;
  Querystring: { priority?: string; delay?: string; batchId?: string };
  Headers: { 'idempotency-key'?: string };
};
type JobRoute = { Params: { jobId: string } };
type ScheduleRoute = { Params: { id: string }; Body: unknown };
type RenderStep = NonNullable<RenderState['step']>;

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

export function registerRenderRoutes(app: FastifyInstance, deps: RenderRouteDeps): void {
  const { config, producer, logger } = deps;

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
      waiting: state === 'delayed' && render?.waiting ? { ...render.waiting, since: new Date(render.waiting.since).toISOString() } : null,
      attemptsMade: job.attemptsMade,
      createdAt: new Date(job.timestamp).toISOString(),
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  });

  app.get('/schedules', async () => ({ schedules: await listRenderSchedules(producer) }));

  app.put<ScheduleRoute>('/schedules/:id', async (request) => {
    const { cron, tz, everyMs, request: render } = parseWith(scheduleBodySchema, request.body);
    const schedule = await scheduleRender(producer, request.params.id, { cron, tz, everyMs }, render, { minIntervalMs: config.scheduleMinIntervalMs });
    logger.info({ schedule: schedule.id }, 'schedule saved');
    return schedule;
  });

  app.delete<ScheduleRoute>('/schedules/:id', async (request, reply) => {
    if (!(await removeRenderSchedule(producer, request.params.id))) return reply.code(404).send({ error: `no schedule ${request.params.id}` });
    logger.info({ schedule: request.params.id }, 'schedule removed');
    return reply.code(204).send();
  });
}
