/**
 * Every operation of the HTTP API, as the OpenAPI document describes it: its path, its input and
 * answers as the zod schemas the routes check with. A route registered without an entry here fails
 * test/unit/openApiDocument.test.ts.
 */
import { z } from 'zod';
import { batchEstimateSchema, batchStatusSchema, createBatchQuerySchema, exportQuerySchema, patchBatchBodySchema } from '../../../batch/batchSchemas';
import {
  batchFileBodySchema,
  batchFileSchema,
  batchListSchema,
  batchVideosSchema,
  cancelledSchema,
  createBatchBodyDoc,
  createdBatchSchema,
  dryRunSchema,
  enqueueAnswerSchema,
  enqueueBodySchema,
  enqueuedJobSchema,
  enqueuedJobsSchema,
  enqueueQuerySchema,
  eventsQuerySchema,
  fleetSchema,
  modelsSchema,
  renderJobSchema,
  resumedSchema,
  scheduleBodySchema,
  scheduleSchema,
  schedulesSchema,
} from './apiSchemas';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Answer {
  description: string;
  /** A zod schema (JSON), or a media type with no schema (a CSV, an event stream). */
  schema?: z.ZodType;
  mediaType?: string;
}

export interface Operation {
  method: Method;
  /** Fastify's spelling (`/v1/batches/:id`). */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  headers?: Record<string, string>;
  answers: Record<number, Answer>;
  /** Reachable without a token. */
  open?: boolean;
}

/** Names the generated components: a schema used by several operations is described once. */
export const NAMED_SCHEMAS = new Map<z.ZodType, string>([
  [enqueueBodySchema, 'EnqueueBody'],
  [enqueuedJobSchema, 'EnqueuedJob'],
  [enqueuedJobsSchema, 'EnqueuedJobs'],
  [enqueueAnswerSchema, 'EnqueueAnswer'],
  [createdBatchSchema, 'CreatedBatch'],
  [dryRunSchema, 'DryRun'],
  [cancelledSchema, 'CancelledBatch'],
  [renderJobSchema, 'RenderJob'],
  [scheduleBodySchema, 'ScheduleBody'],
  [scheduleSchema, 'Schedule'],
  [schedulesSchema, 'Schedules'],
  [createBatchBodyDoc, 'CreateBatchBody'],
  [patchBatchBodySchema, 'PatchBatchBody'],
  [batchStatusSchema, 'BatchStatus'],
  [batchEstimateSchema, 'BatchEstimate'],
  [batchListSchema, 'BatchList'],
  [batchVideosSchema, 'BatchVideos'],
  [batchFileBodySchema, 'BatchFileBody'],
  [batchFileSchema, 'BatchFile'],
  [fleetSchema, 'Fleet'],
  [resumedSchema, 'Resumed'],
  [modelsSchema, 'Models'],
]);

const bad = { description: 'a field is wrong: each issue names the field, the value and the rule' };
const missing = { description: 'no such thing in this queue' };

/** The operations the unversioned paths still answer for one release (deprecated). */
export const LEGACY_PREFIXES = ['/renders', '/schedules'];

