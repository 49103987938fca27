/**
 * What the console shows, read from Redis (and signed for S3): the fleet, the newest batches, a
 * batch's videos. The /v1 routes answer with these, and the event stream sends them when they change.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Config } from '../../shared/config';
import { readAlerts } from '../../shared/alerts';
import type { BatchLedger } from '../../batch/batchLedger';
import { batchStatus } from '../../batch/batchStatus';
import { readCapacity } from '../../batch/estimateBatch';
import type { RenderProducer } from '../renderProducer';
import { readFleetStatus } from '../fleetStatus';
import type { batchListSchema, batchVideosSchema, fleetSchema } from '../api/openapi/apiSchemas';
import { failureAdvice } from './failureAdvice';

/** How long a video link works: long enough to watch, short enough not to be worth sharing. */
export const VIDEO_LINK_TTL_SECONDS = 15 * 60;
/** Batches the list shows. */
export const BATCHES_LISTED = 50;
/** Finished jobs a batch page shows (the manifest has them all). */
export const VIDEOS_SHOWN = 200;

export interface ViewDeps {
  config: Config;
  redis: Redis;
  producer: RenderProducer;
  s3: S3Client;
}

export type Fleet = z.infer<typeof fleetSchema>;
export type BatchList = z.infer<typeof batchListSchema>;
export type BatchVideos = z.infer<typeof batchVideosSchema>;

export async function readFleet({ config, redis, producer }: ViewDeps): Promise<Fleet> {
  const status = await readFleetStatus(redis, config, producer.queue);
  const accounts = status.accounts.map((a) => ({
    account: a.account,
    inFlight: a.inFlight,
    maxConcurrent: a.maxConcurrent,
    submitsInWindow: a.submitsInWindow,
    dailyLimit: a.dailyLimit,
    ...(a.nextQuotaAt !== undefined && { nextQuotaAt: a.nextQuotaAt }),
    ...(a.paused !== undefined && { paused: a.paused }),
    waiters: a.waiters,
    ...(a.credits && { credits: { credits: a.credits.credits, readAt: a.credits.readAt } }),
  }));
  const pausedModels = status.pausedModels.flatMap((m) => (m.paused ? [{ model: m.model, paused: m.paused, waiters: m.waiters }] : []));
  return { ...status, accounts, pausedModels, alerts: await readAlerts(redis, config.limiterPrefix) };
}

export async function readBatchList({ config, redis, producer }: ViewDeps): Promise<BatchList> {
  const ledger: BatchLedger = producer.batches;
  const cap = await readCapacity(redis, config);
  const statuses = await Promise.all((await ledger.list(BATCHES_LISTED)).map((id) => batchStatus(ledger, id, cap)));
  return {
    batches: statuses.flatMap((b) =>
      b
        ? [
            {
              batchId: b.batchId,
              state: b.state,
              createdAt: b.createdAt,
              jobs: b.jobs,
              done: b.counts.stored,
              failed: b.counts.failed,
              spentUsd: b.spentUsd,
              budgetUsd: b.budgetUsd,
              estimatedFinishAt: b.estimatedFinishAt,
            },
          ]
        : [],
    ),
  };
}

export async function readBatch({ config, redis, producer }: ViewDeps, batchId: string) {
  return batchStatus(producer.batches, batchId, await readCapacity(redis, config));
}

/** The batch's finished jobs, stored ones with a presigned link; undefined when there is no such batch. */
export async function readBatchVideos({ config, producer, s3 }: ViewDeps, batchId: string): Promise<BatchVideos | undefined> {
  const ledger = producer.batches;
  if (!(await ledger.read(batchId))) return undefined;
  const lines = (await ledger.lines(batchId)).slice(0, VIDEOS_SHOWN);
  const videos = await Promise.all(
    lines.map(async (l) => ({
      jobId: l.jobId,
      state: l.state,
      model: l.model ?? null,
      prompt: l.prompt ?? null,
      durationSeconds: l.durationSeconds ?? null,
      size: l.size ?? null,
      sha256: l.sha256 ?? null,
      key: l.key ?? null,
      url:
        l.state === 'stored' && l.key
          ? await getSignedUrl(s3, new GetObjectCommand({ Bucket: config.s3.bucket, Key: l.key }), { expiresIn: VIDEO_LINK_TTL_SECONDS })
          : null,
      reason: l.reason ?? null,
      advice: l.state === 'failed' ? failureAdvice(l.reason ?? '') : null,
    })),
  );
  return { batchId, linkTtlSeconds: VIDEO_LINK_TTL_SECONDS, videos };
}
