/**
 * A batch's record in Redis (layout in batchKeys.ts): what it is (tenant, budget, notifyUrl,
 * state, times) and where its jobs are (counts by state, money spent and reserved, seconds and
 * bytes stored, each ended job's manifest line). Every change is one Lua script beside this file,
 * so counts move atomically with the job, and every move is idempotent (a retried run or a second
 * handler counts nothing twice).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { batchIndexKey, BatchKeys, batchKeys, endingBatchesKey, toMicroUsd } from './batchKeys';
import { waitersKey } from '../pool/limiter/limiterKeys';
import { slotMember } from '../pool/slotMember';

export type BatchState = 'open' | 'cancelling' | 'cancelled' | 'finished';
export type BatchJobState = 'waiting' | 'submitted' | 'stored' | 'failed' | 'cancelled';
export const BATCH_JOB_STATES: readonly BatchJobState[] = ['waiting', 'submitted', 'stored', 'failed', 'cancelled'];

export interface BatchRecord {
  id: string;
  queue: string;
  tenant: string;
  state: BatchState;
  createdAt: number;
  updatedAt?: number;
  cancelledAt?: number;
  endedAt?: number;
  /** How many times the batch has ended (a job joining an ended batch opens it again). */
  ends: number;
  budgetMicroUsd?: number;
  notifyUrl?: string;
  /** Jobs that ever joined. */
  joined: number;
  counts: Record<BatchJobState, number>;
  spentMicroUsd: number;
  reservedMicroUsd: number;
  secondsRendered: number;
  bytesStored: number;
  manifestKey?: string;
  manifestAt?: number;
}

/** One job as the manifest and `batch export` list it. */
export interface ManifestLine {
  jobId: string;
  state: Exclude<BatchJobState, 'waiting' | 'submitted'>;
  model?: string;
  prompt?: string;
  durationSeconds?: number;
  costUsd: number;
  key?: string;
  size?: number;
  sha256?: string;
  taskId?: string;
  account?: string;
  enqueuedAt?: string;
  submittedAt?: string;
  completedAt?: string;
  storedAt?: string;
  endedAt: string;
  reason?: string;
}

export interface JobMove {
  to: BatchJobState;
  /** For a record created by this move (a batch first seen through a job). */
  tenant: string;
  /** Reserved on the move to submitted. */
  priceUsd?: number;
  /** What the job's tasks cost, on the move to stored or failed. */
  spentUsd?: number;
  seconds?: number;
  bytes?: number;
  line?: ManifestLine;
  /** The submit gate: the job's data written under its lock in the same step. */
  gate?: { jobKey: string; lockKey: string; token: string; data: string };
}

export interface MoveOutcome {
  outcome: 'moved' | 'same' | 'cancelled' | 'lost';
  /** This move ended the batch: the caller holds its manifest claim and writes it. */
  ended: boolean;
  ends: number;
}

/** A writer that died is replaced after this long; far longer than writing any manifest. */
export const MANIFEST_CLAIM_MS = 5 * 60_000;

type Script = 'moveBatchJob' | 'joinBatch' | 'createBatch' | 'setBudget' | 'cancelBatch' | 'claimManifests' | 'finishManifest';
const SCRIPTS: readonly Script[] = ['moveBatchJob', 'joinBatch', 'createBatch', 'setBudget', 'cancelBatch', 'claimManifests', 'finishManifest'];
const PREFIX = 'batchLedger_';
let sources: Map<Script, string> | undefined;

/** The scripts' text, by verb (files are `verb.lua` or `verb-N.lua`, N its key count). */
function scriptSources(): Map<Script, string> {
  if (sources) return sources;
  const files = readdirSync(__dirname);
  sources = new Map(
    SCRIPTS.map((s) => {
      const file = files.find((f) => f === `${s}.lua` || new RegExp(`^${s}-\\d+\\.lua$`).test(f));
      if (!file) throw new Error(`batch script ${s}.lua is missing from ${__dirname}`);
      return [s, readFileSync(join(__dirname, file), 'utf8')];
    }),
  );
  return sources;
}

const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

function parseRecord(h: Record<string, string>): BatchRecord | undefined {
  if (!h.state) return undefined;
  return {
    id: h.id!,
    queue: h.queue!,
    tenant: h.tenant!,
    state: h.state as BatchState,
    createdAt: Number(h.createdAt),
    updatedAt: num(h.updatedAt),
    cancelledAt: num(h.cancelledAt),
    endedAt: num(h.endedAt),
    ends: Number(h.ends ?? 0),
    budgetMicroUsd: num(h.budgetMicroUsd),
    notifyUrl: h.notifyUrl,
    joined: Number(h.joined ?? 0),
    counts: Object.fromEntries(BATCH_JOB_STATES.map((s) => [s, Number(h[s] ?? 0)])) as Record<BatchJobState, number>,
    spentMicroUsd: Number(h.spentMicroUsd ?? 0),
    reservedMicroUsd: Number(h.reservedMicroUsd ?? 0),
    secondsRendered: Number(h.secondsRendered ?? 0),
    bytesStored: Number(h.bytesStored ?? 0),
    manifestKey: h.manifestKey,
    manifestAt: num(h.manifestAt),
  };
}

type Commands = Record<string, (...args: Array<string | number>) => Promise<unknown>>;

