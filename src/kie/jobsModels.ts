/**
 * The jobs API names a model per request instead of taking a quality field. The names are
 * configurable (KIE_MODEL_STANDARD, KIE_MODEL_HIGH, KIE_MODEL_STORYBOARD) because KIE renames
 * and adds models more often than it changes the wire format.
 */
export interface JobsModels {
  /** quality "standard" text-to-video. */
  readonly standard: string;
  /** quality "high" text-to-video (sent with size "high"). */
  readonly high: string;
  /** Multi-shot storyboards; KIE has only a pro model for them. */
  readonly storyboard: string;
}

export const DEFAULT_JOBS_MODELS: JobsModels = Object.freeze({
  standard: 'sora-2-text-to-video',
  high: 'sora-2-pro-text-to-video',
  storyboard: 'sora-2-pro-storyboard',
});
