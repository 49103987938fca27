/**
 * The reference's API (the Sora 2 entries with `KIE_API_STYLE=sora`): /api/v1/sora/*, numeric
 * statuses 0/1/2. The body is the mode's fields at the top level (prompt, aspectRatio, duration,
 * quality, seed), as the catalog maps them.
 */
import { InvalidParametersError, UnexpectedResponseError } from '../shared/errors';
import { createdTaskId, envelopeObject, str } from './envelope';
import type { KieDialect, TaskRecord } from './types';
import { wireFields } from './wireFields';

interface SoraRecord {
  taskId?: unknown;
  status?: unknown;
  videoUrl?: unknown;
  duration?: unknown;
  resolution?: unknown;
  createdAt?: unknown;
  completedAt?: unknown;
  errorMessage?: unknown;
  failMsg?: unknown;
  message?: unknown;
}

const STATES: Record<number, TaskRecord['state']> = { 0: 'generating', 1: 'success', 2: 'failed' };

export const soraDialect: KieDialect = {
  createTask({ request, mode }, callBackUrl) {
    if (request.type === 'storyboard') {
      // Refused at the door already; kept here so the adapter never sends what it cannot express.
      throw new InvalidParametersError('storyboard needs KIE_API_STYLE=jobs');
    }
    const body = wireFields(request, mode);
    if (callBackUrl) body.callBackUrl = callBackUrl;
    return { path: '/api/v1/sora/generate', body };
  },

  parseCreated: (body) => createdTaskId(body, 'create'),

  recordPath(taskId) {
    return `/api/v1/sora/record-info?taskId=${encodeURIComponent(taskId)}`;
  },

  parseRecord(body, taskId) {
    const d = envelopeObject(body) as SoraRecord;
    const state = typeof d.status === 'number' ? STATES[d.status] : undefined;
    if (!state) throw new UnexpectedResponseError(`KIE record has unknown status ${JSON.stringify(d.status)}`);
    return {
      taskId: str(d.taskId) ?? taskId,
      state,
      videoUrl: str(d.videoUrl),
      durationSeconds: typeof d.duration === 'number' ? d.duration : undefined,
      resolution: str(d.resolution),
      createdAt: str(d.createdAt),
      completedAt: str(d.completedAt),
      failReason: str(d.errorMessage) ?? str(d.failMsg) ?? str(d.message),
    };
  },
};
