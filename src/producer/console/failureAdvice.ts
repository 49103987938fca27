/** What a person can do about a failed render, read from its failure reason. */
const ADVICE: ReadonlyArray<[RegExp, string]> = [
  [/content polic|moderation|sensitive|prohibited|safety/i, 'KIE refused the content: rephrase the prompt (or change the images) and enqueue it again.'],
  [
    /invalid render request|refused the request|must be|not a known field/i,
    'The request is wrong for its model: fix the field named in the reason, check `sora-batch models`, and enqueue it again.',
  ],
  [/insufficient credits|credits/i, 'The account ran out of credits: top it up at KIE, then resume it on the Fleet page (or `sora-batch accounts resume`).'],
  [/budget/i, "The batch's budget is spent: raise it (PATCH /v1/batches/:id) and enqueue the line again."],
  [/cancel/i, 'The batch was cancelled: nothing to do, or enqueue the line again in a new batch.'],
  [/stuck|timed out|timeout/i, 'KIE never finished the task: enqueue it again (the same batch file adds only what is missing).'],
  [/cannot store|S3|storage/i, 'Storing the video failed: check the S3 bucket and credentials of the workers, then enqueue it again.'],
  [/mismatch|not a complete MP4|moov|mdat/i, 'The video KIE sent was not what was asked for: enqueue it again; if it repeats, report the task id to KIE.'],
];

const FALLBACK = 'Look up the job id in the worker logs (or `sora-batch status`), then enqueue it again: a batch file sent again adds only what is missing.';

export function failureAdvice(reason: string): string {
  return ADVICE.find(([pattern]) => pattern.test(reason))?.[1] ?? FALLBACK;
}
