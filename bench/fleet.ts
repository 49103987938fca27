/**
 * Fleet benchmark: a backlog of N jobs on W worker processes and A accounts against the KIE
 * simulator with scaled times, on a Redis of its own (so its command count is clean). Prints cap
 * efficiency = theoretical minimum makespan / measured makespan, slot use, cap violations,
 * requests and Redis commands per job, and where slot time went (completion -> refill delays).
 *
 * The simulator runs as its own process: KIE judges the interval on arrival, and a harness stall
 * (S3 traffic, JSON parsing) would bunch arrivals in a simulator sharing its event loop and count
 * them as the fleet's violations. With --webhooks every worker serves HTTP and the simulator
 * posts completion callbacks to the first one.
 *
 *   npm run bench:fleet -- [--jobs 120] [--workers 3] [--accounts 2] [--cap 10] [--interval 50]
 *                          [--gen 1000-2000] [--margin 10] [--poll 100] [--redis-port 6390] [--webhooks]
 *
 * The margin is absolute milliseconds of host jitter (event loops, a new connection), which does not
 * shrink with the scaled interval: 10 ms of a 50 ms interval kept this shared 2-core host at zero 429s.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { waitForWorkersStarted, waitUntil } from '../test/support/fleet';
import { detectionLagMs, idealMakespanMs, meanGenerating, refillDelays } from './fleetAnalysis';
import { spawnSimulator } from './simProcess';

const { values: opt } = parseArgs({
  options: {
    jobs: { type: 'string', default: '120' },
    workers: { type: 'string', default: '3' },
    accounts: { type: 'string', default: '2' },
    cap: { type: 'string', default: '10' },
    interval: { type: 'string', default: '50' },
    gen: { type: 'string', default: '1000-2000' },
    margin: { type: 'string', default: '10' },
    poll: { type: 'string', default: '100' },
    'redis-port': { type: 'string', default: '6390' },
    webhooks: { type: 'boolean', default: false },
  },
});
const N = Number(opt.jobs);
const W = Number(opt.workers);
const A = Number(opt.accounts);
const CAP = Number(opt.cap);
const INTERVAL = Number(opt.interval);
const MARGIN = Number(opt.margin);
const [GEN_MIN, GEN_MAX] = opt.gen.split('-').map(Number) as [number, number];
const REDIS_PORT = Number(opt['redis-port']);
const WEBHOOKS = opt.webhooks;
/**
 * A job needs at least one submit and one status check that sees it done; with webhooks too,
 * as the callback only wakes the job, which then asks KIE for the record.
 */
const MIN_REQUESTS_PER_JOB = 2;
const VIDEO_BYTES = 32 * 1024;
const SIM_SEED = 7;

