/**
 * What each KIE account can still pay, where the dialect keeps a credit balance (the jobs API).
 * The balance is read from KIE (a paced request) at worker start, when an account is paused, and
 * whenever the last reading is older than KIE_CREDITS_REFRESH_MS; every submit takes the job's
 * price off it before the request leaves. An account whose known balance cannot pay the next job
 * is given none, so a 402 never comes as a surprise. The state lives in Redis, shared by the fleet.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import type { KieClient } from '../kie/types';
import type { Logger } from '../shared/logger';
import type { RenderRequest } from '../shared/renderRequest';
import { modeOf } from '../kie/catalog/modelCatalog';
import { creditsFor } from '../kie/catalog/modelPrice';
import { callKie } from './kieCall';
import type { AccountLimiter } from './limiter/accountLimiter';
import { accountKeys } from './limiter/limiterKeys';

/** Credits one job costs at the catalog's prices. */
export function creditPrice(req: RenderRequest, models: Config['kie']['models']): number {
  return creditsFor(req, modeOf(models, req).mode);
}

export interface CreditBalance {
  account: string;
  /** What KIE last reported, less what submits spent since: the most the account can still have. */
  credits: number;
  /** When KIE was asked (epoch ms). */
  readAt: number;
}

export interface AccountCreditsDeps {
  redis: Redis;
  config: Config;
  limiter: AccountLimiter;
  kie: ReadonlyMap<string, KieClient>;
  logger: Logger;
  signal?: AbortSignal;
  /** Counts the balance reads retried after a transient failure. */
  retries?: { inc(labels: { account: string }): void };
}

/** An alert per process at most this often: a backlog would otherwise log one per job. */
const ALERT_EVERY_MS = 60_000;

/**
 * The account's credits HASH: read (what KIE reported), readAt, spentAtRead (`spent` when that
 * read began), spent (all credits ever taken by submits). The balance is read - (spent -
 * spentAtRead): a submit that races a reading is counted twice at worst, never missed.
 */
const creditsKey = (prefix: string, account: string): string => accountKeys(prefix, account).credits;

const FIELDS = ['read', 'readAt', 'spentAtRead', 'spent'] as const;

function balanceFrom(account: string, fields: Array<string | null>): CreditBalance | undefined {
  const [read, readAt, spentAtRead, spent] = fields.map((f) => Number(f ?? 0)) as [number, number, number, number];
  if (fields[0] === null) return undefined;
  return { account, credits: read - (spent - spentAtRead), readAt };
}

/** The known balance of each account that has one (an account never read is left out). */
export async function readBalances(redis: Redis, prefix: string, accounts: readonly string[]): Promise<CreditBalance[]> {
  const rows = await Promise.all(accounts.map((a) => redis.hmget(creditsKey(prefix, a), ...FIELDS)));
  return rows.flatMap((fields, i) => balanceFrom(accounts[i]!, fields) ?? []);
}

export class AccountCredits {
  private readonly accounts: readonly string[];
  private refreshing?: Promise<void>;
  private lastAlertAt = -Infinity;

  constructor(private readonly deps: AccountCreditsDeps) {
    this.accounts = deps.config.kie.accounts.map((a) => a.name);
  }

  /** Credits one task of the request costs, from its model's price in the catalog. */
  priceOf(req: RenderRequest): number {
    return creditPrice(req, this.deps.config.kie.models);
  }

  /**
   * The accounts whose known balance pays `price`. One whose balance was never read (KIE did not
   * answer) is given the benefit of the doubt: if it cannot pay, its 402 pauses it as before.
   */
  async accountsAbleToPay(price: number): Promise<string[]> {
    const known = new Map((await this.balances()).map((b) => [b.account, b.credits]));
    return this.accounts.filter((a) => (known.get(a) ?? Infinity) >= price);
  }

  balances(): Promise<CreditBalance[]> {
    return readBalances(this.deps.redis, this.deps.config.limiterPrefix, this.accounts);
  }

  /** Taken before the create request leaves, so the next submit anywhere in the fleet sees it. */
  async spend(account: string, price: number): Promise<void> {
    await this.deps.redis.hincrbyfloat(this.key(account), 'spent', price);
  }

  /** KIE refused the create: nothing was charged. */
  async refund(account: string, price: number): Promise<void> {
    await this.deps.redis.hincrbyfloat(this.key(account), 'spent', -price);
  }

  /** Reads one account's balance from KIE (one paced request) and keeps it. */
  async refresh(account: string): Promise<CreditBalance | undefined> {
    const { redis, limiter, config, kie, signal, logger, retries } = this.deps;
    const client = kie.get(account);
    if (!client) throw new RangeError(`account ${JSON.stringify(account)} has no KIE client`);
    const key = this.key(account);
    const spentAtRead = (await redis.hget(key, 'spent')) ?? '0';
    const readAt = Date.now();
    const read = await callKie(limiter, config, account, 'poll', () => client.getCredits(), { retryAmbiguous: true, signal, logger, retries });
    if (read === undefined) return undefined;
    await redis.hset(key, { read, readAt, spentAtRead });
    return balanceFrom(account, await redis.hmget(key, ...FIELDS));
  }

  /**
   * Reads again every balance never read or older than maxAgeMs. A failure is logged, not thrown:
   * the account keeps its last known balance. Calls made while one runs share it.
   */
  refreshStale(maxAgeMs = this.deps.config.kie.creditsRefreshMs): Promise<void> {
    return (this.refreshing ??= this.refreshOlderThan(maxAgeMs).finally(() => (this.refreshing = undefined)));
  }

  /** Logs that no account can pay a job of this price (at most once a minute per process). */
  alertNoneCanPay(price: number, balances: readonly CreditBalance[]): void {
    const now = Date.now();
    if (now - this.lastAlertAt < ALERT_EVERY_MS) return;
    this.lastAlertAt = now;
    const known = Object.fromEntries(balances.map((b) => [b.account, b.credits]));
    this.deps.logger.error(
      { alert: 'insufficient-credits', price, balances: known },
      `no KIE account has the ${price} credits the next job costs: jobs wait until a top-up is read (every ${this.deps.config.kie.creditsRefreshMs} ms)`,
    );
  }

  private async refreshOlderThan(maxAgeMs: number): Promise<void> {
    const readAt = new Map((await this.balances()).map((b) => [b.account, b.readAt]));
    const stale = this.accounts.filter((a) => Date.now() - (readAt.get(a) ?? -Infinity) >= maxAgeMs);
    await Promise.all(
      stale.map((account) =>
        this.refresh(account).then(
          (balance) => balance && this.deps.logger.info(balance, 'KIE credit balance read'),
          (err: Error) => {
            if (!this.deps.signal?.aborted) this.deps.logger.warn({ account, err: err.message }, 'reading the KIE credit balance failed');
          },
        ),
      ),
    );
  }

  private key(account: string): string {
    return creditsKey(this.deps.config.limiterPrefix, account);
  }
}
