/**
 * Reads a KIE callback body in the shape of the job's API family. A callback is only a hint that a
 * task finished: the worker reads the record itself, so only the task and its state are taken from it.
 */
import { UnexpectedResponseError } from '../shared/errors';
import type { Family } from './catalog/modelEntry';
import { parseJobsCallback } from './jobsDialect';
import { soraDialect } from './soraDialect';
import type { TaskState } from './types';
import { parseVeoCallback } from './veoDialect';

export interface CallbackHint {
  taskId: string;
  state: TaskState;
}

/** Throws UnexpectedResponseError when the body names no task or no known state. */
export function parseCallbackBody(family: Family, body: unknown): CallbackHint {
  if (family === 'jobs') return parseJobsCallback(body);
  if (family === 'veo') return parseVeoCallback(body);
  // The reference's callback carries the same fields as a record-info `data` object.
  const { taskId, state } = soraDialect.parseRecord({ data: body }, '');
  if (taskId === '') throw new UnexpectedResponseError('KIE sora callback has no taskId');
  return { taskId, state };
}
