/**
 * The worker's own progress on a job (`job.data.render`), parsed before any step runs. A stock
 * BullMQ client, a hand edit or a bug can put anything there; a state the steps cannot resume
 * (an unknown step, a wait for a task without its id, an account this worker does not have) fails
 * the job at once instead of looping or reaching KIE.
 *
 * Keys this version does not know are kept, not refused: during a rolling deploy a newer worker
 * may have written them, and an older one must resume its jobs (and write the keys back).
 */
import { z } from 'zod';
import { FieldIssue, ValidationError } from './errors';
import type { RenderState } from './renderJob';
import { valueAt, WORKER_STATE_FIELD } from './renderRequest';

export const RENDER_STEPS = ['submitting', 'generating', 'storing'] as const;

const count = z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must not be negative' });
const epochMs = count;
const text = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });

const stateSchema = z.looseObject({
  step: z.enum(RENDER_STEPS, { error: `must be one of ${RENDER_STEPS.join(', ')} (or absent: nothing sent yet)` }).optional(),
  account: text.optional(),
  taskId: text.optional(),
  submitStartedAt: epochMs.optional(),
  submittedAt: epochMs.optional(),
  submits: count.default(0),
  possibleDuplicate: z.boolean({ error: 'must be true or false' }).optional(),
  failedTasks: count.optional(),
  setbacks: count.optional(),
  // What KIE reported; kept as KIE said it.
  completedAt: z.string({ error: 'must be a string' }).optional(),
  durationSeconds: z.number({ error: 'must be a number' }).optional(),
  resolution: z.string({ error: 'must be a string' }).optional(),
});

/** What each step needs to be resumed. */
const NEEDS: Record<(typeof RENDER_STEPS)[number], ReadonlyArray<'account' | 'taskId' | 'submitStartedAt'>> = {
  // An ambiguous submit: the account it went to, and when (its grace period runs from then).
  submitting: ['account', 'submitStartedAt'],
  generating: ['account', 'taskId'],
  storing: ['account', 'taskId'],
};

const fieldOf = (path: PropertyKey[]): string => [WORKER_STATE_FIELD, ...path.map(String)].join('.');

/**
 * Validates the worker state of a job against this worker's accounts. Absent means a fresh job.
 * Throws ValidationError naming each bad field as `render.<field>`.
 */
export function parseRenderState(input: unknown, accounts: readonly string[]): RenderState {
  if (input === undefined) return { submits: 0 };
  const parsed = stateSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue): FieldIssue => {
        const value = issue.path.length ? valueAt(input, issue.path) : input;
        return { field: fieldOf(issue.path), value, rule: issue.path.length ? issue.message : 'must be an object' };
      }),
    );
  }
  const state = parsed.data;
  const issues: FieldIssue[] = [];
  if (state.step !== undefined) {
    for (const field of NEEDS[state.step]) {
      if (state[field] === undefined) issues.push({ field: fieldOf([field]), value: undefined, rule: `is required to resume step "${state.step}"` });
    }
    if (state.account !== undefined && !accounts.includes(state.account)) {
      issues.push({ field: fieldOf(['account']), value: state.account, rule: `must be an account this worker is configured with (${accounts.join(', ')})` });
    }
  }
  if (issues.length) throw new ValidationError(issues);
  return state;
}
