/**
 * A process's HTTP server: the KIE callback receiver `POST /kie/callback/:queue/:jobId?token=`
 * (the callBackUrl each job gives at submit), `GET /healthz`, and `GET /metrics` when given a
 * registry (behind METRICS_TOKEN when set). A callback only wakes its job; the job's worker confirms
 * everything with KIE, so a forged or mistaken callback can at worst cost one status check.
 */
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { isValidCallbackToken } from '../../shared/callbackToken';
import type { Config } from '../../shared/config';
import { ConfigError, UnexpectedResponseError } from '../../shared/errors';
import { CallbackHint, parseCallbackBody } from '../../kie/callbackBody';
import { familyOf } from '../../kie/catalog/modelCatalog';
import type { Family } from '../../kie/catalog/modelEntry';
import { verifyKieCallbackSignature } from '../../kie/callbackSignature';
import type { Logger } from '../../shared/logger';
import type { RenderJobData } from '../../shared/renderJob';
import { presentedToken, tokenChecker } from '../../shared/httpTokens';
import { logQueueErrors, redisAnswers } from '../../shared/redis';
import { applyCallback } from './applyCallback';

export interface WebhookServerDeps {
  config: Config;
  redis: Redis;
  logger: Logger;
  /** Requires KIE-signed callbacks under this key; defaults to config.kie.webhookHmacKey. */
  kieHmacKey?: string;
  /** Served at GET /metrics (Prometheus text format) when given. */
  metrics?: Registry;
}

/** KIE callbacks are a few hundred bytes; anything near this is not one. */
const BODY_LIMIT_BYTES = 64 * 1024;

type CallbackRoute = { Params: { queue: string; jobId: string }; Querystring: { token?: unknown } };

/** The secret that signs callback tokens; `npm run webhooks` cannot run without it. */
export function requireWebhookSecret(config: Config): string {
  if (!config.webhook) {
    throw new ConfigError([
      { field: 'WEBHOOK_SECRET', value: undefined, rule: 'the webhook receiver needs WEBHOOK_BASE_URL and WEBHOOK_SECRET (at least 16 characters)' },
    ]);
  }
  return config.webhook.secret;
}

export function buildWebhookServer(deps: WebhookServerDeps): FastifyInstance {
  const { config, redis } = deps;
  const secret = config.webhook?.secret;
  const hmacKey = deps.kieHmacKey ?? config.kie.webhookHmacKey;
  const logger = deps.logger.child({ component: 'webhooks' });
  const queue = new Queue<RenderJobData>(config.queueName, { connection: redis });
  // The connection reports its own outages; healthz answers 503 meanwhile.
  logQueueErrors(queue, logger);
  const target = { queue, redis, prefix: config.limiterPrefix, logger };

  // No fastify logger: its request logs carry the URL, and the URL carries the job's token.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
  // JSON only: without the text parser, any other content type is refused with 415.
  app.removeContentTypeParser('text/plain');
  app.addHook('onClose', () => queue.close());

  /** The job's model decides the callback's shape; a job that is gone (answered 404 below) or names an unknown model reads as the default's. */
  const callbackFamily = async (jobId: string): Promise<Family> => {
    const model = (await queue.getJob(jobId))?.data.model;
    try {
      return familyOf(config.kie.models, model);
    } catch {
      return familyOf(config.kie.models, undefined);
    }
  };

  const refuse = (reply: FastifyReply, status: number, jobId: string | undefined, reason: string): FastifyReply => {
    logger.warn({ jobId, status, reason }, 'callback refused');
    return reply.code(status).send({ error: reason });
  };

  // Body errors (413 too large, 400 malformed JSON, 415 not JSON) arrive here from the parser.
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const jobId = (request.params as { jobId?: string } | undefined)?.jobId;
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return refuse(reply, err.statusCode, jobId, err.message);
    logger.error({ jobId, err: err.message }, 'callback handling failed');
    return reply.code(500).send({ error: 'internal error' });
  });

  app.get('/healthz', async (_request, reply) => {
    const ok = await redisAnswers(redis);
    return reply.code(ok ? 200 : 503).send({ ok });
  });

  const { metrics } = deps;
  if (metrics) {
    const isMetricsToken = config.metricsToken ? tokenChecker([config.metricsToken]) : undefined;
    app.get(
      '/metrics',
      {
        onRequest: async (request, reply) => {
          if (isMetricsToken && !isMetricsToken(presentedToken(request.headers.authorization))) {
            return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').send({ error: 'missing or invalid metrics token' });
          }
        },
      },
      async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
    );
  }

  // The callback route needs the secret that signs per-job tokens; without webhooks configured the
  // server only reports health and metrics.
  if (secret !== undefined) {
    app.post<CallbackRoute>(
      '/kie/callback/:queue/:jobId',
      {
        // Checked before the body is read: an unauthenticated caller gets nothing parsed or looked up.
        onRequest: async (request, reply) => {
          const { queue: queueName, jobId } = request.params;
          const { token } = request.query;
          if (typeof token !== 'string' || !isValidCallbackToken(secret, queueName, jobId, token)) {
            return refuse(reply, 401, jobId, 'missing or invalid callback token');
          }
          if (queueName !== config.queueName) return refuse(reply, 404, jobId, `queue ${queueName} is not served here`);
        },
      },
      async (request, reply) => {
        const { jobId } = request.params;
        let hint: CallbackHint;
        try {
          hint = parseCallbackBody(await callbackFamily(jobId), request.body);
        } catch (err) {
          if (err instanceof UnexpectedResponseError) return refuse(reply, 400, jobId, `unreadable callback body: ${err.message}`);
          throw err;
        }
        if (hmacKey) {
          const timestamp = headerOf(request, 'x-webhook-timestamp');
          const signature = headerOf(request, 'x-webhook-signature');
          if (timestamp === undefined || signature === undefined) return refuse(reply, 401, jobId, 'X-Webhook-Timestamp and X-Webhook-Signature are required');
          if (!verifyKieCallbackSignature({ hmacKey, taskId: hint.taskId, timestamp, signature })) {
            return refuse(reply, 401, jobId, 'X-Webhook-Signature is forged, or X-Webhook-Timestamp is more than 5 minutes away');
          }
        }
        const outcome = await applyCallback(target, jobId, hint);
        return reply.code(outcome.status).send(outcome.body);
      },
    );
  }

  return app;
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}
