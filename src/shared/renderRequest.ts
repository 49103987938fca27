/**
 * The one schema for a render request, used by the producer (at the door) and by the worker
 * (for jobs added by foreign backends with a stock BullMQ client).
 */
import { z } from 'zod';
import { FieldIssue, ValidationError } from './errors';
import { builtinCatalog, modeOf, type ModelCatalog } from '../kie/catalog/modelCatalog';
import { DEFAULT_USD_PER_CREDIT, usdFor } from '../kie/catalog/modelPrice';
import { IMAGE_ROLES, type ImageRole } from '../kie/catalog/modelEntry';
import { resolveRequest } from '../kie/catalog/resolveRequest';

export const QUALITIES = ['standard', 'high'] as const;
const MAX_METADATA_BYTES = 4096;
/** The longest prompt any model takes; each model's own limit is checked against the catalog. */
const MAX_PROMPT_CHARS = 20_000;
const MAX_IMAGES = 10;

/** Relative S3 key: no leading '/', no '..' segment, no control characters, at most 900 chars. */
const objectKey = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(900, { error: 'must be at most 900 characters' })
  .refine((k) => !k.startsWith('/'), { error: 'must be relative (no leading "/")' })
  .refine((k) => !k.split('/').includes('..'), { error: 'must not contain a ".." segment' })
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  .refine((k) => !/[\u0000-\u001f\u007f]/.test(k), { error: 'must not contain control characters' });

export const httpUrl = z.string().refine(
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
  .max(MAX_PROMPT_CHARS, { error: `must be at most ${MAX_PROMPT_CHARS} characters` });

const image = z.union([httpUrl, z.strictObject({ url: httpUrl, role: z.enum(IMAGE_ROLES, { error: `must be one of ${IMAGE_ROLES.join(', ')}` }) })], {
  error: `must be an http(s) URL, or { url, role } with role ${IMAGE_ROLES.join(', ')}`,
});

/** A batch id or a tenant: 1..200 characters. */
export const batchName = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' });

/**
 * Structure only: what a value must look like whatever the model. Which durations, ratios, seeds,
 * images and options a model takes, and the defaults, come from the catalog (resolveRequest.ts).
 */
const common = {
  model: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(100, { error: 'must be at most 100 characters' }).optional(),
  aspectRatio: z.string({ error: 'must be a string such as "16:9"' }).optional(),
  quality: z.enum(QUALITIES, { error: `must be one of ${QUALITIES.join(', ')}` }).optional(),
  seed: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).optional(),
  removeWatermark: z.boolean({ error: 'must be true or false' }).optional(),
  images: z
    .array(image, { error: 'must be a list of image URLs' })
    .min(1, { error: 'must hold at least one image (leave it out for text-to-video)' })
    .max(MAX_IMAGES, { error: `must hold at most ${MAX_IMAGES} images` })
    .optional(),
  options: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]), { error: "must be an object of the model's options (strings, numbers, true or false)" })
    .optional(),
  key: objectKey.optional(),
  batchId: batchName.optional(),
  tenant: batchName.optional(),
  metadata: metadata.optional(),
  notifyUrl: httpUrl.optional(),
};

const duration = z.number({ error: 'must be a number of seconds' }).positive({ error: 'must be more than 0' }).optional();

const textRequest = z.strictObject({
  type: z.literal('text').default('text'),
  prompt,
  duration,
  ...common,
});

const shot = z.strictObject({
  prompt,
  seconds: z.number({ error: 'must be a number' }).positive({ error: 'must be more than 0' }),
});

const storyboardRequest = z.strictObject({
  type: z.literal('storyboard'),
  shots: z
    .array(shot, { error: 'must be a list of { prompt, seconds }' })
    .min(1, { error: 'must hold at least one shot' })
    .max(25, { error: 'must hold at most 25 shots' }),
  duration,
  ...common,
});

// Text first: almost every request is one, and a union tries its branches in order.
export const renderRequest = z.union([textRequest, storyboardRequest]);

/** A request whose structure is sound, before the catalog has checked it against its model. */
export type StructuredRequest = z.output<typeof renderRequest>;

export interface RenderImage {
  url: string;
  role: ImageRole;
}

