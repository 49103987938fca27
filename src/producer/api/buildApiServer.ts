/**
 * The HTTP API (`npm run api`): enqueue renders, read a job's state, manage schedules and batches
 * (all under /v1, described by /openapi.json and /docs), the console at `/`, and the queue
 * dashboard (bull-board, read-only). Every route but `GET /healthz` and the console's login needs
 * one of API_TOKENS, or the session cookie the console's login gives. Requests are validated by
 * the producer library, with the schema the worker applies.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config';
import { BatchConflictError, echoIssue, ValidationError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { redisAnswers } from '../../shared/redis';
import { producerSettings, RenderProducer } from '../renderProducer';
import { queueTelemetry } from '../../shared/tracing';
import { presentedToken, tokenChecker } from '../../shared/httpTokens';
import { registerBatchRoutes } from './batchRoutes';
import { registerConsoleApiRoutes } from './consoleApiRoutes';
import { registerDocsRoutes } from './docsRoutes';
import { registerRenderRoutes } from './renderRoutes';
import { trackRoutes } from './openapi/routeList';
import { CONSOLE_PAGES, OPEN_CONSOLE_ROUTES, registerConsoleRoutes } from '../console/consoleRoutes';
import { consoleSessions } from '../console/consoleSession';
import { createS3Client } from '../../worker/storage/s3Client';

export interface ApiServerDeps {
  config: Config;
  redis: Redis;
  logger: Logger;
}

/** How long a closing server lets open requests finish before it cuts their connections. */
const CLOSE_GRACE_MS = 2_000;

export const DASHBOARD_PATH = '/dashboard';
/** A render request is at most ~5 KB (prompt 800 chars, metadata 4 KB): room for a full batch. */
const BODY_LIMIT_BYTES = 8 * 1024 * 1024;
/** RFC 9745: when the unversioned paths were deprecated (this release), as `@<epoch seconds>`. */
export const DEPRECATED_SINCE = `@${Date.UTC(2026, 11, 2) / 1000}`;

export function buildApiServer(deps: ApiServerDeps): FastifyInstance {
  const { config, redis } = deps;
  const logger = deps.logger.child({ component: 'api' });
  // The connection reports its own outages; healthz answers 503 meanwhile.
  const producer = new RenderProducer({
    connection: redis,
    ...producerSettings(config),
    logger,
    telemetry: queueTelemetry(config),
  });
  const isKnownToken = tokenChecker(config.apiTokens);
  const sessions = consoleSessions(config.apiTokens);

  // No fastify request logger: requests carry the caller's token.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
  trackRoutes(app);
  // JSON only: without the text parser, any other content type is refused with 415.
  app.removeContentTypeParser('text/plain');
  app.addHook('onClose', () => producer.close());
  // A client that never hangs up (an event stream's, a stalled download) would hold the close forever
  // (consoleApi's afterAll did, on Node 22): what is still open a moment after close began is cut.
  app.addHook('preClose', (done) => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    done();
  });

  // Registered before the routes and the dashboard, so it guards all of them.
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    if (route === '/healthz' || OPEN_CONSOLE_ROUTES.has(route)) return;
    if (isKnownToken(presentedToken(request.headers.authorization)) || sessions.valid(request.headers.cookie)) return;
    if (request.method === 'GET' && CONSOLE_PAGES.has(route)) return reply.redirect('/login');
    // Basic makes a browser ask for the token (as the password) on the dashboard.
    return reply.code(401).header('www-authenticate', 'Basic realm="sora-batch", charset="UTF-8"').send({ error: 'missing or invalid API token' });
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ValidationError) return reply.code(400).send({ error: err.message, issues: err.issues.map(echoIssue) });
    if (err instanceof BatchConflictError) return reply.code(409).send({ error: err.message });
    // Body errors (413 too large, 400 malformed JSON, 415 not JSON) come from the parser.
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    logger.error({ method: request.method, route: request.routeOptions.url, err: err.message }, 'API request failed');
    return reply.code(500).send({ error: 'internal error' });
  });

  app.get('/healthz', async (_request, reply) => {
    const ok = await redisAnswers(redis);
    return reply.code(ok ? 200 : 503).send({ ok });
  });

  void app.register(
    (v1, _opts, done) => {
      registerRenderRoutes(v1, { config, producer, logger });
      done();
    },
    { prefix: '/v1' },
  );
  // The unversioned paths of the first release, for one more: same handlers, marked deprecated.
  void app.register((legacy, _opts, done) => {
    legacy.addHook('onRequest', (request, reply, next) => {
      reply.header('deprecation', DEPRECATED_SINCE).header('link', `</v1${request.url}>; rel="successor-version"`);
      next();
    });
    registerRenderRoutes(legacy, { config, producer, logger });
    done();
  });

  registerBatchRoutes(app, { config, redis, producer, logger });
  const s3 = createS3Client(config);
  app.addHook('onClose', () => s3.destroy());
  registerConsoleApiRoutes(app, { config, redis, producer, s3, logger });
  registerDocsRoutes(app);
  registerConsoleRoutes(app, { config, sessions, logger });

  // Read-only: a retry or a promotion from a browser must not bypass the worker's own rules.
  const board = new FastifyAdapter();
  board.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(producer.queue, { readOnlyMode: true })],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'sora-batch' } },
  });
  void app.register(board.registerPlugin(), { prefix: DASHBOARD_PATH });

  return app;
}
