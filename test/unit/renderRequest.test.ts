import { echoIssue, ValidationError } from '../../src/shared/errors';
import { builtinCatalog } from '../../src/kie/catalog/modelCatalog';
import { estimateCostUsd, parseRenderRequest } from '../../src/shared/renderRequest';

function issuesOf(input: unknown, catalog = builtinCatalog()): Array<{ field: string; rule: string; value: unknown }> {
  try {
    parseRenderRequest(input, catalog);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

describe('render request schema', () => {
  it('applies defaults and trims the prompt', () => {
    expect(parseRenderRequest({ prompt: '  a fox  ' })).toEqual({
      type: 'text',
      model: 'sora-2',
      prompt: 'a fox',
      aspectRatio: '16:9',
      duration: 10,
      quality: 'standard',
    });
  });

  it('accepts every documented field', () => {
    const req = parseRenderRequest({
      prompt: 'x',
      aspectRatio: '9:16',
      duration: 15,
      quality: 'high',
      seed: 12345,
      key: 'clips/a.mp4',
      batchId: 'b1',
      metadata: { customer: 7 },
      notifyUrl: 'https://example.com/done',
    });
    expect(req).toMatchObject({ duration: 15, quality: 'high', seed: 12345, key: 'clips/a.mp4' });
  });

  it.each([
    [{ prompt: '' }, 'prompt', 'must not be empty'],
    [{ prompt: '   ' }, 'prompt', 'must not be empty'],
    [{ prompt: 'x'.repeat(801) }, 'prompt', 'sora-2 (KIE_API_STYLE=sora) accepts at most 800 characters'],
    [{ prompt: 7 }, 'prompt', 'must be a string'],
    [{}, 'prompt', 'must be a string'],
    [{ prompt: 'x', aspectRatio: '4:3' }, 'aspectRatio', 'sora-2 (KIE_API_STYLE=sora) accepts 16:9, 9:16 or 1:1'],
    [{ prompt: 'x', duration: 12 }, 'duration', 'sora-2 (KIE_API_STYLE=sora) accepts 10 or 15'],
    [{ prompt: 'x', quality: 'ultra' }, 'quality', 'must be one of standard, high'],
    [{ prompt: 'x', seed: 9999 }, 'seed', 'sora-2 (KIE_API_STYLE=sora) accepts 10000 to 99999'],
    [{ prompt: 'x', seed: 100000 }, 'seed', 'sora-2 (KIE_API_STYLE=sora) accepts 10000 to 99999'],
    [{ prompt: 'x', seed: 12345.5 }, 'seed', 'must be a whole number'],
    [{ prompt: 'x', key: '/abs.mp4' }, 'key', 'must be relative (no leading "/")'],
    [{ prompt: 'x', key: 'a/../b.mp4' }, 'key', 'must not contain a ".." segment'],
    [{ prompt: 'x', key: 'a\u0001b' }, 'key', 'must not contain control characters'],
    [{ prompt: 'x', metadata: { big: 'y'.repeat(5000) } }, 'metadata', 'must be at most 4096 bytes as JSON'],
    [{ prompt: 'x', notifyUrl: 'ftp://host/x' }, 'notifyUrl', 'must be an http(s) URL'],
    [{ prompt: 'x', aspect_ratio: '1:1' }, 'aspect_ratio', 'is not a known field'],
  ])('refuses %j naming the field', (input, field, rule) => {
    expect(issuesOf(input)).toContainEqual(expect.objectContaining({ field, rule }));
  });

  it('reports every bad field at once, with the value', () => {
    const issues = issuesOf({ prompt: '', duration: 5, seed: 1 });
    expect(issues.map((i) => i.field).sort()).toEqual(['duration', 'prompt', 'seed']);
    expect(issues.find((i) => i.field === 'duration')?.value).toBe(5);
  });

  it('echoes a long value cut, with its full length, in the message and in echoIssue', () => {
    const prompt = 'p'.repeat(900);
    let message = '';
    try {
      parseRenderRequest({ prompt });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      `invalid render request: prompt: sora-2 (KIE_API_STYLE=sora) accepts at most 800 characters (got "${'p'.repeat(58)}… (900 characters))`,
    );
    const [issue] = issuesOf({ prompt });
    expect(echoIssue(issue!)).toEqual({
      field: 'prompt',
      value: `${'p'.repeat(59)}…`,
      valueLength: 900,
      rule: 'sora-2 (KIE_API_STYLE=sora) accepts at most 800 characters',
    });
    const metadata = { note: 'm'.repeat(5000) };
    expect(echoIssue({ field: 'metadata', value: metadata, rule: 'r' })).toMatchObject({
      value: `${JSON.stringify(metadata).slice(0, 59)}…`,
      valueLength: JSON.stringify(metadata).length,
    });
    expect(echoIssue({ field: 'seed', value: 5, rule: 'r' })).toEqual({ field: 'seed', value: 5, rule: 'r' });
  });

  it('ignores the worker-owned progress field', () => {
    expect(parseRenderRequest({ prompt: 'x', render: { step: 'generating', submits: 1 } })).toMatchObject({ prompt: 'x' });
  });

  it('refuses what is not an object', () => {
    expect(issuesOf('a fox')).toEqual([{ field: '(request)', value: 'a fox', rule: 'must be a JSON object' }]);
  });

  describe('storyboard (KIE_API_STYLE=jobs: only the jobs API renders them)', () => {
    const JOBS = builtinCatalog('jobs');
    const shots = [
      { prompt: 'a', seconds: 10 },
      { prompt: 'b', seconds: 15 },
    ];
    it('sums the shots into the duration', () => {
      expect(parseRenderRequest({ type: 'storyboard', shots }, JOBS)).toMatchObject({ type: 'storyboard', duration: 25 });
    });
    it('refuses shots that do not add up to 10, 15 or 25 s', () => {
      expect(issuesOf({ type: 'storyboard', shots: [{ prompt: 'a', seconds: 7 }] }, JOBS)).toContainEqual(
        expect.objectContaining({ field: 'shots', rule: 'shot lengths must add up to 10, 15 or 25 seconds (they add up to 7)' }),
      );
    });
    it('refuses a declared duration the shots do not match', () => {
      expect(issuesOf({ type: 'storyboard', duration: 15, shots }, JOBS)).toContainEqual(
        expect.objectContaining({ field: 'shots', rule: 'shot lengths must add up to 15 seconds (they add up to 25)' }),
      );
    });
    it('checks each shot prompt', () => {
      expect(issuesOf({ type: 'storyboard', shots: [{ prompt: '', seconds: 10 }] }, JOBS)).toContainEqual(
        expect.objectContaining({ field: 'shots.0.prompt', rule: 'must not be empty' }),
      );
    });
  });

  describe('dialect support', () => {
    it('refuses a storyboard in the sora dialect', () => {
      const req = { type: 'storyboard', shots: [{ prompt: 'a', seconds: 10 }] };
      expect(issuesOf(req, builtinCatalog('sora'))).toEqual([
        expect.objectContaining({ field: 'type', rule: 'storyboard needs KIE_API_STYLE=jobs (sora-2-storyboard)' }),
      ]);
      expect(parseRenderRequest(req, builtinCatalog('jobs'))).toMatchObject({ model: 'sora-2-storyboard' });
    });
    it('refuses 1:1 and seed in the jobs dialect', () => {
      const req = { prompt: 'x', aspectRatio: '1:1', seed: 12345 };
      expect(issuesOf(req, builtinCatalog('jobs')).map((i) => i.field)).toEqual(['aspectRatio', 'seed']);
      expect(parseRenderRequest(req, builtinCatalog('sora'))).toMatchObject({ aspectRatio: '1:1', seed: 12345 });
    });
  });

  it('estimates cost from the reference price table', () => {
    expect(estimateCostUsd(parseRenderRequest({ prompt: 'x' }))).toBe(0.15);
    expect(estimateCostUsd(parseRenderRequest({ prompt: 'x', quality: 'high', duration: 15 }))).toBe(0.45);
    expect(estimateCostUsd(parseRenderRequest({ type: 'storyboard', shots: [{ prompt: 'a', seconds: 25 }] }, builtinCatalog('jobs')))).toBe(0.6);
  });
});