export class BatchLedger {
  private readonly commands: Commands;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
    readonly queue: string,
  ) {
    for (const [name, lua] of scriptSources()) redis.defineCommand(PREFIX + name, { lua });
    this.commands = redis as unknown as Commands;
  }

  keys(batchId: string): BatchKeys {
    return batchKeys(this.prefix, this.queue, batchId);
  }

  private run(script: Script, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.commands[PREFIX + script]!(keys.length, ...keys, ...args);
  }

  /** Creates the batch unless it exists; false when it did (nothing is changed then). */
  async create(b: { id: string; tenant: string; budgetUsd?: number; notifyUrl?: string }): Promise<boolean> {
    const k = this.keys(b.id);
    const budget = b.budgetUsd === undefined ? '' : toMicroUsd(b.budgetUsd);
    return (await this.run('createBatch', [k.record, k.index], [b.id, this.queue, b.tenant, budget, b.notifyUrl ?? ''])) === 1;
  }

  async read(batchId: string): Promise<BatchRecord | undefined> {
    return parseRecord(await this.redis.hgetall(this.keys(batchId).record));
  }

  /** Takes a removed job out of the account pool's slot waiters (limiterKeys.ts), which a freed slot wakes. */
  async forgetWaiter(jobId: string): Promise<void> {
    await this.redis.zrem(waitersKey(this.prefix), slotMember(this.queue, jobId));
  }

  async stateOf(batchId: string): Promise<BatchState | undefined> {
    return ((await this.redis.hget(this.keys(batchId).record, 'state')) ?? undefined) as BatchState | undefined;
  }

  /** The batches of this queue, newest first. */
  async list(limit = 100): Promise<string[]> {
    return this.redis.zrevrange(batchIndexKey(this.prefix, this.queue), 0, limit - 1);
  }

  /** null removes the budget; false when there is no such batch. */
  async setBudget(batchId: string, budgetUsd: number | null): Promise<boolean> {
    return (await this.run('setBudget', [this.keys(batchId).record], [budgetUsd === null ? '' : toMicroUsd(budgetUsd)])) === 1;
  }

  async move(batchId: string, jobId: string, m: JobMove): Promise<MoveOutcome> {
    const k = this.keys(batchId);
    const keys = [k.record, k.jobs, k.lines, k.ending, k.index, ...(m.gate ? [m.gate.jobKey, m.gate.lockKey] : [])];
    const [outcome, ended, ends] = (await this.run('moveBatchJob', keys, [
      jobId,
      m.to,
      batchId,
      this.queue,
      m.tenant,
      toMicroUsd(m.priceUsd ?? 0),
      toMicroUsd(m.spentUsd ?? 0),
      m.seconds ?? 0,
      m.bytes ?? 0,
      m.line ? JSON.stringify(m.line) : '',
      MANIFEST_CLAIM_MS,
      m.gate?.token ?? '',
      m.gate?.data ?? '',
    ])) as [MoveOutcome['outcome'], number, number];
    return { outcome, ended: ended === 1, ends };
  }

  /** Jobs join their batch as waiting, in one step (idempotent: a job it knows keeps its state); how many joined now. */
  async join(batchId: string, tenant: string, jobIds: readonly string[]): Promise<number> {
    if (!jobIds.length) return 0;
    const k = this.keys(batchId);
    return (await this.run('joinBatch', [k.record, k.jobs, k.index], [batchId, this.queue, tenant, ...jobIds])) as number;
  }

  /** Starts a cancel: from here no job of the batch passes the submit gate (cancelBatch.ts does the rest). */
  async markCancelling(batchId: string): Promise<{ outcome: 'cancelling' | 'already' | 'finished' | 'none'; ended: boolean; ends: number }> {
    const k = this.keys(batchId);
    const [outcome, ended, ends] = (await this.run('cancelBatch', [k.record, k.ending], [batchId, MANIFEST_CLAIM_MS])) as [
      'cancelling' | 'already' | 'finished' | 'none',
      number,
      number,
    ];
    return { outcome, ended: ended === 1, ends };
  }

  /** The batch's jobs in `state`, in the order they joined. */
  async jobsIn(batchId: string, state: BatchJobState): Promise<string[]> {
    const all = await this.redis.hgetall(this.keys(batchId).jobs);
    return Object.entries(all)
      .map(([jobId, v]) => ({ jobId, state: v.split('|')[0], seq: Number(v.split('|')[1]) }))
      .filter((j) => j.state === state)
      .sort((a, b) => a.seq - b.seq)
      .map((j) => j.jobId);
  }

  /** Every ended job's manifest line, in the order the jobs joined. */
  async lines(batchId: string): Promise<ManifestLine[]> {
    const k = this.keys(batchId);
    const [jobs, lines] = await Promise.all([this.redis.hgetall(k.jobs), this.redis.hgetall(k.lines)]);
    const seq = (jobId: string): number => Number(jobs[jobId]?.split('|')[1] ?? Number.MAX_SAFE_INTEGER);
    return Object.keys(lines)
      .sort((a, b) => seq(a) - seq(b))
      .map((jobId) => JSON.parse(lines[jobId]!) as ManifestLine);
  }

  /** Ended batches whose manifest is due and unclaimed (its writer died), claimed for MANIFEST_CLAIM_MS. */
  async claimDueManifests(limit = 10): Promise<string[]> {
    return (await this.run('claimManifests', [endingBatchesKey(this.prefix, this.queue)], [MANIFEST_CLAIM_MS, limit])) as string[];
  }

  /** For a process that ended a batch but writes no manifest (a cancel from the CLI or API): the workers' sweep writes it. */
  async releaseManifestClaim(batchId: string): Promise<void> {
    await this.redis.zadd(endingBatchesKey(this.prefix, this.queue), 'XX', 0, batchId);
  }

  /** false when the batch ended again since `ends`: its manifest is to be written anew. */
  async finishManifest(batchId: string, ends: number, manifestKey: string | undefined): Promise<boolean> {
    const k = this.keys(batchId);
    return (await this.run('finishManifest', [k.record, k.ending], [batchId, ends, manifestKey ?? ''])) === 1;
  }
}
