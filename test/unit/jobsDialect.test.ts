import { loadConfig } from '../../src/shared/config';
import {
  AuthenticationError,
  InsufficientCreditsError,
  InvalidParametersError,
  InvalidPromptError,
  KieError,
  TaskNotFoundError,
  TransientKieError,
  UnexpectedResponseError,
  ValidationError,
} from '../../src/shared/errors';
import { dialectFor } from '../../src/kie/client';
import { buildCatalog, builtinCatalog, type ModelCatalog, modeOf } from '../../src/kie/catalog/modelCatalog';
import { errorForAnswer } from '../../src/kie/errorForAnswer';
import { jobsDialect, parseJobsRecord } from '../../src/kie/jobsDialect';
import { DEFAULT_JOBS_MODELS } from '../../src/kie/jobsModels';
import { soraDialect } from '../../src/kie/soraDialect';
import type { WireOrder } from '../../src/kie/types';
import { parseRenderRequest, type RenderRequestInput } from '../../src/shared/renderRequest';

const dialect = jobsDialect;
const JOBS = builtinCatalog('jobs');
const orderFor = (input: RenderRequestInput, catalog: ModelCatalog = JOBS): WireOrder => {
  const request = parseRenderRequest(input, catalog);
  return { request, ...modeOf(catalog, request) };
};
const bodyFor = (input: RenderRequestInput, callBackUrl?: string) => dialect.createTask(orderFor(input), callBackUrl);
const envelope = (data: unknown) => ({ code: 200, msg: 'success', data });
const recordOf = (data: Record<string, unknown>, taskId = 't1') => parseJobsRecord(envelope({ taskId: 't1', ...data }), taskId);

describe('jobs dialect: createTask mapping', () => {
  test('a standard text request uses the standard model, landscape and n_frames as a string', () => {
    expect(bodyFor({ prompt: 'a red fox' })).toEqual({
      path: '/api/v1/jobs/createTask',
      body: { model: 'sora-2-text-to-video', input: { prompt: 'a red fox', aspect_ratio: 'landscape', n_frames: '10' } },
    });
  });

  test('a high-quality request uses the pro model with size "high"', () => {
    expect(bodyFor({ prompt: 'a red fox', quality: 'high', aspectRatio: '9:16', duration: 15 }).body).toEqual({
      model: 'sora-2-pro-text-to-video',
      input: { prompt: 'a red fox', aspect_ratio: 'portrait', n_frames: '15', size: 'high' },
    });
  });

  test('removeWatermark is sent as remove_watermark, false included, absent when unset', () => {
    const input = (r: RenderRequestInput) => (bodyFor(r).body as { input: Record<string, unknown> }).input;
    expect(input({ prompt: 'x', removeWatermark: true }).remove_watermark).toBe(true);
    expect(input({ prompt: 'x', removeWatermark: false }).remove_watermark).toBe(false);
    expect(input({ prompt: 'x' })).not.toHaveProperty('remove_watermark');
  });

  test('callBackUrl sits beside model, only when given', () => {
    expect(bodyFor({ prompt: 'x' }, 'https://hooks.example/kie?job=1').body).toMatchObject({
      model: 'sora-2-text-to-video',
      callBackUrl: 'https://hooks.example/kie?job=1',
    });
    expect(bodyFor({ prompt: 'x' }).body).not.toHaveProperty('callBackUrl');
  });

  test('a storyboard uses the storyboard model, shots as {Scene, duration} and n_frames of the total', () => {
    const req: RenderRequestInput = {
      type: 'storyboard',
      aspectRatio: '9:16',
      removeWatermark: true,
      shots: [
        { prompt: 'dawn over the bay', seconds: 10 },
        { prompt: 'boats leave', seconds: 15 },
      ],
    };
    expect(bodyFor(req).body).toEqual({
      model: 'sora-2-pro-storyboard',
      input: {
        shots: [
          { Scene: 'dawn over the bay', duration: 10 },
          { Scene: 'boats leave', duration: 15 },
        ],
        aspect_ratio: 'portrait',
        n_frames: '25',
        remove_watermark: true,
      },
    });
  });

  test('configured model names replace the defaults', () => {
    const custom = buildCatalog({ apiStyle: 'jobs', jobsModels: { standard: 'std-x', high: 'pro-x', storyboard: 'board-x' } }).catalog;
    const model = (r: RenderRequestInput) => (dialect.createTask(orderFor(r, custom), undefined).body as { model: string }).model;
    expect(model({ prompt: 'x' })).toBe('std-x');
    expect(model({ prompt: 'x', quality: 'high' })).toBe('pro-x');
    expect(model({ type: 'storyboard', shots: [{ prompt: 'x', seconds: 10 }] })).toBe('board-x');
  });

  test.each<[string, RenderRequestInput, RegExp]>([
    ['aspectRatio 1:1', { prompt: 'x', aspectRatio: '1:1' }, /aspectRatio: sora-2 \(KIE_API_STYLE=jobs\) text-to-video accepts 16:9 or 9:16 \(got "1:1"\)/],
    ['a seed', { prompt: 'x', seed: 12345 }, /seed: sora-2 \(KIE_API_STYLE=jobs\) text-to-video has no seed option \(got 12345\)/],
    [
      'a storyboard seed',
      { type: 'storyboard', seed: 54321, shots: [{ prompt: 'x', seconds: 10 }] },
      /seed: sora-2-storyboard \(KIE_API_STYLE=jobs\) has no seed option \(got 54321\)/,
    ],
  ])('%s is refused naming the model, never dropped', (_name, req, message) => {
    const create = () => bodyFor(req);
    expect(create).toThrow(ValidationError);
    expect(create).toThrow(message);
  });
});

