/**
 * The built-in catalog: every KIE video model sora-batch knows without configuration. Facts come
 * from KIE's documentation (docs.kie.ai), read on 2026-12-02 through stored copies of its pages;
 * where the docs are silent (every price, some field tables) an entry says so in `notes` and its
 * price is `verified: false`. Users add or replace entries with KIE_MODELS_FILE.
 *
 * The three Sora 2 entries follow KIE_API_STYLE: `sora` is the reference API we were given
 * (/api/v1/sora/*), `jobs` KIE's jobs API; their prices default to the simulator's credits and the
 * reference's dollar prices, overridable with KIE_CREDITS_*.
 */
import type { ApiStyle } from '../../shared/config';
import type { JobsModels } from '../jobsModels';
import type { ModelEntryInput, PriceSpecInput } from './modelEntry';

const CHECKED = '2026-12-02';

export interface SoraPrices {
  /** Credits per 10 s of standard and high (pro) video, and per storyboard. */
  readonly per10sStandard: number;
  readonly per10sHigh: number;
  readonly storyboard: number;
}

export interface BuiltinOptions {
  apiStyle: ApiStyle;
  jobsModels: JobsModels;
  soraPrices: SoraPrices;
}

const UNVERIFIED_PRICE = 'client lore (third-party clients and changelogs), not KIE docs: kie.ai/pricing was not readable';
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const SORA_PAUSED_NOTE =
  'OpenAI shut the Sora 2 API down on 2026-09-24; third-party changelogs report KIE answering every sora-2* model with 500 "This interface is temporarily paused" since 2026-06. Kept so it works the day it returns.';

