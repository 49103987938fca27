import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import axios from 'axios';
import type { AccountConfig, RequestRates } from '../../src/shared/config';
import { TransientKieError } from '../../src/shared/errors';
import { sendOnTurn } from '../../src/pool/kieCall';
import { whenWritten } from '../../src/pool/requestWritten';
import { AccountLimiter, LimiterOptions } from '../../src/pool/limiter/accountLimiter';
import { REDIS_URL, useLimiterRedis } from '../support/limiterRedis';
import type { LimiterStep, LimiterStepsInput } from '../support/limiterSteps';

const ROOT = path.resolve(__dirname, '../..');
const DAY = 86_400_000;

const account = (name: string, extra: Partial<AccountConfig> = {}): AccountConfig => ({
  name,
  apiKey: `key-${name}`,
  maxConcurrent: 1000,
  dailyLimit: 1_000_000,
  ...extra,
});

const { connect, newPrefix } = useLimiterRedis();

function optionsFor(rates: RequestRates, extra: Partial<LimiterOptions> = {}): LimiterOptions {
  const prefix = newPrefix('test-rates');
  return {
    prefix,
    accounts: [account('a')],
    minIntervalMs: 0,
    intervalMarginMs: 0,
    rates,
    dailyWindowMs: DAY,
    dailyWindow: 'rolling',
    slotLeaseMs: DAY,
    ...extra,
  };
}

const limiterFor = (rates: RequestRates, extra: Partial<LimiterOptions> = {}): AccountLimiter => new AccountLimiter(connect(), optionsFor(rates, extra));

/** Runs one limiter-steps process per entry of `steps`, in lockstep; their answers, in order. */
async function inProcesses(options: LimiterOptions, steps: LimiterStep[][]): Promise<unknown[][]> {
  const barrier = `${options.prefix}:lockstep`;
  const runs = steps.map((own) => {
    const input: LimiterStepsInput = { redisUrl: REDIS_URL, options, barrier, processes: steps.length, steps: own };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/limiterSteps.ts'), JSON.stringify(input)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise<unknown[]>((resolve, reject) => {
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as unknown[]) : reject(new Error(`limiter process exited with ${code}: ${err}`))));
    });
  });
  return Promise.all(runs);
}

