import { ValidationError } from '../../src/shared/errors';
import { parseRenderState } from '../../src/shared/renderState';

const ACCOUNTS = ['a', 'b'];

function issuesOf(input: unknown): Array<{ field: string; rule: string; value: unknown }> {
  try {
    parseRenderState(input, ACCOUNTS);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

describe('worker state schema (job.data.render)', () => {
  it('a job without state starts fresh', () => {
    expect(parseRenderState(undefined, ACCOUNTS)).toEqual({ submits: 0 });
    expect(parseRenderState({}, ACCOUNTS)).toEqual({ submits: 0 });
  });

  it('accepts every state a worker writes', () => {
    const states = [
      { submits: 0, setbacks: 2 },
      { step: 'submitting', account: 'a', submitStartedAt: 1_700_000_000_000, submits: 0 },
      { step: 'generating', account: 'b', taskId: 'task-1', submitStartedAt: 1, submittedAt: 2, submits: 1, setbacks: 0 },
      {
        step: 'storing',
        account: 'a',
        taskId: 't',
        submits: 2,
        possibleDuplicate: true,
        failedTasks: 1,
        completedAt: '2026-01-01T00:00:00.000Z',
        durationSeconds: 15,
        resolution: '1080p',
      },
    ];
    for (const state of states) expect(parseRenderState(state, ACCOUNTS)).toEqual(state);
  });

  it('keeps keys this version does not know (a newer worker wrote them during a rolling deploy)', () => {
    const state = { step: 'generating', account: 'a', taskId: 't', submits: 1, checks: 4, nextThing: { x: [1, 2] } };
    expect(parseRenderState(state, ACCOUNTS)).toEqual(state);
  });

  it('refuses a state that is not an object', () => {
    for (const input of ['queued', 42, null, ['generating']]) {
      expect(issuesOf(input)).toEqual([{ field: 'render', value: input, rule: 'must be an object' }]);
    }
  });

  it('refuses an unknown step, naming render.step and the steps it knows', () => {
    expect(issuesOf({ step: 'queued' })).toEqual([
      { field: 'render.step', value: 'queued', rule: 'must be one of submitting, generating, storing (or absent: nothing sent yet)' },
    ]);
  });

  it.each([
    [{ step: 'submitting', submitStartedAt: 1 }, ['render.account']],
    [{ step: 'submitting', account: 'a' }, ['render.submitStartedAt']],
    [{ step: 'generating', account: 'a' }, ['render.taskId']],
    [{ step: 'generating', taskId: 't' }, ['render.account']],
    [{ step: 'storing' }, ['render.account', 'render.taskId']],
  ])('refuses a step that cannot be resumed: %j lacks %j', (state, fields) => {
    const issues = issuesOf(state);
    expect(issues.map((i) => i.field)).toEqual(fields);
    expect(issues[0]!.rule).toBe(`is required to resume step "${state.step}"`);
  });

  it('refuses an account this worker is not configured with, naming the ones it has', () => {
    expect(issuesOf({ step: 'generating', account: 'ghost', taskId: 't' })).toEqual([
      { field: 'render.account', value: 'ghost', rule: 'must be an account this worker is configured with (a, b)' },
    ]);
  });

  it.each([
    ['submits', -1, 'must not be negative'],
    ['submits', 1.5, 'must be a whole number'],
    ['setbacks', '3', 'must be a number'],
    ['failedTasks', -2, 'must not be negative'],
    ['submitStartedAt', 'yesterday', 'must be a number'],
    ['taskId', '', 'must not be empty'],
    ['account', 7, 'must be a string'],
    ['possibleDuplicate', 'yes', 'must be true or false'],
  ])('refuses render.%s = %j (%s)', (field, value, rule) => {
    expect(issuesOf({ [field]: value })).toEqual([{ field: `render.${field}`, value, rule }]);
  });

  it('lists every bad field at once', () => {
    expect(issuesOf({ step: 'storing', account: 'a', submits: -3, setbacks: 0.5 }).map((i) => i.field)).toEqual(['render.submits', 'render.setbacks']);
  });
});
