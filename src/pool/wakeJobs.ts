import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { logQueueErrors } from '../shared/redis';
import { parseSlotMember } from './slotMember';

/**
 * A job is woken while still active when the wake comes between its decision to wait (it joined
 * the slot waiters, or handed its task to the status poller) and its move to delayed: promote()
 * refuses it, and without more the job would sleep its whole failsafe delay while a slot stays
 * idle. The waker then leaves this mark and promotes once more; the job reads the mark right after
 * its move (takeWakePending) and promotes itself. Whichever of the two comes second sees the
 * other, so the wake is never lost: the waker's second promote finds the job delayed, or the job
 * finds the mark. (One script cannot do both: the move and the promotion are BullMQ's own.)
 * The mark only has to outlive that gap of a few round trips.
 */
const WAKE_PENDING_TTL_SECONDS = 60;

const wakePendingKey = (job: Job): string => `${job.queueQualifiedName}:${job.id}:wake`;

const promoted = (job: Job): Promise<boolean> =>
  job.promote().then(
    () => true,
    () => false,
  );

/**
 * Promotes delayed jobs (slot waiters, or jobs whose task finished) so they run now. A job still
 * active gets a wake-pending mark (see above); a finished job is left alone.
 */
export async function wakeJobs(redis: Redis, queue: Queue, jobIds: readonly string[]): Promise<void> {
  for (const id of jobIds) {
    const job = await Job.fromId(queue, id);
    if (!job || (await promoted(job))) continue;
    const state = await job.getState();
    if (state === 'active') await redis.set(wakePendingKey(job), '1', 'EX', WAKE_PENDING_TTL_SECONDS);
    if (state === 'active' || state === 'delayed') await promoted(job);
  }
}

/** True (once) when a wake came while the job was still active; call it right after moving the job to delayed. */
export async function takeWakePending(redis: Redis, job: Job): Promise<boolean> {
  return (await redis.getdel(wakePendingKey(job))) !== null;
}

/** Wakes (or reads) jobs named by limiter members, whichever queue sharing the accounts they are on. */
export class JobWaker {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly connection: Redis) {}

  async wake(members: readonly string[]): Promise<void> {
    for (const member of members) {
      const { queueName, jobId } = parseSlotMember(member);
      await wakeJobs(this.connection, this.queueFor(queueName), [jobId]);
    }
  }

  /** The job a member names, if it still exists. */
  async jobOf(member: string): Promise<Job | undefined> {
    const { queueName, jobId } = parseSlotMember(member);
    return Job.fromId(this.queueFor(queueName), jobId);
  }

  private queueFor(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      this.queues.set(name, (queue = new Queue(name, { connection: this.connection })));
      logQueueErrors(queue);
    }
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