describe('rate budgets per request class', () => {
  test('creates and reads each draw on a budget of their own: up to N at once, then when the oldest leaves the window', async () => {
    const limiter = limiterFor({ create: { limit: 3, windowMs: 1000 }, read: { limit: 2, windowMs: 500 } });
    const t = Date.now();
    for (const job of ['j1', 'j2', 'j3']) expect(await limiter.acquireSubmit(job, { nowMs: t })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.acquireSubmit('j4', { nowMs: t + 10 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 990 });
    // Reads are not held back by creates, nor creates by reads.
    expect(await limiter.tryRequestTurn('a', 'poll', t + 10)).toEqual({ granted: true });
    expect(await limiter.tryRequestTurn('a', 'refresh', t + 20)).toEqual({ granted: true });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 30)).toEqual({ granted: false, waitMs: 480 });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 510)).toEqual({ granted: true });
    expect(await limiter.tryRequestTurn('a', 'retry', t + 515, 'read')).toEqual({ granted: false, waitMs: 5 });
    // The first three left the window: three more may go.
    for (const job of ['j4', 'j5', 'j6']) expect(await limiter.acquireSubmit(job, { nowMs: t + 1000 })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.acquireSubmit('j7', { nowMs: t + 1000 })).toMatchObject({ reason: 'interval', waitMs: 1000 });
  });

  test('the margin lengthens every window', async () => {
    const limiter = limiterFor({ create: { limit: 2, windowMs: 1000 } }, { intervalMarginMs: 25 });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { nowMs: t });
    await limiter.acquireSubmit('j2', { nowMs: t + 100 });
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 1000 })).toMatchObject({ reason: 'interval', waitMs: 25 });
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 1025 })).toEqual({ granted: true, account: 'a' });
    expect(limiter.unitMs('a', 'create')).toBe(525);
  });

  test('an interval over class budgets spaces every request, and a submit waiting for it goes before a poll', async () => {
    const limiter = limiterFor({ intervalMs: 100, create: { limit: 5, windowMs: 1000 }, read: { limit: 5, windowMs: 1000 } });
    const t = Date.now();
    expect(await limiter.acquireSubmit('j1', { nowMs: t })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 50)).toEqual({ granted: false, waitMs: 50 });
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 60 })).toEqual({ granted: false, reason: 'interval', account: 'a', waitMs: 40 });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 100)).toEqual({ granted: false, waitMs: 100 });
    expect(await limiter.acquireSubmit('j2', { nowMs: t + 100 })).toEqual({ granted: true, account: 'a' });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 200)).toEqual({ granted: true });
  });

  test("an account of its own rates paces by them, the others by the fleet's", async () => {
    const limiter = new AccountLimiter(connect(), {
      ...optionsFor({ intervalMs: 1000 }),
      accounts: [account('a'), account('b', { rates: { read: { limit: 5, windowMs: 1000 }, create: { limit: 1, windowMs: 1000 } } })],
    });
    const t = Date.now();
    for (let i = 0; i < 5; i++) expect(await limiter.tryRequestTurn('b', 'poll', t)).toEqual({ granted: true });
    expect(await limiter.tryRequestTurn('a', 'poll', t)).toEqual({ granted: true });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 1)).toEqual({ granted: false, waitMs: 999 });
  });

  test('without a daily quota, submits are neither counted nor refused', async () => {
    const limiter = new AccountLimiter(connect(), {
      ...optionsFor({ read: { limit: 1, windowMs: 1000 } }),
      accounts: [account('a', { dailyLimit: Number.POSITIVE_INFINITY })],
    });
    const t = Date.now();
    for (let i = 0; i < 5; i++) expect(await limiter.acquireSubmit(`j${i}`, { nowMs: t + i })).toEqual({ granted: true, account: 'a' });
    expect((await limiter.status(t + 10))[0]).toMatchObject({ inFlight: 5, submitsInWindow: 0, dailyLimit: Number.POSITIVE_INFINITY });
  });

  test('a budget of nothing is refused, naming the field', () => {
    expect(() => limiterFor({ create: { limit: 0, windowMs: 1000 } })).toThrow(/accounts\.a\.rates\.create\.limit=0/);
    expect(() => limiterFor({})).toThrow(/accounts\.a\.rates=\{\}: must hold an interval or a budget/);
  });
});