function soraEntries({ apiStyle, jobsModels, soraPrices }: BuiltinOptions): ModelEntryInput[] {
  const perSecond = (per10s: number, usdPer10s: number) => ({
    per: 'second' as const,
    credits: per10s / 10,
    usd: usdPer10s / 10,
    verified: false,
    source: 'KIE_CREDITS_PER_10S_* (default: the simulator); dollars: the reference price table',
  });
  const storyboardPrice = {
    per: 'clip' as const,
    credits: soraPrices.storyboard,
    usd: 0.6,
    verified: false,
    source: 'KIE_CREDITS_STORYBOARD; dollars: the reference price table',
  };
  const common = { status: 'paused' as const, checked: CHECKED, followsApiStyle: true, family: apiStyle };

  if (apiStyle === 'sora') {
    const text = (quality: 'standard' | 'high', price: ReturnType<typeof perSecond>) => ({
      kieModel: quality === 'high' ? 'sora-2-pro' : 'sora-2',
      prompt: { field: 'prompt', maxChars: 800 },
      duration: { field: 'duration', seconds: [10, 15], default: 10, as: 'number' as const },
      aspectRatio: { field: 'aspectRatio', values: { '16:9': '16:9', '9:16': '9:16', '1:1': '1:1' } },
      seed: { field: 'seed', min: 10000, max: 99999 },
      fixed: { quality },
      price,
    });
    const docs = ['https://docs.kie.ai/market/sora2/sora-2-text-to-video'];
    const notes = `The reference API (kie-sora2-api.md): POST /api/v1/sora/generate, quality standard | high. ${SORA_PAUSED_NOTE}`;
    return [
      {
        ...common,
        id: 'sora-2',
        title: 'Sora 2',
        docs,
        notes,
        quality: 'standard',
        variants: { high: 'sora-2-pro', storyboard: 'sora-2-storyboard' },
        modes: { text: text('standard', perSecond(soraPrices.per10sStandard, 0.15)) },
      },
      {
        ...common,
        id: 'sora-2-pro',
        title: 'Sora 2 Pro',
        docs,
        notes,
        quality: 'high',
        variants: { storyboard: 'sora-2-storyboard' },
        modes: { text: text('high', perSecond(soraPrices.per10sHigh, 0.3)) },
      },
      {
        ...common,
        id: 'sora-2-storyboard',
        title: 'Sora 2 Pro Storyboard',
        docs: ['https://docs.kie.ai/market/sora2/sora-2-pro-storyboard'],
        notes: `Only KIE's jobs API serves storyboards. ${SORA_PAUSED_NOTE}`,
        quality: 'high',
        unavailable: 'storyboard needs KIE_API_STYLE=jobs',
        modes: { storyboard: storyboardMode(jobsModels.storyboard, storyboardPrice) },
      },
    ];
  }

  const removeWatermark = { type: 'boolean' as const, field: 'remove_watermark', about: 'KIE removes the Sora watermark' };
  const mode = (kieModel: string, price: ReturnType<typeof perSecond>, fixed: Record<string, string>, image: boolean) => ({
    kieModel,
    prompt: { field: 'prompt', maxChars: 10_000 },
    duration: { field: 'n_frames', seconds: [10, 15], default: 10 },
    aspectRatio: { field: 'aspect_ratio', values: { '16:9': 'landscape', '9:16': 'portrait' } },
    ...(image ? { images: { slots: [{ role: 'first-frame' as const, field: 'image_urls', list: true }], plain: ['first-frame' as const] } } : {}),
    options: { removeWatermark },
    fixed,
    price,
  });
  const standard = perSecond(soraPrices.per10sStandard, 0.15);
  const high = perSecond(soraPrices.per10sHigh, 0.3);
  return [
    {
      ...common,
      id: 'sora-2',
      title: 'Sora 2',
      docs: ['https://docs.kie.ai/market/sora2/sora-2-text-to-video', 'https://docs.kie.ai/market/sora2/sora-2-image-to-video'],
      notes: `Text model from KIE_MODEL_STANDARD. ${SORA_PAUSED_NOTE}`,
      quality: 'standard',
      variants: { high: 'sora-2-pro', storyboard: 'sora-2-storyboard' },
      modes: { text: mode(jobsModels.standard, standard, {}, false), image: mode('sora-2-image-to-video', standard, {}, true) },
    },
    {
      ...common,
      id: 'sora-2-pro',
      title: 'Sora 2 Pro',
      docs: ['https://docs.kie.ai/market/sora2/sora-2-pro-text-to-video', 'https://docs.kie.ai/market/sora2/sora-2-pro-image-to-video'],
      notes: `Text model from KIE_MODEL_HIGH; sent with size "high". ${SORA_PAUSED_NOTE}`,
      quality: 'high',
      variants: { storyboard: 'sora-2-storyboard' },
      modes: { text: mode(jobsModels.high, high, { size: 'high' }, false), image: mode('sora-2-pro-image-to-video', high, { size: 'high' }, true) },
    },
    {
      ...common,
      id: 'sora-2-storyboard',
      title: 'Sora 2 Pro Storyboard',
      docs: ['https://docs.kie.ai/market/sora2/sora-2-pro-storyboard'],
      notes: `Model from KIE_MODEL_STORYBOARD; shots add up to 10, 15 or 25 s. ${SORA_PAUSED_NOTE}`,
      quality: 'high',
      modes: { storyboard: storyboardMode(jobsModels.storyboard, storyboardPrice) },
    },
  ];
}

function storyboardMode(kieModel: string, price: PriceSpecInput) {
  return {
    kieModel,
    shots: { field: 'shots', scene: 'Scene', seconds: 'duration', maxShots: 25, maxChars: 10_000 },
    duration: { field: 'n_frames', seconds: [10, 15, 25], default: 15 },
    aspectRatio: { field: 'aspect_ratio', values: { '16:9': 'landscape', '9:16': 'portrait' } },
    options: { removeWatermark: { type: 'boolean' as const, field: 'remove_watermark', about: 'KIE removes the Sora watermark' } },
    price,
  };
}

