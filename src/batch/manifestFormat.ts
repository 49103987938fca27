/**
 * A batch's manifest as text: one line per job, as JSON Lines (the S3 object, `batch export
 * --format jsonl`) or CSV (`--format csv`), from the same lines.
 */
import { stringify } from 'csv-stringify/sync';
import type { ManifestLine } from './batchLedger';

export const MANIFEST_FORMATS = ['jsonl', 'csv'] as const;
export type ManifestFormat = (typeof MANIFEST_FORMATS)[number];

/** CSV columns, in order: every field a line may have. */
const COLUMNS: ReadonlyArray<keyof ManifestLine> = [
  'jobId',
  'state',
  'key',
  'size',
  'sha256',
  'model',
  'prompt',
  'durationSeconds',
  'costUsd',
  'taskId',
  'account',
  'enqueuedAt',
  'submittedAt',
  'completedAt',
  'storedAt',
  'endedAt',
  'reason',
];

export function formatManifest(lines: readonly ManifestLine[], format: ManifestFormat): string {
  if (format === 'jsonl') return lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  return stringify(lines as ManifestLine[], { header: true, columns: COLUMNS as string[] });
}
