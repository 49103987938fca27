/**
 * Producer benchmark: the enqueue rate of RenderProducer.enqueueMany (validation, then addBulk in
 * chunks, plus one existence pipeline per chunk when idempotency keys are set) against raw
 * `queue.addBulk` of the same, already valid job data in the same chunks, on a Redis of its own.
 * Rounds alternate which of the two goes first, and Redis is flushed before each run, so neither
 * profits from a warmer server. Also prints where the producer's time goes: validation alone,
 * existence checks and addBulk, timed separately.
 *
 *   npm run bench:producer -- [--jobs 20000] [--rounds 5] [--chunk 500] [--redis-port 6392]
 */
import { ChildProcess, spawn } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_JOB_OPTIONS, jobIdForIdempotencyKey, RenderProducer } from '../src/producer/renderProducer';
import { RENDER_JOB_NAME, RenderJobData } from '../src/shared/renderJob';
import { parseRenderRequest } from '../src/shared/renderRequest';
import { waitUntil } from '../test/support/fleet';

const { values: opt } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    chunk: { type: 'string', default: '500' },
    'redis-port': { type: 'string', default: '6392' },
  },
});
const N = Number(opt.jobs);
const ROUNDS = Number(opt.rounds);
const CHUNK = Number(opt.chunk);
const REDIS_PORT = Number(opt['redis-port']);

type Variant = 'plain' | 'idempotent';
type Method = 'enqueueMany' | 'addBulk';

/** What a backend would send: a prompt and a batch, the rest left to defaults. */
function inputs(variant: Variant, round: number): Array<Record<string, unknown>> {
  return Array.from({ length: N }, (_, i) => ({
    prompt: `a slow pan over a harbour at dawn, take ${i}`,
    batchId: 'bench',
    metadata: { customer: 'bench', index: i },
    ...(variant === 'idempotent' ? { idempotencyKey: `order-${round}-${i}` } : {}),
  }));
}

/** The jobs enqueueMany would add, built beforehand: the baseline pays for Redis only. */
function rawJobs(requests: ReadonlyArray<Record<string, unknown>>) {
  return requests.map(({ idempotencyKey, ...fields }) => ({
    name: RENDER_JOB_NAME,
    data: parseRenderRequest(fields),
    opts: { ...DEFAULT_JOB_OPTIONS, ...(typeof idempotencyKey === 'string' ? { jobId: jobIdForIdempotencyKey(idempotencyKey) } : {}) },
  }));
}

