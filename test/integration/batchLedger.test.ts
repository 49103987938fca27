/**
 * The batch record's Lua scripts, called directly on a real Redis: every move idempotent, money
 * reserved once and turned into spend once, final states final, a batch ended by exactly one move
 * even when its last jobs end at once, and the submit gate closed by a cancel.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { BatchLedger } from '../../src/batch/batchLedger';
import { removeRunKeys } from '../../src/shared/removeRunKeys';
import { REDIS_URL } from '../support/renderStack';

const ID = randomUUID().slice(0, 8);
const QUEUE = `test-ledger-${ID}`;
const PREFIX = `test-ledger-limiter-${ID}`;
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const ledger = new BatchLedger(redis, PREFIX, QUEUE);
let n = 0;
/** A batch of its own for each test. */
const fresh = (): string => `b${++n}:with/odd chars`;

afterAll(async () => {
  await removeRunKeys(redis, QUEUE, PREFIX);
  await redis.quit();
});

it('a job joins once: joining again, or as a foreign job on its first run, counts nothing twice', async () => {
  const b = fresh();
  await ledger.join(b, 'acme', ['1', '2']);
  await ledger.join(b, 'acme', ['2', '3']);
  await ledger.move(b, '3', { to: 'waiting', tenant: 'other' });
  const r = (await ledger.read(b))!;
  expect(r).toMatchObject({ id: b, queue: QUEUE, tenant: 'acme', state: 'open', joined: 3 });
  expect(r.counts).toEqual({ waiting: 3, submitted: 0, stored: 0, failed: 0, cancelled: 0 });
  expect(await ledger.list()).toContain(b);
});

it('reserves the price once at the gate and turns it into the spend once; a stored job stays stored', async () => {
  const b = fresh();
  await ledger.join(b, b, ['a']);
  await ledger.move(b, 'a', { to: 'submitted', tenant: b, priceUsd: 0.15 });
  // A resubmit passes the gate again: the reservation is not taken twice.
  await ledger.move(b, 'a', { to: 'submitted', tenant: b, priceUsd: 0.15 });
  expect(await ledger.read(b)).toMatchObject({ reservedMicroUsd: 150_000, spentMicroUsd: 0, counts: { waiting: 0, submitted: 1 } });
  const stored = { to: 'stored' as const, tenant: b, spentUsd: 0.3, seconds: 10, bytes: 4096 };
  expect(await ledger.move(b, 'a', stored)).toEqual({ outcome: 'moved', ended: true, ends: 1 });
  expect(await ledger.move(b, 'a', stored)).toEqual({ outcome: 'same', ended: false, ends: 1 });
  expect(await ledger.move(b, 'a', { to: 'failed', tenant: b, spentUsd: 9 })).toMatchObject({ outcome: 'same' });
  expect(await ledger.read(b)).toMatchObject({
    state: 'finished',
    reservedMicroUsd: 0,
    spentMicroUsd: 300_000,
    secondsRendered: 10,
    bytesStored: 4096,
    counts: { stored: 1, failed: 0 },
  });
});

it('a job recorded failed and then stored by a retried run counts as stored, its spend replaced, not added', async () => {
  const b = fresh();
  await ledger.join(b, b, ['x', 'y']);
  await ledger.move(b, 'x', { to: 'submitted', tenant: b, priceUsd: 0.15 });
  await ledger.move(b, 'x', { to: 'failed', tenant: b, spentUsd: 0.15 });
  expect(await ledger.read(b)).toMatchObject({ spentMicroUsd: 150_000, counts: { failed: 1, submitted: 0, waiting: 1 } });
  await ledger.move(b, 'x', { to: 'stored', tenant: b, spentUsd: 0.15, seconds: 10, bytes: 1 });
  expect(await ledger.read(b)).toMatchObject({ spentMicroUsd: 150_000, reservedMicroUsd: 0, counts: { failed: 0, stored: 1 } });
});

