import type { Redis } from 'ioredis';
import type { AccountConfig } from '../../src/shared/config';
import { AccountLimiter, LimiterOptions, SubmitGrant } from '../../src/pool/limiter/accountLimiter';
import { hurryCheck } from '../../src/pool/limiter/hurryCheck';
import { accountKeys, waitersKey } from '../../src/pool/limiter/limiterKeys';
import { loadLimiterScripts } from '../../src/pool/limiter/limiterScripts';
import { useLimiterRedis } from '../support/limiterRedis';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const account = (name: string, maxConcurrent = 10, dailyLimit = 100): AccountConfig => ({ name, apiKey: `key-${name}`, maxConcurrent, dailyLimit });

const { connections, connect, newPrefix } = useLimiterRedis();

/** A limiter on its own key prefix; spacing 1000 ms unless told (950 interval + 50 margin). */
function limiterFor(options: Partial<LimiterOptions> & { accounts: readonly AccountConfig[] }, redis: Redis = connect()): AccountLimiter {
  return new AccountLimiter(redis, {
    prefix: newPrefix('test-limiter'),
    minIntervalMs: 950,
    intervalMarginMs: 50,
    dailyWindowMs: DAY,
    dailyWindow: 'rolling',
    slotLeaseMs: HOUR,
    ...options,
  });
}

const prefixOf = (limiter: AccountLimiter): string => (limiter as unknown as { options: LimiterOptions }).options.prefix;

describe('quota window', () => {
  test('rolling: a submit exactly windowMs old no longer counts', async () => {
    const limiter = limiterFor({ accounts: [account('a', 10, 2)], dailyWindowMs: 60_000 });
    const t = Date.now();
    expect(await limiter.acquireSubmit('j1', { nowMs: t })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 1000 })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 59_999 })).toEqual({ granted: false, reason: 'quota', waitMs: 1 });
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 60_000 })).toEqual({ granted: true, account: 'a' });
    const [status] = await limiter.status(t + 60_000);
    expect(status).toMatchObject({ submitsInWindow: 2, nextQuotaAt: t + 61_000 });
  });

  test('utc-day: the quota comes back at 00:00 UTC, whatever windowMs says', async () => {
    const limiter = limiterFor({ accounts: [account('a', 10, 1)], dailyWindow: 'utc-day', dailyWindowMs: 1000 });
    const midnight = Math.floor(Date.now() / DAY + 1) * DAY;
    expect(await limiter.acquireSubmit('j1', { nowMs: midnight - 5000 })).toMatchObject({ granted: true });
    // Well past windowMs, still the same UTC day.
    expect(await limiter.acquireSubmit('j2', { nowMs: midnight - 1 })).toEqual({ granted: false, reason: 'quota', waitMs: 1 });
    expect(await limiter.acquireSubmit('j2', { nowMs: midnight })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.acquireSubmit('j3', { nowMs: midnight + 2000 })).toEqual({ granted: false, reason: 'quota', waitMs: DAY - 2000 });
  });

  test('quota answers the earliest opening over all accounts, and only when none has quota left', async () => {
    const limiter = limiterFor({ accounts: [account('a', 1, 1), account('b', 1, 1)], dailyWindowMs: 100_000 });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { accounts: ['a'], nowMs: t });
    await limiter.acquireSubmit('j2', { accounts: ['b'], nowMs: t + 3000 });
    await limiter.releaseSlot('a', 'j1');
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 4000 })).toEqual({ granted: false, reason: 'quota', waitMs: 96_000 });
  });

  test("refund gives back the job's latest unit and nobody else's", async () => {
    const limiter = limiterFor({ accounts: [account('a', 10, 2)] });
    const t = Date.now();
    await limiter.acquireSubmit('job', { nowMs: t });
    await limiter.acquireSubmit('job:b', { nowMs: t + 1000 });
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 2000 })).toMatchObject({ reason: 'quota' });
    await limiter.refundSubmit('a', 'job');
    await limiter.refundSubmit('a', 'nobody');
    const submits = await connections[0]!.zrange(accountKeys(prefixOf(limiter), 'a').submits, 0, '-1');
    expect(submits).toEqual([`job:b:${t + 1000}`]);
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 2000 })).toEqual({ granted: true, account: 'a' });
  });

  test('two submits of one job in the same ms count twice, and a refund takes one back', async () => {
    const limiter = limiterFor({ accounts: [account('a', 10, 5)], minIntervalMs: 0, intervalMarginMs: 0 });
    const t = Date.now();
    await limiter.acquireSubmit('job', { nowMs: t });
    await limiter.releaseSlot('a', 'job');
    await limiter.acquireSubmit('job', { nowMs: t });
    expect((await limiter.status(t))[0]!.submitsInWindow).toBe(2);
    await limiter.refundSubmit('a', 'job');
    expect((await limiter.status(t))[0]!.submitsInWindow).toBe(1);
  });
});

