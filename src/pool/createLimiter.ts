import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import { AccountLimiter } from './limiter/accountLimiter';

/** The fleet-wide limiter for the configured accounts and caps. */
export function createLimiter(redis: Redis, config: Config): AccountLimiter {
  return new AccountLimiter(redis, {
    prefix: config.limiterPrefix,
    accounts: config.kie.accounts,
    minIntervalMs: config.kie.minIntervalMs,
    intervalMarginMs: config.kie.intervalMarginMs,
    dailyWindowMs: config.kie.dailyWindowMs,
    dailyWindow: config.kie.dailyWindow,
    slotLeaseMs: config.kie.slotLeaseMs,
  });
}