/** The fields every validated request has, whatever its type. */
interface RequestCommon {
  /** The catalog id it renders with (the producer's KIE_DEFAULT_MODEL when it named none). */
  model: string;
  /** Set where the model takes one: the request's, or 16:9 when the model can render it. */
  aspectRatio?: string;
  /** Sora 2's tier, set for its models. */
  quality?: (typeof QUALITIES)[number];
  seed?: number;
  removeWatermark?: boolean;
  images?: RenderImage[];
  options?: Record<string, string | number | boolean>;
  key?: string;
  batchId?: string;
  /** Who the job is rendered for, for fair shares and budgets (tenantOf: else its batchId, else SHARED_TENANT). */
  tenant?: string;
  metadata?: Record<string, unknown>;
  notifyUrl?: string;
}

export interface TextRenderRequest extends RequestCommon {
  type: 'text';
  prompt: string;
  /** Seconds: the request's, or the model's default. */
  duration: number;
}

export interface StoryboardRenderRequest extends RequestCommon {
  type: 'storyboard';
  shots: Array<{ prompt: string; seconds: number }>;
  /** The shots' total. */
  duration: number;
}

/** A render request validated against its model, with the model's defaults applied. */
export type RenderRequest = TextRenderRequest | StoryboardRenderRequest;
/** What a producer may send: optional fields may be left out. */
export type RenderRequestInput = z.input<typeof textRequest> | z.input<typeof storyboardRequest>;

/** The tenant of jobs that name neither a tenant nor a batch. */
export const SHARED_TENANT = 'shared';

/** A job's tenant: its own, else its batch's id, else the one shared tenant. Never written into job data. */
export function tenantOf(req: Pick<RequestCommon, 'tenant' | 'batchId'>): string {
  return req.tenant ?? req.batchId ?? SHARED_TENANT;
}

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
  const isStoryboard = input !== null && typeof input === 'object' && (input as { type?: unknown }).type === 'storyboard';
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

/** What the model checks need where the request's own value was broken (its issue is reported already). */
const STAND_INS: Record<string, unknown> = { prompt: 'stand-in', shots: [{ prompt: 'stand-in', seconds: 1 }] };

/**
 * The model's own checks of the fields that are structurally sound, so that one answer lists every
 * problem (an empty prompt and a duration the model lacks). Skipped when the model or the type is broken.
 */
function modelIssuesBeside(fields: Record<string, unknown>, structural: FieldIssue[], catalog: ModelCatalog): FieldIssue[] {
  const broken = new Set(structural.map((i) => i.field.split('.')[0]!));
  if (broken.has('model') || broken.has('type') || broken.has('(request)')) return [];
  const repaired = Object.fromEntries(Object.entries(fields).filter(([key]) => !broken.has(key)));
  for (const key of broken) if (Object.hasOwn(STAND_INS, key)) repaired[key] = STAND_INS[key];
  const parsed = renderRequest.safeParse(repaired);
  if (!parsed.success) return [];
  const resolved = resolveRequest(parsed.data, catalog);
  return 'issues' in resolved ? resolved.issues.filter((i) => !broken.has(i.field.split('.')[0]!)) : [];
}

/**
 * Validates a render request and applies its model's defaults; throws ValidationError naming every
 * bad field. Structure first, then the model's own rules from the catalog (default: the built-in one
 * with KIE_API_STYLE=sora, as a library user without configuration gets).
 */
export function parseRenderRequest(input: unknown, catalog: ModelCatalog = builtinCatalog()): RenderRequest {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError([{ field: '(request)', value: input, rule: 'must be a JSON object' }]);
  }
  // The worker keeps its own progress beside the producer's fields; it is not part of the request.
  const { [WORKER_STATE_FIELD]: _ignored, ...fields } = input as Record<string, unknown>;
  const result = renderRequest.safeParse(fields);
  if (!result.success) {
    const issues = toFieldIssues(fields, result.error);
    throw new ValidationError([...issues, ...modelIssuesBeside(fields, issues, catalog)]);
  }
  const resolved = resolveRequest(result.data, catalog);
  if ('issues' in resolved) throw new ValidationError(resolved.issues);
  return resolved.request;
}

/**
 * Estimated price in USD: the model's own dollar price where the catalog has one (Sora 2: the
 * reference's table), otherwise its credits at `usdPerCredit` (KIE_USD_PER_CREDIT).
 */
export function estimateCostUsd(req: RenderRequest, catalog: ModelCatalog = builtinCatalog(), usdPerCredit = DEFAULT_USD_PER_CREDIT): number {
  return usdFor(req, modeOf(catalog, req).mode, usdPerCredit);
}

/** Every field a render request may have (either type). */
export const REQUEST_FIELDS: ReadonlySet<string> = new Set([...Object.keys(textRequest.shape), ...Object.keys(storyboardRequest.shape)]);