describe('quota window starts when KIE has the request', () => {
  test('a confirmed submit counts from its confirmation, not its grant', async () => {
    const limiter = limiterFor({ accounts: [account('a', 10, 1)], dailyWindowMs: 60_000 });
    const t = Date.now();
    expect(await limiter.acquireSubmit('j1', { nowMs: t })).toEqual({ granted: true, account: 'a' });
    // The create request reached KIE 80 ms after the grant; its answer came at t + 120.
    await limiter.confirmSubmit('a', 'j1', t + 120);
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 60_000 })).toEqual({ granted: false, reason: 'quota', waitMs: 120 });
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 60_120 })).toEqual({ granted: true, account: 'a' });
  });

  test("confirming never moves a unit back in time, nor touches another job's", async () => {
    const limiter = limiterFor({ accounts: [account('a', 10, 5)], dailyWindowMs: 60_000 });
    const t = Date.now();
    await limiter.acquireSubmit('job', { nowMs: t });
    await limiter.acquireSubmit('job:b', { nowMs: t + 2000 });
    await limiter.confirmSubmit('a', 'job', t - 500);
    await limiter.confirmSubmit('a', 'job', t + 100);
    const redis = connect();
    const members = await redis.zrange(accountKeys(prefixOf(limiter), 'a').submits, '0', '-1', 'WITHSCORES');
    expect(members).toEqual([`job:${t}`, String(t + 100), `job:b:${t + 2000}`, String(t + 2000)]);
  });
});

