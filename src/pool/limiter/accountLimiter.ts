/**
 * The fleet-wide caps of each KIE account: slots in flight, submits per window, and the rates of
 * its requests (the seed's interval between any two, or a budget per request class). All state
 * lives in Redis and changes only inside the Lua scripts beside this file, so any number of workers
 * on any number of hosts share one set of caps.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { AccountCaps, DailyWindow, RequestClass, RequestRates } from '../../shared/config';
import { ConfigError, FieldIssue } from '../../shared/errors';
import { accountKeys, waitersKey, AccountKeys } from './limiterKeys';
import { loadLimiterScripts, LimiterScripts, ScriptArg } from './limiterScripts';

export interface LimiterOptions {
  prefix: string;
  accounts: readonly AccountCaps[];
  /** Without `rates`: every request of an account at least minIntervalMs apart (+ the margin). */
  minIntervalMs: number;
  /** Added to every rate window: KIE judges arrivals, and arrivals jitter. Interval 429s widen it for a while. */
  intervalMarginMs: number;
  /** The rates of every account that has none of its own; default { intervalMs: minIntervalMs }. */
  rates?: RequestRates;
  dailyWindowMs: number;
  dailyWindow: DailyWindow;
  /** Failsafe lease of a slot. */
  slotLeaseMs: number;
  /**
   * With webhooks: while callbacks arrive for an account (the last within quietMs), its safety-net
   * status checks wait backoffMs past due (callbacks announce finished tasks; turns go to creates).
   */
  safetyNet?: { quietMs: number; backoffMs: number };
}

export type SubmitGrant =
  | { granted: true; account: string }
  /** Slot and quota free but the turn is later; the turn is reserved for this submit: call again after waitMs. */
  | { granted: false; reason: 'interval'; account: string; waitMs: number }
  /** No eligible account has quota: ms until the earliest window opening. */
  | { granted: false; reason: 'quota'; waitMs: number }
  /** Every eligible account with quota is full: jobId is now a waiter. */
  | { granted: false; reason: 'concurrency' }
  /** Every eligible account is paused: jobId is now a waiter. */
  | { granted: false; reason: 'paused' };

export type TurnGrant = { granted: true } | { granted: false; waitMs: number };
/**
 * A status check that won the turn (ageMs: since the task's submit, on the Redis clock), or how
 * long until one may (none when no task is in flight).
 */
export type CheckClaim = { claimed: true; jobId: string; taskId: string; ageMs: number } | { claimed: false; waitMs?: number };

/** A claimed check whose poller died is due again after this long. */
const CHECK_CLAIM_MS = 30_000;
/** Due checks compared per claim, to pick the oldest task; bounds the script's work. */
const DUE_SCAN_LIMIT = 64;
export type TurnKind = 'poll' | 'retry' | 'refresh';
export type { RequestClass };

/** A resent request is a resent submit unless the caller says it reads. */
const classOfKind = (kind: TurnKind): RequestClass => (kind === 'retry' ? 'create' : 'read');

/** An interval 429 doubles the extra margin, to at least this much (see widenMargin-1.lua)... */
const WIDEN_STEP_MIN_MS = 10;
/** ...which stays this long, then shrinks back by one step per this long again. */
const NARROW_STEP_EVERY_MS = 60_000;
export interface AccountStatus {
  account: string;
  inFlight: number;
  maxConcurrent: number;
  submitsInWindow: number;
  dailyLimit: number;
  /** Set when the quota is used up: when the next unit comes back. */
  nextQuotaAt?: number;
  nextTurnAt: number;
  /** The margin added to the account's rate windows now: the base plus what interval 429s added. */
  marginMs: number;
  paused?: string;
  /** Jobs waiting for a slot anywhere in the pool (waiters are pool-wide). */
  waiters: number;
}

export interface ExpiredSlot {
  account: string;
  jobId: string;
  taskId?: string;
}

