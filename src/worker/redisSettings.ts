import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger';

/**
 * Queue data must survive a Redis restart and must never be evicted. Managed Redis services may
 * forbid CONFIG; then we say we could not check rather than guess.
 */
export async function warnAboutRedisSettings(redis: Redis, logger: Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
    if (policy !== 'noeviction') {
      logger.warn({ policy }, 'Redis maxmemory-policy is not noeviction: Redis may evict queue data; set maxmemory-policy noeviction');
    }
    if (aof !== 'yes') {
      logger.warn('Redis appendonly is off: a Redis restart loses every queued job; set appendonly yes for production');
    }
  } catch {
    logger.info('could not read the Redis settings (CONFIG GET refused); make sure maxmemory-policy is noeviction and appendonly is on');
  }
}