describe('slots', () => {
  test('an expired lease frees the slot, and the sweep reports it with its task', async () => {
    const limiter = limiterFor({ accounts: [account('a', 1)], slotLeaseMs: 5000 });
    const redis = connections[connections.length - 1]!;
    const keys = accountKeys(prefixOf(limiter), 'a');
    const t = Date.now() - 60_000;
    expect(await limiter.acquireSubmit('j1', { nowMs: t })).toMatchObject({ granted: true });
    await loadLimiterScripts(redis).run('bindTask', [keys.slots, keys.tasks], ['j1', 'task-1', 5000, t]);
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 4999 })).toEqual({ granted: false, reason: 'concurrency' });
    expect(await limiter.sweepExpiredSlots(t + 4999)).toEqual({ expired: [], wake: [] });
    expect(await limiter.sweepExpiredSlots(t + 5000)).toEqual({ expired: [{ account: 'a', jobId: 'j1', taskId: 'task-1' }], wake: ['j2'] });
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 5000 })).toEqual({ granted: true, account: 'a' });
    expect(await redis.hgetall(keys.tasks)).toEqual({});
  });

  test('every acquire drops expired slots before counting', async () => {
    const limiter = limiterFor({ accounts: [account('a', 1)], slotLeaseMs: 5000 });
    const t = Date.now() - 60_000;
    await limiter.acquireSubmit('j1', { nowMs: t });
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 5000 })).toEqual({ granted: true, account: 'a' });
  });

  test('re-acquiring a held slot grants it again without a second slot or quota unit', async () => {
    const limiter = limiterFor({ accounts: [account('a', 1, 1), account('b')] });
    const t = Date.now();
    expect(await limiter.acquireSubmit('j1', { accounts: ['a'], nowMs: t })).toEqual({ granted: true, account: 'a' });
    // a is now full and out of quota, and b is idle: j1 still gets its own slot back, on a.
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1000 })).toEqual({ granted: true, account: 'a' });
    // A re-acquire is still a request to KIE, so it waits for its turn like any other.
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1500 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 500 });
    const [a, b] = await limiter.status(t + 1500);
    expect(a).toMatchObject({ inFlight: 1, submitsInWindow: 1 });
    expect(b).toMatchObject({ inFlight: 0, submitsInWindow: 0 });
  });

  test('a held slot is found on an account the caller no longer offers (it cannot pay) and reused there', async () => {
    const limiter = limiterFor({ accounts: [account('a', 2, 5), account('b', 2, 5)] });
    const t = Date.now();
    expect(await limiter.acquireSubmit('j1', { accounts: ['a'], nowMs: t })).toEqual({ granted: true, account: 'a' });
    // The worker died after spending a's credits; the retry's credit filter now offers only b.
    expect(await limiter.acquireSubmit('j1', { accounts: ['b'], nowMs: t + 1000 })).toEqual({ granted: true, account: 'a' });
    const [a, b] = await limiter.status(t + 1000);
    expect(a).toMatchObject({ inFlight: 1, submitsInWindow: 1 });
    expect(b).toMatchObject({ inFlight: 0, submitsInWindow: 0 });
  });

  test('a held slot is found and reused on a paused account, and the job is no waiter', async () => {
    const limiter = limiterFor({ accounts: [account('a', 1, 5), account('b', 1, 5)], slotLeaseMs: 10_000 });
    const redis = connections[connections.length - 1]!;
    const t = Date.now();
    await limiter.acquireSubmit('j1', { accounts: ['a'], nowMs: t });
    await limiter.pause('a', 'insufficient credits (1002)');
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 4000 })).toEqual({ granted: true, account: 'a' });
    // The lease is renewed from the new grant; no slot or unit was taken on b.
    expect(Number(await redis.zscore(accountKeys(prefixOf(limiter), 'a').slots, 'j1'))).toBe(t + 14_000);
    const [a, b] = await limiter.status(t + 4000);
    expect(a).toMatchObject({ inFlight: 1, submitsInWindow: 1, waiters: 0 });
    expect(b).toMatchObject({ inFlight: 0, submitsInWindow: 0 });
  });

  test("a held slot on an account the caller does not offer still waits for that account's turn", async () => {
    const limiter = limiterFor({ accounts: [account('a', 2, 5), account('b', 2, 5)] });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { accounts: ['a'], nowMs: t });
    expect(await limiter.acquireSubmit('j1', { accounts: ['b'], nowMs: t + 400 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 600 });
    // b stayed untouched: another job takes it now.
    expect(await limiter.acquireSubmit('j2', { accounts: ['b'], nowMs: t + 400 })).toEqual({ granted: true, account: 'b' });
    expect(await limiter.acquireSubmit('j1', { accounts: ['b'], nowMs: t + 1000 })).toEqual({ granted: true, account: 'a' });
    expect((await limiter.status(t + 1000)).map((s) => s.submitsInWindow)).toEqual([1, 1]);
  });

  test('bindTask keeps the slot for the task; scheduling a check never brings back a released slot', async () => {
    const limiter = limiterFor({ accounts: [account('a', 2)] });
    const redis = connections[connections.length - 1]!;
    const keys = accountKeys(prefixOf(limiter), 'a');
    await limiter.acquireSubmit('j1', { nowMs: Date.now() });
    await limiter.bindTask('a', 'j1', 'task-1');
    expect(await redis.hget(keys.tasks, 'j1')).toBe('task-1');
    expect(Number(await redis.zscore(keys.slots, 'j1'))).toBeGreaterThan(Date.now() + HOUR - 5000);
    await limiter.releaseSlot('a', 'j1');
    expect(await limiter.scheduleCheck('a', 'j1', 0)).toBe(false);
    expect(await redis.zcard(keys.slots)).toBe(0);
    expect(await redis.zcard(keys.checks)).toBe(0);
    expect(await redis.hlen(keys.tasks)).toBe(0);
  });

  test('release wakes the oldest waiters, one per free slot', async () => {
    const limiter = limiterFor({ accounts: [account('a', 2)], minIntervalMs: 0, intervalMarginMs: 0 });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { nowMs: t });
    await limiter.acquireSubmit('j2', { nowMs: t });
    for (const [i, job] of ['w1', 'w2', 'w3'].entries()) {
      expect(await limiter.acquireSubmit(job, { nowMs: t + i })).toEqual({ granted: false, reason: 'concurrency' });
    }
    // Asking again keeps the waiter's place in line.
    await limiter.acquireSubmit('w1', { nowMs: t + 10 });
    expect(await limiter.releaseSlot('a', 'j1')).toEqual(['w1']);
    expect((await limiter.status())[0]!.waiters).toBe(2);
    expect(await limiter.releaseSlot('a', 'j2')).toEqual(['w2', 'w3']);
    expect((await limiter.status())[0]!.waiters).toBe(0);
  });
});

