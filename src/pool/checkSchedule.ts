import type { Config } from '../shared/config';

/** With webhooks, callbacks announce finished tasks; polling is only the slow safety net. */
const SAFETY_NET_FACTOR = 6;

/**
 * How long past due a safety-net check waits while callbacks arrive for its account: they work, so
 * the turns go to creates (see claimCheck-5.lua).
 */
const SAFETY_NET_BACKOFF_FACTOR = 4;

/** How long after its submit or last check a task is due for a status check. */
export function checkDelayMs(config: Config): number {
  return config.webhook ? config.pollIntervalMs * SAFETY_NET_FACTOR : config.pollIntervalMs;
}

/**
 * With webhooks: callbacks count as arriving for one safety-net period after the last one, and
 * meanwhile safety-net checks wait `backoffMs` past due.
 */
export function safetyNetBackoff(config: Config): { quietMs: number; backoffMs: number } | undefined {
  if (!config.webhook) return undefined;
  const delay = checkDelayMs(config);
  return { quietMs: delay, backoffMs: delay * SAFETY_NET_BACKOFF_FACTOR };
}
