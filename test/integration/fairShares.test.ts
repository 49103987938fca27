/**
 * Fair shares in the submit grant, on real Redis: a freed slot goes to the waiting tenant with the
 * fewest in flight, not to the oldest waiter; the refused job hands the slot over (names the waiter
 * to wake); a tenant not heard from for the heartbeat TTL holds no one back; FIFO when turned off.
 */
import type { AccountConfig } from '../../src/shared/config';
import { AccountLimiter, LimiterOptions } from '../../src/pool/limiter/accountLimiter';
import { useLimiterRedis } from '../support/limiterRedis';

const account = (name: string, maxConcurrent: number): AccountConfig => ({ name, apiKey: `key-${name}`, maxConcurrent, dailyLimit: 10_000 });
const { connect, newPrefix } = useLimiterRedis();

function limiterFor(extra: Partial<LimiterOptions> = {}): AccountLimiter {
  return new AccountLimiter(connect(), {
    prefix: newPrefix('test-fair'),
    accounts: [account('a', 2)],
    minIntervalMs: 0,
    intervalMarginMs: 0,
    dailyWindowMs: 86_400_000,
    dailyWindow: 'rolling',
    slotLeaseMs: 3_600_000,
    tenantHeartbeatMs: 60_000,
    ...extra,
  });
}

const as = (tenant: string, nowMs: number) => ({ spend: { tenant, priceUsd: 0 }, nowMs });

test('a freed slot goes to the waiting tenant with fewer in flight, handed over by the older waiter', async () => {
  const limiter = limiterFor();
  const t = Date.now();
  expect(await limiter.acquireSubmit('big-1', as('big', t))).toMatchObject({ granted: true });
  expect(await limiter.acquireSubmit('big-2', as('big', t))).toMatchObject({ granted: true });
  expect(await limiter.acquireSubmit('big-3', as('big', t + 1))).toEqual({ granted: false, reason: 'concurrency' });
  expect(await limiter.acquireSubmit('small-1', as('small', t + 2))).toEqual({ granted: false, reason: 'concurrency' });

  // The release wakes the oldest waiter (big-3); it finds small waiting with fewer in flight.
  expect(await limiter.releaseSlot('a', 'big-1')).toEqual(['big-3']);
  expect(await limiter.acquireSubmit('big-3', as('big', t + 3))).toEqual({ granted: false, reason: 'fair', wake: 'small-1' });
  expect(await limiter.acquireSubmit('small-1', as('small', t + 4))).toMatchObject({ granted: true });

  // One each in flight, small waits no more: big's next job takes the next slot.
  expect(await limiter.releaseSlot('a', 'big-2')).toEqual(['big-3']);
  expect(await limiter.acquireSubmit('big-3', as('big', t + 5))).toMatchObject({ granted: true });
});

test('tenants with as many in flight take turns: the older waiter first, never handing back and forth', async () => {
  const limiter = limiterFor();
  const t = Date.now();
  await limiter.acquireSubmit('x-1', as('x', t));
  await limiter.acquireSubmit('y-1', as('y', t));
  expect(await limiter.acquireSubmit('y-2', as('y', t + 1))).toEqual({ granted: false, reason: 'concurrency' });
  expect(await limiter.acquireSubmit('x-2', as('x', t + 2))).toEqual({ granted: false, reason: 'concurrency' });
  await limiter.releaseSlot('a', 'x-1');
  // x has fewer in flight now: y's waiter hands over to x's.
  expect(await limiter.acquireSubmit('y-2', as('y', t + 3))).toEqual({ granted: false, reason: 'fair', wake: 'x-2' });
  await limiter.releaseSlot('a', 'y-1');
  await limiter.releaseSlot('a', 'x-2');
  expect(await limiter.acquireSubmit('x-3', as('x', t + 4))).toEqual({ granted: false, reason: 'fair', wake: 'y-2' });
  expect(await limiter.acquireSubmit('y-2', as('y', t + 5))).toMatchObject({ granted: true });
});

test('a waiting tenant not heard from for the heartbeat TTL holds no one back, and its waiters are dropped', async () => {
  const limiter = limiterFor();
  const t = Date.now();
  await limiter.acquireSubmit('big-1', as('big', t));
  await limiter.acquireSubmit('big-2', as('big', t));
  expect(await limiter.acquireSubmit('gone-1', as('gone', t))).toEqual({ granted: false, reason: 'concurrency' });
  await limiter.releaseSlot('a', 'big-1');
  // Within the TTL, big's next job would hand the slot to gone-1; past it, gone is forgotten.
  expect(await limiter.acquireSubmit('big-3', as('big', t + 60_001))).toMatchObject({ granted: true });
});

test('with fair shares off (heartbeat 0), the oldest waiter takes the slot whatever its tenant', async () => {
  const limiter = limiterFor({ tenantHeartbeatMs: 0 });
  const t = Date.now();
  await limiter.acquireSubmit('big-1', as('big', t));
  await limiter.acquireSubmit('big-2', as('big', t));
  await limiter.acquireSubmit('big-3', as('big', t + 1));
  await limiter.acquireSubmit('small-1', as('small', t + 2));
  expect(await limiter.releaseSlot('a', 'big-1')).toEqual(['big-3']);
  expect(await limiter.acquireSubmit('big-3', as('big', t + 3))).toMatchObject({ granted: true });
});

test("a tenant at its own cap hands the free slot to another tenant's waiter", async () => {
  const limiter = limiterFor({ tenantLimits: { capped: { concurrent: 1 } } });
  const t = Date.now();
  await limiter.acquireSubmit('capped-1', as('capped', t));
  await limiter.acquireSubmit('other-1', as('other', t));
  expect(await limiter.acquireSubmit('other-2', as('other', t + 1))).toEqual({ granted: false, reason: 'concurrency' });
  expect(await limiter.releaseSlot('a', 'other-1')).toEqual(['other-2']);
  // capped-2 arrives first (woken by the failsafe): its cap is used, other-2 gets the slot.
  expect(await limiter.acquireSubmit('capped-2', as('capped', t + 2))).toEqual({
    granted: false,
    reason: 'tenant',
    limit: 'concurrent',
    waitMs: 0,
    wake: 'other-2',
  });
  expect(await limiter.acquireSubmit('other-2', as('other', t + 3))).toMatchObject({ granted: true });
});

test('a crashed job leaks no in-flight count: its slot running out of lease frees its tenant', async () => {
  const limiter = limiterFor({ slotLeaseMs: 1000 });
  const t = Date.now();
  await limiter.acquireSubmit('big-1', as('big', t));
  await limiter.acquireSubmit('big-2', as('big', t));
  expect(await limiter.acquireSubmit('small-1', as('small', t + 1))).toEqual({ granted: false, reason: 'concurrency' });
  // Both slots' leases ran out (the workers died): nothing counts for big any more; small's waiter
  // is older than big-3 (which has none), so small goes first, then big.
  expect(await limiter.acquireSubmit('big-3', as('big', t + 2000))).toEqual({ granted: false, reason: 'fair', wake: 'small-1' });
  expect(await limiter.acquireSubmit('small-1', as('small', t + 2001))).toMatchObject({ granted: true });
  expect(await limiter.acquireSubmit('big-4', as('big', t + 2002))).toMatchObject({ granted: true });
});
