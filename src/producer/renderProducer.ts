/**
 * The library other Node backends import to enqueue renders. Everything is validated before it
 * touches Redis, with the same schema the worker applies.
 */
import { createHash } from 'node:crypto';
import { JobsOptions, Queue } from 'bullmq';
import type { BullMQOtel } from 'bullmq-otel';
import type { Redis } from 'ioredis';
import { RENDER_JOB_NAME, RenderJobData } from '../shared/renderJob';
import { parseRenderRequest, RenderRequest, tenantOf } from '../shared/renderRequest';
import { ValidationError } from '../shared/errors';
import { checkNotifyUrl } from '../shared/notifyDestination';
import { builtinCatalog, type ModelCatalog } from '../kie/catalog/modelCatalog';
import { type ApiStyle, type Config, DEFAULT_LIMITER_PREFIX } from '../shared/config';
import { BatchLedger } from '../batch/batchLedger';
import { logQueueErrors, TroubleLog } from '../shared/redis';
import { startJobTraces } from '../shared/tracing';

export interface EnqueueOptions {
  /** Same key, same job: a second enqueue with it returns the first job and adds nothing. */
  idempotencyKey?: string;
  /** 1 (highest) .. 2_097_152; BullMQ's meaning. */
  priority?: number;
  /** Milliseconds before the job may start, at most MAX_ENQUEUE_DELAY_MS (30 days). */
  delay?: number;
  /** Overrides the request's batchId. */
  batchId?: string;
  /** Overrides the request's tenant. */
  tenant?: string;
}

export interface EnqueuedJob {
  jobId: string;
  /** False when an idempotency key matched a job that already existed. */
  created: boolean;
}

export interface RenderProducerOptions {
  connection: Redis;
  queueName: string;
  /**
   * The models requests are checked against (the configuration's `kie.models`: KIE_DEFAULT_MODEL,
   * KIE_MODELS_FILE). Without it, the built-in catalog of `apiStyle` (default `sora`).
   */
  models?: ModelCatalog;
  /** KIE_API_STYLE, which decides how the Sora 2 models are served; used when `models` is not given. */
  apiStyle?: ApiStyle;
  /**
   * Accept a notifyUrl whose host is a literal private, loopback or link-local address
   * (NOTIFY_ALLOW_PRIVATE; default false). Metadata addresses are refused either way.
   */
  notifyAllowPrivate?: boolean;
  /** Jobs per addBulk call. */
  chunkSize?: number;
  /** LIMITER_PREFIX, where batches are recorded (default sora-batch). */
  limiterPrefix?: string;
  /** Where the queue's errors other than connection trouble go (default: stderr). */
  logger?: Pick<TroubleLog, 'error'>;
  /**
   * OpenTelemetry through BullMQ (`queueTelemetry(config)`, or your own `new BullMQOtel()`): each
   * job then starts a trace of its own, which the workers' steps continue.
   */
  telemetry?: BullMQOtel;
}

/** The options a process's own configuration decides: queue, limiter prefix, catalog, notifyUrl policy. */
export function producerSettings(config: Config): Pick<RenderProducerOptions, 'queueName' | 'limiterPrefix' | 'models' | 'notifyAllowPrivate'> {
  return { queueName: config.queueName, limiterPrefix: config.limiterPrefix, models: config.kie.models, notifyAllowPrivate: config.notify.allowPrivate };
}

/** Defaults every job gets: the worker handles KIE's transient trouble itself; attempts cover crashes and bugs. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 14 * 24 * 3600, count: 100_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/**
 * Longest start delay of an enqueued render. A render wanted later than this belongs in a schedule;
 * a delay of years is a unit mistake (seconds for ms), and past about 2^53 / 4096 ms from now
 * BullMQ's delayed-job scores lose precision.
 */
export const MAX_ENQUEUE_DELAY_MS = 30 * 24 * 3_600_000;

