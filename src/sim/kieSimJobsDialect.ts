/**
 * KIE's generic jobs API (/api/v1/jobs/*, /common/download-url, /chat/credit): HTTP-style codes in
 * the body and as the HTTP status, states waiting|queuing|generating|success|fail, JSON-in-a-string
 * fields, a credit balance, optional HMAC-signed callbacks.
 */
import { createHmac } from 'node:crypto';
import type { Answer, SimDialectApi } from './kieSimDialect';
import type { SimEngine } from './kieSimEngine';
import { validateJobsCreate } from './kieSimValidation';
import type { SimTask } from './kieSimTypes';

/** The failCode of a failed generation, and the code of its callback. */
const GENERATION_FAILED = 501;
/** Share of the generation time reported as waiting, then as queuing, before generating. */
const WAITING_SHARE = 0.1;
const QUEUING_SHARE = 0.2;

function answer(code: number, text: string, data: unknown = null): Answer {
  return { status: code, body: { code, msg: text, data } };
}

function stateOf(task: SimTask, now = Date.now()): string {
  if (task.state !== 'generating') return task.state;
  const elapsed = (now - task.createdAt) / task.generationMs;
  return elapsed < WAITING_SHARE ? 'waiting' : elapsed < QUEUING_SHARE ? 'queuing' : 'generating';
}

/** Every record of a finished task carries a freshly minted link. */
function record(engine: SimEngine, task: SimTask) {
  const success = task.state === 'success';
  const failed = task.state === 'fail';
  return {
    taskId: task.taskId,
    model: task.model,
    state: stateOf(task),
    param: JSON.stringify(task.params),
    resultJson: success ? JSON.stringify({ resultUrls: [engine.links.mint(task.taskId)] }) : '',
    failCode: failed ? String(GENERATION_FAILED) : '',
    failMsg: task.failMsg ?? '',
    costTime: task.completedAt === undefined ? null : task.completedAt - task.createdAt,
    completeTime: task.completedAt ?? null,
    createTime: task.createdAt,
  };
}

export const jobsDialect: SimDialectApi = {
  name: 'jobs',
  codes: { ok: 200, invalid: 422, insufficientCredits: 402, overloaded: 455 },
  chargesCredits: true,
  answer,
  routes: {
    'POST /api/v1/jobs/createTask': (engine, { key, body }) => {
      const v = validateJobsCreate(body, engine.models, engine.settings.bannedWords);
      if (!v.ok) return answer(v.code, v.message);
      return engine.create(jobsDialect, key, { request: v.request, params: body }, (task) => answer(200, 'success', { taskId: task.taskId }));
    },
    'GET /api/v1/jobs/recordInfo': (engine, { key, query }) => {
      const task = engine.taskOf(key, query.get('taskId'));
      if (!task) return answer(404, `task ${JSON.stringify(query.get('taskId'))} not found`);
      engine.noteStatusRead(task);
      return answer(200, 'success', record(engine, task));
    },
    'POST /api/v1/common/download-url': (engine, { key, body }) => {
      const url = (body as { url?: unknown } | null)?.url;
      if (typeof url !== 'string') return answer(422, `url must be a string (got ${JSON.stringify(url)})`);
      const issued = engine.links.checkIssued(url);
      if (!issued.ok) return answer(422, issued.reason);
      // Another key's link is refused like a foreign one: it must not reveal that the task exists.
      if (!engine.taskOf(key, issued.taskId)) return answer(422, `url ${url} was not issued by this service`);
      if (engine.refusesLinkRefresh()) return answer(422, `url ${url} cannot be refreshed any more`);
      return answer(200, 'success', engine.links.mint(issued.taskId));
    },
    'GET /api/v1/chat/credit': (engine, { key }) => answer(200, 'success', engine.balance(key)),
  },
  callback(engine, task): { body: unknown; headers: Record<string, string> } {
    const data = record(engine, task);
    const ok = task.state === 'success';
    const body = { code: ok ? 200 : GENERATION_FAILED, msg: ok ? 'success' : data.failMsg, data };
    const hmacKey = engine.settings.callbackHmacKey;
    if (!hmacKey) return { body, headers: {} };
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', hmacKey).update(`${task.taskId}.${timestamp}`).digest('base64');
    return { body, headers: { 'X-Webhook-Timestamp': timestamp, 'X-Webhook-Signature': signature } };
  },
};
