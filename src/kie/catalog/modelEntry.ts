/**
 * What one catalog entry says about a KIE video model, as a zod schema: the built-in entries and
 * the ones a user adds through KIE_MODELS_FILE are checked by the same rules.
 *
 * An entry has up to three modes (text-to-video, image-to-video, storyboard), each with KIE's model
 * name for it and how each part of a render request reaches the wire: which KIE field, which
 * values (in our spelling, mapped to KIE's), what it costs. Only the adapters in src/kie read the
 * wire names; everything else sees our field names (duration, aspectRatio, images, options).
 */
import { z } from 'zod';

export const FAMILIES = ['sora', 'jobs', 'veo'] as const;
/** The endpoint family that serves a model: one adapter each in src/kie. */
export type Family = (typeof FAMILIES)[number];

export const MODEL_STATUSES = ['live', 'paused', 'retired'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

export const IMAGE_ROLES = ['first-frame', 'last-frame', 'reference'] as const;
export type ImageRole = (typeof IMAGE_ROLES)[number];

export const MODE_NAMES = ['text', 'image', 'storyboard'] as const;
export type ModeName = (typeof MODE_NAMES)[number];

/** Catalog ids are public contract: lower case, digits, '.', '-'. */
export const CATALOG_ID = /^[a-z0-9][a-z0-9.-]{0,62}$/;

const catalogId = z.string({ error: 'must be a string' }).regex(CATALOG_ID, { error: "must be lower-case letters, digits, '.' or '-' (at most 63)" });
const wireField = z.string({ error: 'must be a string' }).regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, { error: 'must be a KIE field name (letters, digits, _)' });
const optionName = z.string().regex(/^[a-z][A-Za-z0-9]{0,39}$/, { error: 'must be a camelCase option name' });
const ratio = z.string().regex(/^(\d{1,2}:\d{1,2}|auto)$/, { error: 'must be a ratio such as 16:9, or auto' });
const seconds = z.number({ error: 'must be a number' }).positive({ error: 'must be above 0' }).max(600, { error: 'must be at most 600' });
const wholeNumber = (min: number, max: number) =>
  z
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
const credits = z.number({ error: 'must be a number' }).min(0, { error: 'must be 0 or more' }).max(1_000_000, { error: 'must be at most 1000000' });
const wireValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' });

const promptSpec = z
  .strictObject({
    field: wireField,
    minChars: wholeNumber(1, 100_000).default(1),
    maxChars: wholeNumber(1, 100_000),
  })
  .refine((p) => p.minChars <= p.maxChars, { path: ['maxChars'], error: 'must be at least minChars' });

const durationSpec = z
  .strictObject({
    /** Absent: the model's clip length is fixed and nothing is sent (Veo). */
    field: wireField.optional(),
    seconds: z.array(seconds).min(1, { error: 'must list at least one length' }),
    default: seconds,
    /** How KIE wants the value: "10" or 10. */
    as: z.enum(['string', 'number']).default('string'),
  })
  .refine((d) => d.seconds.includes(d.default), { path: ['default'], error: 'must be one of seconds' });

const aspectRatioSpec = z.strictObject({
  field: wireField,
  /** Our spelling -> KIE's ("16:9" -> "landscape"). */
  values: z.record(ratio, z.string().min(1)).refine((v) => Object.keys(v).length > 0, { error: 'must map at least one ratio' }),
});

const seedSpec = z
  .strictObject({ field: wireField, min: z.int(), max: z.int() })
  .refine((s) => s.min <= s.max, { path: ['max'], error: 'must be at least min' });

const imageSlot = z.strictObject({
  role: z.enum(IMAGE_ROLES),
  field: wireField,
  /** The field is a list (several slots may share it, in slot order) rather than one URL. */
  list: z.boolean().default(false),
  max: wholeNumber(1, 10).default(1),
});

const imagesSpec = z.strictObject({
  slots: z.array(imageSlot).min(1, { error: 'must list at least one slot' }),
  /** The roles a plain list of URLs gets, in order. */
  plain: z.array(z.enum(IMAGE_ROLES)).min(1, { error: 'must give at least one role' }),
});

/** `field` absent: the option is the adapter's own business (e.g. Veo's 1080p fetch), never sent as a field. */
const optionSpec = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('boolean'), field: wireField.optional(), default: z.boolean().optional(), about: z.string().max(300) }),
    z
      .strictObject({
        type: z.literal('number'),
        field: wireField.optional(),
        min: z.number(),
        max: z.number(),
        integer: z.boolean().default(false),
        default: z.number().optional(),
        about: z.string().max(300),
      })
      .refine((o) => o.min <= o.max, { path: ['max'], error: 'must be at least min' }),
    z.strictObject({
      type: z.literal('enum'),
      field: wireField.optional(),
      /** Our spelling -> KIE's ("768p" -> "768P"). */
      values: z.record(z.string().min(1), z.string().min(1)).refine((v) => Object.keys(v).length > 0, { error: 'must list at least one value' }),
      default: z.string().optional(),
      about: z.string().max(300),
    }),
    z.strictObject({
      type: z.literal('string'),
      field: wireField.optional(),
      maxChars: wholeNumber(1, 10_000),
      default: z.string().optional(),
      about: z.string().max(300),
    }),
  ],
  { error: 'must have a type: boolean, number, enum or string' },
);

