/**
 * Strict validation of create requests, one function per dialect. Every refusal names the field,
 * the value and the rule, so a test that trips it knows what the client sent wrong.
 */

/** A create request both dialects reduce to. */
export interface SimCreateRequest {
  model: string;
  /** The prompt; for a storyboard, the scenes joined by newlines. */
  prompt: string;
  seed?: number;
  durationSeconds: number;
  quality: 'standard' | 'high';
  callBackUrl?: string;
}

export type Validated = { ok: true; request: SimCreateRequest } | { ok: false; code: number; message: string };

export const SORA_MODEL = 'sora-2';
export const JOBS_TEXT_MODELS = ['sora-2-text-to-video', 'sora-2-pro-text-to-video'] as const;
export const JOBS_STORYBOARD_MODEL = 'sora-2-pro-storyboard';

const SORA_FIELDS = ['prompt', 'aspectRatio', 'duration', 'quality', 'seed', 'callBackUrl'];
const SORA_MAX_PROMPT = 800;
/** KIE's jobs API documents a longer prompt limit than the reference's 800 characters. */
const JOBS_MAX_PROMPT = 10_000;

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

function checkText(field: string, value: unknown, maxChars: number, bannedWords: readonly string[]): string | undefined {
  if (typeof value !== 'string') return `${field} must be a string (got ${show(value)})`;
  const chars = [...value].length;
  if (value.trim() === '' || chars > maxChars) return `${field} must be 1..${maxChars} characters (got ${chars})`;
  const lower = value.toLowerCase();
  const banned = bannedWords.find((w) => lower.includes(w.toLowerCase()));
  return banned === undefined ? undefined : `${field} contains banned content ("${banned}")`;
}

function checkCallBackUrl(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  try {
    const { protocol } = new URL(String(value));
    if (typeof value === 'string' && (protocol === 'http:' || protocol === 'https:')) return undefined;
  } catch {
    // falls through to the refusal below
  }
  return `callBackUrl must be an http(s) URL (got ${show(value)})`;
}

/** `POST /api/v1/sora/generate`: 1001 for the prompt, 1004 for any other parameter. */
export function validateSoraCreate(body: unknown, bannedWords: readonly string[]): Validated {
  if (!isObject(body)) return refuse(1004, `the body must be a JSON object (got ${show(body)})`);
  const unknown = unknownField(body, SORA_FIELDS, '');
  if (unknown) return refuse(1004, unknown);
  const promptIssue = checkText('prompt', body.prompt, SORA_MAX_PROMPT, bannedWords);
  if (promptIssue) return refuse(1001, promptIssue);
  const { aspectRatio = '16:9', duration = 10, quality = 'standard', seed, callBackUrl } = body;
  const issue =
    oneOf('aspectRatio', aspectRatio, ['16:9', '9:16', '1:1']) ??
    oneOf('duration', duration, [10, 15]) ??
    oneOf('quality', quality, ['standard', 'high']) ??
    (seed === undefined || (Number.isInteger(seed) && (seed as number) >= 10000 && (seed as number) <= 99999)
      ? undefined
      : `seed must be a whole number in 10000..99999 (got ${show(seed)})`) ??
    checkCallBackUrl(callBackUrl);
  if (issue) return refuse(1004, issue);
  return {
    ok: true,
    request: {
      model: SORA_MODEL,
      prompt: body.prompt as string,
      seed: seed as number | undefined,
      durationSeconds: duration as number,
      quality: quality as SimCreateRequest['quality'],
      callBackUrl: callBackUrl as string | undefined,
    },
  };
}

/** `POST /api/v1/jobs/createTask`: every refusal is 422. */
export function validateJobsCreate(body: unknown, bannedWords: readonly string[]): Validated {
  const invalid = (message: string): Validated => refuse(422, message);
  if (!isObject(body)) return invalid(`the body must be a JSON object (got ${show(body)})`);
  const issue =
    unknownField(body, ['model', 'callBackUrl', 'input'], '') ??
    oneOf('model', body.model, [...JOBS_TEXT_MODELS, JOBS_STORYBOARD_MODEL]) ??
    checkCallBackUrl(body.callBackUrl) ??
    (isObject(body.input) ? undefined : `input must be a JSON object (got ${show(body.input)})`);
  if (issue) return invalid(issue);
  const input = body.input as Fields;
  const callBackUrl = body.callBackUrl as string | undefined;
  const model = body.model as string;

  if (model === JOBS_STORYBOARD_MODEL) {
    const shotsIssue =
      unknownField(input, ['shots', 'n_frames', 'aspect_ratio', 'remove_watermark'], 'input.') ??
      oneOf('input.aspect_ratio', input.aspect_ratio, ['landscape', 'portrait']) ??
      oneOf('input.n_frames', input.n_frames, ['10', '15', '25']) ??
      checkWatermark(input.remove_watermark) ??
      checkShots(input.shots, Number(input.n_frames), bannedWords);
    if (shotsIssue) return invalid(shotsIssue);
    const scenes = (input.shots as Array<{ Scene: string }>).map((s) => s.Scene);
    return {
      ok: true,
      request: { model, prompt: scenes.join('\n'), durationSeconds: Number(input.n_frames), quality: 'high', callBackUrl },
    };
  }

  const textIssue =
    unknownField(input, ['prompt', 'aspect_ratio', 'n_frames', 'size', 'remove_watermark'], 'input.') ??
    checkText('input.prompt', input.prompt, JOBS_MAX_PROMPT, bannedWords) ??
    oneOf('input.aspect_ratio', input.aspect_ratio, ['landscape', 'portrait']) ??
    oneOf('input.n_frames', input.n_frames, ['10', '15']) ??
    (input.size === undefined ? undefined : oneOf('input.size', input.size, ['standard', 'high'])) ??
    checkWatermark(input.remove_watermark);
  if (textIssue) return invalid(textIssue);
  return {
    ok: true,
    request: {
      model,
      prompt: input.prompt as string,
      durationSeconds: Number(input.n_frames),
      quality: (input.size as SimCreateRequest['quality'] | undefined) ?? 'standard',
      callBackUrl,
    },
  };
}

function checkWatermark(value: unknown): string | undefined {
  return value === undefined || typeof value === 'boolean'
    ? undefined
    : `input.remove_watermark must be true or false (got ${show(value)})`;
}

function checkShots(shots: unknown, total: number, bannedWords: readonly string[]): string | undefined {
  if (!Array.isArray(shots) || shots.length === 0) return `input.shots must be a non-empty list (got ${show(shots)})`;
  let sum = 0;
  for (const [i, shot] of shots.entries()) {
    const at = `input.shots[${i}]`;
    if (!isObject(shot)) return `${at} must be an object {Scene, duration} (got ${show(shot)})`;
    const issue =
      unknownField(shot, ['Scene', 'duration'], `${at}.`) ??
      checkText(`${at}.Scene`, shot.Scene, JOBS_MAX_PROMPT, bannedWords) ??
      (typeof shot.duration === 'number' && shot.duration > 0
        ? undefined
        : `${at}.duration must be a number above 0 (got ${show(shot.duration)})`);
    if (issue) return issue;
    sum += shot.duration as number;
  }
  return sum === total ? undefined : `input.shots durations must add up to n_frames ${total} (they add up to ${sum})`;
}