function veoEntry(id: string, title: string, kieModel: string, credits: number, references: boolean): ModelEntryInput {
  const frames = [
    { role: 'first-frame' as const, field: 'imageUrls', list: true },
    { role: 'last-frame' as const, field: 'imageUrls', list: true },
  ];
  const mode = (images: boolean) => ({
    kieModel,
    // KIE documents no prompt limit for Veo; 5000 is the longest limit its other families document.
    prompt: { field: 'prompt', maxChars: 5000 },
    // Veo clips have one length and the API has no duration field.
    duration: { seconds: [8], default: 8, as: 'number' as const },
    aspectRatio: { field: 'aspectRatio', values: { '16:9': '16:9', '9:16': '9:16', auto: 'Auto' } },
    seed: { field: 'seeds', min: 10000, max: 99999 },
    ...(images
      ? {
          images: {
            slots: references ? [...frames, { role: 'reference' as const, field: 'imageUrls', list: true, max: 3 }] : frames,
            plain: ['first-frame' as const, 'last-frame' as const],
          },
        }
      : {}),
    options: {
      resolution: {
        type: 'enum' as const,
        values: { '720p': '720p', '1080p': '1080p' },
        default: '720p',
        about: '1080p: the upscaled video is fetched from /api/v1/veo/get-1080p-video once the clip is done (about 1-3 minutes more)',
      },
      watermark: { type: 'string' as const, field: 'watermark', maxChars: 100, about: 'text KIE writes onto the video' },
      enableTranslation: { type: 'boolean' as const, field: 'enableTranslation', about: 'KIE translates the prompt to English first (its default: true)' },
    },
    price: {
      per: 'clip' as const,
      credits,
      rules: [{ when: { resolution: '1080p' }, credits: credits + 5 }],
      verified: false,
      source: `${UNVERIFIED_PRICE}; measured by balance deltas 2026-06 (${credits} per 8 s clip, +5 for the 1080p fetch)`,
    },
  });
  return {
    id,
    title,
    family: 'veo',
    status: 'live',
    docs: [
      'https://docs.kie.ai/veo3-api/generate-veo-3-video',
      'https://docs.kie.ai/veo3-api/get-veo-3-video-details',
      'https://docs.kie.ai/veo3-api/get-veo-3-1080-p-video',
    ],
    checked: CHECKED,
    notes:
      `POST /api/v1/veo/generate with model ${kieModel}; generationType TEXT_2_VIDEO, FIRST_AND_LAST_FRAMES_2_VIDEO` +
      (references ? ' or REFERENCE_2_VIDEO (1-3 reference images, Fast only)' : '') +
      '. Clips are 8 s (KIE documents no duration field). Docs disagree on aspectRatio vs aspect_ratio; aspectRatio is sent. Newer docs list Veo 3.1 under "old-model".',
    modes: { text: mode(false), image: mode(true) },
  };
}

const kling: ModelEntryInput = (() => {
  const duration = { field: 'duration', seconds: [5, 10], default: 5 };
  const options = {
    sound: {
      type: 'boolean' as const,
      field: 'sound',
      default: false,
      about: 'the video carries generated sound (KIE requires the field; sent as false unless set)',
    },
  };
  const price = { per: 'clip' as const, credits: 55, verified: false, source: `${UNVERIFIED_PRICE}; whether 10 s or sound cost more is not stated` };
  return {
    id: 'kling-2.6',
    title: 'Kling 2.6',
    family: 'jobs',
    status: 'live',
    docs: ['https://docs.kie.ai/market/kling/text-to-video', 'https://docs.kie.ai/market/kling/image-to-video'],
    checked: CHECKED,
    notes: "Page URLs as clients cite them (the stored docs copies carried no URL). Image-to-video follows the image's aspect ratio.",
    modes: {
      text: {
        kieModel: 'kling-2.6/text-to-video',
        prompt: { field: 'prompt', maxChars: 1000 },
        duration,
        aspectRatio: { field: 'aspect_ratio', values: { '16:9': '16:9', '9:16': '9:16', '1:1': '1:1' } },
        options,
        price,
      },
      image: {
        kieModel: 'kling-2.6/image-to-video',
        prompt: { field: 'prompt', maxChars: 1000 },
        duration,
        images: { slots: [{ role: 'first-frame', field: 'image_urls', list: true }], plain: ['first-frame'] },
        options,
        price,
      },
    },
  };
})();

