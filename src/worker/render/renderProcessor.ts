/**
 * The steps of one render job. Every step ends at a point persisted on the job, so any worker can
 * resume it: submit (slot, quota and turn first, taskId written at once; submitStep.ts), wait
 * (paced status checks as delayed-job steps, holding no worker concurrency while asleep;
 * generatingStep.ts), store (stream into S3; storeStep.ts). RenderRun holds what they share.
 */
import type { RenderResult } from '../../shared/renderJob';
import { RenderDeps, RenderJob, RenderRun } from './renderRun';

export type { RenderDeps, RenderJob };

export function createRenderProcessor(deps: RenderDeps) {
  return (job: RenderJob, token?: string): Promise<RenderResult> => new RenderRun(deps, job, token ?? '').execute();
}
