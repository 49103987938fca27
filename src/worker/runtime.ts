/**
 * Wires one worker process: Redis, the fleet-wide limiter, one KIE client per account, S3, and a
 * BullMQ worker running the render steps. `npm run worker` and the demo both start it here.
 */
import { setMaxListeners } from 'node:events';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Config, describeConfig } from '../shared/config';
import { createKieClient, dialectFor, warmKieConnection } from '../kie/client';
import type { Logger } from '../shared/logger';
import { recordAlerts } from '../shared/alerts';
import { connectRedis, logQueueErrors, waitForRedis } from '../shared/redis';
import { RenderJobData, RenderResult } from '../shared/renderJob';
import { AccountCredits, readBalances } from '../pool/accountCredits';
import { registerAccounts } from '../pool/accountRegistry';
import type { AccountLimiter } from '../pool/limiter/accountLimiter';
import { createLimiter } from '../pool/createLimiter';
import { createModelPauses } from '../pool/modelControl';
import { preloadLimiterScripts } from '../pool/limiter/limiterScripts';
import { warnAboutRedisSettings } from './redisSettings';
import { createRenderProcessor } from './render/renderProcessor';
import { createS3Client } from './storage/s3Client';
import { JobWaker } from '../pool/wakeJobs';
import { startStatusPoller } from './statusPoller';
import { createWorkerMetrics } from './metrics';
import { startNotifier } from './notify/startNotifier';
import { startWebhookServer } from './webhookServer/startWebhookServer';
import { queueTelemetry } from '../shared/tracing';
import { BatchLedger } from '../batch/batchLedger';
import { BatchCancelledError, BatchProgress } from './batchProgress';
import { sweepBatchManifests, writeBatchManifest } from './batchManifest';
import { wakeBudgetWaiters } from '../pool/budgetWaiters';

