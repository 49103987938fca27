/**
 * Budgets inside the submit grant, on real Redis: the price is reserved in the same step that
 * grants the slot, against the daily, tenant and batch budgets; a refund gives it back, a created
 * task keeps it; a job over budget waits (and is a budget waiter), one whose price alone is over
 * never fits; and limiter clients on separate connections racing for the last dollars never spend
 * past a budget by one job.
 */
import type { AccountConfig } from '../../src/shared/config';
import { AccountLimiter, BatchRef, LimiterOptions, SubmitGrant } from '../../src/pool/limiter/accountLimiter';
import { spendKeys } from '../../src/pool/limiter/limiterKeys';
import { takeBudgetWaiters } from '../../src/pool/budgetWaiters';
import { BatchLedger } from '../../src/batch/batchLedger';
import { useLimiterRedis } from '../support/limiterRedis';

const DAY = 86_400_000;
const account = (name: string, maxConcurrent = 100, dailyLimit = 10_000): AccountConfig => ({ name, apiKey: `key-${name}`, maxConcurrent, dailyLimit });
const { connect, newPrefix } = useLimiterRedis();

function optionsFor(extra: Partial<LimiterOptions> = {}): LimiterOptions {
  return {
    prefix: newPrefix('test-spend'),
    accounts: [account('a'), account('b')],
    // No pacing: only the money decides.
    minIntervalMs: 0,
    intervalMarginMs: 0,
    dailyWindowMs: DAY,
    dailyWindow: 'rolling',
    slotLeaseMs: 3_600_000,
    ...extra,
  };
}

const spend = (tenant: string, priceUsd: number, batch?: BatchRef) => ({ tenant, priceUsd, ...(batch ? { batch } : {}) });

describe('the daily budget', () => {
  test('a price that fits is reserved with the grant; one that does not waits; one alone over never fits', async () => {
    const options = optionsFor({ dailyBudgetUsd: 1 });
    const limiter = new AccountLimiter(connect(), options);
    for (const id of ['j1', 'j2', 'j3']) expect(await limiter.acquireSubmit(id, { spend: spend('t', 0.3) })).toMatchObject({ granted: true });
    expect(await limiter.spendStatus()).toMatchObject({ usedUsd: 0.9, reservedUsd: 0.9, dailyBudgetUsd: 1, budgetWaiters: 0 });
    const over = await limiter.acquireSubmit('j4', { spend: spend('t', 0.3) });
    // A rolling window gives the first charge back a day after it.
    expect(over).toMatchObject({ granted: false, reason: 'budget', scope: 'daily', never: false });
    expect((over as { waitMs: number }).waitMs).toBeGreaterThan(DAY - 60_000);
    expect(await limiter.acquireSubmit('big', { spend: spend('t', 1.5) })).toMatchObject({ granted: false, reason: 'budget', scope: 'daily', never: true });
    expect(await limiter.spendStatus()).toMatchObject({ budgetWaiters: 1 });

    // j1's task exists (spent); j2's create was refused (given back): j4 fits now, and is woken.
    expect(await limiter.confirmCharge('j1')).toBe(true);
    expect(await limiter.confirmCharge('j1')).toBe(false);
    expect(await limiter.refundSubmit('a', 'j2')).toEqual(['j4']);
    expect(await limiter.spendStatus()).toMatchObject({ usedUsd: 0.6, reservedUsd: 0.3, budgetWaiters: 0 });
    expect(await limiter.acquireSubmit('j4', { spend: spend('t', 0.3) })).toMatchObject({ granted: true });
    // A retry of a granted job (it crashed before its create) is not charged twice.
    expect(await limiter.acquireSubmit('j4', { spend: spend('t', 0.3) })).toMatchObject({ granted: true });
    expect(await limiter.spendStatus()).toMatchObject({ usedUsd: 0.9 });
  });

  test('utc-day: the budget comes back at 00:00 UTC, the boundary the daily quota uses', async () => {
    const limiter = new AccountLimiter(connect(), optionsFor({ dailyBudgetUsd: 0.5, dailyWindow: 'utc-day' }));
    const midnight = Math.floor(Date.now() / DAY + 1) * DAY;
    expect(await limiter.acquireSubmit('j1', { nowMs: midnight - 5000, spend: spend('t', 0.5) })).toMatchObject({ granted: true });
    expect(await limiter.acquireSubmit('j2', { nowMs: midnight - 1000, spend: spend('t', 0.5) })).toMatchObject({ reason: 'budget', waitMs: 1000 });
    expect(await limiter.acquireSubmit('j2', { nowMs: midnight, spend: spend('t', 0.5) })).toMatchObject({ granted: true });
  });
});

