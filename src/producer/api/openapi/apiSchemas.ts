/**
 * The shapes of the HTTP API that have no schema of their own elsewhere: render and schedule
 * answers, the fleet, a batch's videos, errors. Routes check their input with these (or with the
 * request and batch schemas they import), and the OpenAPI document is generated from the same.
 */
import { z } from 'zod';
import { renderRequest } from '../../../shared/renderRequest';
import { batchEstimateSchema, batchFieldsSchema, batchStatusSchema } from '../../../batch/batchSchemas';

export const errorSchema = z.object({
  error: z.string(),
  issues: z.array(z.object({ field: z.string(), value: z.unknown().optional(), rule: z.string() })).optional(),
});

/** `POST /v1/renders`: one request, or a list of them. */
export const enqueueBodySchema = z.union([renderRequest, z.array(renderRequest)]);

export const enqueueQuerySchema = z.object({
  priority: z.string().regex(/^\d+$/).optional().describe('BullMQ priority (1 = highest)'),
  delay: z.string().regex(/^\d+$/).optional().describe('milliseconds before the render may start'),
  batchId: z.string().optional().describe('join this batch'),
});

export const enqueuedJobSchema = z.object({ jobId: z.string(), created: z.boolean() });
export const enqueuedJobsSchema = z.object({ jobs: z.array(enqueuedJobSchema) });

export const renderJobSchema = z.object({
  jobId: z.string(),
  state: z.string(),
  step: z.string().nullable(),
  request: z.record(z.string(), z.unknown()),
  result: z.record(z.string(), z.unknown()).nullable(),
  failedReason: z.string().nullable(),
  possibleDuplicate: z.boolean(),
  waiting: z
    .object({
      reason: z.enum(['budget', 'tenant']),
      scope: z.string().describe('budget: daily | tenant | batch; tenant: daily | concurrent'),
      message: z.string(),
      since: z.string(),
    })
    .nullable()
    .describe('why a delayed job waits, where a person can act on it (raise the budget, the tenant cap); null otherwise'),
  attemptsMade: z.number().int(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

/** `PUT /v1/schedules/:id`; the timing and the request are checked by renderSchedules.ts. */
export const scheduleBodySchema = z.object({
  cron: z.string().optional(),
  tz: z.string().optional(),
  everyMs: z.number().optional(),
  request: z.unknown(),
});

export const scheduleSchema = z.object({
  id: z.string(),
  cron: z.string().optional(),
  everyMs: z.number().optional(),
  tz: z.string().optional(),
  next: z.string().optional(),
  request: z.record(z.string(), z.unknown()),
});
export const schedulesSchema = z.object({ schedules: z.array(scheduleSchema) });

export const batchListSchema = z.object({
  batches: z.array(
    z.object({
      batchId: z.string(),
      state: z.string(),
      createdAt: z.string(),
      jobs: z.number().int(),
      done: z.number().int(),
      failed: z.number().int(),
      spentUsd: z.number(),
      budgetUsd: z.number().nullable(),
      estimatedFinishAt: z.string().nullable(),
    }),
  ),
});

export const batchVideosSchema = z.object({
  batchId: z.string(),
  /** Seconds the links stay valid. */
  linkTtlSeconds: z.number().int(),
  videos: z.array(
    z.object({
      jobId: z.string(),
      state: z.enum(['stored', 'failed', 'cancelled']),
      model: z.string().nullable(),
      prompt: z.string().nullable(),
      durationSeconds: z.number().nullable(),
      size: z.number().int().nullable(),
      sha256: z.string().nullable(),
      key: z.string().nullable(),
      url: z.string().nullable().describe('a presigned S3 GET link (stored videos)'),
      reason: z.string().nullable(),
      advice: z.string().nullable().describe('what to do about a failure'),
    }),
  ),
});

/** `POST /v1/batch-files`: a CSV or JSON Lines file's text, read into requests (nothing is enqueued). */
export const batchFileBodySchema = z.strictObject({
  format: z.enum(['csv', 'jsonl'], { error: 'must be csv or jsonl' }),
  text: z.string({ error: 'must be the file as text' }).max(8_000_000, { error: 'must be at most 8 MB' }),
});

export const batchFileSchema = z.object({
  requests: z.array(z.record(z.string(), z.unknown())),
  bad: z.array(z.object({ line: z.string(), issues: errorSchema.shape.issues.unwrap() })),
});

export const fleetSchema = z.object({
  queue: z.string(),
  counts: z.record(z.string(), z.number().int()),
  accountsFrom: z.enum(['configured', 'registered']),
  accounts: z.array(
    z.object({
      account: z.string(),
      inFlight: z.number().int(),
      maxConcurrent: z.number().int(),
      submitsInWindow: z.number().int(),
      dailyLimit: z.number().int(),
      nextQuotaAt: z.number().optional(),
      paused: z.string().optional(),
      waiters: z.number().int(),
      credits: z.object({ credits: z.number(), readAt: z.number() }).optional(),
    }),
  ),
  pausedModels: z.array(
    z.object({ model: z.string(), paused: z.object({ reason: z.string(), since: z.number(), by: z.enum(['kie', 'operator']) }), waiters: z.number().int() }),
  ),
  alerts: z.array(z.object({ at: z.string(), alert: z.string(), details: z.record(z.string(), z.union([z.string(), z.number()])) })),
});

export const resumedSchema = z.object({ resumed: z.string(), woken: z.number().int() });

export const modelsSchema = z.object({
  defaultModel: z.string(),
  models: z.array(z.record(z.string(), z.unknown()).describe('a catalog entry (see KIE_MODELS_FILE)')),
});

export const createBatchBodyDoc = batchFieldsSchema.extend({ requests: z.array(renderRequest).max(1000).optional() });

export const enqueueAnswerSchema = z.union([enqueuedJobSchema, enqueuedJobsSchema]);

export const createdBatchSchema = z.object({ batch: batchStatusSchema, jobs: z.array(enqueuedJobSchema) });

export const dryRunSchema = z.object({ batchId: z.string(), dryRun: z.literal(true), estimate: batchEstimateSchema });

export const eventsQuerySchema = z.strictObject({ batch: z.string().min(1).max(200).optional().describe('also stream this batch') });

export const cancelledSchema = z.object({ removed: z.number().int(), batch: batchStatusSchema });