describe('check and fence at the moment a request leaves', () => {
  test("a request granted after a late one is pushed by the late one's send, not sent beside it", async () => {
    const limiter = limiterFor({ intervalMs: 1000 });
    const t = Date.now();
    expect(await limiter.tryRequestTurn('a', 'poll', t)).toEqual({ granted: true });
    expect(await limiter.tryRequestTurn('a', 'poll', t + 1000)).toEqual({ granted: true });
    // The first worker stalled: it sends at t + 990, the second on time at t + 1000.
    expect(await limiter.fenceSend('a', 'read', 'first', t + 990)).toBe(0);
    expect(await limiter.fenceSend('a', 'read', 'second', t + 1000)).toBe(990);
    expect(await limiter.fenceSend('a', 'read', 'second', t + 1990)).toBe(0);
    // Grants after it wait for its send too.
    expect(await limiter.tryRequestTurn('a', 'poll', t + 2000)).toEqual({ granted: false, waitMs: 990 });
  });

  test('the same request checked again replaces its own send instead of waiting for itself', async () => {
    const limiter = limiterFor({ intervalMs: 1000 });
    const t = Date.now();
    expect(await limiter.fenceSend('a', 'read', 'r1', t)).toBe(0);
    expect(await limiter.fenceSend('a', 'read', 'r1', t + 30)).toBe(0);
    expect(await limiter.fenceSend('a', 'read', 'r2', t + 1000)).toBe(30);
  });

  test('class budgets count actual sends: late sends hold back a unit granted once the grants left the window', async () => {
    const limiter = limiterFor({ create: { limit: 2, windowMs: 1000 } });
    const t = Date.now();
    await limiter.acquireSubmit('j1', { nowMs: t });
    await limiter.acquireSubmit('j2', { nowMs: t });
    expect(await limiter.fenceSend('a', 'create', 's1', t + 500)).toBe(0);
    expect(await limiter.fenceSend('a', 'create', 's2', t + 500)).toBe(0);
    // The grants left the window at t + 1000, the sends only at t + 1500.
    expect(await limiter.acquireSubmit('j3', { nowMs: t + 1000 })).toMatchObject({ reason: 'interval', waitMs: 500 });
    expect(await limiter.fenceSend('a', 'create', 's3', t + 1200)).toBe(300);
    // Reads have a budget of none here: nothing holds them.
    expect(await limiter.fenceSend('a', 'read', 'r1', t + 1200)).toBe(0);
  });

  test('a send recorded once it left is kept even when the budget filled meanwhile: it holds the next one back', async () => {
    const limiter = limiterFor({ create: { limit: 2, windowMs: 1000 } });
    const t = Date.now();
    expect(await limiter.fenceSend('a', 'create', 's1', t)).toBe(0);
    expect(await limiter.fenceSend('a', 'create', 's2', t + 5)).toBe(0);
    expect(await limiter.fenceSend('a', 'create', 's3', t + 1001)).toBe(0);
    // s1's worker stalled past the window between its check and its write: it left at t + 1002.
    expect(await limiter.fenceSend('a', 'create', 's1', t + 1002, true)).toBe(0);
    expect(await limiter.fenceSend('a', 'create', 's4', t + 1010)).toBe(991);
  });

  test('sendOnTurn: a request that leaves late in one worker is pushed by the request another worker was granted after it', async () => {
    const options = optionsFor({ intervalMs: 300 }, { intervalMarginMs: 20 });
    const late = new AccountLimiter(connect(), options);
    const onTime = new AccountLimiter(connect(), options);
    const sentAt: Record<string, number> = {};
    const send = (who: string) => async (): Promise<void> => void (sentAt[who] = performance.now());
    await late.waitForRequestTurn('a', 'poll');
    // The first worker's event loop stalls between its turn and its send, longer than a spacing...
    const lateSend = (async () => {
      await new Promise((r) => setTimeout(r, 350));
      await sendOnTurn(late, 'a', 'read', send('late'));
    })();
    // ...while the second worker is granted the next turn, one spacing after the first, and sends.
    await onTime.waitForRequestTurn('a', 'poll');
    await sendOnTurn(onTime, 'a', 'read', send('onTime'));
    await lateSend;
    expect(Math.abs(sentAt.onTime! - sentAt.late!)).toBeGreaterThanOrEqual(300);
  });

  test('sendOnTurn records the send again once the request is on its way: a stall between check and write pushes the next request', async () => {
    const options = optionsFor({ intervalMs: 300 }, { intervalMarginMs: 20 });
    const stalled = new AccountLimiter(connect(), options);
    const next = new AccountLimiter(connect(), options);
    const sentAt: Record<string, number> = {};
    await stalled.waitForRequestTurn('a', 'poll');
    // Another worker asks for the next turn meanwhile (one spacing later)...
    const nextSend = next.waitForRequestTurn('a', 'poll').then(() => sendOnTurn(next, 'a', 'read', async () => void (sentAt.next = performance.now())));
    // ...while this one passes its check, then its event loop stalls 200 ms before the request is written.
    await sendOnTurn(stalled, 'a', 'read', async () => {
      const until = performance.now() + 200;
      while (performance.now() < until);
      sentAt.stalled = performance.now();
    });
    await nextSend;
    expect(sentAt.next! - sentAt.stalled!).toBeGreaterThanOrEqual(300);
  });

  test("sendOnTurn checks again when the check's answer came back slowly, with the same token", async () => {
    const limiter = limiterFor({ intervalMs: 100 }, { intervalMarginMs: 20 });
    const tokens: string[] = [];
    const fenceSend = limiter.fenceSend.bind(limiter);
    limiter.fenceSend = async (acct, cls, token, nowMs) => {
      tokens.push(token);
      const wait = await fenceSend(acct, cls, token, nowMs);
      // The first answer sits in a busy event loop for longer than half the margin.
      if (tokens.length === 1) await new Promise((r) => setTimeout(r, 40));
      return wait;
    };
    await sendOnTurn(limiter, 'a', 'read', async () => 'sent');
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(new Set(tokens).size).toBe(1);
  });
});

