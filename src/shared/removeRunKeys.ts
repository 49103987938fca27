import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { notificationQueueName } from './renderJob';

/**
 * Removes what a run (the demo, the stack, a test) left in Redis: its queue and its notification
 * queue (jobs, events, meta) and its account pool's keys. For throw-away queues only: this is not
 * how a fleet stops.
 */
export async function removeRunKeys(redis: Redis, queueName: string, limiterPrefix: string): Promise<void> {
  for (const name of [queueName, notificationQueueName(queueName)]) {
    const queue = new Queue(name, { connection: redis });
    try {
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
  }
  for await (const keys of redis.scanStream({ match: `${limiterPrefix}:*`, count: 500 }) as AsyncIterable<string[]>) {
    if (keys.length) await redis.del(...keys);
  }
}