function validate(o: LimiterOptions): void {
  const issues: FieldIssue[] = [];
  const wholeAtLeast = (field: string, value: number, min: number): void => {
    if (!Number.isInteger(value) || value < min) issues.push({ field, value, rule: `must be a whole number of at least ${min}` });
  };
  if (o.prefix === '') issues.push({ field: 'prefix', value: o.prefix, rule: 'must not be empty' });
  if (o.accounts.length === 0) issues.push({ field: 'accounts', value: [], rule: 'must name at least one account' });
  const names = new Set<string>();
  for (const a of o.accounts) {
    if (names.has(a.name)) issues.push({ field: 'accounts', value: a.name, rule: 'account names must be unique' });
    names.add(a.name);
    wholeAtLeast(`accounts.${a.name}.maxConcurrent`, a.maxConcurrent, 1);
    if (a.dailyLimit !== Number.POSITIVE_INFINITY) wholeAtLeast(`accounts.${a.name}.dailyLimit`, a.dailyLimit, 1);
    const rates = a.rates ?? o.rates;
    if (rates?.intervalMs !== undefined) wholeAtLeast(`accounts.${a.name}.rates.intervalMs`, rates.intervalMs, 0);
    for (const which of ['create', 'read'] as const) {
      const budget = rates?.[which];
      if (budget) {
        wholeAtLeast(`accounts.${a.name}.rates.${which}.limit`, budget.limit, 1);
        wholeAtLeast(`accounts.${a.name}.rates.${which}.windowMs`, budget.windowMs, 1);
      }
    }
    if (rates && rates.intervalMs === undefined && !rates.create && !rates.read) {
      issues.push({ field: `accounts.${a.name}.rates`, value: rates, rule: 'must hold an interval or a budget for creates and reads' });
    }
  }
  wholeAtLeast('minIntervalMs', o.minIntervalMs, 0);
  wholeAtLeast('intervalMarginMs', o.intervalMarginMs, 0);
  wholeAtLeast('dailyWindowMs', o.dailyWindowMs, 1);
  wholeAtLeast('slotLeaseMs', o.slotLeaseMs, 1);
  if (issues.length) throw new ConfigError(issues);
}

const pinned = (nowMs: number | undefined): ScriptArg => nowMs ?? '';
const quota = (dailyLimit: number): ScriptArg => (Number.isFinite(dailyLimit) ? dailyLimit : '');

interface Account {
  config: AccountCaps;
  keys: AccountKeys;
  rates: RequestRates;
  /** The rates as the scripts read them (see _turn.lua). */
  spec: string;
}

/** "<margin>;i=1/<interval>/cr;c=<limit>/<window>/c;r=<limit>/<window>/r" (see _turn.lua). */
function rateSpec(rates: RequestRates, marginMs: number): string {
  const parts = [String(marginMs)];
  if (rates.intervalMs !== undefined) parts.push(`i=1/${rates.intervalMs}/cr`);
  if (rates.create) parts.push(`c=${rates.create.limit}/${rates.create.windowMs}/c`);
  if (rates.read) parts.push(`r=${rates.read.limit}/${rates.read.windowMs}/r`);
  return parts.join(';');
}

/** The budgets of a class: [limit, windowMs] each. */
function budgetsOf(rates: RequestRates, cls: RequestClass): Array<[number, number]> {
  const budgets: Array<[number, number]> = [];
  if (rates.intervalMs !== undefined) budgets.push([1, rates.intervalMs]);
  const own = rates[cls];
  if (own) budgets.push([own.limit, own.windowMs]);
  return budgets;
}

