/**
 * Strict validation of create requests, generated from the catalog data of the model a request
 * names: the fields its mode has (an unknown one is refused), the values each takes in KIE's
 * spelling, the prompt's length, the images. Every refusal names the field, the value and the
 * rule, so a test that trips it knows what the client sent wrong. Each family wraps the fields in
 * its own envelope: sora (top level, no model), jobs ({ model, input }), veo (top level + model).
 */
import type { ModeName, ModeSpec, OptionSpec } from '../kie/catalog/modelEntry';
import type { SimModel, SimModels } from './kieSimModels';
import { makesSound } from './kieSimVideo';

/** A create request every family reduces to. */
export interface SimCreateRequest {
  /** KIE's model name ('sora-2' / 'sora-2-pro' for the sora API, which names none). */
  model: string;
  /** The catalog's data for it. */
  served: SimModel;
  mode: ModeSpec;
  /** The prompt; for a storyboard, the scenes joined by newlines. */
  prompt: string;
  seed?: number;
  durationSeconds: number;
  /** The aspect ratio as the catalog names it ('landscape' -> '16:9'); absent when the request names none. */
  aspectRatio?: string;
  /** Whether the clip comes with sound (see makesSound). */
  sound: boolean;
  quality: 'standard' | 'high';
  /** The options as the catalog names them (generate_audio -> sound), for the price. */
  options: Record<string, string | number | boolean>;
  imageUrls: string[];
  callBackUrl?: string;
}

export type Validated = { ok: true; request: SimCreateRequest } | { ok: false; code: number; message: string };

/** What KIE answers a model it does not serve. */
export const UNKNOWN_MODEL_MESSAGE =
  'The model name you specified is not supported. Please verify your input and use one of the supported models provided by KIE.';

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));
const refuse = (code: number, message: string): Validated => ({ ok: false, code, message });

function unknownField(fields: Fields, known: readonly string[], where: string): string | undefined {
  const extra = Object.keys(fields).find((k) => !known.includes(k));
  return extra === undefined ? undefined : `${where}${extra} is not a known parameter`;
}

function oneOf(field: string, value: unknown, allowed: readonly unknown[]): string | undefined {
  if (allowed.includes(value)) return undefined;
  return `${field} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${show(value)})`;
}

function checkText(field: string, value: unknown, minChars: number, maxChars: number, bannedWords: readonly string[]): string | undefined {
  if (typeof value !== 'string') return `${field} must be a string (got ${show(value)})`;
  const chars = [...value].length;
  if (value.trim() === '' || chars < minChars || chars > maxChars) return `${field} must be ${minChars}..${maxChars} characters (got ${chars})`;
  const lower = value.toLowerCase();
  const banned = bannedWords.find((w) => lower.includes(w.toLowerCase()));
  return banned === undefined ? undefined : `${field} contains banned content ("${banned}")`;
}

function isHttpUrl(value: unknown): boolean {
  try {
    const { protocol } = new URL(String(value));
    return typeof value === 'string' && (protocol === 'http:' || protocol === 'https:');
  } catch {
    return false;
  }
}

function checkCallBackUrl(value: unknown): string | undefined {
  return value === undefined || isHttpUrl(value) ? undefined : `callBackUrl must be an http(s) URL (got ${show(value)})`;
}

/** The option's value as the catalog names it, or why the wire value is refused. */
function readOption(field: string, spec: OptionSpec, value: unknown): { value: string | number | boolean } | { issue: string } {
  switch (spec.type) {
    case 'boolean':
      return typeof value === 'boolean' ? { value } : { issue: `${field} must be true or false (got ${show(value)})` };
    case 'number':
      return typeof value === 'number' && value >= spec.min && value <= spec.max && (!spec.integer || Number.isInteger(value))
        ? { value }
        : { issue: `${field} must be a number in ${spec.min}..${spec.max} (got ${show(value)})` };
    case 'enum': {
      const ours = Object.entries(spec.values).find(([, wire]) => wire === value)?.[0];
      return ours !== undefined ? { value: ours } : { issue: oneOf(field, value, Object.values(spec.values))! };
    }
    case 'string':
      return typeof value === 'string' && [...value].length <= spec.maxChars
        ? { value }
        : { issue: `${field} must be text of at most ${spec.maxChars} characters (got ${show(value)})` };
  }
}

/** The wire fields a mode knows. */
export function modeFields(mode: ModeSpec): string[] {
  return [
    mode.prompt?.field,
    mode.shots?.field,
    mode.duration.field,
    mode.aspectRatio?.field,
    mode.seed?.field,
    ...(mode.images?.slots.map((s) => s.field) ?? []),
    ...Object.values(mode.options).map((o) => o.field),
    ...Object.keys(mode.fixed),
  ].filter((f): f is string => f !== undefined);
}

