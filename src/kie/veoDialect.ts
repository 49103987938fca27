/**
 * KIE's Veo 3.1 API (the `veo` family): POST /api/v1/veo/generate, GET /api/v1/veo/record-info
 * with `successFlag` 0 generating / 1 success / 2 and 3 failed and the links in
 * `response.resultUrls`, and GET /api/v1/veo/get-1080p-video for the upscaled version.
 *
 * | RenderRequest                         | /api/v1/veo/generate                                     |
 * |---------------------------------------|----------------------------------------------------------|
 * | model veo-3.1 / veo-3.1-fast          | model "veo3" / "veo3_fast" (the mode's KIE model name)    |
 * | prompt, seed                          | prompt, seeds                                            |
 * | aspectRatio 16:9 / 9:16 / auto        | aspectRatio "16:9" / "9:16" / "Auto"                     |
 * | no images                             | generationType TEXT_2_VIDEO                              |
 * | first-frame (+ last-frame) images     | imageUrls [first, last], FIRST_AND_LAST_FRAMES_2_VIDEO   |
 * | reference images (Fast only)          | imageUrls, REFERENCE_2_VIDEO                             |
 * | options.watermark, enableTranslation  | watermark, enableTranslation                             |
 * | options.resolution "1080p"            | nothing sent; the video is fetched from get-1080p-video  |
 * | duration                              | nothing sent: Veo clips are 8 s                          |
 */
import { UnexpectedResponseError } from '../shared/errors';
import { createdTaskId, envelopeObject, failReason, isObject, str } from './envelope';
import type { KieDialect, TaskParams, TaskRecord, TaskState, WireOrder } from './types';
import { wireFields } from './wireFields';

const STATES: Record<number, TaskState> = { 0: 'generating', 1: 'success', 2: 'failed', 3: 'failed' };

const show = (v: unknown): string => (JSON.stringify(v) ?? String(v)).slice(0, 200);

function generationType({ request }: WireOrder): string {
  const images = request.images ?? [];
  if (images.length === 0) return 'TEXT_2_VIDEO';
  return images.some((i) => i.role === 'reference') ? 'REFERENCE_2_VIDEO' : 'FIRST_AND_LAST_FRAMES_2_VIDEO';
}

const wantsHd = ({ request }: WireOrder): boolean => request.options?.resolution === '1080p';

/**
 * The prompt of a generate body (or of the `paramJson` a record echoes). Only the prompt: KIE's
 * documented `paramJson` carries it, and nothing says it echoes the model or the callBackUrl.
 */
function taskParams(createBody: unknown): TaskParams {
  let body = createBody;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return {};
    }
  }
  return isObject(body) ? { prompt: str(body.prompt) } : {};
}

/** A record-info answer as a TaskRecord. KIE's times here are zone-less strings, so they are not used. */
export function parseVeoRecord(body: unknown, taskId: string): TaskRecord {
  const data = envelopeObject(body);
  const flag = data.successFlag;
  const state = typeof flag === 'number' ? STATES[flag] : undefined;
  if (!state) throw new UnexpectedResponseError(`KIE veo record has unknown successFlag ${show(flag)}`);
  const id = str(data.taskId) ?? taskId;
  const response = isObject(data.response) ? data.response : {};
  const videoUrl = Array.isArray(response.resultUrls) ? str(response.resultUrls[0]) : undefined;
  if (state === 'success' && !videoUrl) {
    throw new UnexpectedResponseError(`KIE reports veo task ${id} succeeded but response.resultUrls holds no link (got ${show(data.response)})`);
  }
  return {
    taskId: id,
    state,
    videoUrl: state === 'success' ? videoUrl : undefined,
    resolution: str(response.resolution),
    failReason: state === 'failed' ? failReason(data.errorCode, data.errorMessage) : undefined,
    params: data.paramJson === undefined ? undefined : taskParams(data.paramJson),
  };
}

/** A Veo callback: `{ code, msg, data: { taskId, info: { resultUrls } } }`, code 200 on success. */
export function parseVeoCallback(body: unknown): { taskId: string; state: TaskState; videoUrl?: string } {
  const data = envelopeObject(body);
  const taskId = str(data.taskId);
  if (!taskId) throw new UnexpectedResponseError('KIE veo callback has no taskId');
  const code = isObject(body) ? body.code : undefined;
  if (typeof code !== 'number') throw new UnexpectedResponseError(`KIE veo callback has no code (got ${show(code)})`);
  if (code !== 200) return { taskId, state: 'failed' };
  // A success announces its links under data.info (the record has them under response).
  const videoUrl = isObject(data.info) && Array.isArray(data.info.resultUrls) ? str(data.info.resultUrls[0]) : undefined;
  return { taskId, state: 'success', ...(videoUrl ? { videoUrl } : {}) };
}

export const veoDialect: KieDialect = {
  createTask(order, callBackUrl) {
    const body: Record<string, unknown> = { ...wireFields(order.request, order.mode), model: order.mode.kieModel, generationType: generationType(order) };
    if (callBackUrl) body.callBackUrl = callBackUrl;
    return { path: '/api/v1/veo/generate', body };
  },

  parseCreated: (body) => createdTaskId(body, 'veo generate'),

  recordPath(taskId) {
    return `/api/v1/veo/record-info?taskId=${encodeURIComponent(taskId)}`;
  },

  parseRecord: parseVeoRecord,

  taskParams,

  resultPath(order, taskId) {
    return wantsHd(order) ? `/api/v1/veo/get-1080p-video?taskId=${encodeURIComponent(taskId)}&index=0` : undefined;
  },

  parseResultLink(body) {
    const url = str(envelopeObject(body).resultUrl);
    if (!url) throw new UnexpectedResponseError(`KIE get-1080p-video answer has no resultUrl (got ${show(envelopeObject(body))})`);
    return url;
  },
};
