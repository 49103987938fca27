import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { logQueueErrors } from '../shared/redis';
import { parseSlotMember } from './slotMember';

/**
 * Promotes delayed jobs (slot waiters, or jobs whose task finished) so they run now. A job that
 * is no longer delayed (its failsafe timer fired, it finished) is left alone.
 */
export async function wakeJobs(queue: Queue, jobIds: readonly string[]): Promise<void> {
  for (const id of jobIds) {
    // promote() refuses a job that is not delayed (already woken by its failsafe, or finished).
    await (await Job.fromId(queue, id))?.promote().catch(() => undefined);
  }
}

/** Wakes jobs named by limiter members, whichever queue sharing the accounts they are on. */
export class JobWaker {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly connection: Redis) {}

  async wake(members: readonly string[]): Promise<void> {
    for (const member of members) {
      const { queueName, jobId } = parseSlotMember(member);
      let queue = this.queues.get(queueName);
      if (!queue) {
        this.queues.set(queueName, (queue = new Queue(queueName, { connection: this.connection })));
        logQueueErrors(queue);
      }
      await wakeJobs(queue, [jobId]);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