export const OPERATIONS: readonly Operation[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    tag: 'service',
    summary: 'Redis answers (200) or not (503)',
    answers: { 200: { description: 'ok' }, 503: { description: 'Redis does not answer' } },
    open: true,
  },
  { method: 'get', path: '/openapi.json', operationId: 'openApi', tag: 'service', summary: 'this document', answers: { 200: { description: 'OpenAPI 3.1' } } },
  {
    method: 'post',
    path: '/v1/renders',
    operationId: 'enqueueRenders',
    tag: 'renders',
    summary: 'enqueue one render request, or a list of up to 1000',
    body: enqueueBodySchema,
    query: enqueueQuerySchema,
    headers: { 'Idempotency-Key': 'a single render sent again with the same key is not enqueued twice' },
    answers: {
      201: { description: 'enqueued (one job, or { jobs } for a list)', schema: enqueueAnswerSchema },
      200: { description: 'already there (same idempotency keys)', schema: enqueueAnswerSchema },
      400: bad,
    },
  },
  {
    method: 'get',
    path: '/v1/renders/:jobId',
    operationId: 'getRender',
    tag: 'renders',
    summary: "a render's state, step, result or failure",
    answers: { 200: { description: 'the job', schema: renderJobSchema }, 404: missing },
  },
  {
    method: 'get',
    path: '/v1/schedules',
    operationId: 'listSchedules',
    tag: 'schedules',
    summary: 'the recurring renders',
    answers: { 200: { description: 'schedules', schema: schedulesSchema } },
  },
  {
    method: 'put',
    path: '/v1/schedules/:id',
    operationId: 'putSchedule',
    tag: 'schedules',
    summary: 'create or replace a recurring render (cron or everyMs)',
    body: scheduleBodySchema,
    answers: { 200: { description: 'saved', schema: scheduleSchema }, 400: bad },
  },
  {
    method: 'delete',
    path: '/v1/schedules/:id',
    operationId: 'deleteSchedule',
    tag: 'schedules',
    summary: 'stop a schedule',
    answers: { 204: { description: 'removed' }, 404: missing },
  },
  {
    method: 'post',
    path: '/v1/batches',
    operationId: 'createBatch',
    tag: 'batches',
    summary: 'open a batch with its first requests, or estimate it (dryRun=true)',
    body: createBatchBodyDoc,
    query: createBatchQuerySchema,
    answers: {
      201: { description: 'created, or requests added', schema: createdBatchSchema },
      200: {
        description: 'nothing new (the same POST again), or a dry run: { batchId, dryRun, estimate }',
        schema: z.union([createdBatchSchema, dryRunSchema]),
      },
      400: bad,
      409: { description: 'the batch exists with other fields' },
    },
  },
  {
    method: 'get',
    path: '/v1/batches',
    operationId: 'listBatches',
    tag: 'batches',
    summary: 'the newest batches of the queue, with progress and cost',
    answers: { 200: { description: 'batches', schema: batchListSchema } },
  },
  {
    method: 'get',
    path: '/v1/batches/:id',
    operationId: 'getBatch',
    tag: 'batches',
    summary: "a batch's progress, cost, budget, finish time and failures",
    answers: { 200: { description: 'the batch', schema: batchStatusSchema }, 404: missing },
  },
  {
    method: 'patch',
    path: '/v1/batches/:id',
    operationId: 'patchBatch',
    tag: 'batches',
    summary: "change a batch's budget (null removes it)",
    body: patchBatchBodySchema,
    answers: { 200: { description: 'the batch', schema: batchStatusSchema }, 400: bad, 404: missing },
  },
  {
    method: 'delete',
    path: '/v1/batches/:id',
    operationId: 'cancelBatch',
    tag: 'batches',
    summary: "cancel a batch's waiting jobs",
    answers: { 202: { description: 'cancelling', schema: cancelledSchema }, 404: missing, 409: { description: 'already finished', schema: cancelledSchema } },
  },
  {
    method: 'get',
    path: '/v1/batches/:id/manifest',
    operationId: 'batchManifest',
    tag: 'batches',
    summary: "the batch's finished jobs, one line each",
    query: exportQuerySchema,
    answers: { 200: { description: 'JSON Lines or CSV', mediaType: 'application/x-ndjson' }, 404: missing },
  },
  {
    method: 'get',
    path: '/v1/batches/:id/videos',
    operationId: 'batchVideos',
    tag: 'batches',
    summary: "the batch's finished jobs with short-lived links to play the videos",
    answers: { 200: { description: 'videos and failures', schema: batchVideosSchema }, 404: missing },
  },
  {
    method: 'post',
    path: '/v1/batch-files',
    operationId: 'readBatchFile',
    tag: 'batches',
    summary: 'read a CSV or JSON Lines file into render requests (nothing is enqueued)',
    body: batchFileBodySchema,
    answers: { 200: { description: 'requests, and the lines that are not', schema: batchFileSchema }, 400: bad },
  },
  {
    method: 'get',
    path: '/v1/fleet',
    operationId: 'fleet',
    tag: 'fleet',
    summary: 'queue counts, accounts, paused models, recent alerts',
    answers: { 200: { description: 'the fleet', schema: fleetSchema } },
  },
  {
    method: 'post',
    path: '/v1/accounts/:name/resume',
    operationId: 'resumeAccount',
    tag: 'fleet',
    summary: 'put a paused account back into rotation',
    answers: { 200: { description: 'resumed', schema: resumedSchema }, 404: missing },
  },
  {
    method: 'post',
    path: '/v1/models/:id/resume',
    operationId: 'resumeModel',
    tag: 'fleet',
    summary: 'put a paused model back and wake its jobs',
    answers: { 200: { description: 'resumed', schema: resumedSchema }, 404: missing },
  },
  {
    method: 'get',
    path: '/v1/models',
    operationId: 'models',
    tag: 'fleet',
    summary: 'the model catalog: modes, durations, ratios, options, prices',
    answers: { 200: { description: 'the catalog', schema: modelsSchema } },
  },
  {
    method: 'get',
    path: '/v1/events',
    operationId: 'events',
    tag: 'fleet',
    summary: 'server-sent events: `fleet`, `batches` and (with ?batch=<id>) `batch` and `videos`, each sent when it changes',
    query: eventsQuerySchema,
    answers: { 200: { description: 'an event stream', mediaType: 'text/event-stream' } },
  },
];
