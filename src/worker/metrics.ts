/**
 * Prometheus metrics of a worker process. Queue and account gauges are read from Redis at scrape
 * time (they are fleet-wide: any one worker shows them); counters are this process's own.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';
import type { AccountLimiter } from '../pool/limiter/accountLimiter';
import type { CreditBalance } from '../pool/accountCredits';
import type { KieRequestObserver } from '../kie/requestOutcome';
import type { ModelPauses } from '../pool/modelPauses';

const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export interface WorkerMetrics {
  registry: Registry;
  jobsStored: Counter;
  jobsFailed: Counter;
  bytesStored: Counter;
  /** KIE tasks found stuck in generating past KIE_TASK_TIMEOUT_MS (treated as failed). */
  tasksTimedOut: Counter;
  /** Poster frames (POSTERS=true) that could not be made; their renders are stored all the same. */
  postersFailed: Counter;
  /** Seconds from KIE's completion to the object in S3 (the link TTL is 20 minutes). */
  completionToStored: Histogram;
  notificationsDelivered: Counter;
  /** Attempts that failed and will be tried again. */
  notificationsRetried: Counter;
  /** Notifications given up: `reason` permanent (refused destination, 4xx, redirect), exhausted, not-queued. */
  notificationsFailed: Counter<'reason'>;
  /** Every KIE request the clients sent, retries included, by endpoint (method and path) and outcome. */
  kieRequests: Counter<'endpoint' | 'outcome'>;
  /** HTTP 429s per account: requests KIE judged too close to the one before. */
  kieRateLimited: Counter<'account'>;
  /** KIE requests tried again after a transient failure. */
  kieRetries: Counter<'account'>;
  /** Creates sent without an answer that proves nothing was created. */
  ambiguousSubmits: Counter<'account'>;
  /** Credits of every task KIE created or a job adopted, at the configured prices. */
  creditsSpent: Counter<'account'>;
  /** Counts a KIE request (handed to each KIE client). */
  observeKieRequest: KieRequestObserver;
}

/** What the render steps count (the rest is counted where jobs end). */
export type RenderCounters = Pick<WorkerMetrics, 'kieRetries' | 'ambiguousSubmits' | 'creditsSpent' | 'postersFailed'>;

