/**
 * A validated request as the fields of its model's mode, by the catalog's mapping: our names and
 * values (prompt, duration 10, aspectRatio "16:9", images with roles, options) become KIE's
 * (`n_frames: "10"`, `aspect_ratio: "landscape"`, `image_urls`, `generate_audio`...). Each family's
 * adapter places them in its own envelope.
 */
import type { RenderRequest } from '../shared/renderRequest';
import type { ModeSpec } from './catalog/modelEntry';

type Fields = Record<string, unknown>;

function putImages(out: Fields, req: RenderRequest, mode: ModeSpec): void {
  const slots = mode.images?.slots ?? [];
  // Slot order decides the order inside a shared list field: first frame before last frame.
  for (const slot of slots) {
    for (const image of req.images ?? []) {
      if (image.role !== slot.role) continue;
      if (slot.list) out[slot.field] = [...((out[slot.field] as string[] | undefined) ?? []), image.url];
      else out[slot.field] = image.url;
    }
  }
}

function putOptions(out: Fields, req: RenderRequest, mode: ModeSpec): void {
  const given: Fields = { ...req.options, ...(req.removeWatermark !== undefined ? { removeWatermark: req.removeWatermark } : {}) };
  for (const [name, spec] of Object.entries(mode.options)) {
    const value = given[name] ?? spec.default;
    if (value === undefined || spec.field === undefined) continue;
    out[spec.field] = spec.type === 'enum' ? spec.values[value as string] : value;
  }
}

export function wireFields(req: RenderRequest, mode: ModeSpec): Fields {
  const out: Fields = { ...mode.fixed };
  if (req.type === 'storyboard') {
    const { field, scene, seconds } = mode.shots!;
    out[field] = req.shots.map((s) => ({ [scene]: s.prompt, [seconds]: s.seconds }));
  } else if (mode.prompt) {
    out[mode.prompt.field] = req.prompt;
  }
  const { field: durationField, as } = mode.duration;
  if (durationField) out[durationField] = as === 'string' ? String(req.duration) : req.duration;
  if (req.aspectRatio !== undefined && mode.aspectRatio) out[mode.aspectRatio.field] = mode.aspectRatio.values[req.aspectRatio];
  if (req.seed !== undefined && mode.seed) out[mode.seed.field] = req.seed;
  putImages(out, req, mode);
  putOptions(out, req, mode);
  return out;
}
