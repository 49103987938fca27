/** Each family's adapter: how a validated request of a catalog model becomes KIE's wire body, and KIE's answers back. */
import { buildCatalog, type ModelCatalog, modeOf } from '../../src/kie/catalog/modelCatalog';
import { parseCallbackBody } from '../../src/kie/callbackBody';
import { errorForAnswer } from '../../src/kie/errorForAnswer';
import { jobsDialect } from '../../src/kie/jobsDialect';
import { soraDialect } from '../../src/kie/soraDialect';
import type { KieDialect, WireOrder } from '../../src/kie/types';
import { parseVeoRecord, veoDialect } from '../../src/kie/veoDialect';
import { ModelUnavailableError, ResultNotReadyError, TransientKieError, UnexpectedResponseError } from '../../src/shared/errors';
import { parseRenderRequest, type RenderRequestInput } from '../../src/shared/renderRequest';

const JOBS = buildCatalog({ apiStyle: 'jobs' }).catalog;
const SORA = buildCatalog({ apiStyle: 'sora' }).catalog;
const A = 'https://img.example/a.png';
const B = 'https://img.example/b.png';

function orderFor(input: RenderRequestInput, catalog: ModelCatalog = JOBS): WireOrder {
  const request = parseRenderRequest(input, catalog);
  return { request, ...modeOf(catalog, request) };
}
const wire = (dialect: KieDialect, input: RenderRequestInput, callBackUrl?: string) => dialect.createTask(orderFor(input), callBackUrl);

describe('jobs adapter: { model, callBackUrl?, input } by the entry', () => {
  test.each<[string, RenderRequestInput, object]>([
    [
      'kling text',
      { model: 'kling-2.6', prompt: 'p', duration: 10, aspectRatio: '9:16' },
      { model: 'kling-2.6/text-to-video', input: { prompt: 'p', duration: '10', aspect_ratio: '9:16', sound: false } },
    ],
    [
      'kling image',
      { model: 'kling-2.6', prompt: 'p', images: [A], options: { sound: true } },
      { model: 'kling-2.6/image-to-video', input: { prompt: 'p', duration: '5', image_urls: [A], sound: true } },
    ],
    [
      'seedance first and last frame, a number duration, options renamed',
      {
        model: 'seedance-1.5-pro',
        prompt: 'ppp',
        duration: 12,
        images: [
          { url: B, role: 'last-frame' },
          { url: A, role: 'first-frame' },
        ],
        options: { cameraFixed: true, sound: true, resolution: '1080p' },
      },
      {
        model: 'bytedance/seedance-1.5-pro',
        input: { prompt: 'ppp', duration: 12, aspect_ratio: '16:9', input_urls: [A, B], fixed_lens: true, generate_audio: true, resolution: '1080p' },
      },
    ],
    [
      "hailuo image: one URL per role, KIE's spelling of 768p",
      { model: 'hailuo-02', prompt: 'p', images: [A, B] },
      { model: 'hailuo/02-image-to-video-standard', input: { prompt: 'p', duration: '10', image_url: A, end_image_url: B, resolution: '768P' } },
    ],
    [
      'wan: no aspect ratio field',
      { model: 'wan-2.6', prompt: 'pp' },
      { model: 'wan/2-6-text-to-video', input: { prompt: 'pp', duration: '5', resolution: '1080p' } },
    ],
    [
      'grok references',
      { model: 'grok-imagine', prompt: 'p', images: [A, B], duration: 20 },
      { model: 'grok-imagine/image-to-video', input: { prompt: 'p', duration: '20', aspect_ratio: '16:9', image_urls: [A, B], resolution: '480p' } },
    ],
    [
      'sora 2 image',
      { model: 'sora-2-pro', prompt: 'p', images: [A], removeWatermark: false },
      {
        model: 'sora-2-pro-image-to-video',
        input: { prompt: 'p', n_frames: '10', aspect_ratio: 'landscape', image_urls: [A], remove_watermark: false, size: 'high' },
      },
    ],
  ])('%s', (_case, input, body) => {
    expect(wire(jobsDialect, input, undefined)).toEqual({ path: '/api/v1/jobs/createTask', body });
  });
});