describe('status checks against the pacer', () => {
  /** A limiter with `n` tasks bound, submitted 1 s apart from t (the first is the oldest). */
  async function withTasks(n: number, t: number): Promise<AccountLimiter> {
    const limiter = limiterFor({ accounts: [account('a', 10)], minIntervalMs: 100, intervalMarginMs: 0 });
    for (let i = 0; i < n; i++) {
      const at = t + i * 1000;
      expect(await limiter.acquireSubmit(`j${i}`, { nowMs: at })).toEqual({ granted: true, account: 'a' });
      await limiter.bindTask('a', `j${i}`, `task-${i}`);
      await limiter.scheduleCheck('a', `j${i}`, 500, at);
    }
    return limiter;
  }

  test('nothing in flight: idle; not yet due: wait until the first check is due', async () => {
    const t = Date.now();
    expect(await limiterFor({ accounts: [account('a')] }).claimCheck('a', t)).toEqual({ claimed: false });
    const limiter = await withTasks(1, t);
    expect(await limiter.claimCheck('a', t + 200)).toEqual({ claimed: false, waitMs: 300 });
  });

  test('of the due checks, the task submitted first gets the turn; turns stay spaced', async () => {
    const t = Date.now();
    const limiter = await withTasks(3, t);
    // All three due at t + 2500 + ...; j0 is the oldest.
    expect(await limiter.claimCheck('a', t + 10_000)).toEqual({ claimed: true, jobId: 'j0', taskId: 'task-0', ageMs: 10_000 });
    expect(await limiter.claimCheck('a', t + 10_050)).toEqual({ claimed: false, waitMs: 50 });
    // j0 is claimed (pushed back), so j1 is next.
    expect(await limiter.claimCheck('a', t + 10_100)).toEqual({ claimed: true, jobId: 'j1', taskId: 'task-1', ageMs: 9_100 });
    // j0 seen generating: due again in 500 ms, and again the first choice once due.
    await limiter.scheduleCheck('a', 'j0', 500, t + 10_100);
    expect(await limiter.claimCheck('a', t + 10_600)).toEqual({ claimed: true, jobId: 'j0', taskId: 'task-0', ageMs: 10_600 });
  });

  test('a check a callback hurried goes before older due ones, even before it was due', async () => {
    const t = Date.now();
    const limiter = await withTasks(3, t);
    expect(await hurryCheck(connections[connections.length - 1]!, prefixOf(limiter), 'a', 'j2')).toBe(true);
    expect(await limiter.claimCheck('a', t + 2100)).toEqual({ claimed: true, jobId: 'j2', taskId: 'task-2', ageMs: 100 });
    expect(await limiter.claimCheck('a', t + 10_000)).toEqual({ claimed: true, jobId: 'j0', taskId: 'task-0', ageMs: 10_000 });
    expect(await hurryCheck(connections[connections.length - 1]!, prefixOf(limiter), 'a', 'gone')).toBe(false);
  });

  test('a check yields to a submit that reserved the turn', async () => {
    const t = Date.now();
    const limiter = await withTasks(1, t);
    await limiter.scheduleCheck('a', 'j0', 0, t);
    // The last grant was at t (the submit); a new submit at t + 50 reserves the turn at t + 100.
    expect(await limiter.acquireSubmit('new', { nowMs: t + 50 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 50 });
    // The due check may not take the reserved turn: it waits for the one after.
    expect(await limiter.claimCheck('a', t + 120)).toEqual({ claimed: false, waitMs: 80 });
    expect(await limiter.acquireSubmit('new', { nowMs: t + 120 })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.claimCheck('a', t + 220)).toEqual({ claimed: true, jobId: 'j0', taskId: 'task-0', ageMs: 220 });
  });

  test('a released task is never checked again', async () => {
    const t = Date.now();
    const limiter = await withTasks(2, t);
    await limiter.releaseSlot('a', 'j0');
    expect(await limiter.claimCheck('a', t + 10_000)).toEqual({ claimed: true, jobId: 'j1', taskId: 'task-1', ageMs: 9_000 });
    expect(await limiter.claimCheck('a', t + 10_200)).toEqual({ claimed: false, waitMs: 30_000 - 200 });
  });
});

describe('request turns', () => {
  test('every grant of any kind moves the turn by interval + margin', async () => {
    const limiter = limiterFor({ accounts: [account('a')] });
    const t = Date.now();
    expect(await limiter.tryRequestTurn('a', 'poll', t)).toEqual({ granted: true });
    expect(await limiter.tryRequestTurn('a', 'refresh', t + 999)).toEqual({ granted: false, waitMs: 1 });
    expect(await limiter.tryRequestTurn('a', 'refresh', t + 1000)).toEqual({ granted: true });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1500 })).toMatchObject({ reason: 'interval', waitMs: 500 });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 2000 })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.tryRequestTurn('a', 'retry', t + 2999)).toEqual({ granted: false, waitMs: 1 });
    expect((await limiter.status(t + 2000))[0]!.nextTurnAt).toBe(t + 3000);
  });

  test('a submit waiting for its turn reserves it: a poll waits one interval more', async () => {
    const limiter = limiterFor({ accounts: [account('a')] });
    const t = Date.now();
    await limiter.tryRequestTurn('a', 'poll', t);
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 100 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 900 });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 1000)).toEqual({ granted: false, waitMs: 1000 });
    // Another submit does not take the reserved turn either.
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 1005 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 995 });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1010 })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 2000)).toEqual({ granted: false, waitMs: 10 });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 2010)).toEqual({ granted: true });
  });

  test('a reservation lapses one interval after its turn opens', async () => {
    const limiter = limiterFor({ accounts: [account('a')] });
    const t = Date.now();
    await limiter.tryRequestTurn('a', 'poll', t);
    await limiter.acquireSubmit('j1', { nowMs: t + 100 });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 1999)).toEqual({ granted: false, waitMs: 1 });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 2000)).toEqual({ granted: true });
    // The late submit gets the next free turn like anyone else.
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 2100 })).toMatchObject({ reason: 'interval', waitMs: 900 });
  });

  test('retry and refresh are not held back by a reservation; the submit re-reserves the next turn', async () => {
    const limiter = limiterFor({ accounts: [account('a')] });
    const t = Date.now();
    await limiter.tryRequestTurn('a', 'poll', t);
    await limiter.acquireSubmit('j1', { nowMs: t + 100 });
    expect(await limiter.tryRequestTurn('a', 'retry', t + 1000)).toEqual({ granted: true });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1001 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 999 });
    expect(await limiter.tryRequestTurn('a', 'refresh', t + 2000)).toEqual({ granted: true });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 2001 })).toMatchObject({ reason: 'interval', waitMs: 999 });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 3000)).toEqual({ granted: false, waitMs: 1000 });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 3000 })).toEqual({ granted: true, account: 'a' });
  });

  test('a submit that moves to another account drops its reservation', async () => {
    const limiter = limiterFor({ accounts: [account('a'), account('b')] });
    const t = Date.now();
    await limiter.tryRequestTurn('a', 'poll', t);
    await limiter.tryRequestTurn('b', 'poll', t + 500);
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 600 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 400 });
    await limiter.pause('a', 'out of credits');
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1500 })).toEqual({ granted: true, account: 'b' });
    await limiter.resume('a');
    // Without the drop, this poll would wait for the reservation to lapse at t + 2000.
    expect(await limiter.tryRequestTurn('a', 'poll', t + 1500)).toEqual({ granted: true });
  });

  test('a request that leaves late pushes the next grant one spacing past its departure, never earlier', async () => {
    const limiter = limiterFor({ accounts: [account('a')] });
    const t = Date.now();
    expect(await limiter.tryRequestTurn('a', 'poll', t)).toEqual({ granted: true });
    // The worker stalled 30 ms between its grant and its send.
    expect(await limiter.fenceSend('a', 'read', 'late', t + 30)).toBe(0);
    expect(await limiter.tryRequestTurn('a', 'poll', t + 1000)).toEqual({ granted: false, waitMs: 30 });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1010 })).toMatchObject({ reason: 'interval', waitMs: 20 });
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 1030 })).toEqual({ granted: true, account: 'a' });
    // A send checked at an earlier time than the last one (its worker's clock reading came late)
    // cannot undo a later grant: it waits, and changes nothing.
    expect(await limiter.fenceSend('a', 'read', 'stale', t + 500)).toBe(530);
    expect((await limiter.status(t + 1030))[0]!.nextTurnAt).toBe(t + 2030);
  });

  test('waitForRequestTurn sleeps until granted and stops when aborted', async () => {
    const limiter = limiterFor({ accounts: [account('a')], minIntervalMs: 150, intervalMarginMs: 0 });
    await limiter.waitForRequestTurn('a', 'poll');
    const started = Date.now();
    await limiter.waitForRequestTurn('a', 'poll');
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    const aborted = limiter.waitForRequestTurn('a', 'poll', AbortSignal.timeout(20));
    await expect(aborted).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});

