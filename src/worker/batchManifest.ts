/**
 * Writes an ended batch's manifest next to its videos (`<S3_PREFIX>/<batchId>/manifest.jsonl`)
 * and queues its signed `batch.completed` for the batch's notifyUrl. The move that ends a batch
 * claims it (moveBatchJob), so of several workers finishing the last jobs at once exactly one
 * writes; a writer that dies leaves its claim to run out, and the sweep of another worker takes
 * the batch over.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BatchLedger } from '../batch/batchLedger';
import { fromMicroUsd } from '../batch/batchKeys';
import { formatManifest } from '../batch/manifestFormat';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import type { Notifier } from './notify/startNotifier';
import { prefixedKey } from './render/storeStep';

export interface ManifestDeps {
  ledger: BatchLedger;
  s3: S3Client;
  config: Config;
  notifier: Pick<Notifier, 'enqueueBatch'>;
  logger: Logger;
}

/** A batch that keeps ending again while its manifest is written is left to the sweep after this many writes. */
const MAX_WRITES = 3;

/** Writes the manifest of a batch this worker holds the claim of; never rejects (the sweep retries). */
export async function writeBatchManifest(deps: ManifestDeps, batchId: string): Promise<void> {
  const { ledger, s3, config, notifier } = deps;
  const log = deps.logger.child({ batchId });
  try {
    for (let write = 1; write <= MAX_WRITES; write++) {
      const record = await ledger.read(batchId);
      if (!record || (record.state !== 'finished' && record.state !== 'cancelled')) {
        // Opened again by a job that joined: its next end claims it anew.
        await ledger.finishManifest(batchId, record?.ends ?? 0, undefined);
        return;
      }
      const lines = await ledger.lines(batchId);
      const key = prefixedKey(config.s3.prefix, `${batchId}/manifest.jsonl`);
      await s3.send(
        new PutObjectCommand({
          Bucket: config.s3.bucket,
          Key: key,
          Body: formatManifest(lines, 'jsonl'),
          ContentType: 'application/x-ndjson',
          Metadata: { 'batch-id': encodeURIComponent(batchId), 'batch-end': String(record.ends) },
        }),
      );
      log.info({ key, lines: lines.length, end: record.ends, state: record.state }, 'batch manifest written');
      if (record.notifyUrl) {
        await notifier.enqueueBatch(record.notifyUrl, {
          batchId,
          status: record.state,
          end: record.ends,
          manifest: { bucket: config.s3.bucket, key },
          counts: record.counts,
          videosStored: record.counts.stored,
          secondsRendered: record.secondsRendered,
          spentUsd: fromMicroUsd(record.spentMicroUsd),
        });
      }
      if (await ledger.finishManifest(batchId, record.ends, key)) return;
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'batch manifest not written; another worker retries once its claim runs out');
  }
}

/** Takes over manifests whose writer died (their claim ran out). */
export async function sweepBatchManifests(deps: ManifestDeps): Promise<void> {
  for (const batchId of await deps.ledger.claimDueManifests()) await writeBatchManifest(deps, batchId);
}
