/** `npm run api`: the HTTP API and the queue dashboard on HTTP_HOST:HTTP_PORT, guarded by API_TOKENS. */
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../shared/logger';
import { loadConfigOrExit, startOrExit, stopOnSignals } from '../../shared/processLifecycle';
import { startTracing } from '../../shared/startTracing';
import { connectRedis, waitForRedis } from '../../shared/redis';
import { requireApiTokens } from './apiAuth';
import { buildApiServer, DASHBOARD_PATH } from './buildApiServer';

async function main(): Promise<void> {
  const config = loadConfigOrExit('sora-batch api', { accountsRequired: false }, requireApiTokens);
  const logger = createLogger(config.logLevel, 'api');
  // Each render enqueued here starts its trace (with OTEL_EXPORTER_OTLP_ENDPOINT set).
  const tracing = startTracing(config, 'sora-batch-api');
  const redis = connectRedis(config.redisUrl, { logger });
  await startOrExit(logger, () => waitForRedis(redis, config.redisUrl, config.redisConnectTimeoutMs));
  const app = buildApiServer({ config, redis, logger });
  try {
    await app.listen({ port: config.httpPort, host: config.httpHost });
  } catch (err) {
    logger.error({ port: config.httpPort, err: (err as Error).message }, `cannot listen on port ${config.httpPort}`);
    redis.disconnect();
    process.exit(1);
  }
  const { address: host, port } = app.server.address() as AddressInfo;
  logger.info({ host, port, queue: config.queueName, dashboard: DASHBOARD_PATH, tokens: config.apiTokens.length }, 'api listening');

  // Requests in progress finish (they are short).
  stopOnSignals(logger, async () => {
    await app.close();
    await redis.quit().catch(() => redis.disconnect());
    await tracing?.shutdown();
  });
}

void main();
