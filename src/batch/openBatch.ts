/**
 * Creates a batch with its own fields (tenant, budget, notifyUrl), or finds the one that exists:
 * asking again with the same fields is harmless (a retried request), with other fields a conflict
 * (the budget changes through `PATCH /v1/batches/:id` or `sora-batch batch budget`).
 */
import { randomBytes } from 'node:crypto';
import { BatchConflictError, ValidationError } from '../shared/errors';
import { checkNotifyUrl } from '../shared/notifyDestination';
import type { BatchLedger, BatchRecord } from './batchLedger';
import { fromMicroUsd, toMicroUsd } from './batchKeys';

export interface BatchFields {
  id?: string;
  tenant?: string;
  budgetUsd?: number;
  notifyUrl?: string;
}

/** `b-` and the date and 8 random hex digits: sortable, unguessable enough to keep batches apart. */
export function newBatchId(now = new Date()): string {
  return `b-${now.toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
}

export async function openBatch(ledger: BatchLedger, fields: BatchFields, notifyAllowPrivate: boolean): Promise<{ id: string; created: boolean }> {
  const issues = checkNotifyUrl(fields.notifyUrl, notifyAllowPrivate);
  if (issues.length) throw new ValidationError(issues);
  const id = fields.id ?? newBatchId();
  const created = await ledger.create({ id, tenant: fields.tenant ?? id, budgetUsd: fields.budgetUsd, notifyUrl: fields.notifyUrl });
  if (!created) refuseOtherFields(fields, (await ledger.read(id))!);
  return { id, created };
}

function refuseOtherFields(fields: BatchFields, record: BatchRecord): void {
  const differs: string[] = [];
  if (fields.tenant !== undefined && fields.tenant !== record.tenant) differs.push(`tenant (it is ${record.tenant})`);
  if (fields.notifyUrl !== undefined && fields.notifyUrl !== record.notifyUrl) differs.push('notifyUrl');
  if (fields.budgetUsd !== undefined && toMicroUsd(fields.budgetUsd) !== record.budgetMicroUsd) {
    differs.push(
      `budgetUsd (it is ${record.budgetMicroUsd === undefined ? 'none' : fromMicroUsd(record.budgetMicroUsd)}; change it with PATCH /v1/batches/${record.id} or sora-batch batch budget)`,
    );
  }
  if (differs.length) throw new BatchConflictError(`batch ${record.id} exists with another ${differs.join(', ')}`);
}