describe('tenant budgets and caps (TENANT_LIMITS)', () => {
  test("a tenant's budget, daily submits and concurrency hold; other tenants go on", async () => {
    const limiter = new AccountLimiter(
      connect(),
      optionsFor({ accounts: [account('a')], tenantLimits: { small: { budgetUsd: 0.5 }, few: { daily: 2 }, narrow: { concurrent: 1 } } }),
    );
    expect(await limiter.acquireSubmit('s1', { spend: spend('small', 0.25) })).toMatchObject({ granted: true });
    expect(await limiter.acquireSubmit('s2', { spend: spend('small', 0.25) })).toMatchObject({ granted: true });
    expect(await limiter.acquireSubmit('s3', { spend: spend('small', 0.25) })).toMatchObject({ reason: 'budget', scope: 'tenant', never: false });
    expect(await limiter.acquireSubmit('s4', { spend: spend('small', 0.75) })).toMatchObject({ reason: 'budget', scope: 'tenant', never: true });
    expect(await limiter.acquireSubmit('o1', { spend: spend('other', 5) })).toMatchObject({ granted: true });

    expect(await limiter.acquireSubmit('f1', { spend: spend('few', 0) })).toMatchObject({ granted: true });
    expect(await limiter.acquireSubmit('f2', { spend: spend('few', 0) })).toMatchObject({ granted: true });
    expect(await limiter.acquireSubmit('f3', { spend: spend('few', 0) })).toMatchObject({ granted: false, reason: 'tenant', limit: 'daily' });

    expect(await limiter.acquireSubmit('n1', { spend: spend('narrow', 0) })).toMatchObject({ granted: true });
    expect(await limiter.acquireSubmit('n2', { spend: spend('narrow', 0) })).toMatchObject({ granted: false, reason: 'tenant', limit: 'concurrent' });
    // Its slot freed, the next one goes (the waiter is woken by the release).
    expect(await limiter.releaseSlot('a', 'n1')).toContain('n2');
    expect(await limiter.acquireSubmit('n2', { spend: spend('narrow', 0) })).toMatchObject({ granted: true });
    expect((await limiter.spendStatus()).tenants).toMatchObject({ small: { usedUsd: 0.5, submits: 2 }, few: { submits: 2 }, narrow: { submits: 2 } });
  });
});

describe('batch budgets', () => {
  test("the grant reserves in the batch's record once; the gate does not reserve again; a created task moves it to spent", async () => {
    const redis = connect();
    const options = optionsFor();
    const limiter = new AccountLimiter(redis, options);
    const ledger = new BatchLedger(redis, options.prefix, 'q');
    await ledger.create({ id: 'b1', tenant: 'b1', budgetUsd: 1 });
    await ledger.join('b1', 'b1', ['1', '2', '3', '4']);
    const ref = (jobId: string): BatchRef => ({ ...ledger.keys('b1'), jobId });
    for (const id of ['1', '2', '3']) expect(await limiter.acquireSubmit(`q/${id}`, { spend: spend('b1', 0.3, ref(id)) })).toMatchObject({ granted: true });
    // The gate of job 1 (moveBatchJob: waiting -> submitted) finds its reservation made.
    await ledger.move('b1', '1', { to: 'submitted', tenant: 'b1', priceUsd: 0.3 });
    expect(await ledger.read('b1')).toMatchObject({ reservedMicroUsd: 900_000, spentMicroUsd: 0 });
    expect(await limiter.acquireSubmit('q/4', { spend: spend('b1', 0.3, ref('4')) })).toMatchObject({ reason: 'budget', scope: 'batch', never: false });

    await limiter.confirmCharge('q/1', ref('1'));
    await limiter.refundSubmit('a', 'q/2', ref('2'));
    expect(await ledger.read('b1')).toMatchObject({ reservedMicroUsd: 300_000, spentMicroUsd: 300_000 });
    // Job 1 stored: what it cost is what it had spent, nothing moves twice.
    await ledger.move('b1', '1', { to: 'stored', tenant: 'b1', spentUsd: 0.3 });
    expect(await ledger.read('b1')).toMatchObject({ reservedMicroUsd: 300_000, spentMicroUsd: 300_000 });
    expect(await limiter.acquireSubmit('q/4', { spend: spend('b1', 0.3, ref('4')) })).toMatchObject({ granted: true });
    expect(await limiter.acquireSubmit('q/2', { spend: spend('b1', 2, ref('2')) })).toMatchObject({ reason: 'budget', scope: 'batch', never: true });
  });
});

describe('racing for the last dollars', () => {
  test('limiter clients on four connections never grant past the daily, tenant or batch budget', async () => {
    const options = optionsFor({ dailyBudgetUsd: 2.05, tenantLimits: { t: { budgetUsd: 1.6 } } });
    const clients = [0, 1, 2, 3].map(() => new AccountLimiter(connect(), options));
    const redis = connect();
    const ledger = new BatchLedger(redis, options.prefix, 'q');
    await ledger.create({ id: 'race', tenant: 'race', budgetUsd: 0.75 });
    const jobs = Array.from({ length: 40 }, (_, i) => String(i));
    await ledger.join('race', 'race', jobs);

    const grab = async (scope: 'daily' | 'tenant' | 'batch'): Promise<SubmitGrant[]> =>
      Promise.all(
        jobs.map((id, i) => {
          const member = `${scope}/${id}`;
          const how =
            scope === 'batch' ? spend('race', 0.25, { ...ledger.keys('race'), jobId: id }) : scope === 'tenant' ? spend('t', 0.2) : spend(`free-${i}`, 0.1);
          return clients[i % clients.length]!.acquireSubmit(member, { spend: how });
        }),
      );
    const granted = (grants: SubmitGrant[]): number => grants.filter((g) => g.granted).length;
    // Batch: 0.75 / 0.25 = 3 jobs.
    expect(granted(await grab('batch'))).toBe(3);
    expect(await ledger.read('race')).toMatchObject({ reservedMicroUsd: 750_000 });
    // Tenant: 1.6 / 0.2 = 8 jobs; the fleet has 2.05 - 0.75 - 1.6 < 0 left for them: daily holds first.
    const tenantGrants = granted(await grab('tenant'));
    expect(tenantGrants).toBe(6);
    // Daily: 2.05 - 0.75 - 1.2 = 0.1: one more job of 0.10.
    expect(granted(await grab('daily'))).toBe(1);
    const status = await clients[0]!.spendStatus();
    expect(status.usedUsd).toBeCloseTo(2.05, 6);
    expect(status.usedUsd).toBeLessThanOrEqual(2.05);
    expect(await takeBudgetWaiters(redis, options.prefix)).toHaveLength(40 - 3 + 40 - 6 + 40 - 1);
    expect(await redis.hlen(spendKeys(options.prefix).reserved)).toBe(3 + 6 + 1);
  });
});
