/** Operator actions on catalog models, for the CLI and for backends that import the library. */
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import { modelEntry } from '../kie/catalog/modelCatalog';
import { ModelPauses, type ModelPauseStatus } from './modelPauses';
import { wakeMembers } from './wakeJobs';

export function createModelPauses(redis: Redis, config: Config): ModelPauses {
  return new ModelPauses(redis, { prefix: config.limiterPrefix, probeMs: config.kie.modelProbeMs });
}

/** Puts a paused model back (KIE serves it again) and wakes every job waiting for it; returns how many. */
export async function resumeModel(redis: Redis, config: Config, id: string): Promise<number> {
  modelEntry(config.kie.models, id);
  const waiters = await createModelPauses(redis, config).resume(id);
  await wakeMembers(redis, waiters);
  return waiters.length;
}

/** Takes a model out of rotation fleet-wide until resumed (no probes); its tasks in flight still finish. */
export async function pauseModel(redis: Redis, config: Config, id: string, reason: string): Promise<void> {
  modelEntry(config.kie.models, id);
  await createModelPauses(redis, config).pauseByOperator(id, reason);
}

/** Every catalog model's runtime pause and waiting jobs. */
export function modelStatus(redis: Redis, config: Config): Promise<ModelPauseStatus[]> {
  return createModelPauses(redis, config).status(Object.keys(config.kie.models.entries));
}