describe('veo adapter', () => {
  test.each<[string, RenderRequestInput, object]>([
    [
      'text',
      { model: 'veo-3.1', prompt: 'p', seed: 12345, aspectRatio: 'auto' },
      { model: 'veo3', generationType: 'TEXT_2_VIDEO', prompt: 'p', aspectRatio: 'Auto', seeds: 12345 },
    ],
    [
      'first and last frames',
      { model: 'veo-3.1', prompt: 'p', images: [A, B] },
      { model: 'veo3', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', prompt: 'p', aspectRatio: '16:9', imageUrls: [A, B] },
    ],
    [
      'references (Fast)',
      { model: 'veo-3.1-fast', prompt: 'p', images: [{ url: A, role: 'reference' }] },
      { model: 'veo3_fast', generationType: 'REFERENCE_2_VIDEO', prompt: 'p', aspectRatio: '16:9', imageUrls: [A] },
    ],
    [
      'watermark and translation; 1080p is not a field',
      { model: 'veo-3.1-fast', prompt: 'p', options: { watermark: 'ACME', enableTranslation: false, resolution: '1080p' } },
      { model: 'veo3_fast', generationType: 'TEXT_2_VIDEO', prompt: 'p', aspectRatio: '16:9', watermark: 'ACME', enableTranslation: false },
    ],
  ])('%s', (_case, input, body) => {
    expect(wire(veoDialect, input, 'https://hooks.example/cb')).toEqual({
      path: '/api/v1/veo/generate',
      body: { ...body, callBackUrl: 'https://hooks.example/cb' },
    });
  });

  test('the 1080p version is fetched from get-1080p-video only when asked for', () => {
    expect(veoDialect.resultPath!(orderFor({ model: 'veo-3.1', prompt: 'p', options: { resolution: '1080p' } }), 'veo_task_1')).toBe(
      '/api/v1/veo/get-1080p-video?taskId=veo_task_1&index=0',
    );
    expect(veoDialect.resultPath!(orderFor({ model: 'veo-3.1', prompt: 'p' }), 'veo_task_1')).toBeUndefined();
    expect(veoDialect.parseResultLink!({ code: 200, msg: 'success', data: { resultUrl: 'https://tempfile.aiquickdraw.com/p/x.mp4' } })).toBe(
      'https://tempfile.aiquickdraw.com/p/x.mp4',
    );
  });

  test("record-info: successFlag 0 generating, 1 success with the first resultUrl, 2 and 3 failed with KIE's words", () => {
    const rec = (data: object) => parseVeoRecord({ code: 200, msg: 'success', data: { taskId: 'v1', ...data } }, 'v1');
    expect(rec({ successFlag: 0, response: null })).toMatchObject({ taskId: 'v1', state: 'generating', videoUrl: undefined });
    expect(rec({ successFlag: 1, response: { resultUrls: ['https://h/v.mp4'], resolution: '1080p' } })).toMatchObject({
      state: 'success',
      videoUrl: 'https://h/v.mp4',
      resolution: '1080p',
    });
    expect(rec({ successFlag: 3, errorCode: 400, errorMessage: 'flagged' })).toMatchObject({ state: 'failed', failReason: '400 flagged' });
    expect(rec({ successFlag: 2, errorMessage: 'failed before completion' })).toMatchObject({ state: 'failed', failReason: 'failed before completion' });
    expect(() => rec({ successFlag: 1, response: { resultUrls: [] } })).toThrow(UnexpectedResponseError);
    expect(() => rec({ successFlag: 9 })).toThrow(/unknown successFlag 9/);
  });

  test('the paramJson a record echoes reads like the body it echoes: its prompt, for confirming an adopted task', () => {
    const { body } = wire(veoDialect, { model: 'veo-3.1', prompt: 'a heron' }, 'https://hooks.example/cb');
    const record = parseVeoRecord(
      { code: 200, data: { taskId: 'v1', successFlag: 0, paramJson: JSON.stringify({ prompt: 'a heron', waterMark: 'KieAI' }) } },
      'v1',
    );
    expect(record.params).toEqual(veoDialect.taskParams!(body));
    expect(record.params).toEqual({ prompt: 'a heron' });
  });

  test('callbacks: code 200 success (with the link it announces), anything else failed; the task id from data', () => {
    expect(parseCallbackBody('veo', { code: 200, msg: 'ok', data: { taskId: 'v1', info: { resultUrls: ['https://h/v.mp4'] } } })).toEqual({
      taskId: 'v1',
      state: 'success',
      videoUrl: 'https://h/v.mp4',
    });
    expect(parseCallbackBody('veo', { code: 400, msg: 'flagged', data: { taskId: 'v1', info: null } })).toEqual({ taskId: 'v1', state: 'failed' });
    expect(() => parseCallbackBody('veo', { code: 200, data: {} })).toThrow(UnexpectedResponseError);
    expect(() => parseCallbackBody('veo', { taskId: 'sora_1', status: 1 })).toThrow(UnexpectedResponseError);
  });
});

describe('sora adapter: the reference body from the entry', () => {
  test("prompt, aspectRatio, duration, quality (the entry's tier), seed", () => {
    expect(soraDialect.createTask(orderFor({ prompt: 'p', quality: 'high', seed: 12345, aspectRatio: '1:1' }, SORA), undefined)).toEqual({
      path: '/api/v1/sora/generate',
      body: { prompt: 'p', aspectRatio: '1:1', duration: 10, quality: 'high', seed: 12345 },
    });
  });
});

describe('KIE answers about the model itself', () => {
  const answer = (status: number, body: unknown) => ({ status, body, headers: {} });

  test.each([
    [answer(500, { code: 500, msg: 'This interface is temporarily paused', data: null }), 'paused'],
    [answer(200, { code: 500, message: 'This interface is temporarily paused.' }), 'paused'],
    [
      answer(422, {
        code: 422,
        msg: 'The model name you specified is not supported. Please verify your input and use one of the supported models provided by KIE.',
        data: null,
      }),
      'unknown',
    ],
    [answer(404, { code: 404, msg: 'The model name you specified is not supported. Please verify your input.' }), 'unknown'],
  ])('%j is a ModelUnavailableError (%s), not retried in place', (a, reason) => {
    const err = errorForAnswer(a);
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err).toMatchObject({ reason, retryable: false });
  });

  test('a 500 with other words stays an outage to retry; "1080P is processing" is a video not ready yet', () => {
    expect(errorForAnswer(answer(500, { code: 500, msg: 'Internal Error, Please try again later' }))).toBeInstanceOf(TransientKieError);
    expect(
      errorForAnswer(answer(400, { code: 400, msg: '1080P is processing. It should be ready in 1-2 minutes. Please check back shortly.' })),
    ).toBeInstanceOf(ResultNotReadyError);
  });
});