it('of two last jobs ending at once, exactly one move ends the batch; a job joining it later opens it again', async () => {
  const b = fresh();
  await ledger.join(b, b, ['p', 'q']);
  const ends = await Promise.all(['p', 'q'].map((j) => ledger.move(b, j, { to: 'stored', tenant: b, spentUsd: 0.1, seconds: 5, bytes: 1 })));
  expect(ends.filter((e) => e.ended)).toHaveLength(1);
  expect(await redis.zscore(ledger.keys(b).ending, b)).not.toBeNull();
  await ledger.join(b, b, ['r']);
  expect(await ledger.read(b)).toMatchObject({ state: 'open', endedAt: undefined, ends: 1 });
  expect(await ledger.move(b, 'r', { to: 'failed', tenant: b, line: { jobId: 'r', state: 'failed', costUsd: 0, endedAt: 'now', reason: 'bad seed' } })).toEqual(
    { outcome: 'moved', ended: true, ends: 2 },
  );
  expect((await ledger.lines(b)).map((l) => l.reason)).toEqual(['bad seed']);
});

it('a cancel closes the gate: a move to submitted is refused and writes nothing; a batch with nothing pending ends at once', async () => {
  const b = fresh();
  await ledger.join(b, b, ['g']);
  const jobKey = `bull:${QUEUE}:g`;
  await redis.hset(jobKey, 'data', '{"prompt":"before"}');
  await redis.set(`${jobKey}:lock`, 'token-1');
  const gate = { jobKey, lockKey: `${jobKey}:lock`, token: 'token-1', data: '{"prompt":"before","render":{"step":"submitting"}}' };
  expect(await ledger.markCancelling(b)).toEqual({ outcome: 'cancelling', ended: false, ends: 0 });
  expect(await ledger.move(b, 'g', { to: 'submitted', tenant: b, priceUsd: 1, gate })).toMatchObject({ outcome: 'cancelled' });
  expect(await redis.hget(jobKey, 'data')).toBe('{"prompt":"before"}');
  expect(await ledger.move(b, 'g', { to: 'cancelled', tenant: b })).toEqual({ outcome: 'moved', ended: true, ends: 1 });
  expect(await ledger.read(b)).toMatchObject({ state: 'cancelled', reservedMicroUsd: 0, counts: { cancelled: 1 } });
  expect(await ledger.markCancelling(b)).toMatchObject({ outcome: 'already' });

  const empty = fresh();
  await ledger.create({ id: empty, tenant: empty });
  expect(await ledger.markCancelling(empty)).toEqual({ outcome: 'cancelling', ended: true, ends: 1 });
  expect(await ledger.markCancelling('never-made')).toMatchObject({ outcome: 'none' });
  await redis.del(jobKey, `${jobKey}:lock`);
});

it('the gate writes the job only under its own lock', async () => {
  const b = fresh();
  const jobKey = `bull:${QUEUE}:lk`;
  await redis.set(`${jobKey}:lock`, 'another-run');
  const gate = { jobKey, lockKey: `${jobKey}:lock`, token: 'stale-run', data: '{"prompt":"x"}' };
  expect(await ledger.move(b, 'lk', { to: 'submitted', tenant: b, priceUsd: 1, gate })).toMatchObject({ outcome: 'lost' });
  expect(await redis.exists(jobKey)).toBe(0);
  expect(await ledger.read(b)).toBeUndefined();
  await redis.del(`${jobKey}:lock`);
});

it('creates a batch with its fields once; budgets change and clear', async () => {
  const b = fresh();
  expect(await ledger.create({ id: b, tenant: 'acme', budgetUsd: 12.5, notifyUrl: 'https://example.com/h' })).toBe(true);
  expect(await ledger.create({ id: b, tenant: 'other' })).toBe(false);
  expect(await ledger.read(b)).toMatchObject({ tenant: 'acme', budgetMicroUsd: 12_500_000, notifyUrl: 'https://example.com/h', state: 'open' });
  expect(await ledger.setBudget(b, 20)).toBe(true);
  expect((await ledger.read(b))!.budgetMicroUsd).toBe(20_000_000);
  expect(await ledger.setBudget(b, null)).toBe(true);
  expect((await ledger.read(b))!.budgetMicroUsd).toBeUndefined();
  expect(await ledger.setBudget('never-made', 1)).toBe(false);
});
