/** Requests checked against their model's catalog entry: defaults, routing, and messages naming model and field. */
import { ValidationError } from '../../src/shared/errors';
import { buildCatalog } from '../../src/kie/catalog/modelCatalog';
import { listOf } from '../../src/kie/catalog/resolveRequest';
import { parseRenderRequest } from '../../src/shared/renderRequest';

const JOBS = buildCatalog({ apiStyle: 'jobs' }).catalog;
const SORA = buildCatalog({ apiStyle: 'sora' }).catalog;
const IMG = 'https://img.example/a.png';
const IMG2 = 'https://img.example/b.png';

function messageOf(input: object, catalog = JOBS): string {
  try {
    parseRenderRequest(input, catalog);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message.replace('invalid render request: ', '');
  }
  throw new Error('expected a ValidationError');
}

describe('defaults come from the model', () => {
  it.each([
    [
      { model: 'kling-2.6', prompt: 'x' },
      { duration: 5, aspectRatio: '16:9' },
    ],
    [
      { model: 'seedance-1.5-pro', prompt: 'xyz' },
      { duration: 8, aspectRatio: '16:9' },
    ],
    [
      { model: 'veo-3.1', prompt: 'x' },
      { duration: 8, aspectRatio: '16:9' },
    ],
    [
      { model: 'grok-imagine', prompt: 'x' },
      { duration: 6, aspectRatio: '16:9' },
    ],
    [{ model: 'hailuo-02', prompt: 'x', images: [IMG] }, { duration: 10 }],
  ])('%j', (input, expected) => {
    expect(parseRenderRequest(input, JOBS)).toMatchObject(expected);
  });

  it('sets no aspect ratio where the model has none, and adds no option defaults to the request', () => {
    const wan = parseRenderRequest({ model: 'wan-2.6', prompt: 'xy' }, JOBS);
    expect(wan).not.toHaveProperty('aspectRatio');
    expect(wan).not.toHaveProperty('options');
    expect(parseRenderRequest({ model: 'kling-2.6', prompt: 'x', images: [IMG] }, JOBS)).not.toHaveProperty('aspectRatio');
  });

  it('keeps Sora 2 requests as they were: sora-2, 10 s, 16:9, standard', () => {
    expect(parseRenderRequest({ prompt: 'x' }, SORA)).toEqual({
      type: 'text',
      model: 'sora-2',
      prompt: 'x',
      duration: 10,
      aspectRatio: '16:9',
      quality: 'standard',
    });
    expect(parseRenderRequest({ prompt: 'x', quality: 'high' }, SORA)).toMatchObject({ model: 'sora-2-pro', quality: 'high' });
    expect(parseRenderRequest({ type: 'storyboard', shots: [{ prompt: 'a', seconds: 15 }] }, JOBS)).toMatchObject({ model: 'sora-2-storyboard', duration: 15 });
  });

  it('is stable: a validated request validates to itself (the worker checks what the producer wrote)', () => {
    for (const input of [
      { prompt: 'x', quality: 'high' },
      { type: 'storyboard', quality: 'standard', shots: [{ prompt: 'a', seconds: 10 }] },
      { model: 'veo-3.1-fast', prompt: 'x', images: [IMG, IMG2] },
      { model: 'veo-3.1-fast', prompt: 'x', images: [{ url: IMG, role: 'reference' }] },
      { model: 'kling-2.6', prompt: 'x', options: { sound: true } },
    ]) {
      const once = parseRenderRequest(input, JOBS);
      expect(parseRenderRequest(once, JOBS)).toEqual(once);
    }
  });
});

