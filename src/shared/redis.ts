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

/**
 * Whether Redis answers a PING within `timeoutMs`, for health checks: the connection waits
 * through reconnects, so a health check must not wait with it.
 */
export async function redisAnswers(redis: Redis, timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([redis.ping().then((answer) => answer === 'PONG', () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
