/**
 * The /v1 routes the console reads and acts through (any client may use them too): the batch list,
 * a batch's videos, reading a batch file, the fleet, resuming an account or a model, the model
 * catalog, and a server-sent event stream of all of it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config';
import { echoIssue, UnknownAccountError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { parseWith } from '../../batch/batchSchemas';
import { resumeAccount } from '../../pool/accountControl';
import { resumeModel } from '../../pool/modelControl';
import { parseBatchText, validateLines } from '../batchFile';
import type { RenderProducer } from '../renderProducer';
import { readBatch, readBatchList, readBatchVideos, readFleet, type ViewDeps } from '../console/consoleViews';
import { eventSource, EventStreams, type EventSource } from '../console/eventStream';
import { batchFileBodySchema, eventsQuerySchema } from './openapi/apiSchemas';

export interface ConsoleApiDeps {
  config: Config;
  redis: Redis;
  producer: RenderProducer;
  s3: S3Client;
  logger: Logger;
}

type Named = { Params: { name: string } };
type Id = { Params: { id: string } };

export function registerConsoleApiRoutes(app: FastifyInstance, deps: ConsoleApiDeps): void {
  const { config, redis, producer, logger } = deps;
  const views: ViewDeps = deps;
  const noBatch = (id: string) => ({ error: `no batch ${id} in queue ${config.queueName}` });
  const streams = new EventStreams(logger);
  // Before the server closes: it waits for every open connection, and a stream stays open until ended.
  app.addHook('preClose', (done) => {
    streams.closeAll();
    done();
  });

  app.get('/v1/batches', () => readBatchList(views));

  app.get<Id>(
    '/v1/batches/:id/videos',
    async (request, reply) => (await readBatchVideos(views, request.params.id)) ?? reply.code(404).send(noBatch(request.params.id)),
  );

  app.post<{ Body: unknown }>('/v1/batch-files', (request) => {
    const { format, text } = parseWith(batchFileBodySchema, request.body);
    const { good, bad } = validateLines(parseBatchText(text, format === 'csv' ? 'csv' : 'json'), (fields) => producer.validate(fields));
    return { requests: good.map((l) => l.input), bad: bad.map((b) => ({ line: b.line, issues: b.issues.map(echoIssue) })) };
  });

  app.get('/v1/fleet', () => readFleet(views));

  app.post<Named>('/v1/accounts/:name/resume', async (request, reply) => {
    try {
      const woken = await resumeAccount(redis, config, request.params.name);
      logger.info({ account: request.params.name, woken }, 'account resumed');
      return { resumed: request.params.name, woken };
    } catch (err) {
      if (err instanceof UnknownAccountError) return reply.code(404).send({ error: err.message });
      throw err;
    }
  });

  app.post<Id>('/v1/models/:id/resume', async (request, reply) => {
    const { id } = request.params;
    if (!Object.hasOwn(config.kie.models.entries, id)) return reply.code(404).send({ error: `no model ${id} in the catalog` });
    const woken = await resumeModel(redis, config, id);
    logger.info({ model: id, woken }, 'model resumed');
    return { resumed: id, woken };
  });

  app.get('/v1/models', () => ({ defaultModel: config.kie.models.defaultModel, models: Object.values(config.kie.models.entries) }));

  app.get<{ Querystring: unknown }>('/v1/events', (request, reply) => {
    const { batch } = parseWith(eventsQuerySchema, request.query, 'query');
    const sources: EventSource[] = [eventSource('fleet', () => readFleet(views)), eventSource('batches', () => readBatchList(views))];
    if (batch !== undefined) {
      sources.push(
        eventSource('batch', () => readBatch(views, batch)),
        // Links are signed anew on every read: only a change of the jobs sends the list again.
        eventSource(
          'videos',
          () => readBatchVideos(views, batch),
          (v) => JSON.stringify(v?.videos.map(({ url: _url, ...rest }) => rest)),
        ),
      );
    }
    streams.open(reply, sources);
  });
}