const priceSpec = z.strictObject({
  per: z.enum(['clip', 'second']),
  credits,
  /** The first rule whose conditions all hold sets the credits instead. */
  rules: z
    .array(
      z.strictObject({
        when: z.strictObject({ resolution: z.string().optional(), sound: z.boolean().optional(), seconds: seconds.optional() }),
        credits,
      }),
    )
    .default([]),
  /** A dollar price per unit that replaces credits x KIE_USD_PER_CREDIT in the estimate (the reference's Sora 2 prices). */
  usd: z.number().min(0).optional(),
  /** True only when the figure comes from KIE's own pages; client lore stays false. */
  verified: z.boolean(),
  source: z.string().max(300).optional(),
});

const shotsSpec = z.strictObject({ field: wireField, scene: wireField, seconds: wireField, maxShots: wholeNumber(1, 100), maxChars: wholeNumber(1, 100_000) });

const modeSpec = z.strictObject({
  kieModel: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(200),
  prompt: promptSpec.optional(),
  shots: shotsSpec.optional(),
  duration: durationSpec,
  aspectRatio: aspectRatioSpec.optional(),
  seed: seedSpec.optional(),
  images: imagesSpec.optional(),
  options: z.record(optionName, optionSpec).default({}),
  /** Sent as they are with every create of this mode (e.g. size "high" for Sora 2 Pro). */
  fixed: z.record(wireField, wireValue).default({}),
  price: priceSpec,
});

export const modelEntrySchema = z
  .strictObject({
    id: catalogId,
    title: z.string().min(1).max(80),
    family: z.enum(FAMILIES, { error: `must be one of ${FAMILIES.join(', ')}` }),
    /** What KIE's docs or answers said when `checked`; `retired` is refused, `paused` is information only. */
    status: z.enum(MODEL_STATUSES, { error: `must be one of ${MODEL_STATUSES.join(', ')}` }),
    docs: z.array(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })).min(1, { error: 'must name the documentation page' }),
    checked: z.iso.date({ error: 'must be a date, YYYY-MM-DD' }),
    notes: z.string().max(2000).optional(),
    modes: z
      .strictObject({ text: modeSpec.optional(), image: modeSpec.optional(), storyboard: modeSpec.optional() })
      .refine((m) => Object.values(m).some(Boolean), { error: 'must have at least one of text, image, storyboard' }),
    /** Sora 2's tier, for requests that still say `quality`. */
    quality: z.enum(['standard', 'high']).optional(),
    /** Where a request naming this model with `quality: "high"` or `type: "storyboard"` goes instead. */
    variants: z.strictObject({ high: catalogId.optional(), storyboard: catalogId.optional() }).optional(),
    /** Why this entry cannot render with this configuration (refused at the door with these words). */
    unavailable: z.string().max(300).optional(),
    /** The family comes from KIE_API_STYLE (the built-in Sora 2 entries). */
    followsApiStyle: z.boolean().optional(),
  })
  .superRefine((entry, ctx) => {
    const { text, image, storyboard } = entry.modes;
    if (text && (!text.prompt || text.images)) ctx.addIssue({ code: 'custom', path: ['modes', 'text'], message: 'needs a prompt and takes no images' });
    if (image && (!image.prompt || !image.images)) ctx.addIssue({ code: 'custom', path: ['modes', 'image'], message: 'needs a prompt and images' });
    if (storyboard && !storyboard.shots) ctx.addIssue({ code: 'custom', path: ['modes', 'storyboard'], message: 'needs shots' });
  });

export type ModelEntry = z.output<typeof modelEntrySchema>;
export type ModelEntryInput = z.input<typeof modelEntrySchema>;
export type ModeSpec = z.output<typeof modeSpec>;
export type OptionSpec = z.output<typeof optionSpec>;
export type PriceSpec = z.output<typeof priceSpec>;
export type PriceSpecInput = z.input<typeof priceSpec>;
export type ImageSlot = z.output<typeof imageSlot>;

/** A list of entries as KIE_MODELS_FILE holds it: one JSON array. */
export const modelEntriesSchema = z.array(modelEntrySchema, { error: 'must be a JSON array of model entries' });

/** "[2] (kling-9) modes.text.duration.default: must be one of seconds": one line per problem. */
export function describeEntryIssues(input: unknown, error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const [index, ...rest] = issue.path;
    const id = typeof index === 'number' && Array.isArray(input) ? (input[index] as { id?: unknown } | undefined)?.id : undefined;
    const where = typeof index === 'number' ? `[${index}]${typeof id === 'string' ? ` (${id})` : ''}` : '';
    const path = rest.map(String).join('.');
    return `${where}${path ? ` ${path}` : ''}: ${issue.message}`.trim();
  });
}
