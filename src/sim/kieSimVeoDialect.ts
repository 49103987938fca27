/**
 * KIE's Veo 3.1 API (/api/v1/veo/*): codes in the body and as the HTTP status, `successFlag` 0
 * generating / 1 success / 3 generation failed, links in `response.resultUrls`, zone-less time
 * strings, a 1080p version fetched separately once it is ready, and callbacks with `data.info`.
 */
import type { Answer, SimDialectApi } from './kieSimDialect';
import type { SimEngine } from './kieSimEngine';
import { validateVeoCreate } from './kieSimValidation';
import type { SimTask } from './kieSimTypes';

/** successFlag of a task whose generation failed after it was created. */
const GENERATION_FAILED_FLAG = 3;
const FLAGS = { generating: 0, success: 1, fail: GENERATION_FAILED_FLAG } as const;
const HD_PROCESSING = '1080P is processing. It should be ready in 1-2 minutes. Please check back shortly.';

function answer(code: number, text: string, data: unknown = null): Answer {
  return { status: code, body: { code, msg: text, data } };
}

/** "2026-12-02 10:30:00": KIE's Veo times carry no zone. */
const veoTime = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString().slice(0, 19).replace('T', ' '));

/** Every record of a finished task carries a freshly minted link. */
function record(engine: SimEngine, task: SimTask) {
  const success = task.state === 'success';
  const links = success ? [engine.links.mint(task.taskId)] : null;
  return {
    taskId: task.taskId,
    paramJson: JSON.stringify(task.params),
    completeTime: veoTime(task.completedAt),
    response: success ? { taskId: task.taskId, resultUrls: links, originUrls: null, resolution: '720p' } : null,
    successFlag: FLAGS[task.state],
    errorCode: task.state === 'fail' ? 501 : null,
    errorMessage: task.failMsg ?? '',
    createTime: veoTime(task.createdAt),
    fallbackFlag: false,
  };
}

export const veoDialect: SimDialectApi = {
  name: 'veo',
  codes: { ok: 200, invalid: 422, insufficientCredits: 402, overloaded: 455 },
  chargesCredits: true,
  answer,
  routes: {
    'POST /api/v1/veo/generate': (engine, { key, body }) => {
      const v = validateVeoCreate(body, engine.models, engine.settings.bannedWords);
      if (!v.ok) return answer(v.code, v.message);
      return engine.create(veoDialect, key, { request: v.request, params: body }, (task) => answer(200, 'success', { taskId: task.taskId }));
    },
    'GET /api/v1/veo/record-info': (engine, { key, query }) => {
      const task = engine.taskOf(key, query.get('taskId'));
      if (!task) return answer(404, `task ${JSON.stringify(query.get('taskId'))} not found`);
      engine.noteStatusRead(task);
      return answer(200, 'success', record(engine, task));
    },
    'GET /api/v1/veo/get-1080p-video': (engine, { key, query }) => {
      const task = engine.taskOf(key, query.get('taskId'));
      if (!task) return answer(404, `task ${JSON.stringify(query.get('taskId'))} not found`);
      if (query.get('index') !== null && query.get('index') !== '0') return answer(422, `index must be 0 (got ${JSON.stringify(query.get('index'))})`);
      if (task.state === 'fail') return answer(422, 'the task failed: it has no 1080P video');
      const readyAt = engine.hdReadyAt(task);
      if (readyAt === undefined || Date.now() < readyAt) return answer(400, HD_PROCESSING);
      return answer(200, 'success', { resultUrl: engine.links.mint(task.taskId) });
    },
  },
  callback(engine, task) {
    const ok = task.state === 'success';
    const data = {
      taskId: task.taskId,
      info: ok ? { resultUrls: [engine.links.mint(task.taskId)], originUrls: null, resolution: '720p' } : null,
      fallbackFlag: false,
    };
    return { body: { code: ok ? 200 : 501, msg: ok ? 'Veo3.1 video generated successfully.' : (task.failMsg ?? 'generation failed'), data }, headers: {} };
  },
};
