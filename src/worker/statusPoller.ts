/**
 * Checks the status of every task in flight, for the whole process, one loop per account. Each
 * check takes a turn from the account's pacer (claimCheck): the due task submitted first, and
 * only when no submit is waiting for the turn. A finished task's slot is freed at once (so a
 * waiting job can submit) and its job is woken with the record, so it need not ask KIE again.
 * Several processes run pollers side by side; the pacer hands each turn to one of them. Jobs never
 * read their task's status themselves: every status request of the fleet goes through here.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import { KieError, TaskNotFoundError } from '../shared/errors';
import type { KieClient } from '../kie/types';
import type { Logger } from '../shared/logger';
import { handOverTaskOutcome, takeOutcomeAwaited } from './finishedTasks';
import { judgeStuckTask } from './stuckTask';
import { checkDelayMs } from '../pool/checkSchedule';
import { sendOnTurn } from '../pool/kieCall';
import type { AccountLimiter } from '../pool/limiter/accountLimiter';

export interface StatusPollerDeps {
  config: Config;
  redis: Redis;
  limiter: AccountLimiter;
  kie: ReadonlyMap<string, KieClient>;
  logger: Logger;
  wakeJobs(members: readonly string[]): Promise<void>;
  /** The catalog model of the job behind a member: its family decides where the task's record is read. */
  modelOf(member: string): Promise<string | undefined>;
  /** Counts tasks found stuck past KIE_TASK_TIMEOUT_MS. */
  tasksTimedOut?: { inc(): void };
}

export interface StatusPoller {
  stop(): Promise<void>;
}

/** Longest single sleep, so a poller notices new tasks and stops promptly. */
const MAX_NAP_MS = 1000;

export function startStatusPoller(deps: StatusPollerDeps): StatusPoller {
  const { config, limiter, logger } = deps;
  const stopping = new AbortController();
  // Never longer than one read turn: a callback may hurry a check at any moment, and the next turn
  // should confirm it.
  const longestNap = Math.min(MAX_NAP_MS, ...config.kie.accounts.map((a) => limiter.unitMs(a.name, 'read')));
  const nap = (ms: number): Promise<void> => sleep(Math.min(Math.max(ms, 1), longestNap), undefined, { signal: stopping.signal }).catch(() => undefined);

  async function check(account: string, member: string, taskId: string, ageMs: number): Promise<void> {
    const kie = deps.kie.get(account)!;
    // Outside the try: trouble reading the job is a poller hiccup, not KIE refusing the task.
    const model = await deps.modelOf(member);
    try {
      const answer = await sendOnTurn(limiter, account, 'read', () => kie.getTaskRecord(taskId, model));
      const record = judgeStuckTask(answer, { account, ageMs, timeoutMs: config.kie.taskTimeoutMs, log: logger, timedOut: deps.tasksTimedOut });
      if (record.state === 'generating') {
        await limiter.scheduleCheck(account, member, checkDelayMs(config));
        // A callback announced it done and its job is downloading the video: KIE does not confirm.
        if (await takeOutcomeAwaited(deps.redis, config.limiterPrefix, member)) await handOverTaskOutcome(deps.redis, config.limiterPrefix, member, { record });
        return;
      }
      // Refill the slot first: a waiting job's submit is what keeps the account busy; storing
      // this video (or resubmitting a failed or stuck task) can start a moment later.
      await deps.wakeJobs(await limiter.releaseSlot(account, member));
      await handOverTaskOutcome(deps.redis, config.limiterPrefix, member, { record });
      await deps.wakeJobs([member]);
    } catch (err) {
      if (err instanceof KieError && err.retryable) {
        logger.warn({ account, taskId, endpoint: err.endpoint, err: err.message }, 'status check failed; checking again later');
        await limiter.scheduleCheck(account, member, config.pollIntervalMs);
        return;
      }
      // Not ours to judge (unknown task, revoked key): the job fails with the reason.
      logger.warn({ account, taskId, err: (err as Error).message }, 'status check refused; handing the refusal to its job');
      await limiter.scheduleCheck(account, member, config.pollIntervalMs * 10);
      const refused = { refused: (err as Error).message, unknownTask: err instanceof TaskNotFoundError };
      await handOverTaskOutcome(deps.redis, config.limiterPrefix, member, refused);
      await deps.wakeJobs([member]);
    }
  }

  async function pollAccount(account: string): Promise<void> {
    while (!stopping.signal.aborted) {
      try {
        const claim = await limiter.claimCheck(account);
        if (claim.claimed) await check(account, claim.jobId, claim.taskId, claim.ageMs);
        else await nap(claim.waitMs ?? config.pollIntervalMs);
      } catch (err) {
        logger.warn({ account, err: (err as Error).message }, 'status poller hiccup');
        await nap(MAX_NAP_MS);
      }
    }
  }

  const loops = config.kie.accounts.map((a) => pollAccount(a.name));
  return {
    async stop() {
      stopping.abort();
      await Promise.all(loops);
    },
  };
}
