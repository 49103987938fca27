/**
 * A structurally sound render request checked against its model's catalog entry: the model (a
 * request naming none gets the catalog's default; Sora 2's `quality: "high"` and `type:
 * "storyboard"` route to their entries), the mode (images make it image-to-video), then every
 * field against that mode, with the mode's defaults applied. Nothing a model cannot express is
 * dropped: each such field is an issue naming the model, e.g. `duration: kling-2.6 accepts 5 or 10`.
 */
import type { FieldIssue } from '../../shared/errors';
import type { RenderImage, RenderRequest, StructuredRequest } from '../../shared/renderRequest';
import { MODE_LABELS, modeNameOf, modelLabel, type ModelCatalog } from './modelCatalog';
import type { ImageRole, ModeName, ModeSpec, ModelEntry, OptionSpec } from './modelEntry';

/** Our default where the model can render it (the contract's default before the catalog). */
const DEFAULT_ASPECT_RATIO = '16:9';

type Report = (field: string, value: unknown, rule: string) => void;

/** "5 or 10", "16:9, 9:16 or 1:1", "6 to 30" (a run of whole numbers). */
export function listOf(values: ReadonlyArray<string | number>): string {
  const isRun = values.length > 3 && values.every((v, i) => typeof v === 'number' && Number.isInteger(v) && (i === 0 || v === (values[i - 1] as number) + 1));
  if (isRun) return `${values[0]} to ${values[values.length - 1]}`;
  const shown = values.map(String);
  return shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

const has = (o: object, key: string): boolean => Object.hasOwn(o, key);

function storyboardModels(catalog: ModelCatalog): string {
  const ids = Object.values(catalog.entries)
    .filter((e) => e.modes.storyboard && !e.unavailable)
    .map((e) => e.id);
  return ids.length ? ` (storyboards: ${ids.join(', ')})` : '';
}

/** The entry the request renders with, after Sora 2's legacy routing; undefined after reporting why not. */
function pickEntry(req: StructuredRequest, catalog: ModelCatalog, bad: Report): ModelEntry | undefined {
  const id = req.model ?? catalog.defaultModel;
  let entry = has(catalog.entries, id) ? catalog.entries[id] : undefined;
  if (!entry) {
    bad('model', req.model, `is not in the model catalog (known: ${Object.keys(catalog.entries).join(', ')})`);
    return undefined;
  }
  const variants = entry.variants ?? {};
  if (req.type === 'storyboard' && !entry.modes.storyboard) {
    const to = variants.storyboard === undefined ? undefined : catalog.entries[variants.storyboard];
    if (!to) {
      bad('type', req.type, `${modelLabel(entry)} renders no storyboards${storyboardModels(catalog)}`);
      return undefined;
    }
    entry = to;
  } else if (req.quality === 'high' && entry.quality === 'standard' && variants.high !== undefined && catalog.entries[variants.high]) {
    entry = catalog.entries[variants.high]!;
  }
  if (entry.status === 'retired') {
    bad('model', entry.id, `${entry.id} is retired (KIE, checked ${entry.checked}): choose another model`);
    return undefined;
  }
  if (entry.unavailable) {
    const field = req.type === 'storyboard' && req.model !== entry.id ? 'type' : 'model';
    bad(field, field === 'type' ? req.type : entry.id, `${entry.unavailable} (${entry.id})`);
    return undefined;
  }
  return entry;
}

/** The mode the request needs, or undefined after reporting that the model has no such mode. */
function pickMode(req: StructuredRequest, entry: ModelEntry, bad: Report): ModeSpec | undefined {
  const name = modeNameOf(req);
  const mode = entry.modes[name];
  if (mode) return mode;
  const label = modelLabel(entry);
  if (name === 'image') bad('images', req.images, `${label} has no image-to-video mode`);
  else if (entry.modes.storyboard) bad('type', req.type, `${label} renders storyboards: send type "storyboard" with shots`);
  else bad('images', req.images, `${label} is image-to-video only: give images`);
  return undefined;
}

function optionProblem(spec: OptionSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'accepts true or false';
    case 'number': {
      const ok = typeof value === 'number' && value >= spec.min && value <= spec.max && (!spec.integer || Number.isInteger(value));
      return ok ? undefined : `accepts ${spec.integer ? 'a whole number' : 'a number'} from ${spec.min} to ${spec.max}`;
    }
    case 'enum':
      return typeof value === 'string' && has(spec.values, value) ? undefined : `accepts ${listOf(Object.keys(spec.values))}`;
    case 'string':
      return typeof value === 'string' && [...value].length <= spec.maxChars ? undefined : `accepts text of at most ${spec.maxChars} characters`;
  }
}