describe('when a request counts as sent', () => {
  test('once it is written to its socket: on a new connection, after connecting, not when it was made', async () => {
    const server = http.createServer((req, res) => req.resume().on('end', () => res.end('ok')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new http.Agent({ keepAlive: true });
    try {
      const events: string[] = [];
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const answer = whenWritten(
        () => axios.post(url, { a: 1 }, { httpAgent: agent, maxRedirects: 0 }),
        () => events.push('written'),
      );
      setImmediate(() => events.push('the next turn of the event loop'));
      expect((await answer).data).toBe('ok');
      expect(events).toEqual(['the next turn of the event loop', 'written']);
      // A request made outside it is not counted.
      await axios.get(url, { httpAgent: agent });
      expect(events).toHaveLength(2);
    } finally {
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('adaptive margin', () => {
  test("an interval 429 widens the account's margin fleet-wide; it doubles per burst, is capped, and narrows back slowly", async () => {
    const options = optionsFor({ intervalMs: 950 }, { intervalMarginMs: 50 });
    const one = new AccountLimiter(connect(), options);
    const other = new AccountLimiter(connect(), options);
    const t = Date.now();
    expect(await one.widenMargin('a', t)).toBe(50);
    // Another worker's limiter spaces its grants by the wider margin.
    expect((await other.status(t))[0]!.marginMs).toBe(100);
    expect(await other.tryRequestTurn('a', 'poll', t)).toEqual({ granted: true });
    expect(await other.tryRequestTurn('a', 'poll', t + 1000)).toEqual({ granted: false, waitMs: 50 });
    // A 429 within one window of the widening answers a request sent before it: no more.
    expect(await other.widenMargin('a', t + 500)).toBe(50);
    expect(await other.widenMargin('a', t + 2000)).toBe(100);
    // Kept a minute, then one step (50 ms) back per minute.
    expect((await one.status(t + 2000 + 60_000))[0]!.marginMs).toBe(150);
    expect((await one.status(t + 2000 + 90_000))[0]!.marginMs).toBe(125);
    expect((await one.status(t + 2000 + 120_000))[0]!.marginMs).toBe(100);
    expect((await one.status(t + 2000 + 180_000))[0]!.marginMs).toBe(50);
    // Repeated bursts double it, up to the interval.
    const widened: number[] = [];
    for (let i = 1; i <= 6; i++) widened.push(await one.widenMargin('a', t + 300_000 + i * 2000));
    expect(widened).toEqual([50, 100, 200, 400, 800, 950]);
  });

  test('sendOnTurn widens the margin when KIE answers 429, and only then', async () => {
    const limiter = limiterFor({ intervalMs: 0 }, { intervalMarginMs: 5 });
    const refused = (status: number) => async (): Promise<never> => {
      throw new TransientKieError(`KIE ${status}`, status, status);
    };
    await expect(sendOnTurn(limiter, 'a', 'read', refused(500))).rejects.toThrow('KIE 500');
    expect((await limiter.status())[0]!.marginMs).toBe(5);
    await expect(sendOnTurn(limiter, 'a', 'read', refused(429))).rejects.toThrow('KIE 429');
    expect((await limiter.status())[0]!.marginMs).toBe(15);
  });
});

describe('several processes, Redis time pinned', () => {
  const T0 = 1_900_000_000_000;

  test('per-class budgets hold under concurrent acquirers in four processes: exactly the limit per window, nothing granted twice', async () => {
    const options = optionsFor({ create: { limit: 3, windowMs: 1000 }, read: { limit: 4, windowMs: 1000 } });
    const steps = (p: number): LimiterStep[] =>
      Array.from({ length: 30 }, (_, k) => [
        { op: 'submit' as const, job: `p${p}`, nowMs: T0 + k * 50 },
        { op: 'turn' as const, account: 'a', kind: 'poll' as const, cls: 'read' as const, nowMs: T0 + k * 50 },
      ]).flat();
    const answers = await inProcesses(options, [0, 1, 2, 3].map(steps));
    const grantTimes = (op: 'submit' | 'turn'): number[] =>
      answers.flatMap((own, p) => own.flatMap((a, i) => (steps(p)[i]!.op === op && (a as { granted: boolean }).granted ? [steps(p)[i]!.nowMs] : [])));
    const count = (times: number[]) => Object.fromEntries([...new Set(times)].sort().map((at) => [at - T0, times.filter((x) => x === at).length]));
    expect(count(grantTimes('submit'))).toEqual({ 0: 3, 1000: 3 });
    expect(count(grantTimes('turn'))).toEqual({ 0: 4, 1000: 4 });
    const jobs = answers.flatMap((own) =>
      own.flatMap((a) => ((a as { granted: boolean }).granted && 'jobId' in (a as object) ? [(a as { jobId: string }).jobId] : [])),
    );
    expect(new Set(jobs).size).toBe(6);
  }, 60_000);

  test('a submit waiting for the last unit of a shared interval gets it before every poll, whatever order they come in', async () => {
    const options = optionsFor({ intervalMs: 500, create: { limit: 10, windowMs: 1000 }, read: { limit: 10, windowMs: 1000 } });
    const limiter = new AccountLimiter(connect(), options);
    expect(await limiter.acquireSubmit('first', { nowMs: T0 })).toEqual({ granted: true, account: 'a' });
    const poll = (nowMs: number): LimiterStep => ({ op: 'turn', account: 'a', kind: 'poll', cls: 'read', nowMs });
    const answers = await inProcesses(options, [
      [
        { op: 'submit', job: 'late', nowMs: T0 + 100 },
        { op: 'submit', job: 'late', nowMs: T0 + 500 },
      ],
      [poll(T0 + 100), poll(T0 + 500)],
      [poll(T0 + 100), poll(T0 + 500)],
      [poll(T0 + 100), poll(T0 + 500)],
    ]);
    expect(answers[0]).toEqual([
      { jobId: 'late-0', granted: false, reason: 'interval', account: 'a', waitMs: 400 },
      { jobId: 'late-0', granted: true, account: 'a' },
    ]);
    for (const polls of answers.slice(1)) expect(polls[1]).toEqual({ granted: false, waitMs: 500 });
  }, 60_000);

  test("of five processes sending at the same instant, exactly the budget's room goes; the rest are pushed", async () => {
    const options = optionsFor({ create: { limit: 2, windowMs: 1000 } });
    const sends = (p: number): LimiterStep[] => [
      { op: 'send', account: 'a', cls: 'create', token: `p${p}`, nowMs: T0 },
      { op: 'send', account: 'a', cls: 'create', token: `p${p}-again`, nowMs: T0 + 1000 },
    ];
    const answers = await inProcesses(options, [0, 1, 2, 3, 4].map(sends));
    const first = answers.map((a) => a[0]);
    expect(first.filter((w) => w === 0)).toHaveLength(2);
    expect(first.filter((w) => w === 1000)).toHaveLength(3);
    // At T0 + 1000 the first two left the window; of the five asking again, two go.
    expect(answers.map((a) => a[1]).filter((w) => w === 0)).toHaveLength(2);
  }, 60_000);
});
