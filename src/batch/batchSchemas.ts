/**
 * The batch's public shapes, as zod schemas: what `POST /v1/batches`, `PATCH /v1/batches/:id` and
 * the CLI's batch options take, and what the batch routes answer. Requests are checked here with
 * the `{field, value, rule}` issues every error of the project names.
 */
import { z } from 'zod';
import { ValidationError } from '../shared/errors';
import { batchName, httpUrl, valueAt } from '../shared/renderRequest';
import { BATCH_JOB_STATES } from './batchLedger';

/** Render requests one POST may carry (as `POST /renders`); larger batches come in several. */
export const MAX_REQUESTS_PER_POST = 1000;

const budgetUsd = z
  .number({ error: 'must be a number of dollars' })
  .nonnegative({ error: 'must be 0 or more' })
  .max(1_000_000, { error: 'must be at most 1000000' });

/** A batch's own fields; `id` is made up when left out. */
export const batchFieldsSchema = z.strictObject({
  id: batchName.optional(),
  tenant: batchName.optional(),
  budgetUsd: budgetUsd.optional(),
  notifyUrl: httpUrl.optional(),
});

/** `POST /v1/batches`: the batch, and optionally its first render requests (more may come later, with its id as batchId). */
export const createBatchBodySchema = batchFieldsSchema.extend({
  requests: z
    .array(z.unknown(), { error: 'must be a list of render requests' })
    .max(MAX_REQUESTS_PER_POST, { error: `must hold at most ${MAX_REQUESTS_PER_POST} requests (send more with the batch's id as batchId)` })
    .optional(),
});

/** `PATCH /v1/batches/:id`: null removes the budget. */
export const patchBatchBodySchema = z.strictObject({ budgetUsd: budgetUsd.nullable() });

export const createBatchQuerySchema = z.strictObject({ dryRun: z.enum(['true', 'false'], { error: 'must be true or false' }).optional() });

export const exportQuerySchema = z.strictObject({ format: z.enum(['jsonl', 'csv'], { error: 'must be jsonl or csv' }).optional() });

const counts = z.object(Object.fromEntries(BATCH_JOB_STATES.map((s) => [s, z.number().int()])) as Record<(typeof BATCH_JOB_STATES)[number], z.ZodNumber>);

/** `GET /v1/batches/:id` (and `sora-batch batch <id> --json`). */
export const batchStatusSchema = z.object({
  batchId: z.string(),
  queue: z.string(),
  tenant: z.string(),
  state: z.enum(['open', 'cancelling', 'cancelled', 'finished']),
  createdAt: z.string(),
  cancelledAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  notifyUrl: z.string().nullable(),
  jobs: z.number().int(),
  counts,
  videosStored: z.number().int(),
  secondsRendered: z.number(),
  bytesStored: z.number().int(),
  spentUsd: z.number(),
  reservedUsd: z.number(),
  budgetUsd: z.number().nullable(),
  budgetLeftUsd: z.number().nullable(),
  estimatedFinishAt: z.string().nullable(),
  failures: z.array(z.object({ jobId: z.string(), reason: z.string() })),
  manifest: z.object({ key: z.string(), writtenAt: z.string() }).nullable(),
});

/** `POST /v1/batches?dryRun=true` (and `sora-batch estimate --json`'s `estimate`). */
export const batchEstimateSchema = z.object({
  jobs: z.number().int(),
  seconds: z.number(),
  costUsd: z.number(),
  perModel: z.array(z.object({ model: z.string(), jobs: z.number().int(), seconds: z.number(), costUsd: z.number() })),
  quota: z.object({
    accounts: z.number().int(),
    perWindow: z.number().int(),
    windowMs: z.number().int(),
    leftInWindow: z.number().int(),
    jobsNow: z.number().int(),
  }),
  budget: z
    .object({
      budgetUsd: z.number(),
      spentUsd: z.number(),
      reservedUsd: z.number(),
      leftUsd: z.number(),
      jobsAllowed: z.number().int(),
      costAllowedUsd: z.number(),
    })
    .optional(),
  finish: z.object({ durationMs: z.number().int(), finishAt: z.string(), windowsWaited: z.number().int(), assumptions: z.array(z.string()) }),
});

/** Parses `input` or throws ValidationError naming each bad field (`where` prefixes them, e.g. `query`). */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown, where?: string): z.output<T> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.flatMap((issue) => {
      const prefix = (path: PropertyKey[]): string => [where, ...path.map(String)].filter(Boolean).join('.') || '(body)';
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((k) => ({ field: prefix([...issue.path, k]), value: valueAt(input, [...issue.path, k]), rule: 'is not a known field' }));
      return [{ field: prefix(issue.path), value: valueAt(input, issue.path), rule: issue.message }];
    }),
  );
}
