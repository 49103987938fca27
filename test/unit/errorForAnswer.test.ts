import {
  AuthenticationError,
  InsufficientCreditsError,
  InvalidParametersError,
  InvalidPromptError,
  TaskNotFoundError,
  TransientKieError,
} from '../../src/shared/errors';
import { errorForAnswer, isKieRefusal } from '../../src/kie/errorForAnswer';

const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({ status, body, headers });

describe('KIE answers become typed errors', () => {
  it('a success envelope is no error', () => {
    expect(errorForAnswer(answer(200, { code: 0, data: {} }))).toBeUndefined();
    expect(errorForAnswer(answer(200, { code: 200, data: {} }))).toBeUndefined();
  });

  it.each([
    [answer(200, { code: 1001, message: 'Invalid prompt' }), InvalidPromptError, false],
    [answer(200, { code: 1002, message: 'Insufficient credits' }), InsufficientCreditsError, false],
    [answer(200, { code: 1003, message: 'Model overloaded' }), TransientKieError, true],
    [answer(200, { code: 1004, message: 'Invalid parameters' }), InvalidParametersError, false],
    [answer(402, { code: 402, msg: 'credits' }), InsufficientCreditsError, false],
    [answer(422, { code: 422, msg: 'bad' }), InvalidParametersError, false],
    [answer(455, { code: 455, msg: 'maintenance' }), TransientKieError, true],
    [answer(401, { code: 401 }), AuthenticationError, false],
    [answer(429, {}), TransientKieError, true],
    [answer(503, 'Service Unavailable'), TransientKieError, true],
    [answer(200, { code: 404, message: 'no such task' }), TaskNotFoundError, false],
  ])('%j', (a, type, retryable) => {
    const err = errorForAnswer(a);
    expect(err).toBeInstanceOf(type);
    expect(err!.retryable).toBe(retryable);
  });

  it('keeps the KIE code and message, and honours Retry-After', () => {
    const err = errorForAnswer(answer(429, { code: 429, msg: 'slow down' }, { 'retry-after': '3' })) as TransientKieError;
    expect(err.message).toBe('KIE 429 slow down');
    expect(err.code).toBe(429);
    expect(err.retryAfterMs).toBe(3000);
  });
});

describe('only KIE’s own refusal proves that a create made nothing', () => {
  it.each([
    [answer(200, { code: 1003, message: 'Model overloaded' })],
    [answer(500, { code: 500, msg: 'internal error' })],
    [answer(429, { code: 429, msg: 'rate limited' })],
    [answer(402, { code: 402, msg: 'credits' })],
  ])('its envelope with an error code: %j', (a) => {
    expect(isKieRefusal(a)).toBe(true);
  });

  it.each([
    ['a gateway page', answer(502, '<html><h1>502 Bad Gateway</h1></html>')],
    ['a 5xx without a body', answer(503, '')],
    ['a success envelope on a 5xx', answer(500, { code: 200, msg: 'success', data: { taskId: 't' } })],
    ['a success without a taskId', answer(200, { code: 0, message: 'success', data: null })],
    ['a body that did not parse', answer(200, '{"code":0,"message":"succ')],
    ['an envelope whose code is not a number', answer(500, { code: '500', msg: 'x' })],
    ['a JSON array', answer(500, [{ code: 500 }])],
  ])('anything else: %s', (_label, a) => {
    expect(isKieRefusal(a)).toBe(false);
  });
});