/** BullMQ job ids may not contain ':' and may not look like integers; a hash avoids both. */
export function jobIdForIdempotencyKey(key: string): string {
  return `idem-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

export class RenderProducer {
  readonly queue: Queue<RenderJobData>;
  /** What requests are validated against; each job is written with the model it resolved to. */
  readonly models: ModelCatalog;
  /** Where jobs carrying a batchId join their batch. */
  readonly batches: BatchLedger;
  private readonly chunkSize: number;

  constructor(private readonly options: RenderProducerOptions) {
    this.queue = new Queue<RenderJobData>(options.queueName, { connection: options.connection, telemetry: options.telemetry });
    this.models = options.models ?? builtinCatalog(options.apiStyle);
    logQueueErrors(this.queue, options.logger);
    this.chunkSize = options.chunkSize ?? 500;
    this.batches = new BatchLedger(options.connection, options.limiterPrefix ?? DEFAULT_LIMITER_PREFIX, options.queueName);
  }

  /** Validates and normalises; throws ValidationError naming field, value and rule. */
  validate(input: unknown, opts: EnqueueOptions = {}): RenderRequest {
    const overrides = { ...(opts.batchId ? { batchId: opts.batchId } : {}), ...(opts.tenant ? { tenant: opts.tenant } : {}) };
    const request = parseRenderRequest(Object.keys(overrides).length ? { ...(input as object), ...overrides } : input, this.models);
    const issues = checkNotifyUrl(request.notifyUrl, this.options.notifyAllowPrivate ?? false);
    if (issues.length) throw new ValidationError(issues);
    if (opts.priority !== undefined && !(Number.isInteger(opts.priority) && opts.priority >= 1 && opts.priority <= 2_097_152)) {
      throw new ValidationError([{ field: 'priority', value: opts.priority, rule: 'must be a whole number from 1 to 2097152' }]);
    }
    if (opts.delay !== undefined && !(Number.isInteger(opts.delay) && opts.delay >= 0 && opts.delay <= MAX_ENQUEUE_DELAY_MS)) {
      throw new ValidationError([
        { field: 'delay', value: opts.delay, rule: `must be a whole number of milliseconds from 0 to ${MAX_ENQUEUE_DELAY_MS} (30 days)` },
      ]);
    }
    return request;
  }

  /** Enqueues one render request (its input as a producer sends it, validated here). */
  async enqueue(input: unknown, opts: EnqueueOptions = {}): Promise<EnqueuedJob> {
    const [job] = await this.enqueueMany([input], opts);
    return job!;
  }

  /**
   * Validates every request first (nothing is added if one is bad; the error names its index),
   * then adds them in chunks of `chunkSize` with addBulk.
   */
  async enqueueMany(inputs: readonly unknown[], opts: EnqueueOptions = {}): Promise<EnqueuedJob[]> {
    const idempotencyKeys = (inputs as Array<{ idempotencyKey?: unknown }>).map((i) => i && i.idempotencyKey);
    const jobs = inputs.map((input, index) => {
      const { idempotencyKey: _k, ...fields } = (input ?? {}) as Record<string, unknown>;
      let data: RenderRequest;
      try {
        data = this.validate(input === null || typeof input !== 'object' ? input : fields, opts);
      } catch (err) {
        if (err instanceof ValidationError && inputs.length > 1) {
          throw new ValidationError(err.issues.map((i) => ({ ...i, field: `[${index}].${i.field}` })));
        }
        throw err;
      }
      const key = typeof idempotencyKeys[index] === 'string' ? idempotencyKeys[index] : undefined;
      const idempotencyKey = inputs.length === 1 ? (opts.idempotencyKey ?? key) : key;
      return {
        name: RENDER_JOB_NAME,
        data: data,
        opts: {
          ...DEFAULT_JOB_OPTIONS,
          ...(idempotencyKey ? { jobId: jobIdForIdempotencyKey(idempotencyKey) } : {}),
          ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
          ...(opts.delay !== undefined ? { delay: opts.delay } : {}),
        },
      };
    });

    await this.refuseCancelledBatches(jobs.map((j) => j.data));
    const result: EnqueuedJob[] = [];
    for (let i = 0; i < jobs.length; i += this.chunkSize) {
      const chunk = jobs.slice(i, i + this.chunkSize);
      const before = await this.existingIds(chunk.map((j) => j.opts.jobId));
      const added = await this.addTraced(chunk);
      added.forEach((job, n) => result.push({ jobId: job.id!, created: !before.has(chunk[n]!.opts.jobId ?? '') }));
      // After the add: a crash in between leaves jobs that join on their first run, never a
      // batch waiting for jobs that do not exist. Jobs that existed join too (a resumed enqueue).
      await this.joinBatches(added.map((job, n) => ({ jobId: job.id!, data: chunk[n]!.data })));
    }
    return result;
  }

  /** addBulk, each job in a trace of its own when tracing is on. */
  private async addTraced(chunk: Parameters<Queue<RenderJobData>['addBulk']>[0]) {
    const { telemetry } = this.options;
    if (!telemetry) return this.queue.addBulk(chunk);
    const traces = startJobTraces(telemetry, chunk.length, this.queue.name, { 'messaging.operation.name': 'add' });
    try {
      const added = await traces.adding(() =>
        this.queue.addBulk(chunk.map((job, n) => ({ ...job, opts: { ...job.opts, telemetry: { metadata: traces.metadata[n] } } }))),
      );
      traces.end(added.map((job) => job.id));
      return added;
    } catch (err) {
      traces.end([], err as Error);
      throw err;
    }
  }

  /** A cancelled batch takes no new jobs. */
  private async refuseCancelledBatches(data: readonly RenderJobData[]): Promise<void> {
    for (const batchId of new Set(data.map((d) => d.batchId).filter((b): b is string => b !== undefined))) {
      const state = await this.batches.stateOf(batchId);
      if (state === 'cancelling' || state === 'cancelled') {
        throw new ValidationError([{ field: 'batchId', value: batchId, rule: 'names a cancelled batch: it takes no new jobs' }]);
      }
    }
  }

  private async joinBatches(jobs: ReadonlyArray<{ jobId: string; data: RenderJobData }>): Promise<void> {
    const byBatch = new Map<string, { tenant: string; jobIds: string[] }>();
    for (const { jobId, data } of jobs) {
      if (data.batchId === undefined) continue;
      const entry = byBatch.get(data.batchId) ?? { tenant: tenantOf(data), jobIds: [] };
      entry.jobIds.push(jobId);
      byBatch.set(data.batchId, entry);
    }
    for (const [batchId, { tenant, jobIds }] of byBatch) await this.batches.join(batchId, tenant, jobIds);
  }

  /** Which of the given custom job ids already exist (one round trip; skipped when none is set). */
  async existingIds(ids: Array<string | undefined>): Promise<Set<string>> {
    const wanted = ids.filter((id): id is string => id !== undefined);
    if (!wanted.length) return new Set();
    const pipeline = this.options.connection.pipeline();
    for (const id of wanted) pipeline.exists(this.queue.toKey(id));
    const answers = (await pipeline.exec()) ?? [];
    return new Set(wanted.filter((_, i) => answers[i]?.[1] === 1));
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
