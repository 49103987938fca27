/**
 * The models the simulator serves, from the catalog's own data: the built-in entries (the Sora 2
 * ones in both of their APIs) plus any a test or SIM_MODELS_FILE teaches it, the way KIE knows
 * models that sora-batch learns about through KIE_MODELS_FILE. Each family looks a model up by the
 * name KIE gives it on the wire.
 */
import { buildCatalog } from '../kie/catalog/modelCatalog';
import { type Family, type ModeName, type ModeSpec, type ModelEntry, type ModelEntryInput, modelEntrySchema } from '../kie/catalog/modelEntry';

/** One KIE model name: its entry and the modes that name it (Seedance and Veo use one name for both). */
export interface SimModel {
  readonly kieModel: string;
  readonly entry: ModelEntry;
  readonly modes: Partial<Record<ModeName, ModeSpec>>;
}

export class SimModels {
  private readonly byFamily = new Map<Family, Map<string, SimModel>>();

  constructor(extra: readonly ModelEntryInput[] = []) {
    const entries = [
      ...Object.values(buildCatalog({ apiStyle: 'sora' }).catalog.entries).filter((e) => e.family === 'sora'),
      ...Object.values(buildCatalog({ apiStyle: 'jobs' }).catalog.entries),
      ...extra.map((e) => modelEntrySchema.parse(e)),
    ];
    for (const entry of entries) {
      if (entry.unavailable) continue;
      let models = this.byFamily.get(entry.family);
      if (!models) this.byFamily.set(entry.family, (models = new Map<string, SimModel>()));
      for (const [name, mode] of Object.entries(entry.modes) as Array<[ModeName, ModeSpec]>) {
        const known = models.get(mode.kieModel);
        // A later entry for the same KIE name (a test's) replaces the built-in one.
        if (known && known.entry.id === entry.id) known.modes[name] = mode;
        else models.set(mode.kieModel, { kieModel: mode.kieModel, entry, modes: { [name]: mode } });
      }
    }
  }

  find(family: Family, kieModel: unknown): SimModel | undefined {
    return typeof kieModel === 'string' ? this.byFamily.get(family)?.get(kieModel) : undefined;
  }

  all(family: Family): SimModel[] {
    return [...(this.byFamily.get(family)?.values() ?? [])];
  }
}