function checkImages(fields: Fields, mode: ModeSpec, where: string): { urls: string[] } | { issue: string } {
  const urls: string[] = [];
  const byField = new Map<string, { list: boolean; max: number }>();
  for (const slot of mode.images?.slots ?? []) {
    const known = byField.get(slot.field);
    byField.set(slot.field, { list: slot.list, max: (known?.max ?? 0) + slot.max });
  }
  for (const [field, { list, max }] of byField) {
    const value = fields[field];
    if (value === undefined) continue;
    const given = list ? value : [value];
    if (!Array.isArray(given) || given.length > max || !given.every(isHttpUrl)) {
      return { issue: `${where}${field} must be ${list ? `a list of at most ${max} http(s) URLs` : 'an http(s) URL'} (got ${show(value)})` };
    }
    urls.push(...(given as string[]));
  }
  return { urls };
}

function checkShots(shots: unknown, mode: ModeSpec, total: number, where: string, bannedWords: readonly string[]): string | undefined {
  const { field, scene, seconds, maxShots, maxChars } = mode.shots!;
  const at0 = `${where}${field}`;
  if (!Array.isArray(shots) || shots.length === 0 || shots.length > maxShots) return `${at0} must be a list of 1..${maxShots} shots (got ${show(shots)})`;
  let sum = 0;
  for (const [i, shot] of shots.entries()) {
    const at = `${at0}[${i}]`;
    if (!isObject(shot)) return `${at} must be an object {${scene}, ${seconds}} (got ${show(shot)})`;
    const issue =
      unknownField(shot, [scene, seconds], `${at}.`) ??
      checkText(`${at}.${scene}`, shot[scene], 1, maxChars, bannedWords) ??
      (typeof shot[seconds] === 'number' && shot[seconds] > 0 ? undefined : `${at}.${seconds} must be a number above 0 (got ${show(shot[seconds])})`);
    if (issue) return issue;
    sum += shot[seconds] as number;
  }
  return sum === total ? undefined : `${at0} durations must add up to ${mode.duration.field} ${total} (they add up to ${sum})`;
}

/**
 * Checks the fields of one mode: `where` prefixes field names ("input."). `codeOf` picks the code a
 * refusal gets (the sora API answers prompt issues with 1001, others with 1004).
 */
function validateMode(
  fields: Fields,
  served: SimModel,
  modeName: ModeName,
  where: string,
  bannedWords: readonly string[],
  codeOf: (field: 'prompt' | 'other') => number,
): Validated {
  const mode = served.modes[modeName]!;
  const other = (message: string): Validated => refuse(codeOf('other'), message);
  const unknown = unknownField(fields, modeFields(mode), where);
  if (unknown) return other(unknown);
  if (mode.prompt) {
    const issue = checkText(`${where}${mode.prompt.field}`, fields[mode.prompt.field], mode.prompt.minChars, mode.prompt.maxChars, bannedWords);
    if (issue) return refuse(codeOf('prompt'), issue);
  }
  const { field: durationField, seconds, default: fallback, as } = mode.duration;
  const wireSeconds = seconds.map((s) => (as === 'string' ? String(s) : s));
  const durationIssue =
    durationField && fields[durationField] !== undefined ? oneOf(`${where}${durationField}`, fields[durationField], wireSeconds) : undefined;
  if (durationIssue) return other(durationIssue);
  const durationSeconds = durationField && fields[durationField] !== undefined ? Number(fields[durationField]) : fallback;
  const ratio = mode.aspectRatio;
  const ratioIssue = ratio && fields[ratio.field] !== undefined ? oneOf(`${where}${ratio.field}`, fields[ratio.field], Object.values(ratio.values)) : undefined;
  if (ratioIssue) return other(ratioIssue);
  const aspectRatio = ratio ? Object.entries(ratio.values).find(([, wire]) => wire === fields[ratio.field])?.[0] : undefined;
  const seed = mode.seed ? fields[mode.seed.field] : undefined;
  if (mode.seed && seed !== undefined && !(Number.isInteger(seed) && (seed as number) >= mode.seed.min && (seed as number) <= mode.seed.max)) {
    return other(`${where}${mode.seed.field} must be a whole number in ${mode.seed.min}..${mode.seed.max} (got ${show(seed)})`);
  }
  for (const [key, value] of Object.entries(mode.fixed)) {
    if (fields[key] !== undefined && fields[key] !== value) return other(oneOf(`${where}${key}`, fields[key], [value])!);
  }
  const options: SimCreateRequest['options'] = {};
  for (const [name, spec] of Object.entries(mode.options)) {
    if (spec.field === undefined || fields[spec.field] === undefined) continue;
    const read = readOption(`${where}${spec.field}`, spec, fields[spec.field]);
    if ('issue' in read) return other(read.issue);
    options[name] = read.value;
  }
  const images = checkImages(fields, mode, where);
  if ('issue' in images) return other(images.issue);
  if (modeName === 'image' && images.urls.length === 0) return other(`${where}${mode.images!.slots[0]!.field} is required`);
  if (mode.shots) {
    const issue = checkShots(fields[mode.shots.field], mode, durationSeconds, where, bannedWords);
    if (issue) return other(issue);
  }
  const prompt = mode.shots ? (fields[mode.shots.field] as Fields[]).map((s) => s[mode.shots!.scene]).join('\n') : (fields[mode.prompt!.field] as string);
  const quality = fields.quality === 'high' || fields.size === 'high' || served.entry.quality === 'high' ? 'high' : 'standard';
  return {
    ok: true,
    request: {
      model: served.kieModel,
      served,
      mode,
      prompt,
      seed: seed as number | undefined,
      durationSeconds,
      aspectRatio,
      sound: makesSound(served.entry.id, options),
      quality,
      options,
      imageUrls: images.urls,
    },
  };
}

