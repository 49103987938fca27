/**
 * Keeps each job's batch up to date as the job moves: it joins on its first run (a job a foreign
 * backend added with a stock BullMQ client included), passes the submit gate, and ends stored,
 * failed or cancelled. Moves are recorded inside the run, before BullMQ finishes the job, so a
 * worker that dies in between leaves a job that is retried and records the same move again (a
 * no-op); the worker's completed/failed handlers record them once more for the cases no run sees
 * (a job failed by the stalled check). The move that ends a batch writes its manifest.
 */
import { UnrecoverableError } from 'bullmq';
import type { BatchLedger, JobMove, ManifestLine, MoveOutcome } from '../batch/batchLedger';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import type { RenderJobData, RenderResult, RenderState } from '../shared/renderJob';
import { batchName, estimateCostUsd, parseRenderRequest, RenderRequest, tenantOf } from '../shared/renderRequest';
import type { RenderJob } from './render/renderRun';
import { removeUnsubmitted } from '../batch/cancelBatch';

/** A job of a cancelled batch reached the submit gate before any task of it was created: it never submits. */
export class BatchCancelledError extends UnrecoverableError {
  constructor(readonly batchId: string) {
    super(`batch ${batchId} was cancelled before this job was submitted`);
  }
}

export interface BatchProgressDeps {
  ledger: BatchLedger;
  config: Config;
  logger: Logger;
  /** Writes the manifest of a batch that just ended (and sends its batch.completed). */
  batchEnded(batchId: string): Promise<void>;
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The request's text for the manifest: its prompt, or a storyboard's shots. */
function promptOf(request: RenderRequest): string {
  return request.type === 'text' ? request.prompt : request.shots.map((s) => s.prompt).join(' | ');
}

export class BatchProgress {
  constructor(private readonly deps: BatchProgressDeps) {}

  private price(request: RenderRequest): number {
    return estimateCostUsd(request, this.deps.config.kie.models, this.deps.config.kie.usdPerCredit);
  }

  private async move(batchId: string, jobId: string, m: JobMove): Promise<MoveOutcome> {
    const moved = await this.deps.ledger.move(batchId, jobId, m);
    if (moved.ended) await this.deps.batchEnded(batchId);
    return moved;
  }

  /** A job carrying a batchId joins its batch before its first submit (idempotent). */
  async join(job: RenderJob, request: RenderRequest): Promise<void> {
    if (request.batchId === undefined) return;
    await this.deps.ledger.join(request.batchId, tenantOf(request), [job.id!]);
  }

  /**
   * The submit gate: writes the job's `submitting` state under its lock and moves the job to
   * submitted, reserving its price, in one step that a cancel cannot slip into. 'lost' when the
   * lock is another run's; throws BatchCancelledError when the batch is being cancelled.
   */
  async enterSubmit(job: RenderJob, token: string, request: RenderRequest, data: RenderJobData): Promise<'entered' | 'lost'> {
    const batchId = request.batchId!;
    const jobKey = `${job.queueQualifiedName}:${job.id}`;
    const { outcome } = await this.move(batchId, job.id!, {
      to: 'submitted',
      tenant: tenantOf(request),
      priceUsd: this.price(request),
      gate: { jobKey, lockKey: `${jobKey}:lock`, token, data: JSON.stringify(data) },
    });
    if (outcome === 'cancelled') throw new BatchCancelledError(batchId);
    return outcome === 'lost' ? 'lost' : 'entered';
  }

  /**
   * A job parked before its submit (its run no longer holds it) leaves a cancelled batch here: checked
   * after the park, so a cancel that came before is seen, and one that comes after finds it parked
   * and removes it. True when it was removed.
   */
  async leaveIfCancelled(job: RenderJob, request: RenderRequest): Promise<boolean> {
    if (request.batchId === undefined || job.data.render?.step !== undefined) return false;
    const state = await this.deps.ledger.stateOf(request.batchId);
    if (state !== 'cancelling' && state !== 'cancelled') return false;
    const { removed, ended } = await removeUnsubmitted(this.deps.ledger, request.batchId, job.id!, job);
    if (ended) await this.deps.batchEnded(request.batchId);
    return removed;
  }

  async stored(job: RenderJob, request: RenderRequest, result: RenderResult): Promise<void> {
    if (request.batchId === undefined) return;
    const state = job.data.render;
    const line: ManifestLine = {
      jobId: job.id!,
      state: 'stored',
      model: request.model,
      prompt: promptOf(request),
      durationSeconds: result.durationSeconds ?? request.duration,
      costUsd: result.estimatedCostUsd,
      key: result.key,
      size: result.size,
      sha256: result.sha256,
      taskId: result.taskId,
      account: result.account,
      enqueuedAt: iso(job.timestamp),
      submittedAt: result.submittedAt,
      completedAt: result.completedAt,
      storedAt: result.storedAt,
      endedAt: result.storedAt,
      ...(state?.possibleDuplicate ? { reason: 'possible duplicate charge: resubmitted after an ambiguous submit' } : {}),
    };
    await this.move(request.batchId, job.id!, {
      to: 'stored',
      tenant: tenantOf(request),
      spentUsd: result.estimatedCostUsd,
      seconds: line.durationSeconds,
      bytes: result.size,
      line,
    });
  }

  /**
   * A job that failed for good, or was cancelled at the gate. Reads what it needs from the job
   * alone, so the worker's failed handler can call it for jobs no run of this process held; a job
   * whose data is too broken to name a batch is in none.
   */
  async ended(job: RenderJob, reason: string, cancelled: boolean): Promise<void> {
    const data = job.data as RenderJobData & Record<string, unknown>;
    const batchId = batchName.safeParse(data.batchId).data;
    if (batchId === undefined) return;
    let request: RenderRequest | undefined;
    try {
      request = parseRenderRequest(data, this.deps.config.kie.models);
    } catch {
      // Bad data still fails inside its batch; the line names no model.
    }
    const state: Partial<RenderState> = data.render && typeof data.render === 'object' ? data.render : {};
    const submits = typeof state.submits === 'number' ? state.submits : 0;
    const costUsd = request ? this.price(request) * submits : 0;
    const line: ManifestLine = {
      jobId: job.id!,
      state: cancelled ? 'cancelled' : 'failed',
      model: request?.model,
      prompt: request ? promptOf(request) : undefined,
      durationSeconds: request?.duration,
      costUsd,
      taskId: state.taskId,
      account: state.account,
      enqueuedAt: iso(job.timestamp),
      submittedAt: iso(state.submittedAt),
      endedAt: new Date().toISOString(),
      reason,
    };
    const tenant = batchName.safeParse(data.tenant).data ?? batchId;
    await this.move(batchId, job.id!, { to: cancelled ? 'cancelled' : 'failed', tenant, spentUsd: costUsd, line });
  }
}
