/** The model pause scripts (checkModel, pauseModel, resumeModel) against a real Redis: gate, probe, waiters, operator pauses. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ModelPauses } from '../../src/pool/modelPauses';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PROBE_MS = 400;
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const prefixes: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pauses(): ModelPauses {
  const prefix = `test-models-${randomUUID()}`;
  prefixes.push(prefix);
  return new ModelPauses(redis, { prefix, probeMs: PROBE_MS });
}

afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  }
  await redis.quit();
});

describe('model pauses', () => {
  it('let every job through while the model is not paused', async () => {
    const m = pauses();
    expect(await m.enter('kling-2.6', 'q/1')).toEqual({ open: true, probe: false });
    expect(await m.status(['kling-2.6'])).toEqual([{ model: 'kling-2.6', waiters: 0 }]);
  });

  it("a pause keeps the first answer's reason, parks the job, and holds every create for one probe period", async () => {
    const m = pauses();
    const first = await m.pause('kling-2.6', 'q/1', 'KIE 500 This interface is temporarily paused', 1_000);
    expect(first.newlyPaused).toBe(true);
    expect(first.retryInMs).toBeGreaterThan(PROBE_MS - 100);
    expect(first.retryInMs).toBeLessThanOrEqual(PROBE_MS);
    expect((await m.pause('kling-2.6', 'q/2', 'a later answer')).newlyPaused).toBe(false);
    const other = await m.enter('kling-2.6', 'q/3');
    // Not the prober: it sleeps past the next probe (a resume wakes it sooner).
    expect(other).toMatchObject({ open: false, reason: 'KIE 500 This interface is temporarily paused' });
    expect((other as { retryInMs: number }).retryInMs).toBeGreaterThan(3 * PROBE_MS);
    const [status] = await m.status(['kling-2.6']);
    expect(status).toEqual({ model: 'kling-2.6', waiters: 3, paused: { reason: 'KIE 500 This interface is temporarily paused', since: 1_000, by: 'kie' } });
  });

  it('after a probe period one job, and only one, is let through as the probe; it keeps its turn until it ends', async () => {
    const m = pauses();
    await m.pause('veo-3.1', 'q/1', 'paused');
    expect(await m.enter('veo-3.1', 'q/1')).toEqual({ open: true, probe: true });
    expect((await m.enter('veo-3.1', 'q/2')).open).toBe(false);
    await sleep(PROBE_MS + 50);
    expect(await m.enter('veo-3.1', 'q/2')).toEqual({ open: true, probe: true });
    expect((await m.enter('veo-3.1', 'q/1')).open).toBe(false);
    // The prober re-enters after a short wait of its own (a request turn): still its probe.
    expect(await m.enter('veo-3.1', 'q/2')).toEqual({ open: true, probe: true });
    const [status] = await m.status(['veo-3.1']);
    expect(status!.waiters).toBe(1);
  });

  it('an operator pause is never probed, whatever the time', async () => {
    const m = pauses();
    await m.pauseByOperator('wan-2.6', 'budget review');
    await sleep(PROBE_MS + 50);
    const gate = await m.enter('wan-2.6', 'q/1');
    expect(gate).toMatchObject({ open: false, reason: 'budget review' });
    expect((gate as { retryInMs: number }).retryInMs).toBe(600_000);
    // A KIE answer later does not turn it into a probed pause.
    await m.pause('wan-2.6', 'q/2', 'KIE 500 paused');
    await sleep(PROBE_MS + 50);
    expect((await m.enter('wan-2.6', 'q/3')).open).toBe(false);
    expect((await m.status(['wan-2.6']))[0]!.paused).toMatchObject({ by: 'operator', reason: 'budget review' });
  });

  it('resume hands back every waiter, oldest first, and opens the model', async () => {
    const m = pauses();
    await m.pause('hailuo-02', 'q/a', 'paused', 1);
    await m.enter('hailuo-02', 'q/b', 2);
    await m.enter('hailuo-02', 'q/c', 3);
    expect(await m.resume('hailuo-02')).toEqual(['q/a', 'q/b', 'q/c']);
    expect(await m.enter('hailuo-02', 'q/d')).toEqual({ open: true, probe: false });
    expect(await m.status(['hailuo-02'])).toEqual([{ model: 'hailuo-02', waiters: 0 }]);
    expect(await m.resume('hailuo-02')).toEqual([]);
  });

  it('pauses one model, not its neighbours', async () => {
    const m = pauses();
    await m.pause('kling-2.6', 'q/1', 'paused');
    expect(await m.enter('seedance-1.5-pro', 'q/2')).toEqual({ open: true, probe: false });
  });
});
