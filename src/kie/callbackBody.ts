/**
 * Reads a KIE callback body in the shape of the job's API family. A callback is only a hint that a
 * task finished: the worker confirms it with the record before anything is kept, so only the task,
 * its state and its video link are taken from it.
 */
import { UnexpectedResponseError } from '../shared/errors';
import type { Family } from './catalog/modelEntry';
import { parseJobsCallback, parseJobsRecord } from './jobsDialect';
import { soraDialect } from './soraDialect';
import type { TaskState } from './types';
import { parseVeoCallback } from './veoDialect';

export interface CallbackHint {
  taskId: string;
  state: TaskState;
  /** The video link it announces for a finished task: downloaded early, kept only once KIE confirms it. */
  videoUrl?: string;
}

/** Throws UnexpectedResponseError when the body names no task or no known state. */
export function parseCallbackBody(family: Family, body: unknown): CallbackHint {
  if (family === 'jobs') return withLink(parseJobsCallback(body), jobsVideoUrl(body));
  if (family === 'veo') return parseVeoCallback(body);
  // The reference's callback carries the same fields as a record-info `data` object.
  const { taskId, state, videoUrl } = soraDialect.parseRecord({ data: body }, '');
  if (taskId === '') throw new UnexpectedResponseError('KIE sora callback has no taskId');
  return withLink({ taskId, state }, videoUrl);
}

const withLink = (hint: CallbackHint, videoUrl: string | undefined): CallbackHint => (videoUrl ? { ...hint, videoUrl } : hint);

/** A jobs callback has the record's envelope; one without a readable link is still a hint. */
function jobsVideoUrl(body: unknown): string | undefined {
  try {
    return parseJobsRecord(body, '').videoUrl;
  } catch {
    return undefined;
  }
}
