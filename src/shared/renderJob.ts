/**
 * The public queue contract: what a job on the queue holds and what it returns. A backend in any
 * language can add `render` jobs with these fields using a stock BullMQ client.
 */
import type { RenderRequestInput } from './renderRequest';

export const RENDER_JOB_NAME = 'render';

/**
 * The worker's own progress, kept on the job so any worker can resume it. Never set by producers;
 * parsed by parseRenderState (renderState.ts) before a run trusts it.
 */
export interface RenderState {
  /** Absent: nothing sent yet. `submitting`: a create request may be in flight or done without us knowing. */
  step?: 'submitting' | 'generating' | 'storing';
  account?: string;
  taskId?: string;
  /** When the current create request was about to be sent (ms). */
  submitStartedAt?: number;
  submittedAt?: number;
  /** KIE tasks created (or possibly created) for this job. 1 unless a documented policy resubmitted. */
  submits: number;
  /** Set when a resubmit followed an ambiguous submit: KIE may have charged twice. */
  possibleDuplicate?: boolean;
  /** Tasks of this job that KIE reported failed (status 2). */
  failedTasks?: number;
  /** Consecutive delays for transient trouble (KIE overload, network, S3 down). */
  setbacks?: number;
  completedAt?: string;
  durationSeconds?: number;
  resolution?: string;
}

export type RenderJobData = RenderRequestInput & { render?: RenderState };

/** The job's return value once its video is stored and verified. */
export interface RenderResult {
  taskId: string;
  account: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  durationSeconds?: number;
  resolution?: string;
  submittedAt: string;
  completedAt: string;
  storedAt: string;
  estimatedCostUsd: number;
  /** Only when a resubmit after an ambiguous submit may have created a second, paid task. */
  possibleDuplicate?: boolean;
}