describe('each field is checked against the model, and the message names both', () => {
  it.each<[string, object, string]>([
    ['duration', { model: 'kling-2.6', prompt: 'x', duration: 15 }, 'duration: kling-2.6 accepts 5 or 10 (got 15)'],
    ['a Veo duration', { model: 'veo-3.1', prompt: 'x', duration: 10 }, 'duration: veo-3.1 renders 8 s clips only (got 10)'],
    ['a run of durations', { model: 'grok-imagine', prompt: 'x', duration: 31 }, 'duration: grok-imagine accepts 6 to 30 (got 31)'],
    ['the prompt length', { model: 'kling-2.6', prompt: 'p'.repeat(1001) }, 'prompt: kling-2.6 accepts at most 1000 characters'],
    ['a short prompt', { model: 'seedance-1.5-pro', prompt: 'ab' }, 'prompt: seedance-1.5-pro accepts 3 to 2500 characters (got "ab")'],
    ['an aspect ratio', { model: 'kling-2.6', prompt: 'x', aspectRatio: '4:3' }, 'aspectRatio: kling-2.6 text-to-video accepts 16:9, 9:16 or 1:1 (got "4:3")'],
    [
      'an aspect ratio the model has not',
      { model: 'wan-2.6', prompt: 'xy', aspectRatio: '16:9' },
      'aspectRatio: wan-2.6 text-to-video has no aspect ratio setting (got "16:9")',
    ],
    [
      'an aspect ratio with an image',
      { model: 'kling-2.6', prompt: 'x', images: [IMG], aspectRatio: '9:16' },
      'aspectRatio: kling-2.6 image-to-video follows the image\'s aspect ratio: leave aspectRatio out (got "9:16")',
    ],
    ['a seed', { model: 'kling-2.6', prompt: 'x', seed: 12345 }, 'seed: kling-2.6 text-to-video has no seed option (got 12345)'],
    ['a Veo seed', { model: 'veo-3.1', prompt: 'x', seed: 5 }, 'seed: veo-3.1 text-to-video accepts 10000 to 99999 (got 5)'],
    [
      'an unknown option',
      { model: 'kling-2.6', prompt: 'x', options: { cfgScale: 0.5 } },
      'options.cfgScale: kling-2.6 text-to-video has no option cfgScale (its options: sound) (got 0.5)',
    ],
    [
      'an option value',
      { model: 'seedance-1.5-pro', prompt: 'xyz', options: { resolution: '4k' } },
      'options.resolution: seedance-1.5-pro text-to-video accepts 480p, 720p or 1080p (got "4k")',
    ],
    [
      'an option type',
      { model: 'kling-2.6', prompt: 'x', options: { sound: 'yes' } },
      'options.sound: kling-2.6 text-to-video accepts true or false (got "yes")',
    ],
    [
      'an option of the other mode',
      { model: 'hailuo-02', prompt: 'x', options: { resolution: '768p' } },
      'options.resolution: hailuo-02 text-to-video has no option resolution (its options: promptOptimizer)',
    ],
    [
      'removeWatermark off Sora',
      { model: 'veo-3.1', prompt: 'x', removeWatermark: true },
      'removeWatermark: veo-3.1 text-to-video has no option removeWatermark',
    ],
    ['quality off Sora', { model: 'veo-3.1', prompt: 'x', quality: 'high' }, 'quality: veo-3.1 has no quality setting (choose the model instead) (got "high")'],
    [
      'quality against the model',
      { model: 'sora-2-pro', prompt: 'x', quality: 'standard' },
      'quality: sora-2-pro (KIE_API_STYLE=jobs) renders high quality only (got "standard")',
    ],
    ['an unknown model', { model: 'sora-3', prompt: 'x' }, 'model: is not in the model catalog (known: sora-2, sora-2-pro'],
    [
      'a storyboard off Sora',
      { model: 'kling-2.6', type: 'storyboard', shots: [{ prompt: 'a', seconds: 5 }] },
      'type: kling-2.6 renders no storyboards (storyboards: sora-2-storyboard) (got "storyboard")',
    ],
  ])('%s', (_case, input, message) => {
    expect(messageOf(input)).toContain(message);
  });

  it('reports every bad field of a request at once', () => {
    expect(
      messageOf({ model: 'kling-2.6', prompt: 'x', duration: 7, seed: 12345, options: { sound: 1 } })
        .split('; ')
        .map((m) => m.split(':')[0]),
    ).toEqual(['duration', 'seed', 'options.sound']);
  });
});

describe('images', () => {
  it('a plain list takes the roles of the model, in order', () => {
    expect(parseRenderRequest({ model: 'veo-3.1', prompt: 'x', images: [IMG, IMG2] }, JOBS).images).toEqual([
      { url: IMG, role: 'first-frame' },
      { url: IMG2, role: 'last-frame' },
    ]);
    expect(parseRenderRequest({ model: 'grok-imagine', prompt: 'x', images: [IMG, IMG2] }, JOBS).images!.map((i) => i.role)).toEqual([
      'reference',
      'reference',
    ]);
  });

  it.each<[string, object, string]>([
    ['too many for the model', { model: 'kling-2.6', prompt: 'x', images: [IMG, IMG2] }, 'images: kling-2.6 image-to-video takes at most 1 image (got 2)'],
    [
      'a role the model has not',
      { model: 'veo-3.1', prompt: 'x', images: [{ url: IMG, role: 'reference' }] },
      'images.0.role: veo-3.1 image-to-video takes first-frame or last-frame images (got "reference")',
    ],
    [
      'frames mixed with references',
      {
        model: 'veo-3.1-fast',
        prompt: 'x',
        images: [
          { url: IMG, role: 'first-frame' },
          { url: IMG2, role: 'reference' },
        ],
      },
      'takes either frames (first-frame, last-frame) or reference images, not both',
    ],
    [
      'a last frame alone',
      { model: 'hailuo-02', prompt: 'x', images: [{ url: IMG, role: 'last-frame' }] },
      'images: hailuo-02 image-to-video needs a first-frame image for a last-frame image',
    ],
    [
      'two first frames',
      {
        model: 'seedance-1.5-pro',
        prompt: 'xyz',
        images: [
          { url: IMG, role: 'first-frame' },
          { url: IMG2, role: 'first-frame' },
        ],
      },
      'takes at most 1 first-frame image (got 2)',
    ],
    [
      'plain mixed with roles',
      { model: 'veo-3.1', prompt: 'x', images: [IMG, { url: IMG2, role: 'last-frame' }] },
      'give every image as a URL, or every image as { url, role }, not both',
    ],
    ['images where the style has no image mode', { prompt: 'x', images: [IMG] }, 'images: sora-2 (KIE_API_STYLE=sora) has no image-to-video mode'],
    ['not a URL', { model: 'kling-2.6', prompt: 'x', images: ['file:///etc/passwd'] }, 'images.0: must be an http(s) URL'],
  ])('refuses %s', (_case, input, message) => {
    expect(messageOf(input, 'images' in input && (input as { model?: string }).model === undefined ? SORA : JOBS)).toContain(message);
  });
});

describe('listOf', () => {
  it('reads like a sentence, and shortens a run of whole numbers', () => {
    expect(listOf([5])).toBe('5');
    expect(listOf([5, 10])).toBe('5 or 10');
    expect(listOf(['16:9', '9:16', '1:1'])).toBe('16:9, 9:16 or 1:1');
    expect(listOf([6, 7, 8, 9, 10])).toBe('6 to 10');
    expect(listOf([4, 8, 12])).toBe('4, 8 or 12');
  });
});
