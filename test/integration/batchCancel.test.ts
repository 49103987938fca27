/**
 * Cancelling a batch: jobs not yet submitted are removed, jobs already submitted finish and are
 * stored, and no job of a cancelled batch is ever submitted, including one a worker holds in its
 * submit step at the moment of the cancel (the gate and the cancel are each one Redis step).
 */
import { randomUUID } from 'node:crypto';
import { Job, Worker } from 'bullmq';
import { BatchCancelledError, BatchProgress } from '../../src/worker/batchProgress';
import { cancelBatch } from '../../src/batch/cancelBatch';
import { accountStatus } from '../../src/pool/accountControl';
import { ValidationError } from '../../src/shared/errors';
import { createLogger } from '../../src/shared/logger';
import type { RenderJobData } from '../../src/shared/renderJob';
import { parseRenderRequest } from '../../src/shared/renderRequest';
import { RenderStack, startRenderStack } from '../support/renderStack';
import { waitUntil } from '../support/fleet';

jest.setTimeout(120_000);

let stack: RenderStack;

beforeAll(async () => {
  stack = await startRenderStack({ sim: { generationMs: [400, 700], maxConcurrent: 3 } });
});

afterAll(async () => {
  await stack?.close();
});

/** Takes the next job as a worker's run does (locked with `token`), without running it. */
async function takeJob(): Promise<{ job: Job<RenderJobData>; token: string; worker: Worker }> {
  const worker = new Worker<RenderJobData>(stack.config.queueName, undefined, { connection: stack.redis, autorun: false });
  const token = randomUUID();
  const job = await worker.getNextJob(token, { block: false });
  expect(job).toBeDefined();
  return { job, token, worker };
}

function progress(): BatchProgress {
  return new BatchProgress({ ledger: stack.producer.batches, config: stack.config, logger: createLogger('silent'), batchEnded: async () => undefined });
}

const submitting = (job: Job<RenderJobData>): RenderJobData => ({
  ...job.data,
  render: { step: 'submitting', account: 'default', submitStartedAt: Date.now(), submits: 0 },
});

it('a job a worker holds at its submit gate: cancelled first, it never submits; past the gate first, it finishes', async () => {
  const ledger = stack.producer.batches;
  await stack.producer.enqueueMany([{ prompt: 'gate: first' }, { prompt: 'gate: second' }], { batchId: 'gate-closed' });
  const held = await takeJob();
  try {
    const outcome = await cancelBatch(stack.queue, ledger, 'gate-closed');
    // The held job is locked: BullMQ will not remove it; the other one is gone.
    expect(outcome).toEqual({ outcome: 'cancelling', removed: 1 });
    const request = parseRenderRequest(held.job.data, stack.config.kie.models);
    await expect(progress().enterSubmit(held.job, held.token, request, submitting(held.job))).rejects.toBeInstanceOf(BatchCancelledError);
    expect((await stack.queue.getJob(held.job.id!))!.data.render).toBeUndefined();
    await progress().ended(held.job, new BatchCancelledError('gate-closed').message, true);
    expect(await ledger.read('gate-closed')).toMatchObject({ state: 'cancelled', counts: { waiting: 0, submitted: 0, cancelled: 2 } });
  } finally {
    await held.job.moveToFailed(new Error('test done'), held.token).catch(() => undefined);
    await held.worker.close();
  }

  await stack.producer.enqueueMany([{ prompt: 'gate: passed' }], { batchId: 'gate-passed' });
  const passed = await takeJob();
  try {
    const request = parseRenderRequest(passed.job.data, stack.config.kie.models);
    expect(await progress().enterSubmit(passed.job, passed.token, request, submitting(passed.job))).toBe('entered');
    expect(await cancelBatch(stack.queue, ledger, 'gate-passed')).toEqual({ outcome: 'cancelling', removed: 0 });
    expect(await ledger.read('gate-passed')).toMatchObject({ state: 'cancelling', counts: { submitted: 1 }, reservedMicroUsd: 150_000 });
  } finally {
    await passed.job.moveToFailed(new Error('test done'), passed.token).catch(() => undefined);
    await passed.worker.close();
  }
});

