/** Operator actions on KIE accounts, for the CLI and for backends that import the library. */
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config';
import { createLimiter } from './createLimiter';
import { wakeMembers } from './wakeJobs';
import type { AccountStatus } from './limiter/accountLimiter';

function knownAccount(config: Config, name: string): void {
  if (!config.kie.accounts.some((a) => a.name === name)) {
    const names = config.kie.accounts.map((a) => a.name).join(', ');
    throw new Error(`account "${name}" is not configured (configured: ${names})`);
  }
}

/** Puts a paused account (e.g. after "insufficient credits") back into rotation and wakes the jobs waiting for it. */
export async function resumeAccount(redis: Redis, config: Config, name: string): Promise<number> {
  knownAccount(config, name);
  const waiters = await createLimiter(redis, config).resume(name);
  await wakeMembers(redis, waiters);
  return waiters.length;
}

/** Takes an account out of rotation fleet-wide; its tasks in flight still finish and are stored. */
export async function pauseAccount(redis: Redis, config: Config, name: string, reason: string): Promise<void> {
  knownAccount(config, name);
  await createLimiter(redis, config).pause(name, reason);
}

export function accountStatus(redis: Redis, config: Config): Promise<AccountStatus[]> {
  return createLimiter(redis, config).status();
}
