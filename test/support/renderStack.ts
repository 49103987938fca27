/**
 * A whole render stack on loopback for integration tests: the KIE simulator, an embedded S3
 * server, real Redis, a queue and limiter keys of the test's own, and workers in-process or as
 * separate OS processes (the same `npm run worker` entry point).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Config, loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { connectRedis } from '../../src/shared/redis';
import { removeRunKeys } from '../../src/shared/removeRunKeys';
import type { RenderJobData, RenderResult } from '../../src/shared/renderJob';
import { producerSettings, RenderProducer } from '../../src/producer/renderProducer';
import { startKieSimulator } from '../../src/sim/kieSimulator';
import type { KieSimulator, SimOptions } from '../../src/sim/kieSimulator';
import { LocalS3, startLocalS3 } from '../../src/sim/localS3';
import { startWorker, WorkerRuntime } from '../../src/worker/runtime';
import { createS3Client } from '../../src/worker/storage/s3Client';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = path.resolve(__dirname, '../..');

export interface StackOptions {
  sim?: Partial<SimOptions>;
  /** Extra environment for the workers (overrides the stack's defaults). */
  env?: Record<string, string>;
  /** Account name -> key; default one account. */
  accounts?: Record<string, string>;
}

export interface RenderStack {
  sim: KieSimulator;
  s3: LocalS3;
  s3Client: S3Client;
  env: Record<string, string> & { KIE_ACCOUNTS: string };
  config: Config;
  redis: Redis;
  queue: Queue<RenderJobData, RenderResult>;
  producer: RenderProducer;
  /** Every log line the in-process workers wrote (JSON). */
  logs: string[];
  startWorker(env?: Record<string, string>): Promise<WorkerRuntime>;
  /** A worker as its own OS process (`src/worker/main.ts`). */
  spawnWorker(env?: Record<string, string>): ChildProcess & { output: string[] };
  waitForJobs(jobIds: readonly string[], timeoutMs?: number): Promise<Map<string, 'completed' | 'failed'>>;
  readObject(key: string): Promise<{ body: Buffer; metadata: Record<string, string> }>;
  close(): Promise<void>;
}

export async function startRenderStack(opts: StackOptions = {}): Promise<RenderStack> {
  const accounts = opts.accounts ?? { default: `sk-test-${randomUUID()}` };
  const sim = await startKieSimulator({
    apiKeys: Object.values(accounts),
    generationMs: [150, 300],
    minIntervalMs: 30,
    linkTtlMs: 60_000,
    videoBytes: 64 * 1024,
    seed: 7,
    ...opts.sim,
  });
  const s3 = await startLocalS3({ buckets: ['renders'] });
  const id = randomUUID().slice(0, 8);
  const env: RenderStack['env'] = {
    REDIS_URL,
    QUEUE_NAME: `test-renders-${id}`,
    LIMITER_PREFIX: `test-limiter-${id}`,
    KIE_BASE_URL: sim.url,
    KIE_ACCOUNTS: Object.entries(accounts)
      .map(([n, k]) => `${n}:${k}`)
      .join(','),
    KIE_MIN_INTERVAL_MS: String(opts.sim?.minIntervalMs ?? 30),
    // A busy test process adds tens of ms of jitter between grant and arrival; production margins
    // are a few percent of 1000 ms.
    KIE_INTERVAL_MARGIN_MS: '50',
    KIE_MAX_CONCURRENT: String(opts.sim?.maxConcurrent ?? 10),
    KIE_DAILY_LIMIT: String(opts.sim?.dailyLimit ?? 100),
    KIE_RETRY_BASE_MS: '20',
    KIE_REQUEST_TIMEOUT_MS: '2000',
    POLL_INTERVAL_MS: '100',
    S3_BUCKET: 'renders',
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    VIDEO_HOSTS: '127.0.0.1',
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: '20',
    SHUTDOWN_TIMEOUT_MS: '3000',
    ...opts.env,
  };
  // The AWS SDK reads credentials from the environment, as it will in production.
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  const config = loadConfig(env);
  const logs: string[] = [];
  const workers: WorkerRuntime[] = [];
  const children: ChildProcess[] = [];

  const logSink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  // The stack's own connection reports a Redis outage (the chaos suite restarts Redis) into the logs.
  const redis = connectRedis(REDIS_URL, { logger: createLogger('warn', 'test-stack', logSink) });
  const queue = new Queue<RenderJobData, RenderResult>(config.queueName, { connection: redis });
  const producer = new RenderProducer({ connection: redis, ...producerSettings(config) });
  const s3Client = createS3Client(config);

  return {
    sim,
    s3,
    s3Client,
    env,
    config,
    redis,
    queue,
    producer,
    logs,
    async startWorker(extra = {}) {
      const runtime = await startWorker(loadConfig({ ...env, ...extra }), createLogger('debug', 'worker', logSink));
      workers.push(runtime);
      return runtime;
    },
    spawnWorker(extra = {}) {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/worker/main.ts')], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      }) as ChildProcess & { output: string[] };
      child.output = [];
      child.stdout!.on('data', (d) => child.output.push(String(d)));
      child.stderr!.on('data', (d) => child.output.push(String(d)));
      children.push(child);
      return child;
    },
    async waitForJobs(jobIds, timeoutMs = 30_000) {
      const states = new Map<string, 'completed' | 'failed'>();
      const deadline = Date.now() + timeoutMs;
      while (states.size < jobIds.length) {
        if (Date.now() > deadline) {
          const pending = jobIds.filter((j) => !states.has(j));
          const detail = await Promise.all(pending.slice(0, 5).map(async (j) => `${j}: ${await queue.getJobState(j)}`));
          throw new Error(`timed out waiting for ${pending.length} job(s): ${detail.join(', ')}`);
        }
        for (const j of jobIds) {
          if (states.has(j)) continue;
          const s = await queue.getJobState(j);
          if (s === 'completed' || s === 'failed') states.set(j, s);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return states;
    },
    async readObject(key) {
      const head = await s3Client.send(new HeadObjectCommand({ Bucket: config.s3.bucket, Key: key }));
      const obj = await s3Client.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key: key }));
      return { body: Buffer.from(await obj.Body!.transformToByteArray()), metadata: head.Metadata ?? {} };
    },
    async close() {
      // Gone, not only signalled, before the keys they could still write are removed.
      const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
      await Promise.all(running.map((c) => new Promise((exited) => c.once('exit', exited).kill('SIGKILL'))));
      await Promise.all(workers.map((w) => w.close()));
      await producer.close();
      await queue.close();
      await removeRunKeys(redis, config.queueName, config.limiterPrefix);
      await redis.quit();
      s3Client.destroy();
      await s3.close();
      await sim.close();
    },
  };
}
