/**
 * The batch routes of the HTTP API, under /v1: create a batch (optionally with its first render
 * requests, or as a dry run that only estimates), read its status, change its budget, cancel it,
 * export its manifest. Bodies and queries are checked with the zod schemas of batchSchemas.ts;
 * the work is done by src/batch/.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config';
import { FieldIssue, ValidationError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { RenderRequest } from '../../shared/renderRequest';
import { fromMicroUsd } from '../../batch/batchKeys';
import { createBatchBodySchema, createBatchQuerySchema, exportQuerySchema, parseWith, patchBatchBodySchema } from '../../batch/batchSchemas';
import { batchStatus } from '../../batch/batchStatus';
import { cancelBatch } from '../../batch/cancelBatch';
import { estimateBatch, readCapacity } from '../../batch/estimateBatch';
import { formatManifest } from '../../batch/manifestFormat';
import { newBatchId, openBatch } from '../../batch/openBatch';
import { keyedRequests } from '../batchFile';
import type { RenderProducer } from '../renderProducer';

export interface BatchRouteDeps {
  config: Config;
  redis: Redis;
  producer: RenderProducer;
  logger: Logger;
}

type BatchRoute = { Params: { id: string } };

export function registerBatchRoutes(app: FastifyInstance, deps: BatchRouteDeps): void {
  const { config, redis, producer, logger } = deps;
  const ledger = producer.batches;
  const status = async (id: string) => batchStatus(ledger, id, await readCapacity(redis, config));
  const noBatch = (id: string) => ({ error: `no batch ${id} in queue ${config.queueName}` });

  app.post<{ Querystring: unknown; Body: unknown }>('/v1/batches', async (request, reply) => {
    const { dryRun } = parseWith(createBatchQuerySchema, request.query, 'query');
    const { requests = [], ...fields } = parseWith(createBatchBodySchema, request.body);
    const id = fields.id ?? newBatchId();
    const inputs = requests;
    // Every request is checked before anything is written: one bad request adds nothing.
    const issues: FieldIssue[] = [];
    const checked: RenderRequest[] = [];
    inputs.forEach((input, i) => {
      const { idempotencyKey: _k, ...requestFields } = (input ?? {}) as Record<string, unknown>;
      try {
        checked.push(producer.validate(input !== null && typeof input === 'object' ? requestFields : input, { batchId: id, tenant: fields.tenant }));
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        issues.push(...err.issues.map((issue) => ({ ...issue, field: `requests[${i}].${issue.field}` })));
      }
    });
    if (issues.length) throw new ValidationError(issues);

    if (dryRun === 'true') {
      const record = await ledger.read(id);
      const budgetUsd = fields.budgetUsd ?? (record?.budgetMicroUsd === undefined ? undefined : fromMicroUsd(record.budgetMicroUsd));
      const budget =
        budgetUsd === undefined
          ? undefined
          : { budgetUsd, spentUsd: fromMicroUsd(record?.spentMicroUsd ?? 0), reservedUsd: fromMicroUsd(record?.reservedMicroUsd ?? 0) };
      return reply.code(200).send({ batchId: id, dryRun: true, estimate: estimateBatch(checked, config, await readCapacity(redis, config), budget) });
    }

    const { created } = await openBatch(ledger, { ...fields, id }, config.notify.allowPrivate);
    // The same request sent again (a retry after a timeout) adds only what is missing.
    const keyed = keyedRequests(
      inputs.map((input, i) => ({ line: `[${i}]`, input: input as Record<string, unknown> })),
      id,
    );
    const jobs = keyed.length ? await producer.enqueueMany(keyed, { batchId: id, tenant: fields.tenant }) : [];
    const added = jobs.filter((j) => j.created).length;
    logger.info({ batchId: id, created, renders: jobs.length, added }, 'batch posted');
    return reply.code(created || added ? 201 : 200).send({ batch: await status(id), jobs });
  });

  app.get<BatchRoute>('/v1/batches/:id', async (request, reply) => {
    const st = await status(request.params.id);
    return st ?? reply.code(404).send(noBatch(request.params.id));
  });

  app.patch<BatchRoute & { Body: unknown }>('/v1/batches/:id', async (request, reply) => {
    const { budgetUsd } = parseWith(patchBatchBodySchema, request.body);
    if (!(await ledger.setBudget(request.params.id, budgetUsd))) return reply.code(404).send(noBatch(request.params.id));
    logger.info({ batchId: request.params.id, budgetUsd }, 'batch budget changed');
    return status(request.params.id);
  });

  app.delete<BatchRoute>('/v1/batches/:id', async (request, reply) => {
    const outcome = await cancelBatch(producer.queue, ledger, request.params.id);
    if (outcome.outcome === 'none') return reply.code(404).send(noBatch(request.params.id));
    logger.info({ batchId: request.params.id, ...outcome }, 'batch cancel');
    // 202: submitted jobs still finish before the batch reads cancelled.
    return reply.code(outcome.outcome === 'finished' ? 409 : 202).send({ removed: outcome.removed, batch: await status(request.params.id) });
  });

  app.get<BatchRoute & { Querystring: unknown }>('/v1/batches/:id/manifest', async (request, reply) => {
    const { format = 'jsonl' } = parseWith(exportQuerySchema, request.query, 'query');
    if (!(await ledger.read(request.params.id))) return reply.code(404).send(noBatch(request.params.id));
    return reply
      .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .send(formatManifest(await ledger.lines(request.params.id), format));
  });
}
