import { createHmac } from 'node:crypto';
import { UnexpectedResponseError } from '../../src/shared/errors';
import { parseCallbackBody } from '../../src/kie/callbackBody';
import { verifyKieCallbackSignature } from '../../src/kie/callbackSignature';

const hmacKey = 'kie-webhook-key-0123456789';
const nowMs = 1_767_000_000_000;
const timestamp = String(nowMs / 1000);
const sign = (key: string, taskId: string, ts: string) => createHmac('sha256', key).update(`${taskId}.${ts}`).digest('base64');

describe('verifyKieCallbackSignature', () => {
  const check = (over: Partial<Parameters<typeof verifyKieCallbackSignature>[0]> = {}) =>
    verifyKieCallbackSignature({ hmacKey, taskId: 'task1', timestamp, signature: sign(hmacKey, 'task1', timestamp), nowMs, ...over });

  test('accepts KIE’s signature of taskId.timestamp', () => {
    expect(check()).toBe(true);
  });

  test('refuses another task, another key, a tampered timestamp or a tampered signature', () => {
    expect(check({ taskId: 'task2' })).toBe(false);
    expect(check({ signature: sign('another-key', 'task1', timestamp) })).toBe(false);
    expect(check({ timestamp: String(Number(timestamp) + 1), nowMs })).toBe(false);
    const sig = sign(hmacKey, 'task1', timestamp);
    expect(check({ signature: `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}` })).toBe(false);
    expect(check({ signature: sig.slice(0, 20) })).toBe(false);
  });

  test('refuses missing headers and timestamps that are not unix seconds', () => {
    expect(check({ signature: undefined })).toBe(false);
    expect(check({ timestamp: undefined })).toBe(false);
    for (const ts of ['', '1.5', '-1', String(nowMs), 'now']) {
      expect(check({ timestamp: ts, signature: sign(hmacKey, 'task1', ts) })).toBe(false);
    }
  });

  test('accepts a timestamp inside the tolerance either way and refuses one outside it', () => {
    const at = (deltaS: number, toleranceMs?: number) => {
      const ts = String(nowMs / 1000 + deltaS);
      return check({ timestamp: ts, signature: sign(hmacKey, 'task1', ts), toleranceMs });
    };
    expect(at(-300)).toBe(true);
    expect(at(300)).toBe(true);
    expect(at(-301)).toBe(false);
    expect(at(301)).toBe(false);
    expect(at(-30, 60_000)).toBe(true);
    expect(at(-61, 60_000)).toBe(false);
  });

  test('an empty key is a configuration error, not a pass', () => {
    expect(() => check({ hmacKey: '' })).toThrow(/hmacKey must not be empty/);
  });
});

describe('parseCallbackBody', () => {
  test('sora: {taskId, status} with numeric statuses, and the video link a finished task announces', () => {
    expect(parseCallbackBody('sora', { taskId: 'sora_1', status: 1, videoUrl: 'https://storage.kie.ai/v.mp4', duration: 10 })).toEqual({
      taskId: 'sora_1',
      state: 'success',
      videoUrl: 'https://storage.kie.ai/v.mp4',
    });
    expect(parseCallbackBody('sora', { taskId: 'sora_2', status: 2, errorMessage: 'bad' })).toEqual({ taskId: 'sora_2', state: 'failed' });
  });

  test('jobs: {code, msg, data: {taskId, state}}, failures included, and the video link a finished task announces', () => {
    const data = { taskId: 'abc', state: 'success', resultJson: '{"resultUrls":["https://h/v.mp4"]}' };
    expect(parseCallbackBody('jobs', { code: 200, msg: 'success', data })).toEqual({ taskId: 'abc', state: 'success', videoUrl: 'https://h/v.mp4' });
    expect(parseCallbackBody('jobs', { code: 501, msg: 'failed', data: { taskId: 'abc', state: 'fail', failCode: '501' } })).toEqual({
      taskId: 'abc',
      state: 'failed',
    });
  });

  test('a jobs success hint with an unreadable resultJson still names its task (the worker reads the record)', () => {
    expect(parseCallbackBody('jobs', { code: 200, data: { taskId: 'abc', state: 'success', resultJson: '{' } })).toEqual({
      taskId: 'abc',
      state: 'success',
    });
  });

  test.each<[string, 'sora' | 'jobs', unknown]>([
    ['sora without taskId', 'sora', { status: 1 }],
    ['sora with an unknown status', 'sora', { taskId: 's', status: 7 }],
    ['sora that is not an object', 'sora', 'hello'],
    ['jobs without data', 'jobs', { code: 200, msg: 'success' }],
    ['jobs without taskId', 'jobs', { code: 200, data: { state: 'success' } }],
    ['jobs with an unknown state', 'jobs', { code: 200, data: { taskId: 'a', state: 'finished' } }],
    ['a sora body read as jobs', 'jobs', { taskId: 'sora_1', status: 1 }],
  ])('%s is an UnexpectedResponseError', (_name, style, body) => {
    expect(() => parseCallbackBody(style, body)).toThrow(UnexpectedResponseError);
  });
});
