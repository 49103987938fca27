import { Redis } from 'ioredis';

/**
 * A connection as BullMQ workers need it: commands wait through reconnects instead of failing
 * (maxRetriesPerRequest null), and reconnects back off up to 2 s, forever.
 */
export function connectRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(50 * times, 2000),
  });
}