describe('account choice', () => {
  test('two accounts share a backlog', async () => {
    const limiter = limiterFor({ accounts: [account('a'), account('b')] });
    const t = Date.now();
    const grants: Record<string, number> = { a: 0, b: 0 };
    let job = 0;
    for (let now = t; now < t + 5000; now += 250) {
      const grant = await limiter.acquireSubmit(`j${job}`, { nowMs: now });
      if (grant.granted) {
        grants[grant.account]! += 1;
        job += 1;
      }
    }
    expect(grants).toEqual({ a: 5, b: 5 });
  });

  test('among accounts that can grant now, the one with fewest in flight wins', async () => {
    const limiter = limiterFor({ accounts: [account('a'), account('b')] });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { accounts: ['b'], nowMs: t });
    await limiter.acquireSubmit('j2', { accounts: ['b'], nowMs: t + 1000 });
    await limiter.acquireSubmit('j3', { accounts: ['a'], nowMs: t + 1000 });
    expect(await limiter.acquireSubmit('j4', { nowMs: t + 5000 })).toEqual({ granted: true, account: 'a' });
  });

  test('an account that can grant now beats one whose turn is later; a full one is skipped', async () => {
    const limiter = limiterFor({ accounts: [account('a', 1), account('b')] });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { nowMs: t });
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 10 })).toEqual({ granted: true, account: 'b' });
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 5000 })).toEqual({ granted: true, account: 'b' });
  });

  test('concurrency, not quota, when an account with quota is full', async () => {
    const limiter = limiterFor({ accounts: [account('a', 10, 1), account('b', 1, 10)] });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { accounts: ['a'], nowMs: t });
    await limiter.acquireSubmit('j2', { accounts: ['b'], nowMs: t });
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 5000 })).toEqual({ granted: false, reason: 'concurrency' });
  });

  test('an unknown account is refused by name', async () => {
    const limiter = limiterFor({ accounts: [account('a')] });
    await expect(limiter.acquireSubmit('j1', { accounts: ['zz'] })).rejects.toThrow('account "zz" is not configured (known: a)');
  });
});

