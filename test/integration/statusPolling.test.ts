/**
 * Every status read of a task goes through the account's status poller (claimCheck, against the
 * pacer), whatever woke or resumed its job: a job never polls KIE on a timer of its own.
 */
import { randomUUID } from 'node:crypto';
import { createKieClient } from '../../src/kie/client';
import type { TurnKind } from '../../src/pool/limiter/accountLimiter';
import { accountKeys } from '../../src/pool/limiter/limiterKeys';
import { slotMember } from '../../src/pool/slotMember';
import { parseRenderRequest } from '../../src/shared/renderRequest';
import type { RenderJobData } from '../../src/shared/renderJob';
import type { WorkerRuntime } from '../../src/worker/runtime';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

let stack: RenderStack;
afterAll(() => stack?.close());
beforeAll(async () => {
  // Generation outlasts the resumed job's first moments, so a check of its own would see it running.
  stack = await startRenderStack({ sim: { generationMs: 2000 } });
});

/** Records which tasks the pollers claimed and every turn taken for a status read outside them. */
function spyOnPolling(runtime: WorkerRuntime): { claimed: string[]; ownPolls: TurnKind[] } {
  const { limiter } = runtime;
  const seen = { claimed: [] as string[], ownPolls: [] as TurnKind[] };
  const claimCheck = limiter.claimCheck.bind(limiter);
  limiter.claimCheck = async (account, nowMs) => {
    const claim = await claimCheck(account, nowMs);
    if (claim.claimed) seen.claimed.push(claim.jobId);
    return claim;
  };
  const waitForRequestTurn = limiter.waitForRequestTurn.bind(limiter);
  limiter.waitForRequestTurn = async (account, kind, signal) => {
    if (kind === 'poll') seen.ownPolls.push(kind);
    return waitForRequestTurn(account, kind, signal);
  };
  return seen;
}

/** A job as a worker leaves it when it dies right after persisting `generating`, before binding its task. */
async function diedBeforeBinding(runtime: WorkerRuntime, prompt: string, taskId?: string): Promise<{ jobId: string; member: string; taskId: string }> {
  const jobId = randomUUID();
  const member = slotMember(stack.config.queueName, jobId);
  expect(await runtime.limiter.acquireSubmit(member)).toMatchObject({ granted: true, account: 'default' });
  const id = taskId ?? (await createKieClient(stack.config, stack.config.kie.accounts[0]!).createTask(parseRenderRequest({ prompt })));
  const data: RenderJobData = { prompt, render: { step: 'generating', account: 'default', taskId: id, submittedAt: Date.now(), submits: 1 } };
  await stack.queue.add('render', data, { jobId });
  return { jobId, member, taskId: id };
}

it('a job resumed between persisting its taskId and binding it is polled by the account poller, not by itself', async () => {
  const runtime = await stack.startWorker();
  const seen = spyOnPolling(runtime);
  const { jobId, member, taskId } = await diedBeforeBinding(runtime, 'resumed before its task was bound');

  // Before the old 60 s failsafe: found done by the poller and stored.
  expect((await stack.waitForJobs([jobId], 10_000)).get(jobId)).toBe('completed');
  expect((await stack.queue.getJob(jobId))!.returnvalue.taskId).toBe(taskId);
  expect(seen.claimed).toContain(member);
  expect(seen.ownPolls).toEqual([]);
  const keys = accountKeys(stack.config.limiterPrefix, 'default');
  expect(await stack.redis.zscore(keys.slots, member)).toBeNull();
  await runtime.close();
});

it('a task KIE does not know fails its job with the reason the poller was given', async () => {
  const runtime = await stack.startWorker();
  const seen = spyOnPolling(runtime);
  const { jobId, member } = await diedBeforeBinding(runtime, 'a task that never existed', 'no-such-task');

  expect((await stack.waitForJobs([jobId], 10_000)).get(jobId)).toBe('failed');
  expect((await stack.queue.getJob(jobId))!.failedReason).toMatch(/KIE does not know task no-such-task of account default/);
  expect(seen.claimed).toContain(member);
  expect(seen.ownPolls).toEqual([]);
  // Its slot is free again.
  expect((await runtime.limiter.status())[0]!.inFlight).toBe(0);
});
