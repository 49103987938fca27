/**
 * Recent alerts for the console: every log line a worker tags with `alert` (a paused account or
 * model, a task that timed out, a possible duplicate charge...) is also kept in a short Redis
 * list, newest first, fleet-wide under LIMITER_PREFIX. The logs stay the record; this is a glance.
 */
import type { Redis } from 'ioredis';
import type { Logger } from './logger';

/** Alerts kept: enough for a screen, small enough to read on every refresh. */
export const ALERTS_KEPT = 50;

/** The fields of an alert line worth showing; anything else stays in the logs. */
const SHOWN = ['account', 'model', 'taskId', 'jobId', 'batchId', 'reason', 'kie', 'err', 'ageMs'] as const;

export interface Alert {
  at: string;
  alert: string;
  details: Record<string, string | number>;
}

export const alertsKey = (prefix: string): string => `${prefix}:alerts`;

/** A child of `logger` that also appends its `alert` lines (and its children's) to the list. */
export function recordAlerts(logger: Logger, redis: Redis, prefix: string): Logger {
  const key = alertsKey(prefix);
  return logger.child(
    {},
    {
      formatters: {
        log(line: object) {
          const object = line as Record<string, unknown>;
          if (typeof object.alert === 'string') {
            const details = Object.fromEntries(
              SHOWN.filter((f) => typeof object[f] === 'string' || typeof object[f] === 'number').map((f) => [f, object[f] as string | number]),
            );
            const entry: Alert = { at: new Date().toISOString(), alert: object.alert, details };
            // Fire and forget: an alert must never hold up (or fail) the work it reports on.
            redis
              .multi()
              .lpush(key, JSON.stringify(entry))
              .ltrim(key, 0, ALERTS_KEPT - 1)
              .exec()
              .catch(() => undefined);
          }
          return object;
        },
      },
    },
  );
}

export async function readAlerts(redis: Redis, prefix: string, count = ALERTS_KEPT): Promise<Alert[]> {
  return (await redis.lrange(alertsKey(prefix), 0, count - 1)).map((line) => JSON.parse(line) as Alert);
}
