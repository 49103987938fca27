/**
 * Tells a job's `notifyUrl` how the job ended, from a BullMQ queue of its own
 * (`${QUEUE_NAME}-notifications`) that every worker process serves: at least once, retried with
 * exponential backoff for about three days, and never in the way of a render.
 */
import { createHash } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { Queue, UnrecoverableError, Worker, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../../shared/config';
import { notificationQueueName } from '../../shared/renderJob';
import { NotificationError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { inSpan } from '../../shared/tracing';
import type { WorkerMetrics } from '../metrics';
import { deliverNotification, type DeliveryOptions, type Notification } from './deliverNotification';

export type RenderOutcome = { jobId: string; status: 'stored'; result: unknown } | { jobId: string; status: 'failed'; reason: string };

/** A batch that ended: every job stored, failed or cancelled, and its manifest written. */
export interface BatchCompleted {
  batchId: string;
  /** `finished`, or `cancelled` when it ended after a cancel. */
  status: 'finished' | 'cancelled';
  /** Which end of the batch (a job joining an ended batch opens it again): part of the webhook-id. */
  end: number;
  [field: string]: unknown;
}

export interface NotificationJobData extends Notification {
  /** What it reports on (for logs): the render job's id, or `batch:<batchId>`. */
  jobId: string;
}

export interface Notifier {
  /** Queues the outcome for delivery to `url`. Never rejects: a render's outcome does not depend on its notification. */
  enqueue(url: string, outcome: RenderOutcome): Promise<void>;
  /** Queues a `batch.completed` event for the batch's notifyUrl; the same end queued twice is one notification. Never rejects. */
  enqueueBatch(url: string, event: BatchCompleted): Promise<void>;
  /** Stops delivering (`force`: without waiting for attempts in flight, which are retried elsewhere). */
  stop(force?: boolean): Promise<void>;
  /** Waits for outcomes still being queued, then closes the queue. */
  close(): Promise<void>;
}

const NOTIFICATION_JOB_NAME = 'notify';
const DELIVERY_CONCURRENCY = 16;
const MAX_BACKOFF_MS = 6 * 3_600_000;

/**
 * The `webhook-id` of an outcome: the same for every attempt and every worker, so receivers can
 * dedupe by it. Hashed, because the spec forbids '.' in it and job ids may hold anything.
 */
export function webhookIdFor(queueName: string, outcome: RenderOutcome): string {
  return messageId(`${queueName}\n${outcome.jobId}\n${outcome.status}`);
}

/** The `webhook-id` of one end of a batch, as webhookIdFor (no job id starts with a NUL). */
export function batchWebhookIdFor(queueName: string, event: BatchCompleted): string {
  return messageId(`${queueName}\n\0batch\n${event.batchId}\n${event.end}`);
}

function messageId(identity: string): string {
  return `msg_${createHash('sha256').update(identity).digest('hex').slice(0, 32)}`;
}

/**
 * Delay before the next attempt after `attemptsMade` failed ones: baseMs doubling, capped at 6 h,
 * at least what the receiver's Retry-After asked for, with ±20 % jitter so a receiver that comes
 * back is not hit by every waiting notification at once.
 */
export function notificationBackoff(attemptsMade: number, baseMs: number, err?: Error, random: () => number = Math.random): number {
  const exponential = Math.min(baseMs * 2 ** (attemptsMade - 1), MAX_BACKOFF_MS);
  const asked = err instanceof NotificationError ? Math.min(err.retryAfterMs ?? 0, MAX_BACKOFF_MS) : 0;
  return Math.round(Math.max(exponential * (0.8 + 0.4 * random()), asked));
}

/** The scheme, host and port only: a notifyUrl's path or query may hold the receiver's own token. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

/**
 * One delivery attempt in a span of its own (destination origin, webhook-id, attempt, outcome): with
 * tracing on, it joins the render's trace, since the notification is queued while the render's
 * last step still runs.
 */
function deliverInSpan(data: NotificationJobData, attempt: number, delivery: DeliveryOptions): Promise<void> {
  const destination = originOf(data.url);
  const attributes = { 'notify.destination': destination, 'notify.webhook_id': data.webhookId, 'notify.attempt': attempt, 'notify.job_id': data.jobId };
  return inSpan(
    `notify ${destination}`,
    attributes,
    async (span) => {
      try {
        await deliverNotification(data, delivery);
        span.setAttribute('notify.outcome', 'delivered');
      } catch (err) {
        span.setAttribute('notify.outcome', err instanceof NotificationError && err.permanent ? 'refused' : 'failed');
        throw err;
      }
    },
    SpanKind.CLIENT,
  );
}

export function startNotifier(deps: { config: Config; redis: Redis; logger: Logger; metrics: WorkerMetrics; telemetry?: Telemetry }): Notifier {
  const { config, redis, metrics, telemetry } = deps;
  const logger = deps.logger.child({ component: 'notify' });
  const name = notificationQueueName(config.queueName);
  const queue = new Queue<NotificationJobData>(name, { connection: redis, telemetry });
  const signer = config.notify.secret ? new Webhook(config.notify.secret) : undefined;
  if (!signer) logger.warn('NOTIFY_SECRET is not set: notifications are sent unsigned, and receivers cannot tell them from forgeries');
  const delivery: DeliveryOptions = { signer, allowPrivate: config.notify.allowPrivate, timeoutMs: config.notify.timeoutMs };

  const worker = new Worker<NotificationJobData>(
    name,
    async (job) => {
      const attempt = job.attemptsMade + 1;
      const log = { jobId: job.data.jobId, webhookId: job.data.webhookId, destination: originOf(job.data.url), attempt };
      try {
        await deliverInSpan(job.data, attempt, delivery);
      } catch (err) {
        const failure = err instanceof NotificationError ? err : new NotificationError((err as Error).message, false);
        if (failure.permanent) {
          metrics.notificationsFailed.inc({ reason: 'permanent' });
          logger.error({ ...log, err: failure.message }, 'notification failed for good');
          throw new UnrecoverableError(failure.message);
        }
        if (attempt >= (job.opts.attempts ?? 1)) {
          metrics.notificationsFailed.inc({ reason: 'exhausted' });
          logger.error({ ...log, err: failure.message }, 'notification failed for good: every attempt failed');
        } else {
          metrics.notificationsRetried.inc();
          logger.warn({ ...log, err: failure.message }, 'notification not delivered; will retry');
        }
        throw failure;
      }
      metrics.notificationsDelivered.inc();
      logger.info(log, 'notification delivered');
    },
    {
      connection: redis,
      telemetry,
      concurrency: DELIVERY_CONCURRENCY,
      maxStalledCount: 5,
      settings: { backoffStrategy: (attemptsMade, _type, err) => notificationBackoff(attemptsMade, config.notify.retryBaseMs, err) },
    },
  );
  worker.on('error', (err) => logger.error({ err: err.message }, 'notification worker error'));

  const queuing = new Set<Promise<void>>();
  const add = (url: string, webhookId: string, body: string, about: string): Promise<void> => {
    const queued = queue
      .add(
        NOTIFICATION_JOB_NAME,
        { url, webhookId, body, jobId: about },
        {
          // The same outcome queued twice is one notification.
          jobId: webhookId,
          attempts: config.notify.attempts,
          backoff: { type: 'notification' },
          removeOnComplete: { age: 24 * 3600, count: 10_000 },
          removeOnFail: { age: 14 * 24 * 3600, count: 10_000 },
        },
      )
      .then(
        () => undefined,
        (err: Error) => {
          metrics.notificationsFailed.inc({ reason: 'not-queued' });
          logger.error({ jobId: about, webhookId, err: err.message }, "notification could not be queued; the job's state in the queue stays the record");
        },
      )
      .finally(() => queuing.delete(queued));
    queuing.add(queued);
    return queued;
  };
  return {
    enqueue(url, outcome) {
      const body = JSON.stringify({ ...outcome, type: `render.${outcome.status}`, timestamp: new Date().toISOString() });
      return add(url, webhookIdFor(config.queueName, outcome), body, outcome.jobId);
    },
    enqueueBatch(url, event) {
      const body = JSON.stringify({ ...event, type: 'batch.completed', timestamp: new Date().toISOString() });
      return add(url, batchWebhookIdFor(config.queueName, event), body, `batch:${event.batchId}`);
    },
    stop: (force = false) => worker.close(force),
    async close() {
      await Promise.all(queuing);
      await queue.close();
    },
  };
}
