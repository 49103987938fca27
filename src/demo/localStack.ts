/**
 * What `npm run demo` and `npm run stack` share: Redis (the local one, or a private redis-server),
 * the KIE simulator, the local S3 server, the environment a worker needs to use them, copies of the
 * stored videos as `.mp4` files a player opens, and the removal of the run's Redis keys at the end.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startKieSimulator, type KieSimulator, type SimOptions } from '../sim/kieSimulator';
import { startLocalS3, type LocalS3 } from '../sim/localS3';
import { connectRedis } from '../shared/redis';
import { removeRunKeys } from '../shared/removeRunKeys';
import { LocalRedis, useLocalRedis } from './localRedis';

export const SIM_API_KEY = 'sim-key';
export const S3_BUCKET = 'sora-renders';
/** s3rver accepts any credentials; these are its documented ones. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** The simulator's request interval here: KIE's 1000 ms divided by 10, so a run takes seconds. */
const SIM_INTERVAL_MS = 100;

export interface LocalStackOptions {
  /** Redis to use when it answers; otherwise a private redis-server is started. */
  redisUrl: string;
  queueName: string;
  limiterPrefix: string;
  /** The S3 server's files live under here (`s3/`). */
  workDir: string;
  /** 0 (default) picks a free port. */
  simPort?: number;
  s3Port?: number;
  sim?: Partial<SimOptions>;
}

export interface LocalStack {
  redis: LocalRedis;
  sim: KieSimulator;
  s3: LocalS3;
  /** Everything a worker (or the API, or the CLI) needs to use these services, for this run's queue. */
  env: Record<string, string>;
  /** Deletes the run's queue and limiter keys, then stops the S3 server, the simulator and a private Redis. */
  close(): Promise<void>;
}

/** Starts what is not running already; a port in use says which variable picks another. */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const redis = await useLocalRedis(opts.redisUrl);
  const started: Array<{ close(): Promise<void> }> = [];
  const stopStarted = async (): Promise<void> => {
    for (const s of started.reverse()) await s.close();
    await redis.stop();
  };
  try {
    // Credits enough for any catalog model (a Veo clip costs about 170-250).
    const sim = await startKieSimulator({
      port: opts.simPort ?? 0,
      apiKeys: [SIM_API_KEY],
      minIntervalMs: SIM_INTERVAL_MS,
      generationMs: [1500, 4000],
      videoBytes: 1024 * 1024,
      credits: { [SIM_API_KEY]: 100_000 },
      ...opts.sim,
    });
    started.push(sim);
    const s3 = await startLocalS3({ port: opts.s3Port ?? 0, directory: path.join(opts.workDir, 's3'), buckets: [S3_BUCKET] });
    started.push(s3);
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      QUEUE_NAME: opts.queueName,
      LIMITER_PREFIX: opts.limiterPrefix,
      KIE_BASE_URL: sim.url,
      KIE_API_KEY: SIM_API_KEY,
      KIE_MIN_INTERVAL_MS: String(SIM_INTERVAL_MS),
      // The simulator, the S3 server and the worker share one event loop here, which delays requests
      // by tens of ms; a worker in a process of its own needs only the default few percent.
      KIE_INTERVAL_MARGIN_MS: '40',
      POLL_INTERVAL_MS: '1000',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET,
      VIDEO_HOSTS: '127.0.0.1',
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    return {
      redis,
      sim,
      s3,
      env,
      async close() {
        const connection = connectRedis(redis.url);
        try {
          await removeRunKeys(connection, opts.queueName, opts.limiterPrefix);
        } finally {
          await connection.quit();
          await stopStarted();
        }
      },
    };
  } catch (err) {
    await stopStarted();
    throw err;
  }
}

/**
 * s3rver keeps objects under file names of its own; this copies one out to `<dir>/<key>` (with
 * `.mp4` added if the key lacks it), where a video player opens it. Returns the path.
 */
export async function copyVideoOut(s3: S3Client, bucket: string, key: string, dir: string): Promise<string> {
  const file = path.resolve(dir, key.endsWith('.mp4') ? key : `${key}.mp4`);
  // Keys are validated relative without "..", so this holds; it is checked, not assumed.
  if (!file.startsWith(path.resolve(dir) + path.sep)) throw new Error(`key ${key} does not stay under ${dir}`);
  await mkdir(path.dirname(file), { recursive: true });
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(object.Body as Readable, createWriteStream(file));
  return file;
}
