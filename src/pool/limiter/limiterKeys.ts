/**
 * Where the limiter keeps its state. Every key of one account shares a hash tag, so each
 * per-account script touches one cluster slot; acquireSubmit and the pool-wide waiter set span
 * accounts, which a single Redis (or a Sentinel pair) serves atomically.
 */
export interface AccountKeys {
  /** ZSET jobId -> lease expiry (ms). */
  readonly slots: string;
  /** ZSET "jobId:time" -> submit time (ms). */
  readonly submits: string;
  /** HASH next, lastSubmit, resBy, resAt. */
  readonly turn: string;
  /** STRING: why the account is out of rotation. */
  readonly paused: string;
  /** HASH jobId -> KIE taskId. */
  readonly tasks: string;
  /** ZSET jobId -> when its task's next status check is due (ms). */
  readonly checks: string;
  /** ZSET jobId -> when its task was submitted (ms): the oldest is checked first. */
  readonly started: string;
  /** HASH read, readAt, spentAtRead, spent: the credit balance (jobs API), see accountCredits.ts. */
  readonly credits: string;
}

export function accountKeys(prefix: string, account: string): AccountKeys {
  const base = `${prefix}:acct:{${account}}`;
  return {
    slots: `${base}:slots`,
    submits: `${base}:submits`,
    turn: `${base}:turn`,
    paused: `${base}:paused`,
    tasks: `${base}:tasks`,
    checks: `${base}:checks`,
    started: `${base}:started`,
    credits: `${base}:credits`,
  };
}

/** ZSET jobId -> registration time: jobs blocked on a full or paused pool. */
export function waitersKey(prefix: string): string {
  return `${prefix}:waiters`;
}

/** HASH account name -> its caps as JSON, written by every worker at start (names and caps, never keys). */
export function registeredAccountsKey(prefix: string): string {
  return `${prefix}:accounts`;
}

/** The spend ledger of the daily window (see _spend.lua), shared by every queue on the accounts. */
export interface SpendKeys {
  /** ZSET "jobId:time" -> time of the charge (ms). */
  readonly charges: string;
  /** HASH charge -> "microUsd|tenant". */
  readonly amounts: string;
  /** HASH usd, usd:<tenant>, n:<tenant>: the charges still in the window. */
  readonly totals: string;
  /** HASH jobId -> its open reservation (JSON): charged, task not yet created. */
  readonly reserved: string;
  /** ZSET jobId -> registration time: jobs waiting for a budget (raising one wakes them). */
  readonly budgetWaiters: string;
}

export function spendKeys(prefix: string): SpendKeys {
  return {
    charges: `${prefix}:spend:charges`,
    amounts: `${prefix}:spend:amounts`,
    totals: `${prefix}:spend:totals`,
    reserved: `${prefix}:spend:reserved`,
    budgetWaiters: `${prefix}:spend:waiters`,
  };
}

/** Fair shares across tenants (see _tenants.lua). */
export interface TenantKeys {
  /** HASH jobId -> tenant of the job holding a slot (and `<this>:handed`, HASH jobId -> when it was handed a slot). */
  readonly slotTenants: string;
  /** ZSET tenant -> heartbeat (ms): tenants with jobs waiting for a slot. */
  readonly waiting: string;
  /** Prefix of each tenant's waiter ZSET (the tenant name follows). */
  readonly waitersPrefix: string;
}

export function tenantKeys(prefix: string): TenantKeys {
  return { slotTenants: `${prefix}:tenants:slots`, waiting: `${prefix}:tenants:waiting`, waitersPrefix: `${prefix}:tenants:waiters:` };
}
