/**
 * The catalog a process runs with: the built-in entries for its KIE_API_STYLE, replaced or added to
 * by KIE_MODELS_FILE, and the model a request that names none renders with (KIE_DEFAULT_MODEL).
 */
import type { ApiStyle } from '../../shared/config';
import type { JobsModels } from '../jobsModels';
import { DEFAULT_JOBS_MODELS } from '../jobsModels';
import { builtinModels, type SoraPrices } from './builtinModels';
import { describeEntryIssues, type Family, type ModeName, type ModeSpec, type ModelEntry, modelEntriesSchema, modelEntrySchema } from './modelEntry';

export interface ModelCatalog {
  /** The model of a request that names none (KIE_DEFAULT_MODEL). */
  readonly defaultModel: string;
  readonly entries: Readonly<Record<string, ModelEntry>>;
}

export interface CatalogOptions {
  apiStyle: ApiStyle;
  jobsModels?: JobsModels;
  soraPrices?: SoraPrices;
  defaultModel?: string;
  /** From KIE_MODELS_FILE: an entry with a known id replaces that entry whole. */
  extra?: readonly ModelEntry[];
}

export const DEFAULT_MODEL = 'sora-2';
export const DEFAULT_SORA_PRICES: SoraPrices = Object.freeze({ per10sStandard: 30, per10sHigh: 60, storyboard: 150 });

/** A problem with the catalog as a whole: its default model, or what its entries say of each other. */
export interface CatalogIssue {
  about: 'defaultModel' | 'entries';
  message: string;
}

/** Builds a catalog, with the problems found: a default model or a variant that names no entry, a retired default. */
export function buildCatalog(options: CatalogOptions): { catalog: ModelCatalog; issues: CatalogIssue[] } {
  const builtin = builtinModels({
    apiStyle: options.apiStyle,
    jobsModels: options.jobsModels ?? DEFAULT_JOBS_MODELS,
    soraPrices: options.soraPrices ?? DEFAULT_SORA_PRICES,
  }).map((e) => modelEntrySchema.parse(e));
  const entries: Record<string, ModelEntry> = {};
  for (const entry of [...builtin, ...(options.extra ?? [])]) entries[entry.id] = entry;
  const defaultModel = options.defaultModel ?? DEFAULT_MODEL;
  const catalog = { defaultModel, entries };
  return { catalog, issues: catalogIssues(catalog) };
}

function catalogIssues({ defaultModel, entries }: ModelCatalog): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  const def = Object.hasOwn(entries, defaultModel) ? entries[defaultModel] : undefined;
  if (!def) issues.push({ about: 'defaultModel', message: `must be a catalog id (known: ${Object.keys(entries).join(', ')})` });
  else if (def.status === 'retired') issues.push({ about: 'defaultModel', message: 'names a retired model' });
  for (const entry of Object.values(entries)) {
    for (const [variant, id] of Object.entries(entry.variants ?? {})) {
      if (id !== undefined && !entries[id])
        issues.push({ about: 'entries', message: `${entry.id}: variants.${variant} names ${JSON.stringify(id)}, which is not in the catalog` });
    }
  }
  return issues;
}

/** Reads the entries of a KIE_MODELS_FILE (already parsed JSON): the entries, or one line per problem. */
export function parseModelEntries(json: unknown): { entries: ModelEntry[]; issues: string[] } {
  const parsed = modelEntriesSchema.safeParse(json);
  if (!parsed.success) return { entries: [], issues: describeEntryIssues(json, parsed.error) };
  const seen = new Set<string>();
  const issues: string[] = [];
  for (const [i, e] of parsed.data.entries()) {
    if (seen.has(e.id)) issues.push(`[${i}] (${e.id}): the id appears twice`);
    seen.add(e.id);
  }
  return { entries: issues.length ? [] : parsed.data, issues };
}

const builtinCatalogs = new Map<ApiStyle, ModelCatalog>();

/** The built-in catalog with every setting at its default (cached): what a library user gets by default. */
export function builtinCatalog(apiStyle: ApiStyle = 'sora'): ModelCatalog {
  let catalog = builtinCatalogs.get(apiStyle);
  if (!catalog) builtinCatalogs.set(apiStyle, (catalog = buildCatalog({ apiStyle }).catalog));
  return catalog;
}

export function modelEntry(catalog: ModelCatalog, id: string): ModelEntry {
  const entry = catalog.entries[id];
  if (!entry) throw new RangeError(`model ${JSON.stringify(id)} is not in the catalog (known: ${Object.keys(catalog.entries).join(', ')})`);
  return entry;
}

export function familyOf(catalog: ModelCatalog, id: string | undefined): Family {
  return modelEntry(catalog, id ?? catalog.defaultModel).family;
}

/** How errors name a model: the Sora 2 entries also say which KIE_API_STYLE they are served by. */
export function modelLabel(entry: ModelEntry): string {
  return entry.followsApiStyle ? `${entry.id} (KIE_API_STYLE=${entry.family})` : entry.id;
}

export const MODE_LABELS: Record<ModeName, string> = { text: 'text-to-video', image: 'image-to-video', storyboard: 'storyboard' };

/** The mode a validated request renders in. */
export function modeNameOf(req: { type: 'text' | 'storyboard'; images?: readonly unknown[] }): ModeName {
  if (req.type === 'storyboard') return 'storyboard';
  return req.images?.length ? 'image' : 'text';
}

/** The entry and mode of a validated request (its model is in the catalog: validation saw to it). */
export function modeOf(
  catalog: ModelCatalog,
  req: { model: string; type: 'text' | 'storyboard'; images?: readonly unknown[] },
): { entry: ModelEntry; mode: ModeSpec } {
  const entry = modelEntry(catalog, req.model);
  const name = modeNameOf(req);
  const mode = entry.modes[name];
  if (!mode) throw new RangeError(`model ${entry.id} has no ${MODE_LABELS[name]} mode`);
  return { entry, mode };
}
