/**
 * Redis connections for limiter tests: each limiter on a key prefix of its own, every key of those
 * prefixes deleted and every connection closed after the test file.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface LimiterRedis {
  /** Every connection opened so far, oldest first. */
  readonly connections: Redis[];
  connect(): Redis;
  /** A fresh key prefix starting with `base`, cleaned up after the file. */
  newPrefix(base: string): string;
}

export function useLimiterRedis(): LimiterRedis {
  const connections: Redis[] = [];
  const prefixes: string[] = [];
  const connect = (): Redis => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    connections.push(redis);
    return redis;
  };
  afterAll(async () => {
    const redis = connections[0] ?? connect();
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
    }
    await Promise.all(connections.map((c) => c.quit()));
  });
  return {
    connections,
    connect,
    newPrefix(base) {
      const prefix = `${base}-${randomUUID()}`;
      prefixes.push(prefix);
      return prefix;
    },
  };
}
