import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
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

/** Wakes (or reads) jobs named by limiter members, whichever queue sharing the accounts they are on. */
export class JobWaker {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly connection: Redis) {}

  async wake(members: readonly string[]): Promise<void> {
    for (const member of members) {
      const { queueName, jobId } = parseSlotMember(member);
      await wakeJobs(this.queueFor(queueName), [jobId]);
    }
  }

  /** The job a member names, if it still exists. */
  async jobOf(member: string): Promise<Job | undefined> {
    const { queueName, jobId } = parseSlotMember(member);
    return Job.fromId(this.queueFor(queueName), jobId);
  }

  private queueFor(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) this.queues.set(name, (queue = new Queue(name, { connection: this.connection })));
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

/** Wakes the members once, with a waker of its own (operator commands, which hold no worker). */
export async function wakeMembers(connection: Redis, members: readonly string[]): Promise<void> {
  const waker = new JobWaker(connection);
  try {
    await waker.wake(members);
  } finally {
    await waker.close();
  }
}
