/**
 * A model KIE paused (500 "This interface is temporarily paused") or does not know is not an
 * outage: that model is paused fleet-wide, its jobs wait as delayed jobs with a `model-paused`
 * alert, other models keep rendering on the same account, no create is sent for it except one
 * paced probe per KIE_MODEL_PROBE_MS, and it comes back by command or by probe. One KIE task per
 * job throughout.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { modelStatus, pauseModel, resumeModel } from '../../src/pool/modelControl';
import { expectStoredAsServed } from '../support/expectStored';
import { RenderStack, StackOptions, startRenderStack } from '../support/renderStack';
import type { WorkerRuntime } from '../../src/worker/runtime';

jest.setTimeout(120_000);

const WAIT_MS = 60_000;
const KLING = 'kling-2.6/text-to-video';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: RenderStack | undefined;
let worker: WorkerRuntime | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function startStack(opts: StackOptions, workerEnv: Record<string, string> = {}): Promise<RenderStack> {
  stack = await startRenderStack(opts);
  worker = await stack.startWorker(workerEnv);
  return stack;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = WAIT_MS): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}

const klingCreates = (s: RenderStack): number => s.sim.counters.faults.modelPaused;
const statesOf = (s: RenderStack, ids: string[]) => Promise.all(ids.map((id) => s.queue.getJobState(id)));

async function enqueue(s: RenderStack, model: string, what: string, n: number): Promise<string[]> {
  const jobs = await s.producer.enqueueMany(Array.from({ length: n }, (_, i) => ({ model, prompt: `${what}, take ${i}` })));
  return jobs.map((j) => j.jobId);
}

describe('a model KIE paused', () => {
  it("waits while another model's jobs are stored, sends nothing more, and comes back by command", async () => {
    const s = await startStack({ env: { KIE_MODEL_PROBE_MS: '600000' }, sim: { faults: { pausedModels: [KLING] } } }, { WORKER_HTTP: 'true', HTTP_PORT: '0' });
    const kling = await enqueue(s, 'kling-2.6', 'a kling crane', 4);
    const veo = await enqueue(s, 'veo-3.1-fast', 'a veo heron', 4);

    await expectStoredAsServed(s, veo, WAIT_MS);
    await until(
      'every kling job waits',
      async () =>
        (await statesOf(s, kling)).every((st) => st === 'delayed') &&
        (await modelStatus(s.redis, s.config)).find((m) => m.model === 'kling-2.6')!.waiters === 4,
    );
    // Jobs that passed the gate before the first answer was recorded got the same answer; then nothing.
    const answered = klingCreates(s);
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(answered).toBeLessThanOrEqual(4);
    await sleep(1500);
    expect(klingCreates(s)).toBe(answered);
    expect(s.sim.counters.tasks.filter((t) => t.model === KLING)).toHaveLength(0);

    // The model, not the account: the account is in rotation, and KIE's answers gave back their quota units.
    const [account] = await worker!.limiter.status();
    expect(account).toMatchObject({ submitsInWindow: 4, inFlight: 0 });
    expect(account).not.toHaveProperty('paused');
    const kStatus = (await modelStatus(s.redis, s.config)).find((m) => m.model === 'kling-2.6')!;
    expect(kStatus.paused).toMatchObject({ by: 'kie', reason: 'KIE 500 This interface is temporarily paused' });
    expect(s.logs.some((l) => l.includes('"alert":"model-paused"') && l.includes('paused fleet-wide'))).toBe(true);
    const metrics = await (await fetch(`${worker!.httpUrl}/metrics`)).text();
    expect(metrics).toContain('sora_model_paused{model="kling-2.6"} 1');
    expect(metrics).toContain('sora_model_paused{model="veo-3.1-fast"} 0');

    s.sim.setFaults({ pausedModels: [] });
    expect(await resumeModel(s.redis, s.config, 'kling-2.6')).toBe(4);
    await expectStoredAsServed(s, kling, WAIT_MS);
    expect(klingCreates(s)).toBe(answered);
    expect(s.sim.counters.tasks.filter((t) => t.model === KLING)).toHaveLength(4);
    expect((await modelStatus(s.redis, s.config)).every((m) => !m.paused && m.waiters === 0)).toBe(true);
  });

  it('comes back by itself: one paced probe create per KIE_MODEL_PROBE_MS, and its success wakes the others', async () => {
    const probeMs = 1000;
    const s = await startStack({ env: { KIE_MODEL_PROBE_MS: String(probeMs) }, sim: { faults: { pausedModels: [KLING] } } });
    const kling = await enqueue(s, 'kling-2.6', 'a probed crane', 5);
    await until('the model is paused', () => klingCreates(s) > 0);
    const pausedAt = Date.now();
    await until('every job waits', async () => (await statesOf(s, kling)).every((st) => st === 'delayed'));
    const firstWave = klingCreates(s);
    await sleep(3.5 * probeMs);
    const probes = klingCreates(s) - firstWave;
    const periods = (Date.now() - pausedAt) / probeMs;
    // One probe per period at most, and they do happen (no tight loop, no silence).
    expect(probes).toBeGreaterThanOrEqual(2);
    expect(probes).toBeLessThanOrEqual(Math.ceil(periods));

    s.sim.setFaults({ pausedModels: [] });
    await expectStoredAsServed(s, kling, WAIT_MS);
    expect(s.sim.counters.tasks.filter((t) => t.model === KLING)).toHaveLength(5);
    expect(s.logs.some((l) => l.includes("the probe's create succeeded"))).toBe(true);
    expect((await modelStatus(s.redis, s.config)).find((m) => m.model === 'kling-2.6')!.paused).toBeUndefined();
  });

  it('an operator pause holds jobs without probing, until resumed', async () => {
    const s = await startStack({ env: { KIE_MODEL_PROBE_MS: '200' } });
    await pauseModel(s.redis, s.config, 'kling-2.6', 'budget review');
    const kling = await enqueue(s, 'kling-2.6', 'an operator-held crane', 2);
    await until('both jobs wait', async () => (await modelStatus(s.redis, s.config)).find((m) => m.model === 'kling-2.6')!.waiters === 2);
    await sleep(1000);
    expect(s.sim.counters.requests.byEndpoint['POST /api/v1/jobs/createTask']).toBeUndefined();
    expect(await resumeModel(s.redis, s.config, 'kling-2.6')).toBe(2);
    await expectStoredAsServed(s, kling, WAIT_MS);
  });
});

describe('a model KIE does not know', () => {
  it('("The model name you specified is not supported") is paused the same way; other models go on', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ghost-')), 'models.json');
    writeFileSync(
      file,
      JSON.stringify([
        {
          id: 'ghost-1',
          title: 'A model KIE dropped',
          family: 'jobs',
          status: 'live',
          docs: ['https://docs.kie.ai/market/ghost/text-to-video'],
          checked: '2026-12-02',
          modes: {
            text: {
              kieModel: 'ghost/text-to-video',
              prompt: { field: 'prompt', maxChars: 100 },
              duration: { field: 'duration', seconds: [5], default: 5 },
              price: { per: 'clip', credits: 1, verified: false },
            },
          },
        },
      ]),
    );
    const s = await startStack({ env: { KIE_MODELS_FILE: file, KIE_MODEL_PROBE_MS: '600000' } });
    const [ghost] = await enqueue(s, 'ghost-1', 'a ghost', 1);
    const sora = await enqueue(s, 'sora-2', 'a sora gull', 2);
    await expectStoredAsServed(s, sora, WAIT_MS);
    await until(
      'the ghost job waits',
      async () => (await s.queue.getJobState(ghost!)) === 'delayed' && (await modelStatus(s.redis, s.config)).find((m) => m.model === 'ghost-1')!.waiters === 1,
    );
    const status = (await modelStatus(s.redis, s.config)).find((m) => m.model === 'ghost-1')!;
    expect(status.paused!.reason).toContain('KIE 422 The model name you specified is not supported');
    expect(s.sim.counters.requests.byEndpoint['POST /api/v1/jobs/createTask']).toBe(1);
  });
});
