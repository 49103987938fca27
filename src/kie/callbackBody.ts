/**
 * Reads a KIE callback body of either dialect. A callback is only a hint that a task finished:
 * the worker confirms it with the record before anything is kept, so only the task, its state and
 * its video link are taken from it.
 */
import type { ApiStyle } from '../shared/config';
import { UnexpectedResponseError } from '../shared/errors';
import { parseJobsCallback, parseJobsRecord } from './jobsDialect';
import { soraDialect } from './soraDialect';
import type { TaskState } from './types';

export interface CallbackHint {
  taskId: string;
  state: TaskState;
  /** The video link it announces for a finished task: downloaded early, kept only once KIE confirms it. */
  videoUrl?: string;
}

/** Throws UnexpectedResponseError when the body names no task or no known state. */
export function parseCallbackBody(style: ApiStyle, body: unknown): CallbackHint {
  if (style === 'jobs') return { ...parseJobsCallback(body), videoUrl: jobsVideoUrl(body) };
  // The reference's callback carries the same fields as a record-info `data` object.
  const { taskId, state, videoUrl } = soraDialect.parseRecord({ data: body }, '');
  if (taskId === '') throw new UnexpectedResponseError('KIE sora callback has no taskId');
  return { taskId, state, ...(videoUrl ? { videoUrl } : {}) };
}

/** A jobs callback has the record's envelope; one without a readable link is still a hint. */
function jobsVideoUrl(body: unknown): string | undefined {
  try {
    return parseJobsRecord(body, '').videoUrl;
  } catch {
    return undefined;
  }
}
