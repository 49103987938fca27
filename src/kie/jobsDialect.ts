/**
 * KIE's generic jobs API (`KIE_API_STYLE=jobs`): /api/v1/jobs/*, states by name, result URLs in a
 * JSON string, a link-minting endpoint and a credit balance. Every wire detail of it lives here.
 *
 * How a RenderRequest becomes a createTask body `{ model, callBackUrl?, input }`:
 *
 * | RenderRequest                   | jobs API                                                        |
 * |---------------------------------|-----------------------------------------------------------------|
 * | text, quality "standard"        | model = models.standard                                         |
 * | text, quality "high"            | model = models.high, input.size = "high"                        |
 * | text prompt                     | input.prompt                                                    |
 * | storyboard                      | model = models.storyboard; quality is not sent (pro only)       |
 * | storyboard shots[i]             | input.shots[i] = { Scene: prompt, duration: seconds }           |
 * | aspectRatio "16:9" / "9:16"     | input.aspect_ratio "landscape" / "portrait"                     |
 * | duration 10 / 15 / 25           | input.n_frames "10" / "15" / "25" (a string)                    |
 * | removeWatermark                 | input.remove_watermark (only when set)                          |
 * | aspectRatio "1:1", seed         | cannot be expressed: InvalidParametersError, never dropped      |
 * | callBackUrl                     | callBackUrl (only when given)                                   |
 */
import { InvalidParametersError, UnexpectedResponseError } from '../shared/errors';
import type { RenderRequest } from '../shared/renderRequest';
import type { JobsModels } from './jobsModels';
import type { KieDialect, TaskParams, TaskRecord, TaskState } from './types';
import { envelopeData, envelopeObject, isObject, str } from './envelope';

const ASPECT_RATIOS: Partial<Record<RenderRequest['aspectRatio'], string>> = { '16:9': 'landscape', '9:16': 'portrait' };

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

function cannotExpress(field: string, value: unknown, why: string): never {
  throw new InvalidParametersError(`KIE_API_STYLE=jobs cannot express ${field} ${show(value)}: ${why}`);
}

/** The input fields text and storyboard requests share. */
function sharedInput(req: RenderRequest): Record<string, unknown> {
  const aspectRatio = ASPECT_RATIOS[req.aspectRatio];
  if (!aspectRatio) cannotExpress('aspectRatio', req.aspectRatio, 'it renders only 16:9 (landscape) or 9:16 (portrait)');
  if (req.seed !== undefined) cannotExpress('seed', req.seed, 'it has no seed option');
  const input: Record<string, unknown> = { aspect_ratio: aspectRatio, n_frames: String(req.duration) };
  if (req.removeWatermark !== undefined) input.remove_watermark = req.removeWatermark;
  return input;
}

function modelAndInput(req: RenderRequest, models: JobsModels): { model: string; input: Record<string, unknown> } {
  const shared = sharedInput(req);
  if (req.type === 'storyboard') {
    const shots = req.shots.map((s) => ({ Scene: s.prompt, duration: s.seconds }));
    return { model: models.storyboard, input: { shots, ...shared } };
  }
  if (req.quality === 'high') return { model: models.high, input: { prompt: req.prompt, ...shared, size: 'high' } };
  return { model: models.standard, input: { prompt: req.prompt, ...shared } };
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
  const frames = isObject(parsed) && isObject(parsed.input) ? parsed.input.n_frames : undefined;
  const seconds = typeof frames === 'string' || typeof frames === 'number' ? Number(frames) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

function failReasonOf(data: Record<string, unknown>): string | undefined {
  const parts = [data.failCode, data.failMsg]
    .map((v) => (typeof v === 'number' ? String(v) : str(v)))
    .filter((v): v is string => v !== undefined);
  return parts.length ? parts.join(' ') : undefined;
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
    failReason: state === 'failed' ? failReasonOf(data) : undefined,
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

export function createJobsDialect(models: JobsModels): KieDialect {
  return {
    createTask(req, callBackUrl) {
      const { model, input } = modelAndInput(req, models);
      const body = callBackUrl ? { model, callBackUrl, input } : { model, input };
      return { path: '/api/v1/jobs/createTask', body };
    },

    parseCreated(body) {
      const taskId = str(envelopeObject(body).taskId);
      if (!taskId) throw new UnexpectedResponseError('KIE createTask answer has no taskId');
      return taskId;
    },

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
}
