/** Readers for KIE's `{ code, message|msg, data }` envelope, shared by every family. */
import { UnexpectedResponseError } from '../shared/errors';

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The envelope's `data`, whatever it is. */
export function envelopeData(body: unknown): unknown {
  return isObject(body) ? body.data : undefined;
}

/** The envelope's `data` when it must be an object. */
export function envelopeObject(body: unknown): Record<string, unknown> {
  const data = envelopeData(body);
  if (!isObject(data)) throw new UnexpectedResponseError('KIE answer has no data object');
  return data;
}

/** `data.taskId` of a create's answer; `what` names the answer in the error. */
export function createdTaskId(body: unknown, what: string): string {
  const taskId = str(envelopeObject(body).taskId);
  if (!taskId) throw new UnexpectedResponseError(`KIE ${what} answer has no taskId`);
  return taskId;
}

/** KIE's code and words of a failed task ("501 content policy"), whichever are given. */
export function failReason(code: unknown, message: unknown): string | undefined {
  const parts = [code, message].map((v) => (typeof v === 'number' ? String(v) : str(v))).filter((v): v is string => v !== undefined);
  return parts.length ? parts.join(' ') : undefined;
}