describe('jobs dialect: answers', () => {
  test('parseCreated reads data.taskId', () => {
    expect(dialect.parseCreated(envelope({ taskId: 'abc123' }))).toBe('abc123');
  });

  test.each([[envelope({})], [envelope({ taskId: '' })], [envelope(null)], [{ code: 200 }], ['not json']])(
    'parseCreated refuses an answer without a taskId: %j',
    (body) => {
      expect(() => dialect.parseCreated(body)).toThrow(UnexpectedResponseError);
    },
  );

  test('recordPath encodes the task id', () => {
    expect(dialect.recordPath('a b&c')).toBe('/api/v1/jobs/recordInfo?taskId=a%20b%26c');
  });

  test.each(['waiting', 'queuing', 'generating'])('state %s reads as generating', (state) => {
    expect(recordOf({ state, resultJson: '' })).toEqual({
      taskId: 't1',
      state: 'generating',
      videoUrl: undefined,
      durationSeconds: undefined,
      createdAt: undefined,
      completedAt: undefined,
      failReason: undefined,
    });
  });

  test('success: the first result URL, times as ISO strings, duration from the echoed request', () => {
    const param = JSON.stringify({ model: 'sora-2-text-to-video', input: { prompt: 'x', n_frames: '15' } });
    expect(
      recordOf({
        state: 'success',
        resultJson: JSON.stringify({ resultUrls: ['https://tempfile.aiquickdraw.com/v/1.mp4', 'https://other/2.mp4'] }),
        param,
        createTime: Date.UTC(2026, 0, 2, 3, 4, 5),
        completeTime: Date.UTC(2026, 0, 2, 3, 9, 5),
      }),
    ).toEqual({
      taskId: 't1',
      state: 'success',
      videoUrl: 'https://tempfile.aiquickdraw.com/v/1.mp4',
      durationSeconds: 15,
      createdAt: '2026-01-02T03:04:05.000Z',
      completedAt: '2026-01-02T03:09:05.000Z',
      failReason: undefined,
      params: { model: 'sora-2-text-to-video', prompt: 'x', callBackUrl: undefined },
    });
  });

  test('the echoed create parameters read like the body they echo, storyboards as their scenes', () => {
    const story = orderFor({
      type: 'storyboard',
      shots: [
        { prompt: 'a', seconds: 10 },
        { prompt: 'b', seconds: 15 },
      ],
    });
    const { body } = dialect.createTask(story, 'https://hooks.example/kie/callback/q/j?token=t');
    expect(recordOf({ state: 'generating', param: JSON.stringify(body) }).params).toEqual(dialect.taskParams!(body));
    expect(dialect.taskParams!(body)).toEqual({
      model: DEFAULT_JOBS_MODELS.storyboard,
      prompt: 'a\nb',
      callBackUrl: 'https://hooks.example/kie/callback/q/j?token=t',
    });
  });

  test('success: resultJson and param already parsed into objects are read too', () => {
    const r = recordOf({ state: 'success', resultJson: { resultUrls: ['https://h/v.mp4'] }, param: { input: { n_frames: '10' } } });
    expect(r.videoUrl).toBe('https://h/v.mp4');
    expect(r.durationSeconds).toBe(10);
  });

  test.each([['{"resultUrls": ['], [''], [JSON.stringify({ resultUrls: [] })], [JSON.stringify({ resultUrls: [42] })], [JSON.stringify({})], [null]])(
    'success with an unreadable resultJson %j is an UnexpectedResponseError naming the task',
    (resultJson) => {
      expect(() => recordOf({ state: 'success', resultJson })).toThrow(UnexpectedResponseError);
      expect(() => recordOf({ state: 'success', resultJson })).toThrow(/task t1 succeeded/);
    },
  );

  test('a malformed or missing param leaves the duration unknown instead of failing the record', () => {
    expect(recordOf({ state: 'generating', param: '{oops' }).durationSeconds).toBeUndefined();
    expect(recordOf({ state: 'generating', param: JSON.stringify({ input: { n_frames: 'ten' } }) }).durationSeconds).toBeUndefined();
  });

  test('fail: failReason is "failCode failMsg"', () => {
    const r = recordOf({ state: 'fail', failCode: '501', failMsg: 'content policy', resultJson: '' });
    expect(r).toMatchObject({ state: 'failed', failReason: '501 content policy', videoUrl: undefined });
    expect(recordOf({ state: 'fail', failCode: 501, failMsg: '' }).failReason).toBe('501');
    expect(recordOf({ state: 'fail', failCode: '', failMsg: 'timeout' }).failReason).toBe('timeout');
    expect(recordOf({ state: 'fail' }).failReason).toBeUndefined();
  });

  test('unknown states and missing data are UnexpectedResponseErrors', () => {
    expect(() => recordOf({ state: 'done' })).toThrow(/unknown state "done"/);
    expect(() => recordOf({})).toThrow(UnexpectedResponseError);
    expect(() => parseJobsRecord({ code: 200, data: 'x' }, 't1')).toThrow(UnexpectedResponseError);
  });

  test('the record keeps the asked task id when KIE omits it', () => {
    expect(parseJobsRecord(envelope({ state: 'waiting' }), 'asked').taskId).toBe('asked');
  });

  test('refreshLink posts the stale url to download-url; the answer is the bare link', () => {
    expect(dialect.refreshLink!('t1', 'https://h/old.mp4')).toEqual({
      path: '/api/v1/common/download-url',
      body: { url: 'https://h/old.mp4' },
    });
    expect(dialect.parseRefreshedLink!(envelope('https://h/new.mp4'))).toBe('https://h/new.mp4');
    expect(() => dialect.parseRefreshedLink!(envelope(null))).toThrow(UnexpectedResponseError);
    expect(() => dialect.parseRefreshedLink!(envelope({ url: 'https://h/new.mp4' }))).toThrow(UnexpectedResponseError);
  });

  test('credits come from /api/v1/chat/credit as a number', () => {
    expect(dialect.creditsPath!()).toBe('/api/v1/chat/credit');
    expect(dialect.parseCredits!(envelope(120.5))).toBe(120.5);
    expect(dialect.parseCredits!(envelope(0))).toBe(0);
    expect(() => dialect.parseCredits!(envelope('120'))).toThrow(UnexpectedResponseError);
    expect(() => dialect.parseCredits!(envelope(null))).toThrow(UnexpectedResponseError);
  });
});

