/** `npm run webhooks`: the KIE callback receiver on HTTP_HOST:HTTP_PORT, for workers whose WEBHOOK_BASE_URL points here. */
import { createLogger } from '../../shared/logger';
import { loadConfigOrExit, startOrExit, stopOnSignals } from '../../shared/processLifecycle';
import { connectRedis, waitForRedis } from '../../shared/redis';
import { requireWebhookSecret } from './buildWebhookServer';
import { startWebhookServer } from './startWebhookServer';

async function main(): Promise<void> {
  const config = loadConfigOrExit('sora-batch webhooks', { accountsRequired: false }, requireWebhookSecret);
  const logger = createLogger(config.logLevel, 'webhooks');
  const redis = connectRedis(config.redisUrl, { logger });
  await startOrExit(logger, () => waitForRedis(redis, config.redisUrl, config.redisConnectTimeoutMs));
  let server;
  try {
    server = await startWebhookServer({ config, redis, logger });
  } catch (err) {
    logger.error({ port: config.httpPort, err: (err as Error).message }, `cannot listen on port ${config.httpPort}`);
    redis.disconnect();
    process.exit(1);
  }
  logger.info(
    { host: server.host, port: server.port, queue: config.queueName, signedCallbacks: Boolean(config.kie.webhookHmacKey) },
    'webhook receiver listening',
  );

  // Callbacks in progress finish (they are short).
  stopOnSignals(logger, async () => {
    await server.close();
    await redis.quit().catch(() => redis.disconnect());
  });
}

void main();
