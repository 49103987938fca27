/** The reference's API (/api/v1/sora/*): errors as HTTP 200 with codes 100x, statuses 0/1/2. */
import type { Answer, SimDialectApi } from './kieSimDialect';
import type { SimEngine } from './kieSimEngine';
import { validateSoraCreate } from './kieSimValidation';
import type { SimTask } from './kieSimTypes';

const STATUS = { generating: 0, success: 1, fail: 2 } as const;
/** Transport-level refusals keep their HTTP status; KIE's own codes travel in a 200. */
const HTTP_STATUS_CODES = new Set([401, 429, 500]);

function answer(code: number, text: string, data: unknown = null): Answer {
  return { status: HTTP_STATUS_CODES.has(code) ? code : 200, body: { code, message: text, data } };
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** Every record of a finished task carries a freshly minted link. */
function record(engine: SimEngine, task: SimTask) {
  return {
    taskId: task.taskId,
    status: STATUS[task.state],
    videoUrl: task.state === 'success' ? engine.links.mint(task.taskId) : undefined,
    duration: task.durationSeconds,
    resolution: '1080p',
    createdAt: iso(task.createdAt),
    completedAt: iso(task.completedAt),
    errorMessage: task.failMsg,
  };
}

export const soraDialect: SimDialectApi = {
  name: 'sora',
  codes: { ok: 0, invalid: 1004, insufficientCredits: 1002, overloaded: 1003 },
  chargesCredits: false,
  answer,
  routes: {
    'POST /api/v1/sora/generate': (engine, { key, body }) => {
      const v = validateSoraCreate(body, engine.models, engine.settings.bannedWords);
      if (!v.ok) return answer(v.code, v.message);
      return engine.create(soraDialect, key, { request: v.request, params: body }, (task) => answer(0, 'success', { taskId: task.taskId, status: 0 }));
    },
    'GET /api/v1/sora/record-info': (engine, { key, query }) => {
      const task = engine.taskOf(key, query.get('taskId'));
      if (!task) return answer(404, `task ${JSON.stringify(query.get('taskId'))} not found`);
      engine.noteStatusRead(task);
      return answer(0, 'success', record(engine, task));
    },
  },
  callback(engine, task) {
    const { taskId, status, videoUrl, duration, completedAt, errorMessage } = record(engine, task);
    return { body: { taskId, status, videoUrl, duration, completedAt, errorMessage }, headers: {} };
  },
};