describe('pause and resume', () => {
  test('a paused account gets no submits but still gets request turns; resume wakes its waiters', async () => {
    const limiter = limiterFor({ accounts: [account('a', 2), account('b', 1)] });
    const t = Date.now();
    await limiter.acquireSubmit('busy', { accounts: ['b'], nowMs: t });
    await limiter.pause('a', 'insufficient credits (1002)');
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 5000 })).toEqual({ granted: false, reason: 'concurrency' });
    await limiter.pause('b', 'maintenance');
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 5000 })).toEqual({ granted: false, reason: 'paused' });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 5000)).toEqual({ granted: true });
    expect(await limiter.releaseSlot('b', 'busy')).toEqual([]);
    const [a] = await limiter.status();
    expect(a).toMatchObject({ account: 'a', paused: 'insufficient credits (1002)', waiters: 2 });
    expect(await limiter.resume('a')).toEqual(['j1', 'j2']);
    expect(await limiter.acquireSubmit('j1', { nowMs: t + 6000 })).toEqual({ granted: true, account: 'a' });
    expect((await limiter.status()).map((s) => s.paused)).toEqual([undefined, 'maintenance']);
  });
});

describe('many workers at once', () => {
  test('20 concurrent acquirers never exceed the caps nor get turns closer than the interval', async () => {
    const spacing = 40;
    const accounts = [account('a', 3, 8), account('b', 3, 8)];
    const first = limiterFor({ accounts, minIntervalMs: 35, intervalMarginMs: 5 });
    const options = { ...(first as unknown as { options: LimiterOptions }).options };
    const limiters = [first, ...[1, 2, 3].map(() => new AccountLimiter(connect(), options))];
    const inFlight: Record<string, number> = { a: 0, b: 0 };
    const peak: Record<string, number> = { a: 0, b: 0 };
    const outcome: SubmitGrant['granted'][] = [];

    const worker = async (i: number): Promise<void> => {
      const limiter = limiters[i % limiters.length]!;
      for (;;) {
        const grant = await limiter.acquireSubmit(`job-${i}`);
        if (grant.granted) {
          inFlight[grant.account]! += 1;
          peak[grant.account] = Math.max(peak[grant.account]!, inFlight[grant.account]!);
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 40));
          inFlight[grant.account]! -= 1;
          await limiter.releaseSlot(grant.account, `job-${i}`);
          outcome.push(true);
          return;
        }
        if (grant.reason === 'quota') {
          outcome.push(false);
          return;
        }
        await new Promise((r) => setTimeout(r, grant.reason === 'interval' ? grant.waitMs : 5));
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => worker(i)));

    expect(outcome.filter(Boolean)).toHaveLength(16);
    expect(peak.a).toBeLessThanOrEqual(3);
    expect(peak.b).toBeLessThanOrEqual(3);
    const redis = connections[0]!;
    for (const name of ['a', 'b']) {
      const scores = (await redis.zrange(accountKeys(options.prefix, name).submits, 0, '-1', 'WITHSCORES')).filter((_, j) => j % 2 === 1).map(Number);
      expect(scores).toHaveLength(8);
      for (let j = 1; j < scores.length; j++) expect(scores[j]! - scores[j - 1]!).toBeGreaterThanOrEqual(spacing);
    }
    expect(await redis.zcard(waitersKey(options.prefix))).toBe(0);
  }, 20_000);
});

describe('options', () => {
  test('bad options are refused, naming the field', () => {
    expect(() => limiterFor({ accounts: [account('a', 0)], slotLeaseMs: -1 })).toThrow(/accounts\.a\.maxConcurrent=0.*\n.*slotLeaseMs=-1/);
  });
});