/** `creditBalances` where the dialect keeps a credit balance (KIE_API_STYLE=jobs). */
export function createWorkerMetrics(
  queue: Queue,
  limiter: AccountLimiter,
  models: ModelPauses,
  modelIds: readonly string[],
  creditBalances?: () => Promise<CreditBalance[]>,
): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'sora_queue_jobs',
    help: 'Jobs in the render queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await queue.getJobCounts(...JOB_STATES);
      for (const state of JOB_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });

  // One read of the limiter serves every account gauge of a scrape.
  let statusRead: ReturnType<AccountLimiter['status']> | undefined;
  const accountGauge = (name: string, help: string, pick: (a: Awaited<ReturnType<AccountLimiter['status']>>[number]) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['account'],
      registers: [registry],
      async collect() {
        statusRead ??= limiter.status().finally(() => setTimeout(() => (statusRead = undefined), 100));
        for (const a of await statusRead) this.set({ account: a.account }, pick(a));
      },
    });
  };
  accountGauge('sora_account_in_flight', 'KIE tasks generating per account', (a) => a.inFlight);
  accountGauge('sora_account_max_concurrent', 'Concurrency cap per account', (a) => a.maxConcurrent);
  accountGauge('sora_account_submits_in_window', 'Submits in the current daily window per account', (a) => a.submitsInWindow);
  accountGauge('sora_account_daily_limit', 'Daily submit cap per account', (a) => a.dailyLimit);
  accountGauge(
    'sora_account_margin_ms',
    "Margin added to the account's rate windows now: the base plus what interval 429s added (shrinks back over minutes)",
    (a) => a.marginMs,
  );
  accountGauge('sora_account_paused', '1 when the account is out of rotation (e.g. insufficient credits)', (a) => (a.paused ? 1 : 0));
  accountGauge('sora_slot_waiters', 'Jobs waiting for a free slot (pool-wide)', (a) => a.waiters);
  if (creditBalances) {
    new Gauge({
      name: 'sora_account_credits',
      help: 'Known KIE credit balance per account, less what submits spent since it was read (KIE_API_STYLE=jobs)',
      labelNames: ['account'],
      registers: [registry],
      async collect() {
        for (const b of await creditBalances()) this.set({ account: b.account }, b.credits);
      },
    });
  }

  const kieRequests = new Counter({
    name: 'sora_kie_requests_total',
    help: 'KIE requests by endpoint and outcome (ok, refused, unauthorized, model-unavailable, rate-limited, transient, ambiguous, unreachable, error)',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
  });
  const kieRateLimited = new Counter({
    name: 'sora_kie_rate_limited_total',
    help: 'KIE answers 429 (rate limited) per account',
    labelNames: ['account'],
    registers: [registry],
  });

  new Gauge({
    name: 'sora_model_paused',
    help: '1 while a catalog model is paused fleet-wide (KIE paused or does not know it, or an operator)',
    labelNames: ['model'],
    registers: [registry],
    async collect() {
      for (const m of await models.status(modelIds)) this.set({ model: m.model }, m.paused ? 1 : 0);
    },
  });

  return {
    registry,
    jobsStored: new Counter({ name: 'sora_jobs_stored_total', help: 'Jobs whose video this process stored', registers: [registry] }),
    jobsFailed: new Counter({ name: 'sora_jobs_failed_total', help: 'Jobs this process failed for good', registers: [registry] }),
    bytesStored: new Counter({ name: 'sora_video_bytes_stored_total', help: 'Video bytes this process stored in S3', registers: [registry] }),
    tasksTimedOut: new Counter({
      name: 'sora_tasks_timed_out_total',
      help: 'KIE tasks this process found still generating past KIE_TASK_TIMEOUT_MS, treated as failed and their slots freed',
      registers: [registry],
    }),
    postersFailed: new Counter({
      name: 'sora_posters_failed_total',
      help: 'Poster frames (POSTERS=true) this process could not make; the videos were stored all the same',
      registers: [registry],
    }),
    completionToStored: new Histogram({
      name: 'sora_completion_to_stored_seconds',
      help: 'From KIE reporting the task done to the verified object in S3',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1200],
      registers: [registry],
    }),
    notificationsDelivered: new Counter({
      name: 'sora_notifications_delivered_total',
      help: 'Notifications a notifyUrl accepted (2xx)',
      registers: [registry],
    }),
    notificationsRetried: new Counter({
      name: 'sora_notifications_retried_total',
      help: 'Notification attempts that failed and will be retried',
      registers: [registry],
    }),
    notificationsFailed: new Counter({
      name: 'sora_notifications_failed_total',
      help: 'Notifications given up: permanent (refused destination, 4xx, redirect), exhausted (every attempt failed), not-queued',
      labelNames: ['reason'],
      registers: [registry],
    }),
    kieRequests,
    kieRateLimited,
    kieRetries: new Counter({
      name: 'sora_kie_retries_total',
      help: 'KIE requests tried again after a transient failure, per account',
      labelNames: ['account'],
      registers: [registry],
    }),
    ambiguousSubmits: new Counter({
      name: 'sora_ambiguous_submits_total',
      help: 'Creates sent to KIE without an answer that proves nothing was created (adopted via callback, or the ambiguous policy applies)',
      labelNames: ['account'],
      registers: [registry],
    }),
    creditsSpent: new Counter({
      name: 'sora_credits_spent_total',
      help: 'KIE credits of every task created or adopted, at the configured prices, per account',
      labelNames: ['account'],
      registers: [registry],
    }),
    observeKieRequest({ account, endpoint, outcome }) {
      kieRequests.inc({ endpoint, outcome });
      if (outcome === 'rate-limited') kieRateLimited.inc({ account });
    },
  };
}