function checkOptions(req: StructuredRequest, mode: ModeSpec, where: string, bad: Report): void {
  const known = Object.keys(mode.options);
  const report = (field: string, name: string, value: unknown): void => {
    const spec = has(mode.options, name) ? mode.options[name] : undefined;
    if (!spec) {
      bad(field, value, `${where} has no option ${name} (${known.length ? `its options: ${known.join(', ')}` : 'it has no options'})`);
      return;
    }
    const problem = optionProblem(spec, value);
    if (problem) bad(field, value, `${where} ${problem}`);
  };
  for (const [name, value] of Object.entries(req.options ?? {})) report(`options.${name}`, name, value);
  // Sora 2's top-level removeWatermark predates `options`; it is the same knob.
  if (req.removeWatermark !== undefined) {
    if (req.options?.removeWatermark !== undefined) bad('removeWatermark', req.removeWatermark, 'give it once: removeWatermark or options.removeWatermark');
    else report('removeWatermark', 'removeWatermark', req.removeWatermark);
  }
}

/** The images with their roles: a plain list takes the mode's roles in order; then each role's rules. */
function resolveImages(req: StructuredRequest, mode: ModeSpec, where: string, bad: Report): RenderImage[] | undefined {
  const given = req.images;
  const spec = mode.images;
  if (!given) return undefined;
  if (!spec) {
    bad('images', given, `${where} takes no images`);
    return undefined;
  }
  const plain = given.filter((i) => typeof i === 'string').length;
  if (plain > 0 && plain < given.length) {
    bad('images', given, 'give every image as a URL, or every image as { url, role }, not both');
    return undefined;
  }
  if (plain > spec.plain.length) {
    bad('images', given.length, `${where} takes at most ${spec.plain.length} image${spec.plain.length > 1 ? 's' : ''}`);
    return undefined;
  }
  const images = given.map((image, i): RenderImage => (typeof image === 'string' ? { url: image, role: spec.plain[i]! } : image));
  const roles = spec.slots.map((s) => s.role);
  const count = (role: ImageRole): number => images.filter((i) => i.role === role).length;
  images.forEach((image, i) => {
    if (!roles.includes(image.role)) bad(`images.${i}.role`, image.role, `${where} takes ${listOf(roles)} images`);
  });
  for (const slot of spec.slots) {
    const n = count(slot.role);
    if (n > slot.max) bad('images', n, `${where} takes at most ${slot.max} ${slot.role} image${slot.max > 1 ? 's' : ''}`);
  }
  if (count('reference') > 0 && count('reference') < images.length)
    bad('images', given, `${where} takes either frames (first-frame, last-frame) or reference images, not both`);
  if (count('last-frame') > 0 && count('first-frame') === 0) bad('images', given, `${where} needs a first-frame image for a last-frame image`);
  return images;
}

function checkShots(req: Extract<StructuredRequest, { type: 'storyboard' }>, mode: ModeSpec, label: string, bad: Report): number {
  const total = req.shots.reduce((sum, s) => sum + s.seconds, 0);
  const totals = mode.duration.seconds;
  if (!totals.includes(total) || (req.duration !== undefined && req.duration !== total)) {
    bad('shots', req.shots, `shot lengths must add up to ${req.duration ?? listOf(totals)} seconds (they add up to ${total})`);
  }
  const shots = mode.shots!;
  if (req.shots.length > shots.maxShots) bad('shots', req.shots.length, `${label} takes at most ${shots.maxShots} shots`);
  req.shots.forEach((shot, i) => {
    if ([...shot.prompt].length > shots.maxChars) bad(`shots.${i}.prompt`, shot.prompt, `${label} accepts at most ${shots.maxChars} characters a shot`);
  });
  return total;
}