const seedance: ModelEntryInput = (() => {
  const mode = (images: boolean) => ({
    kieModel: 'bytedance/seedance-1.5-pro',
    prompt: { field: 'prompt', minChars: 3, maxChars: 2500 },
    duration: { field: 'duration', seconds: [4, 8, 12], default: 8, as: 'number' as const },
    aspectRatio: { field: 'aspect_ratio', values: { '16:9': '16:9', '9:16': '9:16', '1:1': '1:1', '4:3': '4:3', '3:4': '3:4', '21:9': '21:9' } },
    ...(images
      ? {
          images: {
            slots: [
              { role: 'first-frame' as const, field: 'input_urls', list: true },
              { role: 'last-frame' as const, field: 'input_urls', list: true },
            ],
            plain: ['first-frame' as const, 'last-frame' as const],
          },
        }
      : {}),
    options: {
      resolution: {
        type: 'enum' as const,
        field: 'resolution',
        values: { '480p': '480p', '720p': '720p', '1080p': '1080p' },
        default: '720p',
        about: 'output resolution',
      },
      cameraFixed: { type: 'boolean' as const, field: 'fixed_lens', about: 'lock the camera' },
      sound: { type: 'boolean' as const, field: 'generate_audio', default: false, about: 'generate audio (costs about twice as much)' },
    },
    price: {
      per: 'second' as const,
      credits: 3.5,
      rules: [
        { when: { resolution: '480p', sound: false }, credits: 1.75 },
        { when: { resolution: '480p', sound: true }, credits: 3.5 },
        { when: { resolution: '720p', sound: false }, credits: 3.5 },
        { when: { resolution: '720p', sound: true }, credits: 7 },
        { when: { resolution: '1080p', sound: false }, credits: 7 },
        { when: { resolution: '1080p', sound: true }, credits: 14 },
      ],
      verified: false,
      source: `${UNVERIFIED_PRICE}; 480p and 720p quoted, 1080p assumed twice 720p`,
    },
  });
  return {
    id: 'seedance-1.5-pro',
    title: 'Seedance 1.5 Pro (ByteDance)',
    family: 'jobs',
    status: 'live',
    docs: ['https://docs.kie.ai/market/bytedance/seedance-1.5-pro'],
    checked: CHECKED,
    notes:
      'One KIE model for both modes: input_urls with 0-2 images. KIE does not describe the roles of two images; sora-batch sends them first frame, then last frame.',
    modes: { text: mode(false), image: mode(true) },
  };
})();

const wan: ModelEntryInput = (() => {
  const duration = { field: 'duration', seconds: [5, 10, 15], default: 5 };
  const options = {
    resolution: { type: 'enum' as const, field: 'resolution', values: { '720p': '720p', '1080p': '1080p' }, default: '1080p', about: 'output resolution' },
  };
  const price = {
    per: 'second' as const,
    credits: 21,
    rules: [{ when: { resolution: '720p' }, credits: 14 }],
    verified: false,
    source: `${UNVERIFIED_PRICE}; 14 / 21 credits a second at 720p / 1080p`,
  };
  return {
    id: 'wan-2.6',
    title: 'Wan 2.6 (Alibaba)',
    family: 'jobs',
    status: 'live',
    docs: ['https://docs.kie.ai/market/wan/2-6-text-to-video', 'https://docs.kie.ai/market/wan/2-6-image-to-video'],
    checked: CHECKED,
    notes:
      "No aspect ratio, seed, negative prompt or sound switch on the 2.6 pages. The text-to-video field table comes from a client's transcription of the docs; image-to-video from the docs.",
    modes: {
      text: { kieModel: 'wan/2-6-text-to-video', prompt: { field: 'prompt', minChars: 2, maxChars: 5000 }, duration, options, price },
      image: {
        kieModel: 'wan/2-6-image-to-video',
        prompt: { field: 'prompt', minChars: 2, maxChars: 5000 },
        duration,
        images: { slots: [{ role: 'first-frame', field: 'image_urls', list: true }], plain: ['first-frame'] },
        options,
        price,
      },
    },
  };
})();