describe('jobs dialect: error codes', () => {
  const jobsAnswer = (code: number, msg: string) => ({ status: code, body: { code, msg, data: null }, headers: {} });

  test.each<[number, new (...a: never[]) => KieError, boolean]>([
    [401, AuthenticationError, false],
    [402, InsufficientCreditsError, false],
    [404, TaskNotFoundError, false],
    [422, InvalidParametersError, false],
    [429, TransientKieError, true],
    [455, TransientKieError, true],
    [500, TransientKieError, true],
    [501, InvalidPromptError, false],
    [505, InvalidParametersError, false],
  ])('code %i maps to %p (retryable %p)', (code, cls, retryable) => {
    const err = errorForAnswer(jobsAnswer(code, 'why'));
    expect(err).toBeInstanceOf(cls);
    expect(err?.retryable).toBe(retryable);
    expect(err?.message).toBe(`KIE ${code} why`);
  });

  test('a 200 envelope is no error', () => {
    expect(errorForAnswer({ status: 200, body: envelope({ taskId: 'x' }), headers: {} })).toBeUndefined();
  });
});

describe('dialectFor', () => {
  test('KIE_API_STYLE picks the dialect; jobs takes its model names from KIE_MODEL_*', () => {
    expect(dialectFor(loadConfig({ KIE_API_KEY: 'k' }).kie)).toBe(soraDialect);
    const config = loadConfig({ KIE_API_KEY: 'k', KIE_API_STYLE: 'jobs', KIE_MODEL_HIGH: 'sora-3-pro' });
    expect(config.kie.jobsModels).toEqual({ ...DEFAULT_JOBS_MODELS, high: 'sora-3-pro' });
    const request = parseRenderRequest({ prompt: 'x', quality: 'high' }, config.kie.models);
    const body = dialectFor(config.kie).createTask({ request, ...modeOf(config.kie.models, request) }, undefined).body;
    expect(body).toMatchObject({ model: 'sora-3-pro' });
  });
});