async function startRedis(port: number): Promise<{ redis: Redis; server: ChildProcess }> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new Redis({ port, lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
  await waitUntil(
    async () => {
      // A redis-server already on the port would answer the ping while ours exits.
      if (server.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${server.exitCode} (port in use? pick another with --redis-port)`);
      return (await redis.ping().catch(() => '')) === 'PONG';
    },
    `redis-server on port ${port}`,
    10_000,
    50,
  );
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

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Per-worker HTTP ports and the webhook settings that send every callback to the first worker. */
async function webhookEnvs(): Promise<Array<Record<string, string>>> {
  const ports = await Promise.all(Array.from({ length: W }, () => freePort()));
  const shared = { WORKER_HTTP: 'true', WEBHOOK_BASE_URL: `http://127.0.0.1:${ports[0]}`, WEBHOOK_SECRET: 'bench-webhook-secret-0123456789' };
  return ports.map((port) => ({ ...shared, HTTP_PORT: String(port) }));
}

async function main(): Promise<void> {
  const { redis, server } = await startRedis(REDIS_PORT);
  // The harness reads REDIS_URL when it loads.
  process.env.REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
  const { startRenderStack } = await import('../test/support/renderStack.js');
  const accounts = Object.fromEntries(Array.from({ length: A }, (_, i) => [`acct${i + 1}`, `sk-bench-${i + 1}`]));
  const sim = await spawnSimulator({
    SIM_API_KEYS: Object.values(accounts).join(','),
    SIM_MAX_CONCURRENT: String(CAP),
    SIM_DAILY_LIMIT: '1000000',
    SIM_MIN_INTERVAL_MS: String(INTERVAL),
    SIM_GENERATION_MS: `${GEN_MIN}-${GEN_MAX}`,
    SIM_VIDEO_BYTES: String(VIDEO_BYTES),
    SIM_SEED: String(SIM_SEED),
  });
  // The stack's own in-process simulator gets no traffic: every worker is pointed at the process.
  const stack = await startRenderStack({
    accounts,
    sim: { maxConcurrent: CAP, dailyLimit: 1_000_000, minIntervalMs: INTERVAL },
    env: { KIE_BASE_URL: sim.url, KIE_INTERVAL_MARGIN_MS: opt.margin, POLL_INTERVAL_MS: opt.poll, WORKER_CONCURRENCY: '100' },
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    const perWorkerEnv = WEBHOOKS ? await webhookEnvs() : Array.from({ length: W }, () => ({}));
    const workers = perWorkerEnv.map((env) => stack.spawnWorker(env));
    await waitForWorkersStarted(workers, 60_000);
    await redis.config('RESETSTAT');
    const before = await commandCounts(redis);
    loopDelay.enable();

    const t0 = Date.now();
    await stack.producer.enqueueMany(Array.from({ length: N }, (_, i) => ({ prompt: `fleet bench clip ${i}`, batchId: 'bench' })));
    // Counting objects in S3 costs Redis nothing, so the command count is the fleet's own; the
    // makespan comes from the jobs' own finish times, so this poll can be unhurried.
    const stored = async (): Promise<number> =>
      (await stack.s3Client.send(new ListObjectsV2Command({ Bucket: stack.config.s3.bucket, Prefix: 'bench/' }))).KeyCount ?? 0;
    await waitUntil(async () => (await stored()) >= N, `${N} stored videos`, 600_000, 200);
    await waitUntil(async () => (await stack.queue.getCompletedCount()) >= N, `${N} completed jobs`, 30_000, 100);
    const after = await commandCounts(redis);
    loopDelay.disable();
    const finishedAt = Math.max(...(await stack.queue.getCompleted(0, N)).map((j) => j.finishedOn ?? 0));
    const makespanMs = finishedAt - t0;

    const counters = await sim.counters();
    const meanGenMs = (GEN_MIN + GEN_MAX) / 2;
    const spacing = INTERVAL + MARGIN;
    const bounds = Object.entries(accounts).map(([name, key]) => {
      const tasks = counters.tasks.filter((t) => t.key === key);
      const created = tasks.map((t) => t.createdAt);
      const backlogFrom = Math.min(...created);
      const backlogTo = Math.max(...created);
      const util = meanGenerating(counters.perKey[key]!.generatingSeries, backlogFrom, backlogTo) / CAP;
      const { requests, violations } = counters.perKey[key]!;
      // Share of the turns the pacer could grant in the makespan that went to a request.
      const turnsUsed = (requests * spacing) / makespanMs;
      const byCreation = [...tasks].sort((a, b) => a.createdAt - b.createdAt);
      const ideal = idealMakespanMs(byCreation.map((t) => (t.completedAt ?? t.createdAt) - t.createdAt), CAP, INTERVAL);
      return { name, jobs: tasks.length, util, requests, ideal, refill: refillDelays(tasks, CAP), detection: detectionLagMs(tasks), turnsUsed, refused: violations.interval + violations.concurrency };
    });
    const evenShare = N / A;
    const concurrencyMs = (evenShare / CAP) * (meanGenMs + INTERVAL);
    const budgetMs = evenShare * MIN_REQUESTS_PER_JOB * INTERVAL;
    const theoreticalMs = Math.max(concurrencyMs, budgetMs);
    // The same tasks' real generation times, replayed by a perfect worker on each account.
    const idealMs = Math.max(budgetMs, ...bounds.map((b) => b.ideal));
    const commands = after.total - before.total;
    const scripts = after.scripts - before.scripts;
    const ms = (v: number): string => `${Math.round(v)} ms`;

    const lines: Array<[string, string]> = [
      ['workload', `${N} jobs, ${W} worker processes, ${A} accounts, cap ${CAP}, interval ${INTERVAL} ms (+${opt.margin} ms margin), generation ${GEN_MIN}-${GEN_MAX} ms, poll ${opt.poll} ms, ${WEBHOOKS ? 'webhooks' : 'no webhooks'}`],
      ['theoretical min makespan', `${(theoreticalMs / 1000).toFixed(2)} s  = max(n/cap x (mean gen + interval), n x ${MIN_REQUESTS_PER_JOB} x interval), n = N/A = ${evenShare}`],
      ['  concurrency bound', `${(concurrencyMs / 1000).toFixed(2)} s per account`],
      ['  request-budget bound', `${(budgetMs / 1000).toFixed(2)} s per account`],
      ['measured makespan', `${(makespanMs / 1000).toFixed(2)} s  (enqueue -> last job finished)`],
      ['cap efficiency', `${(theoreticalMs / makespanMs).toFixed(3)}  (theoretical min / measured)`],
      ['ideal replay makespan', `${(idealMs / 1000).toFixed(2)} s  = these tasks' own generation times, each slot refilled the moment it frees, submits one interval apart`],
      ['cap efficiency vs ideal replay', `${(idealMs / makespanMs).toFixed(3)}  (ideal replay / measured)`],
      ['slot utilisation (backlogged)', bounds.map((b) => `${b.name} ${b.util.toFixed(3)}`).join(', ')],
      ['completion -> refill delay', bounds.map((b) => `${b.name} mean ${ms(b.refill.meanMs)} p90 ${ms(b.refill.p90Ms)} (n ${b.refill.count})`).join(', ') + `; the bound assumes ${INTERVAL} ms`],
      ['  of which finding out', bounds.map((b) => `${b.name} mean ${ms(b.detection)} (completion -> first status read that saw it)`).join(', ')],
      ['request turns used', bounds.map((b) => `${b.name} ${b.turnsUsed.toFixed(2)}`).join(', ') + `  (requests x ${spacing} ms / makespan)`],
      ['jobs per account', bounds.map((b) => `${b.name} ${b.jobs}`).join(', ')],
      ['cap violations (429s)', `${JSON.stringify(counters.violations)}; per account ${bounds.map((b) => `${b.name} ${b.refused}`).join(', ')}`],
      ['KIE requests per job', `${(counters.requests.total / N).toFixed(2)}  (${Object.entries(counters.requests.byEndpoint).map(([e, n]) => `${e}: ${n}`).join(', ')})`],
      ['callbacks', `delivered ${counters.callbacks.delivered}, failed ${counters.callbacks.failed}`],
      ['Redis commands per job', `${(commands / N).toFixed(1)} (Lua-internal calls included), script calls per job ${(scripts / N).toFixed(1)}`],
      ['tasks created / prompts paid twice', `${counters.tasks.length} / ${Object.values(counters.submitsByPrompt).filter((n) => n > 1).length}`],
      ['harness event-loop delay', `p99 ${ms(loopDelay.percentile(99) / 1e6)}, max ${ms(loopDelay.max / 1e6)} (the simulator runs in its own process)`],
    ];
    const width = Math.max(...lines.map(([k]) => k.length));
    process.stdout.write(`\nfleet benchmark\n${lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`);
    process.stdout.write(
      `\nreproduce: npm run bench:fleet -- --jobs ${N} --workers ${W} --accounts ${A} --cap ${CAP} --interval ${INTERVAL} --gen ${GEN_MIN}-${GEN_MAX} --margin ${opt.margin} --poll ${opt.poll} --redis-port ${REDIS_PORT}${WEBHOOKS ? ' --webhooks' : ''}\n`,
    );
  } finally {
    await stack.close();
    await sim.close();
    redis.disconnect();
    server.kill('SIGTERM');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:fleet failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
