import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { ValidationError } from '../../src/shared/errors';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('end to end: producer -> BullMQ -> worker -> KIE simulator -> S3', () => {
  let stack: RenderStack;
  beforeAll(async () => {
    stack = await startRenderStack();
    await stack.startWorker();
  });
  afterAll(() => stack.close());

  it('renders N jobs into N verified objects whose SHA-256 equals what KIE served', async () => {
    const prompts = Array.from({ length: 12 }, (_, i) => ({ prompt: `a paper boat on a river, take ${i}`, batchId: 'e2e' }));
    const jobs = await stack.producer.enqueueMany(prompts);
    const states = await stack.waitForJobs(jobs.map((j) => j.jobId));
    expect([...states.values()].every((s) => s === 'completed')).toBe(true);

    for (const { jobId } of jobs) {
      const job = (await stack.queue.getJob(jobId))!;
      const result = job.returnvalue;
      expect(result).toMatchObject({ account: 'default', bucket: 'renders', key: `e2e/${jobId}.mp4`, contentType: 'video/mp4', estimatedCostUsd: 0.15 });
      const expected = stack.sim.expectedVideo(result.taskId);
      const { body, metadata } = await stack.readObject(result.key);
      expect(sha256(body)).toBe(expected.sha256);
      expect(result.sha256).toBe(expected.sha256);
      expect(metadata.sha256).toBe(expected.sha256);
      expect(result.size).toBe(expected.size);
      expect(body.subarray(4, 8).toString()).toBe('ftyp');
      expect(job.data.render).toMatchObject({ taskId: result.taskId, account: 'default', submits: 1 });
    }
    for (const p of prompts) expect(stack.sim.counters.submitsByPrompt.get(p.prompt)).toBe(1);
    expect(stack.sim.counters.violations).toEqual({ concurrency: 0, daily: 0, interval: 0 });
  });

  it('renders a job added by a stock BullMQ client with only the documented data', async () => {
    const foreign = new Queue(stack.config.queueName, { connection: { url: stack.env.REDIS_URL } });
    const job = await foreign.add('render', {
      prompt: 'added from another backend',
      aspectRatio: '9:16',
      duration: 15,
      quality: 'high',
      seed: 42424,
      key: 'foreign/clip.mp4',
    });
    await foreign.close();
    expect((await stack.waitForJobs([job.id!])).get(job.id!)).toBe('completed');
    const result = (await stack.queue.getJob(job.id!))!.returnvalue;
    expect(result).toMatchObject({ key: 'foreign/clip.mp4', estimatedCostUsd: 0.45 });
    expect(stack.sim.task(result.taskId)).toMatchObject({ prompt: 'added from another backend' });
    expect(stack.sim.counters.submitsBySeed.get(42424)).toBe(1);
  });

  it('fails a bad job added with raw BullMQ at once, naming the field, without calling KIE', async () => {
    const before = stack.sim.counters.requests.total;
    const foreign = new Queue(stack.config.queueName, { connection: { url: stack.env.REDIS_URL } });
    const job = await foreign.add('render', { prompt: 'x', duration: 12, seed: 7 }, { attempts: 5 });
    await foreign.close();
    expect((await stack.waitForJobs([job.id!])).get(job.id!)).toBe('failed');
    const failed = (await stack.queue.getJob(job.id!))!;
    expect(failed.failedReason).toContain('duration: sora-2 (KIE_API_STYLE=sora) accepts 10 or 15 (got 12)');
    expect(failed.failedReason).toContain('seed: sora-2 (KIE_API_STYLE=sora) accepts 10000 to 99999 (got 7)');
    expect(failed.attemptsMade).toBe(1);
    expect(stack.sim.counters.requests.total).toBe(before);
  });

  it('rejects bad requests at the producer with field-level messages, adding nothing', async () => {
    const before = await stack.queue.count();
    await expect(stack.producer.enqueueMany([{ prompt: 'ok' }, { prompt: 'y'.repeat(801) }])).rejects.toThrow(
      new ValidationError([{ field: '[1].prompt', value: 'y'.repeat(801), rule: 'sora-2 (KIE_API_STYLE=sora) accepts at most 800 characters' }]).message,
    );
    await expect(stack.producer.enqueue({ prompt: 'ok' }, { priority: 0 })).rejects.toThrow('priority: must be a whole number from 1 to 2097152');
    expect(await stack.queue.count()).toBe(before);
  });

  it('gives the same job for the same idempotency key, never two', async () => {
    const a = await stack.producer.enqueue({ prompt: 'idempotent fox' }, { idempotencyKey: 'order-42' });
    const b = await stack.producer.enqueue({ prompt: 'idempotent fox' }, { idempotencyKey: 'order-42' });
    expect(b).toEqual({ jobId: a.jobId, created: false });
    expect(a.created).toBe(true);
    await stack.waitForJobs([a.jobId]);
    expect(stack.sim.counters.submitsByPrompt.get('idempotent fox')).toBe(1);
  });

  it('never writes the API key into the logs', () => {
    const key = stack.env.KIE_ACCOUNTS.split(':')[1]!;
    expect(stack.logs.length).toBeGreaterThan(10);
    expect(stack.logs.join('\n')).not.toContain(key);
  });
});
