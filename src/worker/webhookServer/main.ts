/** `npm run webhooks`: the KIE callback receiver on HTTP_PORT, for workers whose WEBHOOK_BASE_URL points here. */
import type { Config } from '../../shared/config';
import { loadConfig } from '../../shared/config';
import { ConfigError } from '../../shared/errors';
import { createLogger } from '../../shared/logger';
import { connectRedis } from '../../shared/redis';
import { requireWebhookSecret } from './buildWebhookServer';
import { startWebhookServer } from './startWebhookServer';

function readConfig(): Config {
  try {
    const config = loadConfig(process.env, { accountsRequired: false });
    requireWebhookSecret(config);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sora-batch webhooks: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel, 'webhooks');
  const redis = connectRedis(config.redisUrl);
  let server;
  try {
    server = await startWebhookServer({ config, redis, logger });
  } catch (err) {
    logger.error({ port: config.httpPort, err: (err as Error).message }, `cannot listen on port ${config.httpPort}`);
    redis.disconnect();
    process.exit(1);
  }
  logger.info({ port: server.port, queue: config.queueName, signedCallbacks: Boolean(config.kie.webhookHmacKey) }, 'webhook receiver listening');

  // Callbacks in progress finish (they are short); a second signal exits at once.
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      logger.info({ signal }, 'shutting down');
      server.close().then(
        async () => {
          await redis.quit().catch(() => redis.disconnect());
          process.exit(0);
        },
        (err) => {
          logger.error({ err: (err as Error).message }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

void main();