async function startRedis(port: number): Promise<{ redis: Redis; server: ChildProcess }> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new Redis({ port, lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
  await waitUntil(async () => (await redis.ping().catch(() => '')) === 'PONG', `redis-server on port ${port}`, 10_000, 50);
  return { redis, server };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

interface Measurement {
  ms: number;
  /** This process's CPU (user + system): on a shared host, wall time also holds waits for a core. */
  cpuMs: number;
  gcMs: number;
}

let gcMs = 0;
new PerformanceObserver((list) => list.getEntries().forEach((e) => (gcMs += e.duration))).observe({ entryTypes: ['gc'] });
const collectGarbage = (globalThis as { gc?: () => void }).gc;

/** Starts from a collected heap (with --expose-gc), so no run pays for its predecessor's garbage. */
async function measured(run: () => Promise<unknown>): Promise<Measurement> {
  collectGarbage?.();
  const gcBefore = gcMs;
  const cpu = process.cpuUsage();
  const ms = await timed(run);
  const { user, system } = process.cpuUsage(cpu);
  // GC entries are delivered after the fact; give them a turn.
  await new Promise((resolve) => setImmediate(resolve));
  return { ms, cpuMs: (user + system) / 1000, gcMs: gcMs - gcBefore };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function rate(ms: number): string {
  return `${Math.round((N / ms) * 1000)}`;
}

function share(ms: number, total: number): string {
  return `${Math.round(ms)} ms (${Math.round((ms / total) * 100)}%)`;
}

/** One timed run of one method on a fresh queue in a flushed Redis. */
async function runOnce(redis: Redis, method: Method, variant: Variant, round: number): Promise<Measurement> {
  await redis.flushall();
  const queueName = `bench-${variant}-${method}-${round}`;
  const requests = inputs(variant, round);
  if (method === 'enqueueMany') {
    const producer = new RenderProducer({ connection: redis, queueName, chunkSize: CHUNK });
    await producer.queue.waitUntilReady();
    try {
      const ms = await measured(() => producer.enqueueMany(requests));
      if ((await producer.queue.getWaitingCount()) !== N) throw new Error(`enqueueMany left ${await producer.queue.getWaitingCount()} jobs, not ${N}`);
      return ms;
    } finally {
      await producer.close();
    }
  }
  const queue = new Queue<RenderJobData>(queueName, { connection: redis });
  await queue.waitUntilReady();
  const jobs = rawJobs(requests);
  try {
    const ms = await measured(async () => {
      for (let i = 0; i < jobs.length; i += CHUNK) await queue.addBulk(jobs.slice(i, i + CHUNK));
    });
    if ((await queue.getWaitingCount()) !== N) throw new Error(`addBulk left ${await queue.getWaitingCount()} jobs, not ${N}`);
    return ms;
  } finally {
    await queue.close();
  }
}

interface Breakdown {
  validateMs: number;
  existsMs: number;
  addBulkMs: number;
}

/**
 * The producer's steps timed one by one, in the order enqueueMany runs them: validation of every
 * request (no Redis), then per chunk the existence pipeline (idempotent only) and addBulk.
 */
async function breakdown(redis: Redis, variant: Variant, round: number): Promise<Breakdown> {
  await redis.flushall();
  const producer = new RenderProducer({ connection: redis, queueName: `bench-breakdown-${variant}-${round}`, chunkSize: CHUNK });
  await producer.queue.waitUntilReady();
  const requests = inputs(variant, round);
  try {
    let jobs: ReturnType<typeof rawJobs> = [];
    const validateMs = await timed(() => Promise.resolve(void (jobs = rawJobs(requests))));
    let existsMs = 0;
    let addBulkMs = 0;
    for (let i = 0; i < jobs.length; i += CHUNK) {
      const chunk = jobs.slice(i, i + CHUNK);
      const ids = chunk.map((j) => j.opts.jobId).filter((id): id is string => id !== undefined);
      if (ids.length) {
        existsMs += await timed(() => {
          const pipeline = redis.pipeline();
          for (const id of ids) pipeline.exists(producer.queue.toKey(id));
          return pipeline.exec();
        });
      }
      addBulkMs += await timed(() => producer.queue.addBulk(chunk));
    }
    return { validateMs, existsMs, addBulkMs };
  } finally {
    await producer.close();
  }
}

async function main(): Promise<void> {
  const { redis, server } = await startRedis(REDIS_PORT);
  try {
    // Warm-up: JIT, script loading, connection; not counted.
    for (let i = 1; i <= 2; i++) for (const method of ['enqueueMany', 'addBulk'] as const) await runOnce(redis, method, 'idempotent', -i);

    const col = (v: string | number, w: number) => String(v).padStart(w);
    const head =
      `  ${'variant'.padEnd(10)}  ${'round'.padStart(5)}  ${'first'.padEnd(11)}  ${col('enqueueMany/s', 13)}  ${col('addBulk/s', 10)}  ${col('ratio', 6)}` +
      `  ${col('cpu ms e/a', 11)}  ${col('gc ms e/a', 9)}`;
    const rows: string[] = [];
    const summary: string[] = [];
    for (const variant of ['plain', 'idempotent'] as const) {
      const runs: Record<Method, Measurement[]> = { enqueueMany: [], addBulk: [] };
      const ratios: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const order: Method[] = round % 2 === 0 ? ['enqueueMany', 'addBulk'] : ['addBulk', 'enqueueMany'];
        for (const method of order) runs[method].push(await runOnce(redis, method, variant, round));
        const [e, a] = [runs.enqueueMany[round]!, runs.addBulk[round]!];
        ratios.push(a.ms / e.ms);
        rows.push(
          `  ${variant.padEnd(10)}  ${col(round + 1, 5)}  ${order[0]!.padEnd(11)}  ${col(rate(e.ms), 13)}  ${col(rate(a.ms), 10)}  ${col((a.ms / e.ms).toFixed(3), 6)}` +
            `  ${col(`${Math.round(e.cpuMs)}/${Math.round(a.cpuMs)}`, 11)}  ${col(`${Math.round(e.gcMs)}/${Math.round(a.gcMs)}`, 9)}`,
        );
      }
      const med = (method: Method, field: keyof Measurement) => median(runs[method].map((m) => m[field]));
      const parts = await breakdown(redis, variant, ROUNDS);
      const total = parts.validateMs + parts.existsMs + parts.addBulkMs;
      summary.push(
        `  ${variant.padEnd(10)}  ${col(rate(med('enqueueMany', 'ms')), 13)}  ${col(rate(med('addBulk', 'ms')), 10)}  ${col(median(ratios).toFixed(3), 6)}` +
          `  ${col(`${Math.round(med('enqueueMany', 'cpuMs'))}/${Math.round(med('addBulk', 'cpuMs'))}`, 11)}` +
          `  ${col(`${Math.round(med('enqueueMany', 'gcMs'))}/${Math.round(med('addBulk', 'gcMs'))}`, 9)}` +
          `    validate ${share(parts.validateMs, total)}, exists ${share(parts.existsMs, total)}, addBulk ${share(parts.addBulkMs, total)}`,
      );
    }
    const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
    process.stdout.write(
      `\nproducer benchmark: ${N} jobs per run, chunks of ${CHUNK}, ${ROUNDS} rounds per variant, redis ${version} on port ${REDIS_PORT}, node ${process.version}` +
        `${collectGarbage ? ', heap collected before each run' : ' (run with node --expose-gc to collect the heap before each run)'}\n` +
        `ratio = enqueueMany rate / raw addBulk rate in the same round (aim >= 0.9); e/a = enqueueMany/addBulk; cpu = this process, user + system\n\n` +
        `${head}\n${rows.join('\n')}\n\n` +
        `  ${'median'.padEnd(10)}  ${col('enqueueMany/s', 13)}  ${col('addBulk/s', 10)}  ${col('ratio', 6)}  ${col('cpu ms e/a', 11)}  ${col('gc ms e/a', 9)}` +
        `    where enqueueMany's time goes (one more run, steps timed apart)\n` +
        `${summary.join('\n')}\n` +
        `(the median ratio is the median of the rounds' ratios)\n` +
        `\nreproduce: npm run bench:producer -- --jobs ${N} --rounds ${ROUNDS} --chunk ${CHUNK} --redis-port ${REDIS_PORT}\n`,
    );
  } finally {
    await redis.quit();
    server.kill('SIGTERM');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:producer failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
