/**
 * The one schema for a render request, used by the producer (at the door) and by the worker
 * (for jobs added by foreign backends with a stock BullMQ client).
 */
import { z } from 'zod';
import { FieldIssue, ValidationError } from './errors';

export const ASPECT_RATIOS = ['16:9', '9:16', '1:1'] as const;
export const QUALITIES = ['standard', 'high'] as const;
export const STORYBOARD_TOTALS = [10, 15, 25] as const;
const MAX_METADATA_BYTES = 4096;

/** Relative S3 key: no leading '/', no '..' segment, no control characters, at most 900 chars. */
const objectKey = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(900, { error: 'must be at most 900 characters' })
  .refine((k) => !k.startsWith('/'), { error: 'must be relative (no leading "/")' })
  .refine((k) => !k.split('/').includes('..'), { error: 'must not contain a ".." segment' })
  // eslint-disable-next-line no-control-regex
  .refine((k) => !/[\u0000-\u001f\u007f]/.test(k), { error: 'must not contain control characters' });

const httpUrl = z
  .string()
  .refine(
    (u) => {
      try {
        const { protocol } = new URL(u);
        return protocol === 'http:' || protocol === 'https:';
      } catch {
        return false;
      }
    },
    { error: 'must be an http(s) URL' },
  );

const metadata = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON object' })
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, {
    error: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
  });

const prompt = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(800, { error: 'must be at most 800 characters' });

const common = {
  aspectRatio: z.enum(ASPECT_RATIOS, { error: `must be one of ${ASPECT_RATIOS.join(', ')}` }).default('16:9'),
  quality: z.enum(QUALITIES, { error: `must be one of ${QUALITIES.join(', ')}` }).default('standard'),
  seed: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(10000, { error: 'must be between 10000 and 99999' })
    .max(99999, { error: 'must be between 10000 and 99999' })
    .optional(),
  removeWatermark: z.boolean({ error: 'must be true or false' }).optional(),
  key: objectKey.optional(),
  batchId: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(200, { error: 'must be at most 200 characters' })
    .optional(),
  metadata: metadata.optional(),
  notifyUrl: httpUrl.optional(),
};

const textRequest = z.strictObject({
  type: z.literal('text').default('text'),
  prompt,
  duration: z
    .union([z.literal(10), z.literal(15)], { error: 'must be 10 or 15' })
    .default(10),
  ...common,
});

const shot = z.strictObject({
  prompt,
  seconds: z.number({ error: 'must be a number' }).positive({ error: 'must be more than 0' }),
});

const storyboardRequest = z
  .strictObject({
    type: z.literal('storyboard'),
    shots: z
      .array(shot, { error: 'must be a list of { prompt, seconds }' })
      .min(1, { error: 'must hold at least one shot' })
      .max(25, { error: 'must hold at most 25 shots' }),
    duration: z
      .union([z.literal(10), z.literal(15), z.literal(25)], { error: 'must be 10, 15 or 25' })
      .optional(),
    ...common,
  })
  .transform((r, ctx) => {
    const total = r.shots.reduce((sum, s) => sum + s.seconds, 0);
    const duration = r.duration ?? total;
    if (!(STORYBOARD_TOTALS as readonly number[]).includes(total) || total !== duration) {
      ctx.addIssue({
        code: 'custom',
        path: ['shots'],
        message: `shot lengths must add up to ${r.duration ?? '10, 15 or 25'} seconds (they add up to ${total})`,
      });
      return z.NEVER;
    }
    return { ...r, duration: total as 10 | 15 | 25 };
  });

// Text first: almost every request is one, and a union tries its branches in order.
const renderRequest = z.union([textRequest, storyboardRequest]);

export type TextRenderRequest = z.output<typeof textRequest>;
export type StoryboardRenderRequest = z.output<typeof storyboardRequest>;
/** A validated render request with defaults applied. */
export type RenderRequest = TextRenderRequest | StoryboardRenderRequest;
/** What a producer may send: optional fields may be left out. */
export type RenderRequestInput = z.input<typeof textRequest> | z.input<typeof storyboardRequest>;

/** The worker's own bookkeeping on the job; never supplied by a producer. */
export const WORKER_STATE_FIELD = 'render';

/** The value at `path` inside `input`, for error messages. */
export function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function toFieldIssues(input: unknown, error: z.ZodError): FieldIssue[] {
  const isStoryboard =
    input !== null && typeof input === 'object' && (input as { type?: unknown }).type === 'storyboard';
  const issues: FieldIssue[] = [];
  const visit = (list: z.core.$ZodIssue[]): void => {
    for (const issue of list) {
      if (issue.code === 'invalid_union' && issue.path.length === 0) {
        // Report against the branch the producer meant (by its `type`), not both.
        const branches = issue.errors;
        visit(isStoryboard ? (branches[1] ?? []) : (branches[0] ?? []));
        continue;
      }
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const path = [...issue.path, key];
          issues.push({ field: path.join('.'), value: valueAt(input, path), rule: 'is not a known field' });
        }
        continue;
      }
      const field = issue.path.length ? issue.path.join('.') : '(request)';
      issues.push({ field, value: valueAt(input, issue.path), rule: issue.message });
    }
  };
  visit(error.issues);
  return issues;
}

/** Validates and normalises a render request; throws ValidationError naming every bad field. */
export function parseRenderRequest(input: unknown): RenderRequest {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError([{ field: '(request)', value: input, rule: 'must be a JSON object' }]);
  }
  // The worker keeps its own progress beside the producer's fields; it is not part of the request.
  const { [WORKER_STATE_FIELD]: _ignored, ...fields } = input as Record<string, unknown>;
  const result = renderRequest.safeParse(fields);
  if (!result.success) throw new ValidationError(toFieldIssues(fields, result.error));
  return result.data;
}

/** Estimated price in USD, from the reference's price table. */
export function estimateCostUsd(req: RenderRequest): number {
  if (req.type === 'storyboard') return 0.6;
  const per10s = req.quality === 'high' ? 0.3 : 0.15;
  return Math.round(per10s * (req.duration / 10) * 10000) / 10000;
}
