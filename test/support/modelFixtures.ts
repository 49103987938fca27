import type { ModelEntryInput } from '../../src/kie/catalog/modelEntry';

/** A jobs-family model as a user would add it in KIE_MODELS_FILE (not in the built-in catalog). */
export const KLING_MASTER: ModelEntryInput = {
  id: 'kling-2.1-master',
  title: 'Kling 2.1 Master',
  family: 'jobs',
  status: 'live',
  docs: ['https://docs.kie.ai/market/kling/v2-1-master-text-to-video'],
  checked: '2026-12-02',
  modes: {
    text: {
      kieModel: 'kling/v2-1-master-text-to-video',
      prompt: { field: 'prompt', maxChars: 5000 },
      duration: { field: 'duration', seconds: [5, 10], default: 5 },
      aspectRatio: { field: 'aspect_ratio', values: { '16:9': '16:9', '9:16': '9:16', '1:1': '1:1' } },
      options: {
        negativePrompt: { type: 'string', field: 'negative_prompt', maxChars: 500, about: 'what to avoid' },
        cfgScale: { type: 'number', field: 'cfg_scale', min: 0, max: 1, about: 'how closely to follow the prompt' },
      },
      price: { per: 'clip', credits: 160, verified: false },
    },
  },
};
