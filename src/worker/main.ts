/** `npm run worker`: one worker process of the fleet. */
import { loadConfig } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { startWorker } from './runtime';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sora-batch worker: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, 'worker');
  const runtime = await startWorker(config, logger);
  // SIGTERM (orchestrators) and SIGINT (a person) both mean: finish the current step, then leave.
  // A second signal exits at once; whatever was running resumes on another worker.
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      logger.info({ signal }, 'shutting down');
      runtime.close().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err: (err as Error).message }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

void main();
