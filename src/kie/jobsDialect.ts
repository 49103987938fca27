/**
 * KIE's generic jobs API (/api/v1/jobs/*): every model of the `jobs` family, and the Sora 2 entries
 * with `KIE_API_STYLE=jobs`. States by name, result URLs in a JSON string, a link-minting endpoint
 * and a credit balance. Every wire detail of it lives here.
 *
 * A create is `{ model, callBackUrl?, input }`: `model` is the mode's KIE model name, `input` the
 * mode's fields as the catalog maps them (wireFields.ts). For Sora 2, for example:
 *
 * | RenderRequest                   | jobs API                                                        |
 * |---------------------------------|-----------------------------------------------------------------|
 * | model sora-2 / sora-2-pro       | model = KIE_MODEL_STANDARD / KIE_MODEL_HIGH (pro adds size "high") |
 * | prompt                          | input.prompt                                                    |
 * | storyboard shots[i]             | input.shots[i] = { Scene: prompt, duration: seconds }           |
 * | aspectRatio "16:9" / "9:16"     | input.aspect_ratio "landscape" / "portrait"                     |
 * | duration 10 / 15 / 25           | input.n_frames "10" / "15" / "25" (a string)                    |
 * | removeWatermark                 | input.remove_watermark (only when set)                          |
 * | images (first frame)            | input.image_urls, with the image-to-video model                 |
 * | callBackUrl                     | callBackUrl (only when given)                                   |
 *
 * What a model cannot express never gets here: validation refuses it against the catalog.
 */
import { UnexpectedResponseError } from '../shared/errors';
import type { KieDialect, TaskParams, TaskRecord, TaskState } from './types';
import { createdTaskId, envelopeData, envelopeObject, failReason, isObject, str } from './envelope';
import { wireFields } from './wireFields';

const STATES: Record<string, TaskState> = {
  waiting: 'generating',
  queuing: 'generating',
  generating: 'generating',
  success: 'success',
  fail: 'failed',
};

const show = (v: unknown): string => (JSON.stringify(v) ?? String(v)).slice(0, 200);

/** The jobs API nests JSON in strings (resultJson, param); tolerate it arriving already parsed. */
function nestedJson(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

function isoTime(ms: unknown): string | undefined {
  if (typeof ms !== 'number') return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function taskStateOf(data: Record<string, unknown>): TaskState {
  const state = typeof data.state === 'string' ? STATES[data.state] : undefined;
  if (!state) throw new UnexpectedResponseError(`KIE jobs record has unknown state ${show(data.state)}`);
  return state;
}

function videoUrlOf(data: Record<string, unknown>, taskId: string): string {
  const result = nestedJson(data.resultJson);
  const url = isObject(result) && Array.isArray(result.resultUrls) ? str(result.resultUrls[0]) : undefined;
  if (!url) {
    throw new UnexpectedResponseError(`KIE reports task ${taskId} succeeded but its resultJson holds no result URL (got ${show(data.resultJson)})`);
  }
  return url;
}

/** The clip length the task was asked for, read back from the create body KIE echoes in `param`. */
function requestedSeconds(param: unknown): number | undefined {
  const parsed = nestedJson(param);
  // Sora 2 names it n_frames, the other models duration.
  const frames = isObject(parsed) && isObject(parsed.input) ? (parsed.input.n_frames ?? parsed.input.duration) : undefined;
  const seconds = typeof frames === 'string' || typeof frames === 'number' ? Number(frames) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/** Model, prompt (a storyboard's scenes joined by newlines) and callBackUrl of a createTask body. */
function taskParams(createBody: unknown): TaskParams {
  const body = nestedJson(createBody);
  if (!isObject(body)) return {};
  const input = isObject(body.input) ? body.input : {};
  const scenes = Array.isArray(input.shots) ? input.shots.map((s) => (isObject(s) ? str(s.Scene) : undefined)) : undefined;
  return { model: str(body.model), prompt: str(input.prompt) ?? scenes?.join('\n'), callBackUrl: str(body.callBackUrl) };
}

/** A recordInfo answer (or a callback body, which has the same envelope) as a TaskRecord. */
export function parseJobsRecord(body: unknown, taskId: string): TaskRecord {
  const data = envelopeObject(body);
  const id = str(data.taskId) ?? taskId;
  const state = taskStateOf(data);
  return {
    taskId: id,
    state,
    videoUrl: state === 'success' ? videoUrlOf(data, id) : undefined,
    durationSeconds: requestedSeconds(data.param),
    createdAt: isoTime(data.createTime),
    completedAt: isoTime(data.completeTime),
    failReason: state === 'failed' ? failReason(data.failCode, data.failMsg) : undefined,
    params: data.param === undefined ? undefined : taskParams(data.param),
  };
}

/** Which task a callback is about and how it ended; the rest is read from the record, not trusted. */
export function parseJobsCallback(body: unknown): { taskId: string; state: TaskState } {
  const data = envelopeObject(body);
  const taskId = str(data.taskId);
  if (!taskId) throw new UnexpectedResponseError('KIE jobs callback has no taskId');
  return { taskId, state: taskStateOf(data) };
}

export const jobsDialect: KieDialect = {
  createTask({ request, mode }, callBackUrl) {
    const model = mode.kieModel;
    const input = wireFields(request, mode);
    const body = callBackUrl ? { model, callBackUrl, input } : { model, input };
    return { path: '/api/v1/jobs/createTask', body };
  },

  parseCreated: (body) => createdTaskId(body, 'createTask'),

  recordPath(taskId) {
    return `/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(taskId)}`;
  },

  parseRecord: parseJobsRecord,

  taskParams,

  refreshLink(_taskId, staleUrl) {
    return { path: '/api/v1/common/download-url', body: { url: staleUrl } };
  },

  parseRefreshedLink(body) {
    const url = str(envelopeData(body));
    if (!url) throw new UnexpectedResponseError(`KIE download-url answer has no link (got ${show(envelopeData(body))})`);
    return url;
  },

  creditsPath() {
    return '/api/v1/chat/credit';
  },

  parseCredits(body) {
    const credits = envelopeData(body);
    if (typeof credits !== 'number' || !Number.isFinite(credits)) {
      throw new UnexpectedResponseError(`KIE credit answer has no balance (got ${show(credits)})`);
    }
    return credits;
  },
};
