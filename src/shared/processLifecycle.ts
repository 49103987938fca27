/** What every long-running entry point (worker, webhook receiver, API) does at start and at stop. */
import { Config, loadConfig } from './config';
import { ConfigError } from './errors';
import type { Logger } from './logger';

/** Loads the configuration, or prints one readable message and exits 2 (a bad setting, not a crash). */
export function loadConfigOrExit(program: string, opts?: Parameters<typeof loadConfig>[1], check?: (c: Config) => void): Config {
  try {
    const config = loadConfig(process.env, opts);
    check?.(config);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${program}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * SIGTERM (orchestrators) and SIGINT (a person) both mean: finish what is running, then leave.
 * A second signal exits at once.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      logger.info({ signal }, 'shutting down');
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err: (err as Error).message }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

/**
 * Runs a process's start. A start that fails (Redis never answered, a port is taken) logs why, in
 * one line without a stack, and exits 1: a supervisor restarts it, a person reads the reason.
 */
export async function startOrExit<T>(logger: Logger, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    logger.error({ error: (err as Error).name }, (err as Error).message);
    process.exit(1);
  }
}
