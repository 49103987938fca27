/**
 * A task KIE still reports generating KIE_TASK_TIMEOUT_MS after its submit is stuck. Every "still
 * generating" answer renews its slot's lease, so it would hold that slot for good (ten of them, the
 * whole account). Whoever sees it first, the account's status poller or the job's own check,
 * judges it failed the same way: its slot is freed and KIE_FAILED_TASK_POLICY applies.
 */
import type { TaskRecord } from '../kie/types';
import type { Logger } from '../shared/logger';

export interface StuckTaskCheck {
  account: string;
  /** Since the task's submit. */
  ageMs: number;
  timeoutMs: number;
  log: Logger;
  /** Counts every task judged stuck (a Prometheus counter in the worker). */
  timedOut?: { inc(): void };
}

const minutes = (ms: number): string => (ms / 60_000).toFixed(ms < 600_000 ? 1 : 0);

/** The record the worker acts on: a task still generating past the timeout is a failed one. */
export function judgeStuckTask(record: TaskRecord, check: StuckTaskCheck): TaskRecord {
  const { account, ageMs, timeoutMs, log } = check;
  if (record.state !== 'generating' || ageMs < timeoutMs) return record;
  const failReason = `stuck in generating for ${minutes(ageMs)} min (KIE_TASK_TIMEOUT_MS=${timeoutMs})`;
  log.warn({ account, taskId: record.taskId, ageMs, alert: 'task-timed-out' }, `KIE task ${record.taskId} ${failReason}: treated as failed, its slot freed`);
  check.timedOut?.inc();
  return { ...record, state: 'failed', failReason };
}