const hailuo: ModelEntryInput = (() => {
  const promptOptimizer = { type: 'boolean' as const, field: 'prompt_optimizer', about: 'let the model rewrite the prompt' };
  const source = `${UNVERIFIED_PRICE}; per clip`;
  return {
    id: 'hailuo-02',
    title: 'Hailuo 02 Standard (MiniMax)',
    family: 'jobs',
    status: 'live',
    docs: ['https://docs.kie.ai/market/hailuo/02-text-to-video-standard', 'https://docs.kie.ai/market/hailuo/02-image-to-video-standard'],
    checked: CHECKED,
    notes: "No aspect ratio (text-to-video renders the model's own). The text-to-video limits come partly from a client's transcription of the docs.",
    modes: {
      text: {
        kieModel: 'hailuo/02-text-to-video-standard',
        prompt: { field: 'prompt', maxChars: 1500 },
        duration: { field: 'duration', seconds: [6, 10], default: 6 },
        options: { promptOptimizer },
        price: { per: 'clip', credits: 30, verified: false, source },
      },
      image: {
        kieModel: 'hailuo/02-image-to-video-standard',
        prompt: { field: 'prompt', maxChars: 1500 },
        duration: { field: 'duration', seconds: [6, 10], default: 10 },
        images: {
          slots: [
            { role: 'first-frame', field: 'image_url' },
            { role: 'last-frame', field: 'end_image_url' },
          ],
          plain: ['first-frame', 'last-frame'],
        },
        options: {
          promptOptimizer,
          resolution: { type: 'enum', field: 'resolution', values: { '512p': '512P', '768p': '768P' }, default: '768p', about: 'output resolution' },
        },
        price: { per: 'clip', credits: 50, verified: false, source },
      },
    },
  };
})();

const grok: ModelEntryInput = (() => {
  const resolution = { type: 'enum' as const, field: 'resolution', values: { '480p': '480p', '720p': '720p' }, default: '480p', about: 'output resolution' };
  const aspectRatio = { field: 'aspect_ratio', values: { '16:9': '16:9', '9:16': '9:16', '1:1': '1:1', '2:3': '2:3', '3:2': '3:2' } };
  const duration = { field: 'duration', seconds: range(6, 30), default: 6 };
  const price = {
    per: 'second' as const,
    credits: 2.4,
    rules: [{ when: { resolution: '720p' }, credits: 4.5 }],
    verified: false,
    source: `${UNVERIFIED_PRICE}; 2.4 / 4.5 credits a second at 480p / 720p`,
  };
  return {
    id: 'grok-imagine',
    title: 'Grok Imagine (xAI)',
    family: 'jobs',
    status: 'live',
    docs: ['https://docs.kie.ai/market/grok-imagine/text-to-video', 'https://docs.kie.ai/market/grok-imagine/image-to-video'],
    checked: CHECKED,
    notes:
      'Image-to-video takes 1-7 reference images (name them @image1... in the prompt); with one image the video follows its aspect ratio. Spicy mode is not offered with external images.',
    modes: {
      text: {
        kieModel: 'grok-imagine/text-to-video',
        prompt: { field: 'prompt', maxChars: 5000 },
        duration,
        aspectRatio,
        options: {
          mode: { type: 'enum', field: 'mode', values: { fun: 'fun', normal: 'normal', spicy: 'spicy' }, about: 'style of the video (KIE default normal)' },
          resolution,
        },
        price,
      },
      image: {
        kieModel: 'grok-imagine/image-to-video',
        prompt: { field: 'prompt', maxChars: 5000 },
        duration,
        aspectRatio,
        images: { slots: [{ role: 'reference', field: 'image_urls', list: true, max: 7 }], plain: Array.from({ length: 7 }, () => 'reference' as const) },
        options: {
          mode: { type: 'enum', field: 'mode', values: { fun: 'fun', normal: 'normal' }, about: 'style of the video (KIE default normal)' },
          resolution,
        },
        price,
      },
    },
  };
})();

/** Every built-in entry, for the given KIE_API_STYLE and Sora 2 settings. */
export function builtinModels(options: BuiltinOptions): ModelEntryInput[] {
  return [
    ...soraEntries(options),
    veoEntry('veo-3.1', 'Veo 3.1 Quality (Google)', 'veo3', 250, false),
    veoEntry('veo-3.1-fast', 'Veo 3.1 Fast (Google)', 'veo3_fast', 168, true),
    kling,
    seedance,
    wan,
    hailuo,
    grok,
  ];
}