function checkPrompt(prompt: string, mode: ModeSpec, label: string, bad: Report): void {
  const { minChars, maxChars } = mode.prompt!;
  const n = [...prompt].length;
  if (n < minChars || n > maxChars)
    bad('prompt', prompt, minChars > 1 ? `${label} accepts ${minChars} to ${maxChars} characters` : `${label} accepts at most ${maxChars} characters`);
}

function checkDuration(req: StructuredRequest, mode: ModeSpec, label: string, bad: Report): number {
  const { seconds, default: fallback } = mode.duration;
  const duration = req.duration ?? fallback;
  if (!seconds.includes(duration))
    bad('duration', req.duration, seconds.length === 1 ? `${label} renders ${seconds[0]} s clips only` : `${label} accepts ${listOf(seconds)}`);
  return duration;
}

function resolveAspectRatio(req: StructuredRequest, mode: ModeSpec, modeName: ModeName, where: string, bad: Report): string | undefined {
  const spec = mode.aspectRatio;
  if (req.aspectRatio === undefined) return spec && has(spec.values, DEFAULT_ASPECT_RATIO) ? DEFAULT_ASPECT_RATIO : undefined;
  if (!spec)
    bad(
      'aspectRatio',
      req.aspectRatio,
      modeName === 'image' ? `${where} follows the image's aspect ratio: leave aspectRatio out` : `${where} has no aspect ratio setting`,
    );
  else if (!has(spec.values, req.aspectRatio)) bad('aspectRatio', req.aspectRatio, `${where} accepts ${listOf(Object.keys(spec.values))}`);
  return req.aspectRatio;
}

function checkSeed(seed: number | undefined, mode: ModeSpec, where: string, bad: Report): void {
  if (seed === undefined) return;
  if (!mode.seed) bad('seed', seed, `${where} has no seed option`);
  else if (seed < mode.seed.min || seed > mode.seed.max) bad('seed', seed, `${where} accepts ${mode.seed.min} to ${mode.seed.max}`);
}

function checkQuality(req: StructuredRequest, entry: ModelEntry, label: string, bad: Report): RenderRequest['quality'] {
  // A storyboard has always been rendered by the pro model whatever `quality` said.
  if (req.type === 'storyboard') return req.quality;
  if (req.quality === undefined || req.quality === entry.quality) return entry.quality;
  bad('quality', req.quality, entry.quality ? `${label} renders ${entry.quality} quality only` : `${label} has no quality setting (choose the model instead)`);
  return req.quality;
}

/** The request validated against its model with the model's defaults applied, or every issue found. */
export function resolveRequest(req: StructuredRequest, catalog: ModelCatalog): { request: RenderRequest } | { issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const bad: Report = (field, value, rule) => void issues.push({ field, value, rule });
  const entry = pickEntry(req, catalog, bad);
  const mode = entry && pickMode(req, entry, bad);
  if (!entry || !mode) return { issues };

  const label = modelLabel(entry);
  const modeName = modeNameOf(req);
  // Messages about a mode's own fields say which mode, where the model has several.
  const where = Object.keys(entry.modes).length > 1 ? `${label} ${MODE_LABELS[modeName]}` : label;
  const quality = checkQuality(req, entry, label, bad);
  let duration: number;
  if (req.type === 'storyboard') duration = checkShots(req, mode, label, bad);
  else {
    checkPrompt(req.prompt, mode, label, bad);
    duration = checkDuration(req, mode, label, bad);
  }
  const aspectRatio = resolveAspectRatio(req, mode, modeName, where, bad);
  checkSeed(req.seed, mode, where, bad);
  const images = resolveImages(req, mode, where, bad);
  checkOptions(req, mode, where, bad);
  if (issues.length) return { issues };

  const { model: _model, aspectRatio: _ratio, quality: _quality, images: _images, duration: _duration, ...rest } = req;
  const request = {
    ...rest,
    model: entry.id,
    duration,
    ...(aspectRatio !== undefined ? { aspectRatio } : {}),
    ...(quality !== undefined ? { quality } : {}),
    ...(images ? { images } : {}),
  };
  return { request };
}