/** Which of a model's modes a body is for: storyboard when the model has only that, images decide the rest. */
function modeNameFor(fields: Fields, served: SimModel): ModeName {
  if (served.modes.storyboard) return 'storyboard';
  const imageFields = served.modes.image?.images?.slots.map((s) => s.field) ?? [];
  return served.modes.image && (!served.modes.text || imageFields.some((f) => fields[f] !== undefined)) ? 'image' : 'text';
}

const withCallBack = (v: Validated, callBackUrl: unknown): Validated =>
  v.ok ? { ok: true, request: { ...v.request, callBackUrl: callBackUrl as string | undefined } } : v;

/**
 * `POST /api/v1/sora/generate`: 1001 for the prompt, 1004 for any other parameter. The API names no
 * model; `quality` picks between the sora-family entries (sora-2 standard, sora-2-pro high).
 */
export function validateSoraCreate(body: unknown, models: SimModels, bannedWords: readonly string[]): Validated {
  if (!isObject(body)) return refuse(1004, `the body must be a JSON object (got ${show(body)})`);
  const { callBackUrl, ...fields } = body;
  const served = models.all('sora');
  const quality = fields.quality ?? 'standard';
  const chosen = served.find((m) => m.modes.text?.fixed.quality === quality);
  if (!chosen) {
    return refuse(
      1004,
      unknownField(fields, [...new Set(served.flatMap((m) => modeFields(m.modes.text!)))], '') ??
        oneOf(
          'quality',
          quality,
          served.map((m) => m.modes.text!.fixed.quality),
        )!,
    );
  }
  const v = validateMode(fields, chosen, 'text', '', bannedWords, (f) => (f === 'prompt' ? 1001 : 1004));
  const issue = v.ok ? checkCallBackUrl(callBackUrl) : undefined;
  return issue ? refuse(1004, issue) : withCallBack(v, callBackUrl);
}

/** `POST /api/v1/jobs/createTask`: every refusal is 422. */
export function validateJobsCreate(body: unknown, models: SimModels, bannedWords: readonly string[]): Validated {
  const invalid = (message: string): Validated => refuse(422, message);
  if (!isObject(body)) return invalid(`the body must be a JSON object (got ${show(body)})`);
  const issue =
    unknownField(body, ['model', 'callBackUrl', 'input'], '') ??
    checkCallBackUrl(body.callBackUrl) ??
    (isObject(body.input) ? undefined : `input must be a JSON object (got ${show(body.input)})`);
  if (issue) return invalid(issue);
  const served = models.find('jobs', body.model);
  if (!served) return invalid(UNKNOWN_MODEL_MESSAGE);
  const input = body.input as Fields;
  return withCallBack(
    validateMode(input, served, modeNameFor(input, served), 'input.', bannedWords, () => 422),
    body.callBackUrl,
  );
}

const GENERATION_TYPES = ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'] as const;

/** `POST /api/v1/veo/generate`: 422 for every refusal, as KIE's Veo API answers ("Ratio error" and the like). */
export function validateVeoCreate(body: unknown, models: SimModels, bannedWords: readonly string[]): Validated {
  const invalid = (message: string): Validated => refuse(422, message);
  if (!isObject(body)) return invalid(`the body must be a JSON object (got ${show(body)})`);
  const { model, generationType, callBackUrl, ...fields } = body;
  const served = models.find('veo', model);
  if (!served) return invalid(UNKNOWN_MODEL_MESSAGE);
  const typeIssue = checkCallBackUrl(callBackUrl) ?? (generationType === undefined ? undefined : oneOf('generationType', generationType, GENERATION_TYPES));
  if (typeIssue) return invalid(typeIssue);
  const modeName = modeNameFor(fields, served);
  const v = validateMode(fields, served, modeName, '', bannedWords, () => 422);
  if (!v.ok) return v;
  // The generation type must match the images (KIE infers it when absent); references are Fast only.
  const count = v.request.imageUrls.length;
  // checked above: one of GENERATION_TYPES, or absent
  const type = (generationType as string | undefined) ?? (count === 0 ? 'TEXT_2_VIDEO' : 'FIRST_AND_LAST_FRAMES_2_VIDEO');
  const slots = served.modes.image?.images?.slots ?? [];
  const referenceMax = slots.find((s) => s.role === 'reference')?.max ?? 0;
  const fits =
    (type === 'TEXT_2_VIDEO' && count === 0) ||
    (type === 'FIRST_AND_LAST_FRAMES_2_VIDEO' && count >= 1 && count <= 2) ||
    (type === 'REFERENCE_2_VIDEO' && count >= 1 && count <= referenceMax);
  if (!fits) return invalid(`generationType ${type} does not fit ${count} image(s) with model ${served.kieModel}`);
  return withCallBack(v, callBackUrl);
}
