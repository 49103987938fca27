/** Operator actions on KIE accounts, for the CLI and for backends that import the library. */
import type { Redis } from 'ioredis';
import type { AccountCaps, Config } from '../shared/config';
import { UnknownAccountError } from '../shared/errors';
import { registeredAccounts } from './accountRegistry';
import { createLimiter } from './createLimiter';
import { wakeMembers } from './wakeJobs';
import type { AccountStatus } from './limiter/accountLimiter';

export interface FleetAccounts {
  /** `configured`: this process's KIE_ACCOUNTS / KIE_API_KEY; `registered`: what the fleet's workers registered. */
  source: 'configured' | 'registered';
  accounts: AccountCaps[];
}

/**
 * The accounts an operator command acts on: the configured ones, or where none is configured (a
 * shell with only REDIS_URL) those the fleet's workers registered. Reading needs no KIE key.
 */
export async function fleetAccounts(redis: Redis, config: Config): Promise<FleetAccounts> {
  if (config.kie.accounts.length) return { source: 'configured', accounts: [...config.kie.accounts] };
  return { source: 'registered', accounts: await registeredAccounts(redis, config.limiterPrefix) };
}

async function knownAccount(redis: Redis, config: Config, name: string): Promise<AccountCaps[]> {
  const { source, accounts } = await fleetAccounts(redis, config);
  if (!accounts.some((a) => a.name === name)) {
    const known = accounts.length ? `${source}: ${accounts.map((a) => a.name).join(', ')}` : `none ${source}`;
    throw new UnknownAccountError(`account "${name}" is not known (${known})`);
  }
  return accounts;
}

/** Puts a paused account (e.g. after "insufficient credits") back into rotation and wakes the jobs waiting for it. */
export async function resumeAccount(redis: Redis, config: Config, name: string): Promise<number> {
  const waiters = await createLimiter(redis, config, await knownAccount(redis, config, name)).resume(name);
  await wakeMembers(redis, waiters);
  return waiters.length;
}

/** Takes an account out of rotation fleet-wide; its tasks in flight still finish and are stored. */
export async function pauseAccount(redis: Redis, config: Config, name: string, reason: string): Promise<void> {
  await createLimiter(redis, config, await knownAccount(redis, config, name)).pause(name, reason);
}

/** What each account is doing (none: an empty list). */
export async function accountStatus(redis: Redis, config: Config, accounts: readonly AccountCaps[] = config.kie.accounts): Promise<AccountStatus[]> {
  return accounts.length ? createLimiter(redis, config, accounts).status() : [];
}
