/**
 * Reads a KIE callback body of either dialect. A callback is only a hint that a task finished:
 * the worker reads the record itself, so only the task and its state are taken from it.
 */
import type { ApiStyle } from '../shared/config';
import { UnexpectedResponseError } from '../shared/errors';
import { parseJobsCallback } from './jobsDialect';
import { soraDialect } from './soraDialect';
import type { TaskState } from './types';

export interface CallbackHint {
  taskId: string;
  state: TaskState;
}

/** Throws UnexpectedResponseError when the body names no task or no known state. */
export function parseCallbackBody(style: ApiStyle, body: unknown): CallbackHint {
  if (style === 'jobs') return parseJobsCallback(body);
  // The reference's callback carries the same fields as a record-info `data` object.
  const { taskId, state } = soraDialect.parseRecord({ data: body }, '');
  if (taskId === '') throw new UnexpectedResponseError('KIE sora callback has no taskId');
  return { taskId, state };
}
