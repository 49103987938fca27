import { Job } from 'bullmq';
import { createLimiter } from '../../src/pool/createLimiter';
import type { RenderJobData } from '../../src/shared/renderJob';
import { waitForWorkersStarted, waitUntil } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

describe('a worker process killed with tasks in flight', () => {
  let stack: RenderStack;
  afterAll(() => stack?.close());

  it('keeps their slots held until another worker resumes the jobs, stores them and frees the slots; nothing is paid twice', async () => {
    const cap = 4;
    const key = `sk-crash-${Date.now()}`;
    stack = await startRenderStack({
      accounts: { solo: key },
      // Long enough to kill the worker mid-generation; the short lock lets the survivor take over
      // the jobs that were active at the kill within seconds instead of a minute.
      sim: { maxConcurrent: cap, generationMs: [2500, 3000] },
      env: { WORKER_LOCK_MS: '2000', KIE_INTERVAL_MARGIN_MS: '150' },
    });
    const limiter = createLimiter(stack.redis, stack.config);
    const inFlight = async (): Promise<number> => (await limiter.status())[0]!.inFlight;

    const doomed = stack.spawnWorker();
    await waitForWorkersStarted([doomed]);
    // More jobs than slots: two wait for a slot that only a release by the survivor can free.
    const prompts = Array.from({ length: cap + 2 }, (_, i) => ({ prompt: `a worker dies mid-render, take ${i}` }));
    const jobIds = (await stack.producer.enqueueMany(prompts)).map((j) => j.jobId);

    // Kill only once every slot's task exists at KIE and its taskId is on the job: a kill before
    // that would be an ambiguous submit, which is another test's business.
    const submitted = new Map<string, string>();
    await waitUntil(async () => {
      for (const id of jobIds) {
        const render = (await Job.fromId<RenderJobData>(stack.queue, id))?.data.render;
        if (render?.step === 'generating' && render.taskId) submitted.set(id, render.taskId);
      }
      return submitted.size === cap && stack.sim.counters.perKey[key]!.generating === cap;
    }, `${cap} tasks generating with their taskIds persisted`);
    doomed.kill('SIGKILL');
    await waitUntil(() => doomed.exitCode !== null || doomed.signalCode !== null, 'the killed worker to exit');

    // The tasks generate on at KIE, so their slots stay taken though their worker is gone...
    expect(stack.sim.counters.perKey[key]!.generating).toBe(cap);
    expect(await inFlight()).toBe(cap);
    await waitUntil(() => stack.sim.counters.perKey[key]!.generating === 0, 'the orphaned tasks to finish at KIE', 10_000);
    // ...and still after they finished, because nobody has seen them finish.
    expect(await inFlight()).toBe(cap);
    expect(await stack.queue.getCompletedCount()).toBe(0);

    const survivor = stack.spawnWorker({ WORKER_LOCK_MS: '2000' });
    const states = await stack.waitForJobs(jobIds, 60_000);
    expect([...states.values()]).toEqual(jobIds.map(() => 'completed'));

    for (const [jobId, taskId] of submitted) {
      // Resumed, not resubmitted: the result is the task the killed worker started.
      const job = (await stack.queue.getJob(jobId))!;
      expect(job.returnvalue.taskId).toBe(taskId);
      expect(job.data.render).toMatchObject({ taskId, submits: 1 });
    }
    for (const { prompt } of prompts) expect(stack.sim.counters.submitsByPrompt.get(prompt)).toBe(1);
    expect(stack.sim.counters.tasks).toHaveLength(prompts.length);
    expect(stack.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
    expect(await inFlight()).toBe(0);
    expect(survivor.output.join('')).toContain('"msg":"video stored"');
  });
});
