/**
 * A callback announces the task of an ambiguous submit (the create got no answer, or its worker
 * died before writing the taskId). The job adopts it only once KIE confirms, in one paced record
 * read on the job's account, that the task exists there and (jobs API, which echoes the create
 * body) was created for this job; any other task is not adopted and the job waits on.
 */
import { randomUUID } from 'node:crypto';
import { createKieClient } from '../../src/kie/client';
import { slotMember } from '../../src/pool/slotMember';
import { callbackUrl } from '../../src/shared/callbackToken';
import type { RenderJobData } from '../../src/shared/renderJob';
import { parseRenderRequest } from '../../src/shared/renderRequest';
import { callbackTaskFor, recordCallbackTask } from '../../src/worker/callbackInbox';
import type { WorkerRuntime } from '../../src/worker/runtime';
import { waitUntil } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

const WEBHOOK = { WEBHOOK_BASE_URL: 'http://127.0.0.1:9', WEBHOOK_SECRET: 'adoption-test-secret-0123456789' };

describe.each(['jobs', 'sora'] as const)('KIE_API_STYLE=%s', (style) => {
  let stack: RenderStack;
  let runtime: WorkerRuntime;
  beforeAll(async () => {
    // The simulator's own callbacks go nowhere: the announcements below are the only ones.
    stack = await startRenderStack({ env: { KIE_API_STYLE: style, KIE_AMBIGUOUS_GRACE_MS: '600000', ...WEBHOOK } });
    runtime = await stack.startWorker();
  });
  afterAll(() => stack?.close());

  const kie = () => createKieClient(stack.config, stack.config.kie.accounts[0]!);
  const callBackFor = (jobId: string) => callbackUrl(WEBHOOK.WEBHOOK_BASE_URL, WEBHOOK.WEBHOOK_SECRET, stack.config.queueName, jobId);

  /** A job whose create may have reached KIE (slot held, `submitting`, no taskId), with `taskId` announced by a callback. */
  async function ambiguousJobAnnouncing(prompt: string, taskId: (jobId: string) => Promise<string>): Promise<{ jobId: string; taskId: string }> {
    const jobId = randomUUID();
    // The slot its submit took (after the request turn a credit read may hold).
    const member = slotMember(stack.config.queueName, jobId);
    let grant = await runtime.limiter.acquireSubmit(member);
    while (!grant.granted) {
      expect(grant.reason).toBe('interval');
      await new Promise((r) => setTimeout(r, 'waitMs' in grant ? grant.waitMs : 0));
      grant = await runtime.limiter.acquireSubmit(member);
    }
    const announced = await taskId(jobId);
    await recordCallbackTask(stack.redis, stack.config.limiterPrefix, stack.config.queueName, jobId, announced);
    const data: RenderJobData = { prompt, render: { step: 'submitting', account: 'default', submitStartedAt: Date.now(), submits: 0 } };
    await stack.queue.add('render', data, { jobId });
    return { jobId, taskId: announced };
  }

  const notAdopted = async (jobId: string, taskId: string): Promise<void> => {
    await waitUntil(() => stack.logs.some((l) => l.includes(jobId) && l.includes('not adopted')), 'the announcement refused', 10_000);
    expect(stack.logs.find((l) => l.includes(jobId) && l.includes('not adopted'))).toContain(taskId);
    await waitUntil(async () => (await stack.queue.getJobState(jobId)) === 'delayed', 'the job to wait on');
    const job = (await stack.queue.getJob(jobId))!;
    expect(job.data.render).toMatchObject({ step: 'submitting', submits: 0 });
    expect(job.data.render!.taskId).toBeUndefined();
    // The announcement is dropped, so a genuine callback can still be recorded.
    expect(await callbackTaskFor(stack.redis, stack.config.limiterPrefix, stack.config.queueName, jobId)).toBeUndefined();
  };

  it('the task this job created is confirmed, adopted and stored: one task, no resubmit', async () => {
    const prompt = `adopted after an ambiguous submit (${style})`;
    const { jobId, taskId } = await ambiguousJobAnnouncing(prompt, (id) => kie().createTask(parseRenderRequest({ prompt }), callBackFor(id)));
    expect((await stack.waitForJobs([jobId], 15_000)).get(jobId)).toBe('completed');
    const job = (await stack.queue.getJob(jobId))!;
    expect(job.returnvalue.taskId).toBe(taskId);
    expect(job.data.render).toMatchObject({ taskId, submits: 1 });
    expect(stack.sim.counters.submitsByPrompt.get(prompt)).toBe(1);
  });

  it("a task unknown to the job's account is not adopted; the job waits on", async () => {
    const { jobId, taskId } = await ambiguousJobAnnouncing('announced a task that does not exist', async () => 'no-such-task');
    await notAdopted(jobId, taskId);
  });

  if (style === 'jobs') {
    it('a task created for another job (its prompt and callBackUrl) is not adopted; the job waits on', async () => {
      const { jobId, taskId } = await ambiguousJobAnnouncing('the job that asked', () =>
        kie().createTask(parseRenderRequest({ prompt: 'another job entirely' }), callBackFor('another-job')),
      );
      await notAdopted(jobId, taskId);
      expect(stack.logs.find((l) => l.includes(jobId) && l.includes('not adopted'))).toMatch(/another prompt, callBackUrl/);
    });
  }
});