export class AccountLimiter {
  private readonly scripts: LimiterScripts;
  private readonly accounts: ReadonlyMap<string, Account>;
  private readonly waiters: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: LimiterOptions,
  ) {
    validate(options);
    this.scripts = loadLimiterScripts(redis);
    this.accounts = new Map(
      options.accounts.map((config) => {
        const rates = config.rates ?? options.rates ?? { intervalMs: options.minIntervalMs };
        return [config.name, { config, keys: accountKeys(options.prefix, config.name), rates, spec: rateSpec(rates, options.intervalMarginMs) }];
      }),
    );
    this.waiters = waitersKey(options.prefix);
  }

  /** The margin every rate window gets before 429s widen it (see sendOnTurn). */
  get baseMarginMs(): number {
    return this.options.intervalMarginMs;
  }

  /**
   * The time one request of the class takes from the account's budgets when they are saturated:
   * the longest window / limit of them, plus the base margin.
   */
  unitMs(account: string, cls: RequestClass): number {
    const units = budgetsOf(this.account(account).rates, cls).map(([limit, windowMs]) => windowMs / limit);
    return Math.max(0, ...units) + this.options.intervalMarginMs;
  }

  /**
   * Atomically picks the account that can start soonest (among opts.accounts, default all;
   * paused ones never), takes one slot (member jobId, score = lease expiry), one quota unit and
   * the next request turn. A slot the job already holds is reused on whichever configured
   * account it is, opts.accounts or not.
   */
  async acquireSubmit(jobId: string, opts: { accounts?: readonly string[]; nowMs?: number } = {}): Promise<SubmitGrant> {
    const eligible = new Set(opts.accounts ?? this.accounts.keys());
    if (eligible.size === 0) throw new RangeError('acquireSubmit: opts.accounts must name at least one account');
    for (const name of eligible) this.account(name);
    const keys: string[] = [this.waiters];
    const args: ScriptArg[] = [jobId, pinned(opts.nowMs), this.options.dailyWindow, this.options.dailyWindowMs, this.options.slotLeaseMs];
    // Eligible accounts first, in the caller's order (the last tie-break); then the others, which
    // are only searched for the job's own slot.
    const names = [...eligible, ...[...this.accounts.keys()].filter((n) => !eligible.has(n))];
    for (const name of names) {
      const { config, keys: k, spec } = this.account(name);
      keys.push(k.slots, k.submits, k.turn, k.paused, k.tasks);
      args.push(name, config.maxConcurrent, quota(config.dailyLimit), eligible.has(name) ? 1 : 0, spec);
    }
    const [reason, a, b] = (await this.scripts.run('acquireSubmit', keys, args)) as [string, string | number | undefined, number | undefined];
    switch (reason) {
      case 'granted':
        return { granted: true, account: String(a) };
      case 'interval':
        return { granted: false, reason, account: String(a), waitMs: Number(b) };
      case 'quota':
        return { granted: false, reason, waitMs: Number(a) };
      case 'concurrency':
      case 'paused':
        return { granted: false, reason };
      default:
        throw new Error(`acquireSubmit.lua answered an unknown reason ${JSON.stringify(reason)}`);
    }
  }

  /**
   * One request turn for an account (status check 'poll', 'retry' of a request, 'refresh' of a
   * link), taken from the budgets of its class: a read, except that a retry is a create unless told.
   */
  async tryRequestTurn(account: string, kind: TurnKind, nowMs?: number, requestClass: RequestClass = classOfKind(kind)): Promise<TurnGrant> {
    const { keys, spec } = this.account(account);
    const waitMs = Number(await this.scripts.run('tryRequestTurn', [keys.turn], [kind, spec, pinned(nowMs), requestClass]));
    return waitMs === 0 ? { granted: true } : { granted: false, waitMs };
  }

  /**
   * A granted request is about to leave: 0 when it may go now (it is recorded as the account's
   * newest send), else the ms to wait and ask again (see fenceSend-1.lua). The same token again
   * moves its own send to now; `sent` records a request already on its way, without a check.
   */
  async fenceSend(account: string, requestClass: RequestClass, token: string, nowMs?: number, sent = false): Promise<number> {
    const { keys, spec } = this.account(account);
    return Number(await this.scripts.run('fenceSend', [keys.turn], [spec, requestClass, token, pinned(nowMs), sent ? 'sent' : 'check']));
  }

  /**
   * KIE answered 429 although the rates were kept: widen the account's margin fleet-wide for a
   * while (see widenMargin-1.lua). Returns the extra margin now.
   */
  async widenMargin(account: string, nowMs?: number): Promise<number> {
    const { keys, rates } = this.account(account);
    const base = this.options.intervalMarginMs;
    const budgets = [...budgetsOf(rates, 'create'), ...budgetsOf(rates, 'read')];
    const step = Math.max(base, WIDEN_STEP_MIN_MS);
    const cap = Math.max(step, ...budgets.map(([limit, windowMs]) => Math.ceil(windowMs / limit)));
    const hold = Math.max(...budgets.map(([, windowMs]) => windowMs)) + base;
    const args = [step, cap, hold, NARROW_STEP_EVERY_MS, step / NARROW_STEP_EVERY_MS, pinned(nowMs)];
    return Number(await this.scripts.run('widenMargin', [keys.turn], args));
  }

  /** Loops tryRequestTurn with sleeps until granted; rejects with the signal's reason when aborted. */
  async waitForRequestTurn(account: string, kind: TurnKind, signal?: AbortSignal, requestClass: RequestClass = classOfKind(kind)): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const turn = await this.tryRequestTurn(account, kind, undefined, requestClass);
      if (turn.granted) return;
      await sleep(turn.waitMs, undefined, { signal }).catch(() => signal?.throwIfAborted());
    }
  }

  /** Records the KIE taskId on the job's slot and renews its lease (the slot belongs to the task from now on). */
  async bindTask(account: string, jobId: string, taskId: string): Promise<void> {
    const k = this.account(account).keys;
    await this.scripts.run('bindTask', [k.slots, k.tasks], [jobId, taskId, this.options.slotLeaseMs, '']);
  }

  /**
   * Frees the job's slot (task seen finished, or the submit created nothing). Returns the jobIds
   * of waiters to wake (oldest first, at most as many as slots now free; they leave the waiter set).
   */
  async releaseSlot(account: string, jobId: string): Promise<string[]> {
    const { config, keys: k } = this.account(account);
    return (await this.scripts.run(
      'releaseSlot',
      [k.slots, k.tasks, k.paused, this.waiters, k.checks, k.started],
      [jobId, config.maxConcurrent, ''],
    )) as string[];
  }

  /**
   * Schedules the next status check of the job's task `delayMs` from now (and renews the slot's
   * lease). False when the task no longer holds a slot.
   */
  async scheduleCheck(account: string, jobId: string, delayMs: number, nowMs?: number): Promise<boolean> {
    const k = this.account(account).keys;
    return (
      (await this.scripts.run(
        'scheduleCheck',
        [k.checks, k.started, k.slots],
        [jobId, Math.max(0, Math.round(delayMs)), this.options.slotLeaseMs, pinned(nowMs)],
      )) === 1
    );
  }

  /**
   * The account's next request turn for a status check, if one is due: the task submitted first
   * among those due. Yields to a submit that reserved the turn.
   */
  async claimCheck(account: string, nowMs?: number): Promise<CheckClaim> {
    const { keys: k, spec } = this.account(account);
    const { quietMs, backoffMs } = this.options.safetyNet ?? { quietMs: 0, backoffMs: 0 };
    const args = [spec, CHECK_CLAIM_MS, DUE_SCAN_LIMIT, pinned(nowMs), quietMs, backoffMs];
    const answer = (await this.scripts.run('claimCheck', [k.checks, k.started, k.tasks, k.turn, k.slots], args)) as [string, string | number, string?, number?];
    if (answer[0] === 'check') return { claimed: true, jobId: String(answer[1]), taskId: answer[2]!, ageMs: Number(answer[3]) };
    if (answer[0] === 'wait') return { claimed: false, waitMs: Number(answer[1]) };
    return { claimed: false };
  }

  /**
   * The create request has reached KIE (it answered, or it was sent and no answer came): the
   * quota unit's window starts now, never before KIE's own.
   */
  async confirmSubmit(account: string, jobId: string, nowMs?: number): Promise<void> {
    await this.scripts.run('confirmSubmit', [this.account(account).keys.submits], [jobId, pinned(nowMs)]);
  }

  /** The submit created no task (definite failure): give its quota unit back. */
  async refundSubmit(account: string, jobId: string): Promise<void> {
    await this.scripts.run('refundSubmit', [this.account(account).keys.submits], [jobId]);
  }

  /** Takes the account out of submit rotation fleet-wide; its tasks in flight still get request turns. */
  async pause(account: string, reason: string): Promise<void> {
    await this.redis.set(this.account(account).keys.paused, reason);
  }

  /** Returns the waiters to wake. */
  async resume(account: string): Promise<string[]> {
    const { config, keys: k } = this.account(account);
    return (await this.scripts.run('resume', [k.paused, k.slots, k.tasks, this.waiters], [config.maxConcurrent, ''])) as string[];
  }

  async status(nowMs?: number): Promise<AccountStatus[]> {
    const keys: string[] = [this.waiters];
    const args: ScriptArg[] = [pinned(nowMs), this.options.dailyWindow, this.options.dailyWindowMs];
    for (const { config, keys: k, spec } of this.accounts.values()) {
      keys.push(k.slots, k.submits, k.turn, k.paused);
      args.push(quota(config.dailyLimit), spec);
    }
    const [waiters, ...rows] = (await this.scripts.run('readStatus', keys, args)) as [number, ...Array<[number, number, number, number, string, number]>];
    return [...this.accounts.values()].map(({ config }, i) => {
      const [inFlight, submitsInWindow, nextQuotaAt, nextTurnAt, paused, marginMs] = rows[i]!;
      return {
        account: config.name,
        inFlight,
        maxConcurrent: config.maxConcurrent,
        submitsInWindow,
        dailyLimit: config.dailyLimit,
        ...(nextQuotaAt >= 0 ? { nextQuotaAt } : {}),
        nextTurnAt,
        marginMs,
        ...(paused !== '' ? { paused } : {}),
        waiters,
      };
    });
  }

  /**
   * Slots whose lease expired are dropped by every script; this also reports them, for logs, and
   * returns the waiters to wake for every free slot (run it now and then: a vanished job's slot
   * frees itself without a release, so nobody else would wake them).
   */
  async sweepExpiredSlots(nowMs?: number): Promise<{ expired: ExpiredSlot[]; wake: string[] }> {
    const keys: string[] = [this.waiters];
    const args: ScriptArg[] = [pinned(nowMs)];
    for (const { config, keys: k } of this.accounts.values()) {
      keys.push(k.slots, k.tasks, k.paused);
      args.push(config.name, config.maxConcurrent);
    }
    const [wake, flat] = (await this.scripts.run('sweepExpiredSlots', keys, args)) as [string[], string[]];
    const expired: ExpiredSlot[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      expired.push({ account: flat[i]!, jobId: flat[i + 1]!, ...(flat[i + 2] ? { taskId: flat[i + 2]! } : {}) });
    }
    return { expired, wake };
  }

  private account(name: string): Account {
    const found = this.accounts.get(name);
    if (!found) throw new RangeError(`account ${JSON.stringify(name)} is not configured (known: ${[...this.accounts.keys()].join(', ')})`);
    return found;
  }
}
