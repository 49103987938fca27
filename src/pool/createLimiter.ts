import type { Redis } from 'ioredis';
import type { AccountCaps, Config } from '../shared/config';
import { safetyNetBackoff } from './checkSchedule';
import { AccountLimiter } from './limiter/accountLimiter';

/** The fleet-wide limiter for the configured accounts and caps (or the given ones, for operator commands). */
export function createLimiter(redis: Redis, config: Config, accounts: readonly AccountCaps[] = config.kie.accounts): AccountLimiter {
  const safetyNet = safetyNetBackoff(config);
  return new AccountLimiter(redis, {
    prefix: config.limiterPrefix,
    accounts,
    minIntervalMs: config.kie.minIntervalMs,
    intervalMarginMs: config.kie.intervalMarginMs,
    rates: config.kie.rates,
    ...(safetyNet ? { safetyNet } : {}),
    dailyWindowMs: config.kie.dailyWindowMs,
    dailyWindow: config.kie.dailyWindow,
    slotLeaseMs: config.kie.slotLeaseMs,
    ...(config.kie.dailyBudgetUsd !== undefined ? { dailyBudgetUsd: config.kie.dailyBudgetUsd } : {}),
    tenantLimits: config.tenantLimits,
    ...(config.fairShares ? {} : { tenantHeartbeatMs: 0 }),
  });
}