it('a job its run parked (waiting for a slot) after a cancel it was held through is removed by its run; parked before, by the cancel', async () => {
  const ledger = stack.producer.batches;
  await stack.producer.enqueueMany([{ prompt: 'park: after' }], { batchId: 'park-after' });
  const held = await takeJob();
  try {
    expect(await cancelBatch(stack.queue, ledger, 'park-after')).toEqual({ outcome: 'cancelling', removed: 0 });
    // What RenderRun.delay does: park under the run's lock, then look at the batch.
    await held.job.moveToDelayed(Date.now() + 60_000, held.token);
    expect(await progress().leaveIfCancelled(held.job, parseRenderRequest(held.job.data, stack.config.kie.models))).toBe(true);
    expect(await stack.queue.getJob(held.job.id!)).toBeUndefined();
    expect(await ledger.read('park-after')).toMatchObject({ state: 'cancelled', counts: { waiting: 0, cancelled: 1 } });
  } finally {
    await held.worker.close();
  }

  await stack.producer.enqueueMany([{ prompt: 'park: before' }], { batchId: 'park-before' });
  const parked = await takeJob();
  try {
    await parked.job.moveToDelayed(Date.now() + 60_000, parked.token);
    expect(await progress().leaveIfCancelled(parked.job, parseRenderRequest(parked.job.data, stack.config.kie.models))).toBe(false);
    expect(await cancelBatch(stack.queue, ledger, 'park-before')).toEqual({ outcome: 'cancelling', removed: 1 });
    expect(await ledger.read('park-before')).toMatchObject({ state: 'cancelled', counts: { cancelled: 1 } });
  } finally {
    await parked.worker.close();
  }
});

it('cancel mid-run: unsubmitted jobs are removed, submitted ones are stored, no cancelled job ever reaches KIE, other batches go on', async () => {
  const ledger = stack.producer.batches;
  const prompts = Array.from({ length: 40 }, (_, i) => `cancel: swallow ${i}`);
  await stack.producer.enqueueMany(
    prompts.map((prompt) => ({ prompt })),
    { batchId: 'cancel-me' },
  );
  await stack.producer.enqueueMany(
    [1, 2, 3, 4].map((i) => ({ prompt: `other: owl ${i}` })),
    { batchId: 'other' },
  );
  // 16 jobs at a time on 3 slots: at the cancel, some wait in the queue (removed by the cancel), some
  // are held by a run (refused at the gate, or parked for a slot and removed by their run).
  await Promise.all([stack.startWorker({ WORKER_CONCURRENCY: '8' }), stack.startWorker({ WORKER_CONCURRENCY: '8' })]);
  await waitUntil(() => prompts.filter((p) => stack.sim.counters.submitsByPrompt.has(p)).length >= 3, 'three tasks of the batch created', 30_000, 10);

  const outcome = await cancelBatch(stack.queue, ledger, 'cancel-me');
  // How many it removed depends on how many a run held at that instant; the end state does not.
  expect(outcome.outcome).toBe('cancelling');
  await expect(stack.producer.enqueue({ prompt: 'cancel: one more', batchId: 'cancel-me' })).rejects.toBeInstanceOf(ValidationError);
  // A foreign backend's job for the cancelled batch fails at the gate, never created at KIE.
  const foreign = await stack.queue.add('render', { prompt: 'cancel: foreign', batchId: 'cancel-me' });

  await waitUntil(async () => (await ledger.read('cancel-me'))?.manifestKey !== undefined, 'the cancelled batch to end with its manifest', 30_000, 50);
  await waitUntil(async () => (await ledger.read('other'))?.state === 'finished', 'the other batch to finish', 30_000, 50);
  const record = (await ledger.read('cancel-me'))!;
  const created = prompts.filter((p) => stack.sim.counters.submitsByPrompt.has(p));
  expect(record.state).toBe('cancelled');
  expect(record.counts).toEqual({ waiting: 0, submitted: 0, stored: created.length, failed: 0, cancelled: 41 - created.length });
  expect(created.length).toBeGreaterThanOrEqual(3);
  expect(created.every((p) => stack.sim.counters.submitsByPrompt.get(p) === 1)).toBe(true);
  expect(stack.sim.counters.submitsByPrompt.has('cancel: foreign')).toBe(false);
  // Refused at the gate (failed with the reason), or parked for a slot and removed by its run.
  const foreignJob = await stack.queue.getJob(foreign.id!);
  if (foreignJob) expect(foreignJob.failedReason).toBe('batch cancel-me was cancelled before this job was submitted');

  const lines = await ledger.lines('cancel-me');
  expect(lines).toHaveLength(41);
  expect(lines.find((l) => l.jobId === foreign.id)).toMatchObject({ state: 'cancelled', prompt: 'cancel: foreign' });
  for (const line of lines) {
    if (line.state === 'stored') expect(created).toContain(line.prompt);
    else expect([line.state, stack.sim.counters.submitsByPrompt.has(line.prompt!)]).toEqual(['cancelled', false]);
    // A cancelled job is gone from the queue (removed by the cancel or by its run), or failed at the gate.
    const job = await stack.queue.getJob(line.jobId);
    if (line.state === 'cancelled' && job)
      expect([await job.getState(), job.failedReason]).toEqual(['failed', 'batch cancel-me was cancelled before this job was submitted']);
  }
  expect(await ledger.read('other')).toMatchObject({ counts: { stored: 4, cancelled: 0 } });
  // The refused job gave its slot and quota unit back: only created tasks count.
  expect(await accountStatus(stack.redis, stack.config)).toEqual([expect.objectContaining({ inFlight: 0, submitsInWindow: created.length + 4 })]);
});
