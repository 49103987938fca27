import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/shared/config';
import { ConfigError } from '../../src/shared/errors';
import { buildCatalog, parseModelEntries } from '../../src/kie/catalog/modelCatalog';
import { modelEntrySchema } from '../../src/kie/catalog/modelEntry';
import { creditsFor, usdFor } from '../../src/kie/catalog/modelPrice';
import { parseRenderRequest } from '../../src/shared/renderRequest';
import { KLING_MASTER } from '../support/modelFixtures';

const dir = mkdtempSync(path.join(tmpdir(), 'models-'));
let files = 0;
function modelsFile(content: unknown): string {
  const file = path.join(dir, `models-${files++}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ KIE_API_KEY: 'k', ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('the built-in catalog', () => {
  it.each(['sora', 'jobs'] as const)('is valid with KIE_API_STYLE=%s and holds the contract ids', (apiStyle) => {
    const { catalog, issues } = buildCatalog({ apiStyle });
    expect(issues).toEqual([]);
    expect(Object.keys(catalog.entries)).toEqual(
      expect.arrayContaining([
        'sora-2',
        'sora-2-pro',
        'sora-2-storyboard',
        'veo-3.1',
        'veo-3.1-fast',
        'kling-2.6',
        'seedance-1.5-pro',
        'wan-2.6',
        'hailuo-02',
        'grok-imagine',
      ]),
    );
    expect(catalog.defaultModel).toBe('sora-2');
    for (const entry of Object.values(catalog.entries)) {
      expect(entry.checked).toBe('2026-12-02');
      expect(entry.docs[0]).toMatch(/^https:\/\/docs\.kie\.ai\//);
      // Prices without a source in KIE's docs say so.
      for (const mode of Object.values(entry.modes)) if (!mode.price.verified) expect(mode.price.source).toBeTruthy();
    }
  });

  it('gives every non-Sora family text-to-video and image-to-video, each with its KIE model name', () => {
    const { catalog } = buildCatalog({ apiStyle: 'jobs' });
    const others = Object.values(catalog.entries).filter((e) => !e.followsApiStyle);
    expect(new Set(others.map((e) => e.family))).toEqual(new Set(['jobs', 'veo']));
    for (const entry of others) {
      expect(entry.modes.text?.kieModel).toBeTruthy();
      expect(entry.modes.image?.kieModel).toBeTruthy();
    }
    expect(catalog.entries['kling-2.6']!.modes).toMatchObject({
      text: { kieModel: 'kling-2.6/text-to-video' },
      image: { kieModel: 'kling-2.6/image-to-video' },
    });
  });

  it('serves the Sora 2 entries with KIE_API_STYLE, KIE_MODEL_* names and KIE_CREDITS_* prices', () => {
    const sora = buildCatalog({ apiStyle: 'sora' }).catalog.entries['sora-2']!;
    expect(sora).toMatchObject({ family: 'sora', status: 'paused', modes: { text: { fixed: { quality: 'standard' } } } });
    expect(sora.modes.image).toBeUndefined();
    const c = loadConfig({ KIE_API_KEY: 'k', KIE_API_STYLE: 'jobs', KIE_MODEL_HIGH: 'sora-3-pro', KIE_CREDITS_PER_10S_HIGH: '80' });
    const pro = c.kie.models.entries['sora-2-pro']!;
    expect(pro).toMatchObject({ family: 'jobs', modes: { text: { kieModel: 'sora-3-pro', fixed: { size: 'high' } } } });
    expect(creditsFor({ duration: 15 }, pro.modes.text!)).toBe(120);
    // The reference's dollar prices stay, whatever the credits.
    expect(usdFor({ duration: 15 }, pro.modes.text!, 0.005)).toBe(0.45);
  });
});

describe('prices', () => {
  const { catalog } = buildCatalog({ apiStyle: 'jobs' });
  const priceOf = (input: object) => {
    const req = parseRenderRequest(input, catalog);
    const mode = catalog.entries[req.model]!.modes[req.type === 'storyboard' ? 'storyboard' : req.images ? 'image' : 'text']!;
    return { credits: creditsFor(req, mode), usd: usdFor(req, mode, 0.005) };
  };

  it('are per clip or per second, by resolution and sound where the catalog says so', () => {
    expect(priceOf({ model: 'kling-2.6', prompt: 'x', duration: 10 })).toEqual({ credits: 55, usd: 0.275 });
    expect(priceOf({ model: 'seedance-1.5-pro', prompt: 'xyz' })).toEqual({ credits: 28, usd: 0.14 });
    expect(priceOf({ model: 'seedance-1.5-pro', prompt: 'xyz', duration: 4, options: { resolution: '480p', sound: true } })).toEqual({
      credits: 14,
      usd: 0.07,
    });
    expect(priceOf({ model: 'veo-3.1-fast', prompt: 'x' }).credits).toBe(168);
    expect(priceOf({ model: 'veo-3.1-fast', prompt: 'x', options: { resolution: '1080p' } }).credits).toBe(173);
    expect(priceOf({ model: 'wan-2.6', prompt: 'xy', options: { resolution: '720p' }, duration: 10 }).credits).toBe(140);
  });
});

describe('KIE_MODELS_FILE', () => {
  it('adds a model, which requests may then name', () => {
    const c = loadConfig({ KIE_API_KEY: 'k', KIE_MODELS_FILE: modelsFile([KLING_MASTER]) });
    expect(c.kie.models.entries['kling-2.1-master']).toMatchObject({ family: 'jobs', modes: { text: { kieModel: 'kling/v2-1-master-text-to-video' } } });
    expect(parseRenderRequest({ model: 'kling-2.1-master', prompt: 'x', options: { cfgScale: 0.5 } }, c.kie.models)).toMatchObject({
      duration: 5,
      aspectRatio: '16:9',
    });
  });

  it('replaces a built-in entry with the same id whole (a status, a price)', () => {
    const { catalog } = buildCatalog({ apiStyle: 'sora' });
    const retired = { ...catalog.entries['kling-2.6']!, status: 'retired' as const };
    const c = loadConfig({ KIE_API_KEY: 'k', KIE_MODELS_FILE: modelsFile([retired]) });
    expect(c.kie.models.entries['kling-2.6']!.status).toBe('retired');
    expect(() => parseRenderRequest({ model: 'kling-2.6', prompt: 'x' }, c.kie.models)).toThrow(
      'model: kling-2.6 is retired (KIE, checked 2026-12-02): choose another model',
    );
  });

  it('stops the process with one message naming each bad entry field, beside the other bad variables', () => {
    const bad = [
      { ...KLING_MASTER, id: 'Kling Master' },
      {
        ...KLING_MASTER,
        id: 'k2',
        family: 'rest',
        modes: { text: { ...KLING_MASTER.modes.text!, duration: { field: 'duration', seconds: [5], default: 7 } } },
      },
    ];
    const err = configError({ KIE_MODELS_FILE: modelsFile(bad), KIE_MAX_CONCURRENT: 'ten' });
    expect(err.issues.map((i) => i.field)).toEqual(expect.arrayContaining(['KIE_MODELS_FILE', 'KIE_MAX_CONCURRENT']));
    expect(err.message).toContain("entry [0] (Kling Master) id: must be lower-case letters, digits, '.' or '-' (at most 63)");
    expect(err.message).toContain('entry [1] (k2) family: must be one of sora, jobs, veo');
    expect(err.message).toContain('entry [1] (k2) modes.text.duration.default: must be one of seconds');
  });

  it.each([
    ['not JSON', '{ nope', 'must be a readable JSON file'],
    ['not a list', { id: 'x' }, 'must be a JSON array of model entries'],
    ['an unknown field', [{ ...KLING_MASTER, colour: 'red' }], 'Unrecognized key: "colour"'],
    ['a duplicate id', [KLING_MASTER, KLING_MASTER], 'the id appears twice'],
  ])('refuses a file that is %s', (_case, content, message) => {
    expect(configError({ KIE_MODELS_FILE: modelsFile(content) }).message).toContain(message);
  });

  it('refuses a file that does not exist', () => {
    expect(configError({ KIE_MODELS_FILE: path.join(dir, 'missing.json') }).message).toMatch(
      /KIE_MODELS_FILE=".*missing.json": must be a readable JSON file: ENOENT/,
    );
  });
});

describe('KIE_DEFAULT_MODEL and the other settings', () => {
  it('picks the model of requests that name none', () => {
    const c = loadConfig({ KIE_API_KEY: 'k', KIE_DEFAULT_MODEL: 'veo-3.1-fast' });
    expect(parseRenderRequest({ prompt: 'x' }, c.kie.models)).toEqual({ type: 'text', model: 'veo-3.1-fast', prompt: 'x', duration: 8, aspectRatio: '16:9' });
  });

  it('must name a catalog model that is not retired', () => {
    expect(configError({ KIE_DEFAULT_MODEL: 'sora-3' }).message).toContain('KIE_DEFAULT_MODEL="sora-3": must be a catalog id (known: sora-2, sora-2-pro');
    const retired = { ...KLING_MASTER, status: 'retired' };
    expect(configError({ KIE_DEFAULT_MODEL: 'kling-2.1-master', KIE_MODELS_FILE: modelsFile([retired]) }).message).toContain(
      'KIE_DEFAULT_MODEL="kling-2.1-master": names a retired model',
    );
  });

  it('reads KIE_MODEL_PROBE_MS and KIE_USD_PER_CREDIT, with their defaults', () => {
    expect(loadConfig({ KIE_API_KEY: 'k' }).kie).toMatchObject({ modelProbeMs: 300_000, usdPerCredit: 0.005 });
    expect(loadConfig({ KIE_API_KEY: 'k', KIE_MODEL_PROBE_MS: '2000', KIE_USD_PER_CREDIT: '0.0042' }).kie).toMatchObject({
      modelProbeMs: 2000,
      usdPerCredit: 0.0042,
    });
    const err = configError({ KIE_MODEL_PROBE_MS: 'soon', KIE_USD_PER_CREDIT: '-1' });
    expect(err.message).toContain('KIE_MODEL_PROBE_MS="soon": must be a whole number from 100 to 86400000');
    expect(err.message).toContain('KIE_USD_PER_CREDIT="-1": must be a number from 0 to 1000');
  });
});

describe('the entry schema', () => {
  it('names what is wrong with an entry, path by path', () => {
    const parsed = parseModelEntries([{ ...KLING_MASTER, modes: { image: KLING_MASTER.modes.text } }]);
    expect(parsed.entries).toEqual([]);
    expect(parsed.issues).toEqual(['[0] (kling-2.1-master) modes.image: needs a prompt and images']);
  });

  it('keeps the defaults explicit: a duration sent as a string, no fixed fields, no rules', () => {
    const entry = modelEntrySchema.parse(KLING_MASTER);
    expect(entry.modes.text).toMatchObject({ duration: { as: 'string' }, fixed: {}, price: { rules: [] } });
  });
});
