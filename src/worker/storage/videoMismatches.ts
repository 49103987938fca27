/**
 * How a stored video differs from what its request asked for: its duration, its aspect ratio.
 *
 * Tolerances: real clips end on frame and audio-frame boundaries (5 s at 24 fps is 121 frames,
 * 5.04 s; AAC adds a few tens of ms) and encoders round frame sizes to multiples of 2, 8 or 16
 * (854x480 for 16:9). Half a second still tells every catalog length from its neighbours (they are
 * at least 1 s apart), and 2 % every catalog ratio from the next closest (4:3 and 3:2, 3:4 and 2:3
 * are 12.5 % apart).
 */
import type { RenderWarning, VideoFacts } from '../../shared/renderJob';
import type { RenderRequest } from '../../shared/renderRequest';

export const DURATION_TOLERANCE_SECONDS = 0.5;
export const ASPECT_RATIO_TOLERANCE = 0.02;

export type Mismatch = Extract<RenderWarning, { type: 'mismatch' }>;

/** "16:9" as a number; undefined for a ratio the request leaves to the model ('auto', none). */
function ratioOf(aspectRatio: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(aspectRatio ?? '');
  return m && Number(m[2]) > 0 ? Number(m[1]) / Number(m[2]) : undefined;
}

export function videoMismatches(video: VideoFacts, request: Pick<RenderRequest, 'duration' | 'aspectRatio'>): Mismatch[] {
  const found: Mismatch[] = [];
  if (Math.abs(video.durationSeconds - request.duration) > DURATION_TOLERANCE_SECONDS) {
    found.push({
      type: 'mismatch',
      field: 'duration',
      requested: request.duration,
      found: video.durationSeconds,
      message: `duration: the video lasts ${video.durationSeconds} s, the request asked for ${request.duration} s`,
    });
  }
  const asked = ratioOf(request.aspectRatio);
  if (asked !== undefined && Math.abs(video.width / video.height / asked - 1) > ASPECT_RATIO_TOLERANCE) {
    found.push({
      type: 'mismatch',
      field: 'aspectRatio',
      requested: request.aspectRatio!,
      found: `${video.width}x${video.height}`,
      message: `aspectRatio: the video is ${video.width}x${video.height}, the request asked for ${request.aspectRatio}`,
    });
  }
  return found;
}