export interface WorkerRuntime {
  readonly worker: Worker<RenderJobData, RenderResult>;
  readonly queue: Queue<RenderJobData, RenderResult>;
  readonly limiter: AccountLimiter;
  /** Set where the dialect keeps a credit balance (KIE_API_STYLE=jobs). */
  readonly credits?: AccountCredits;
  readonly redis: Redis;
  /** Where the worker's HTTP server listens (WORKER_HTTP=true). */
  readonly httpUrl?: string;
  /** Stops taking jobs, lets running steps reach a persisted point (bounded), then disconnects. */
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 60_000;
/** How often a worker looks for ended batches whose manifest nobody writes (a cancel from the CLI, a writer that died). */
const MANIFEST_SWEEP_MS = 5_000;

export async function startWorker(config: Config, workerLogger: Logger): Promise<WorkerRuntime> {
  const redis = connectRedis(config.redisUrl, { logger: workerLogger });
  // The lines tagged `alert` also go to the console's list of recent alerts.
  const logger = recordAlerts(workerLogger, redis, config.limiterPrefix);
  await waitForRedis(redis, config.redisUrl, config.redisConnectTimeoutMs);
  await warnAboutRedisSettings(redis, logger);
  // So that `sora-batch status` in a shell without keys shows this fleet's accounts.
  await registerAccounts(redis, config.limiterPrefix, config.kie.accounts);
  const limiter = createLimiter(redis, config);
  // With tracing on, every run of a job's steps joins the trace its producer started.
  const telemetry = queueTelemetry(config);
  const queue = new Queue<RenderJobData, RenderResult>(config.queueName, { connection: redis, telemetry });
  logQueueErrors(queue, logger);
  const shutdown = new AbortController();
  // Every job waiting in-process listens for shutdown; there may be as many as the concurrency.
  setMaxListeners(0, shutdown.signal);

  const accountNames = config.kie.accounts.map((a) => a.name);
  const keepsCredits = dialectFor(config.kie).creditsPath !== undefined;
  const models = createModelPauses(redis, config);
  const metrics = createWorkerMetrics(
    queue,
    limiter,
    models,
    Object.keys(config.kie.models.entries),
    keepsCredits ? () => readBalances(redis, config.limiterPrefix, accountNames) : undefined,
  );
  const kie = new Map(config.kie.accounts.map((a) => [a.name, createKieClient(config, a, metrics.observeKieRequest)]));
  // Before the first request turn: a turn is taken before the send, and a cold start in between
  // (a new connection, a script not yet cached) would make the first request late.
  await Promise.all([warmKieConnection(config), preloadLimiterScripts(redis)]);
  const credits = keepsCredits ? new AccountCredits({ redis, config, limiter, kie, logger, signal: shutdown.signal, retries: metrics.kieRetries }) : undefined;
  // Before any job is taken: an account must not get work its balance cannot pay.
  await credits?.refreshStale();

  const waker = new JobWaker(redis);
  const wakeJobs = (members: readonly string[]): Promise<void> => waker.wake(members);
  // A job without a model (added before the catalog, or by a backend that names none) renders the default.
  const modelOf = async (member: string): Promise<string | undefined> => ((await waker.jobOf(member))?.data as RenderJobData | undefined)?.model;
  const poller = startStatusPoller({ config, redis, limiter, kie, logger, wakeJobs, modelOf, tasksTimedOut: metrics.tasksTimedOut });

  const notifier = startNotifier({ config, redis, logger, metrics, telemetry });
  const s3 = createS3Client(config);
  const manifests = { ledger: new BatchLedger(redis, config.limiterPrefix, config.queueName), s3, config, notifier, logger };
  const batches = new BatchProgress({ ...manifests, batchEnded: (batchId) => writeBatchManifest(manifests, batchId) });

  const processor = createRenderProcessor({
    config,
    logger,
    redis,
    limiter,
    credits,
    models,
    kie,
    s3,
    wakeJobs,
    signal: shutdown.signal,
    tasksTimedOut: metrics.tasksTimedOut,
    counters: metrics,
    batches,
  });

  const worker = new Worker<RenderJobData, RenderResult>(config.queueName, processor, {
    connection: redis,
    telemetry,
    concurrency: config.workerConcurrency,
    // The lock is renewed every lockDuration/2 while the process lives, so a long download is never
    // declared stalled; a dead worker's job is taken over within lockDuration + stalledInterval.
    lockDuration: config.workerLockMs,
    stalledInterval: config.workerLockMs,
    // Every step resumes from its persisted point, so a job that outlives several crashed workers is safe.
    maxStalledCount: 10,
  });

  worker.on('completed', (job, result) => {
    metrics.jobsStored.inc();
    metrics.bytesStored.inc(result.size);
    metrics.completionToStored.observe((Date.parse(result.storedAt) - Date.parse(result.completedAt)) / 1000);
    if (typeof job.data.notifyUrl === 'string') void notifier.enqueue(job.data.notifyUrl, { jobId: job.id!, status: 'stored', result });
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
    if (final) metrics.jobsFailed.inc();
    // Recorded by the run already, except for a job failed by the stalled check: idempotent.
    if (final)
      void batches
        .ended(job, err.message, err instanceof BatchCancelledError)
        .catch((e: Error) => logger.warn({ jobId: job.id, err: e.message }, 'recording the end of the job in its batch failed'));
    logger[final ? 'error' : 'warn'](
      { jobId: job.id, attemptsMade: job.attemptsMade, err: err.message },
      final ? 'job failed' : 'job attempt failed; will retry',
    );
    if (final && typeof job.data.notifyUrl === 'string') void notifier.enqueue(job.data.notifyUrl, { jobId: job.id!, status: 'failed', reason: err.message });
  });
  logQueueErrors(worker, logger, 'worker');

  // Failsafe for slots whose job vanished (removed by hand, or its worker and every retry lost):
  // their lease runs out, and this sweep hands the freed slots to waiting jobs.
  const sweeper = setInterval(() => {
    limiter
      .sweepExpiredSlots()
      .then(async ({ expired, wake }) => {
        for (const slot of expired) logger.warn(slot, 'slot lease expired: freed a slot whose job never came back');
        await wakeJobs(wake);
      })
      .catch((err: Error) => logger.warn({ err: err.message }, 'slot sweep failed'));
  }, SWEEP_INTERVAL_MS).unref();
  const manifestSweeper = setInterval(() => {
    sweepBatchManifests(manifests).catch((err: Error) => logger.warn({ err: err.message }, 'batch manifest sweep failed'));
  }, MANIFEST_SWEEP_MS).unref();
  // Several checks per period, so the fleet's reading is never much older than creditsRefreshMs.
  const creditsTimer = credits
    ? setInterval(
        () => void credits.refreshStale().catch((err: Error) => logger.warn({ err: err.message }, 'credit refresh failed')),
        Math.ceil(config.kie.creditsRefreshMs / 4),
      ).unref()
    : undefined;

  // Everything it runs with, secrets masked: the first thing to read when a fleet misbehaves.
  logger.info({ config: describeConfig(config) }, 'worker started');
  // KIE_DAILY_BUDGET_USD may have been raised for this start: the jobs waiting for money ask again.
  void wakeBudgetWaiters(redis, config.limiterPrefix).catch((err: Error) => logger.warn({ err: err.message }, 'waking the jobs waiting for a budget failed'));

  const http = config.workerHttp ? await startWebhookServer({ config, redis, logger, metrics: metrics.registry }) : undefined;
  if (http)
    logger.info(
      { host: http.host, port: http.port, callbacks: Boolean(config.webhook), metricsToken: Boolean(config.metricsToken) },
      'worker HTTP server: /healthz, /metrics' + (config.webhook ? ', KIE callbacks' : ''),
    );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      clearInterval(sweeper);
      clearInterval(manifestSweeper);
      clearInterval(creditsTimer);
      await http?.close();
      shutdown.abort();
      // Other workers' pollers go on checking this worker's tasks too.
      await poller.stop();
      const forced = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), config.shutdownTimeoutMs).unref());
      const result = await Promise.race([Promise.all([worker.close(), notifier.stop()]), forced]);
      if (result === 'timeout') {
        logger.warn('shutdown deadline passed: leaving the remaining jobs to be resumed by another worker');
        await Promise.all([worker.close(true), notifier.stop(true)]);
      }
      // The last jobs' outcomes are queued for delivery before the connection goes (within the deadline).
      await Promise.race([notifier.close(), forced]);
      await waker.close();
      await queue.close();
      await redis.quit().catch(() => redis.disconnect());
    })());

  return { worker, queue, limiter, credits, redis, httpUrl: http?.url, close };
}
