/**
 * How a job is named in the limiter's sets. Several queues may share the same KIE accounts (one
 * LIMITER_PREFIX), and BullMQ's job ids are only unique within a queue, so the name carries both.
 * QUEUE_NAME may not contain '/', so the first '/' splits the two.
 */
export function slotMember(queueName: string, jobId: string): string {
  return `${queueName}/${jobId}`;
}

export function parseSlotMember(member: string): { queueName: string; jobId: string } {
  const at = member.indexOf('/');
  return { queueName: member.slice(0, at), jobId: member.slice(at + 1) };
}
