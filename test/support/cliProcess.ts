/** The `sora-batch` CLI run as a user runs it: its own process, with only the environment given. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { removeRunKeys } from '../../src/shared/removeRunKeys';
import { REDIS_URL } from './renderStack';

export const CLI_BIN = path.resolve(__dirname, '../../bin/sora-batch');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A runner for a shell that has PATH and `env` (e.g. REDIS_URL, QUEUE_NAME, LIMITER_PREFIX), no KIE keys. */
export function cliRunner(env: Record<string, string>): (...args: string[]) => Promise<CliRun> {
  return (...args) =>
    new Promise((resolve) => {
      execFile(CLI_BIN, args, { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}

export interface CliSandbox {
  readonly queueName: string;
  readonly limiterPrefix: string;
  readonly redis: Redis;
  readonly queue: Queue;
  /** A fresh temporary folder of the suite, for input files (ready in beforeAll). */
  dir(): string;
  cli(...args: string[]): Promise<CliRun>;
}

/**
 * A suite's own queue, limiter prefix and temporary folder, removed after the suite, and the CLI
 * run against them. Call at the top of a test file (it registers beforeAll and afterAll).
 */
export function cliSandbox(name: string): CliSandbox {
  const id = randomUUID().slice(0, 8);
  const queueName = `test-${name}-${id}`;
  const limiterPrefix = `test-${name}-limiter-${id}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection: redis });
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), `${name}-`));
  });
  afterAll(async () => {
    await queue.close();
    await removeRunKeys(redis, queueName, limiterPrefix);
    await redis.quit();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    queueName,
    limiterPrefix,
    redis,
    queue,
    dir: () => dir!,
    cli: cliRunner({ REDIS_URL, QUEUE_NAME: queueName, LIMITER_PREFIX: limiterPrefix }),
  };
}
