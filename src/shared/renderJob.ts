/**
 * The public queue contract: what a job on the queue holds and what it returns. A backend in any
 * language can add `render` jobs with these fields using a stock BullMQ client.
 */
import type { RenderRequestInput } from './renderRequest';

export const RENDER_JOB_NAME = 'render';

/** The queue the worker delivers a job's notifyUrl notifications from (one per render queue). */
export function notificationQueueName(queueName: string): string {
  return `${queueName}-notifications`;
}

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
  /**
   * Set while the job waits (delayed) for something a person may act on: `budget` (a daily,
   * tenant or batch budget does not allow its price; raising it wakes the job) or `tenant` (the
   * tenant's TENANT_LIMITS cap). Cleared when the submit is granted.
   */
  waiting?: WaitingFor;
}

export interface WaitingFor {
  reason: 'budget' | 'tenant';
  /** budget: daily | tenant | batch; tenant: daily | concurrent. */
  scope: string;
  message: string;
  since: number;
}

export type RenderJobData = RenderRequestInput & { render?: RenderState };

/** What the stored MP4 itself says, read from its boxes while it streamed into S3. */
export interface VideoFacts {
  /** The movie's duration (mvhd), to the millisecond. */
  durationSeconds: number;
  /** The picture as players show it (the video track's header). */
  width: number;
  height: number;
  /** Each track's codec as a MIME codecs parameter, video first: ["avc1.640028", "mp4a.40.2"]. */
  codecs: string[];
  hasAudio: boolean;
}

/**
 * Something about a stored render that a person may want to look at; the render itself is stored.
 * `mismatch`: the video's duration or aspect ratio differs from the request (VIDEO_CHECK=warn).
 * `poster-failed`: POSTERS=true, and no poster could be made.
 */
export type RenderWarning =
  | { type: 'mismatch'; field: 'duration' | 'aspectRatio'; requested: number | string; found: number | string; message: string }
  | { type: 'poster-failed'; message: string };

/** The job's return value once its video is stored and verified. */
export interface RenderResult {
  taskId: string;
  account: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  /** As KIE reported them (where its API does); `video` holds what the file itself says. */
  durationSeconds?: number;
  resolution?: string;
  /** Read from the MP4 as it was stored (absent only for objects stored before this was recorded). */
  video?: VideoFacts;
  /** The poster frame (POSTERS=true): a JPEG beside the video, same key with `.jpg`. */
  posterKey?: string;
  /** Only when there is something to say (see RenderWarning). */
  warnings?: RenderWarning[];
  submittedAt: string;
  completedAt: string;
  storedAt: string;
  estimatedCostUsd: number;
  /** Only when a resubmit after an ambiguous submit may have created a second, paid task. */
  possibleDuplicate?: boolean;
}
