/**
 * Fleet benchmark: a backlog of N jobs on W worker processes and A accounts against the KIE
 * simulator with scaled times, on a Redis of its own (so its command count is clean). Prints cap
 * efficiency = theoretical minimum makespan / measured makespan, slot use, cap violations,
 * requests and Redis commands per job.
 *
 *   npm run bench:fleet -- [--jobs 120] [--workers 3] [--accounts 2] [--cap 10] [--interval 50]
 *                          [--gen 1000-2000] [--margin 5] [--poll 100] [--redis-port 6390]
 */
import { ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import type { KeyCounters } from '../src/sim/kieSimTypes';
import { waitForWorkersStarted, waitUntil } from '../test/support/fleet';

const { values: opt } = parseArgs({
  options: {
    jobs: { type: 'string', default: '120' },
    workers: { type: 'string', default: '3' },
    accounts: { type: 'string', default: '2' },
    cap: { type: 'string', default: '10' },
    interval: { type: 'string', default: '50' },
    gen: { type: 'string', default: '1000-2000' },
    margin: { type: 'string', default: '5' },
    poll: { type: 'string', default: '100' },
    'redis-port': { type: 'string', default: '6390' },
  },
});
const N = Number(opt.jobs);
const W = Number(opt.workers);
const A = Number(opt.accounts);
const CAP = Number(opt.cap);
const INTERVAL = Number(opt.interval);
const [GEN_MIN, GEN_MAX] = opt.gen.split('-').map(Number) as [number, number];
const REDIS_PORT = Number(opt['redis-port']);
/** Without webhooks a job needs at least one submit and one status check that sees it done. */
const MIN_REQUESTS_PER_JOB = 2;

async function startRedis(port: number): Promise<{ redis: Redis; server: ChildProcess }> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new Redis({ port, lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
  await waitUntil(async () => (await redis.ping().catch(() => '')) === 'PONG', `redis-server on port ${port}`, 10_000, 50);
  return { redis, server };
}

/** Commands Redis ran (Lua-internal calls included) and script calls, from INFO commandstats. */
async function commandCounts(redis: Redis): Promise<{ total: number; scripts: number }> {
  let total = 0;
  let scripts = 0;
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    total += Number(m[2]);
    if (m[1] === 'evalsha' || m[1] === 'eval') scripts += Number(m[2]);
  }
  return { total, scripts };
}

/** Time-weighted mean of `generating` over [from, to]. */
function meanGenerating(series: KeyCounters['generatingSeries'], from: number, to: number): number {
  let area = 0;
  let level = 0;
  let at = from;
  for (const { t, generating } of series) {
    if (t > to) break;
    if (t > at) {
      area += level * (t - at);
      at = t;
    }
    level = generating;
  }
  area += level * Math.max(0, to - at);
  return to > from ? area / (to - from) : 0;
}

async function main(): Promise<void> {
  const { redis, server } = await startRedis(REDIS_PORT);
  // The harness reads REDIS_URL when it loads.
  process.env.REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
  const { startRenderStack } = await import('../test/support/renderStack.js');
  const accounts = Object.fromEntries(Array.from({ length: A }, (_, i) => [`acct${i + 1}`, `sk-bench-${i + 1}`]));
  const stack = await startRenderStack({
    accounts,
    sim: { maxConcurrent: CAP, dailyLimit: 1_000_000, minIntervalMs: INTERVAL, generationMs: [GEN_MIN, GEN_MAX], videoBytes: 32 * 1024 },
    env: { KIE_INTERVAL_MARGIN_MS: opt.margin, POLL_INTERVAL_MS: opt.poll, WORKER_CONCURRENCY: '100' },
  });
  try {
    const workers = Array.from({ length: W }, () => stack.spawnWorker());
    await waitForWorkersStarted(workers, 60_000);
    await redis.config('RESETSTAT');
    const before = await commandCounts(redis);

    const t0 = Date.now();
    await stack.producer.enqueueMany(Array.from({ length: N }, (_, i) => ({ prompt: `fleet bench clip ${i}`, batchId: 'bench' })));
    // Counting objects in S3 costs Redis nothing, so the command count is the fleet's own.
    const stored = async (): Promise<number> =>
      (await stack.s3Client.send(new ListObjectsV2Command({ Bucket: stack.config.s3.bucket, Prefix: 'bench/' }))).KeyCount ?? 0;
    await waitUntil(async () => (await stored()) >= N, `${N} stored videos`, 600_000, 20);
    const makespanMs = Date.now() - t0;
    await waitUntil(async () => (await stack.queue.getCompletedCount()) >= N, `${N} completed jobs`, 30_000, 100);
    const after = await commandCounts(redis);

    const { counters } = stack.sim;
    const meanGenMs = (GEN_MIN + GEN_MAX) / 2;
    // Per account: the slots turn over jobs/cap times, each turn a generation plus the interval
    // between the check that sees it done and the next submit; or the request budget binds.
    const bounds = Object.entries(accounts).map(([name, key]) => {
      const jobs = counters.perKey[key]!.tasksCreated;
      const concurrencyMs = (jobs / CAP) * (meanGenMs + INTERVAL);
      const budgetMs = jobs * MIN_REQUESTS_PER_JOB * INTERVAL;
      const created = counters.tasks.filter((t) => t.key === key).map((t) => t.createdAt);
      const backlogFrom = Math.min(...created);
      const backlogTo = Math.max(...created);
      const util = meanGenerating(counters.perKey[key]!.generatingSeries, backlogFrom, backlogTo) / CAP;
      return { name, jobs, concurrencyMs, budgetMs, util, requests: counters.perKey[key]!.requests };
    });
    const evenShare = N / A;
    const theoreticalMs = Math.max((evenShare / CAP) * (meanGenMs + INTERVAL), evenShare * MIN_REQUESTS_PER_JOB * INTERVAL);
    const commands = after.total - before.total;
    const scripts = after.scripts - before.scripts;

    const lines: Array<[string, string]> = [
      ['workload', `${N} jobs, ${W} worker processes, ${A} accounts, cap ${CAP}, interval ${INTERVAL} ms (+${opt.margin} ms margin), generation ${GEN_MIN}-${GEN_MAX} ms, poll ${opt.poll} ms`],
      ['theoretical min makespan', `${(theoreticalMs / 1000).toFixed(2)} s  = max(n/cap x (mean gen + interval), n x ${MIN_REQUESTS_PER_JOB} x interval), n = N/A = ${evenShare}`],
      ['  concurrency bound', `${((evenShare / CAP) * (meanGenMs + INTERVAL) / 1000).toFixed(2)} s per account`],
      ['  request-budget bound', `${((evenShare * MIN_REQUESTS_PER_JOB * INTERVAL) / 1000).toFixed(2)} s per account`],
      ['measured makespan', `${(makespanMs / 1000).toFixed(2)} s`],
      ['cap efficiency', (theoreticalMs / makespanMs).toFixed(3)],
      ['slot utilisation (backlogged)', bounds.map((b) => `${b.name} ${b.util.toFixed(3)}`).join(', ')],
      ['jobs per account', bounds.map((b) => `${b.name} ${b.jobs}`).join(', ')],
      ['cap violations', JSON.stringify(counters.violations)],
      ['KIE requests per job', `${(counters.requests.total / N).toFixed(2)}  (${Object.entries(counters.requests.byEndpoint).map(([e, n]) => `${e}: ${n}`).join(', ')})`],
      ['Redis commands per job', `${(commands / N).toFixed(1)} (Lua-internal calls included), script calls per job ${(scripts / N).toFixed(1)}`],
      ['tasks created / prompts paid twice', `${counters.tasks.length} / ${[...counters.submitsByPrompt.values()].filter((n) => n > 1).length}`],
    ];
    const width = Math.max(...lines.map(([k]) => k.length));
    process.stdout.write(`\nfleet benchmark\n${lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`);
    process.stdout.write(
      `\nreproduce: npm run bench:fleet -- --jobs ${N} --workers ${W} --accounts ${A} --cap ${CAP} --interval ${INTERVAL} --gen ${GEN_MIN}-${GEN_MAX} --margin ${opt.margin} --poll ${opt.poll} --redis-port ${REDIS_PORT}\n`,
    );
  } finally {
    await stack.close();
    redis.disconnect();
    server.kill('SIGTERM');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:fleet failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
