/**
 * The HTTP API (with the console) listening on loopback over a render stack, as `npm run api` runs
 * it: the stack's queue, Redis and S3, and one API token.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApiServer } from '../../src/producer/api/buildApiServer';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import type { RenderStack } from './renderStack';

export const CONSOLE_TOKEN = 'console-test-token-0123456789';

export async function startConsoleServer(stack: RenderStack): Promise<{ app: FastifyInstance; url: string }> {
  const config = loadConfig({ ...stack.env, API_TOKENS: CONSOLE_TOKEN });
  const app = buildApiServer({ config, redis: stack.redis, logger: createLogger('error', 'api') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}
