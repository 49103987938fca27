/**
 * `npm run stack`: sora-batch to try by hand on this machine. The KIE simulator, the local S3
 * server, the HTTP API and its console (with a fresh token) and one worker, on the local Redis (or a private
 * redis-server), under a queue of their own. Prints every URL, key and credential a person needs and
 * ready `curl` and `sora-batch` commands; each stored video is copied out as an `.mp4`. Ctrl-C
 * (SIGINT) or SIGTERM stops everything and removes the stack's Redis keys.
 *
 * Ports: STACK_API_PORT (3000), STACK_SIM_PORT (4010), STACK_S3_PORT (4569); 0 picks a free one.
 * STACK_QUEUE (sora-stack) names the queue and the account pool's key prefix; STACK_DIR (.demo/stack)
 * holds the S3 server's files, the copied videos and the log.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../shared/config';
import { createLogger } from '../shared/logger';
import { connectRedis } from '../shared/redis';
import { buildApiServer, DASHBOARD_PATH } from '../producer/api/buildApiServer';
import { startWorker, WorkerRuntime } from '../worker/runtime';
import { createS3Client } from '../worker/storage/s3Client';
import { copyVideoOut, S3_CREDENTIALS, SIM_API_KEY, startLocalStack } from './localStack';

type Env = Record<string, string | undefined>;

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim() || String(fallback);
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new Error(`${name} must be a port number from 0 to 65535 (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

/** A port taken by another program is the likeliest start failure: name the variable that moves it. */
function explainListenError(err: unknown, variable: string): Error {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'EADDRINUSE' ? new Error(`a port is in use (${e.message}): set ${variable} to another port, or 0 for a free one`) : e;
}

async function main(): Promise<void> {
  const env = process.env;
  const apiPort = port(env, 'STACK_API_PORT', 3000);
  const simPort = port(env, 'STACK_SIM_PORT', 4010);
  const s3Port = port(env, 'STACK_S3_PORT', 4569);
  const queueName = env.STACK_QUEUE?.trim() || 'sora-stack';
  const workDir = path.resolve(env.STACK_DIR?.trim() || path.join('.demo', 'stack'));
  const videos = path.join(workDir, 'videos');
  mkdirSync(workDir, { recursive: true });
  const say = (line = ''): void => void process.stdout.write(`${line}\n`);

  const local = await startLocalStack({
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queueName,
    limiterPrefix: queueName,
    workDir,
    simPort,
    s3Port,
  }).catch((err: unknown) => {
    throw explainListenError(err, 'STACK_SIM_PORT or STACK_S3_PORT');
  });
  // The AWS SDK reads its credentials from the environment, as in production.
  process.env.AWS_ACCESS_KEY_ID = S3_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3_CREDENTIALS.secretAccessKey;

  const token = `stack-${randomBytes(12).toString('hex')}`;
  const logFile = path.join(workDir, 'stack.log');
  const logger = createLogger('info', 'stack', pino.destination({ dest: logFile, sync: true }));
  const config = loadConfig({ ...local.env, API_TOKENS: token, LOG_LEVEL: 'info' });
  const apiRedis = connectRedis(config.redisUrl, { logger });
  const api = buildApiServer({ config, redis: apiRedis, logger });
  let worker: WorkerRuntime | undefined;
  try {
    worker = await startWorker(config, logger.child({ name: 'worker' }));
    await api.listen({ port: apiPort, host: '127.0.0.1' });
  } catch (err) {
    // Nothing may outlive a failed start (a private redis-server would).
    await api.close();
    await apiRedis.quit();
    await worker?.close();
    await local.close();
    throw explainListenError(err, 'STACK_API_PORT');
  }
  const apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;

  const s3 = createS3Client(config);
  worker.worker.on('completed', (job, result) => {
    copyVideoOut(s3, result.bucket, result.key, videos).then(
      (file) => say(`stored job ${job.id}: s3://${result.bucket}/${result.key} (${result.size} bytes), a copy to play: ${file}`),
      (err: Error) => say(`stored job ${job.id}: s3://${result.bucket}/${result.key}; copying it out failed: ${err.message}`),
    );
  });
  worker.worker.on('failed', (job, err) => {
    if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError')) say(`failed job ${job.id}: ${err.message}`);
  });

  const cliEnv = `REDIS_URL=${local.redis.url} QUEUE_NAME=${queueName} LIMITER_PREFIX=${queueName}`;
  say('sora-batch stack: everything below runs on this machine. Ctrl-C stops it all.');
  say();
  say(`  Redis        ${local.redis.url}${local.redis.startedHere ? ' (a private redis-server, gone at stop)' : ''}, queue ${queueName}`);
  say(`  KIE (sim)    ${local.sim.url}   API key ${SIM_API_KEY}   counters ${local.sim.url}/__sim/counters`);
  say(`  S3 (s3rver)  ${local.s3.endpoint}   bucket ${config.s3.bucket}   access key ${S3_CREDENTIALS.accessKeyId}   secret ${S3_CREDENTIALS.secretAccessKey}`);
  say(`               files under ${local.s3.directory}; each stored video is copied to ${videos}/<key>`);
  say(`  HTTP API     ${apiUrl}   token ${token}   (under /v1; the document: ${apiUrl}/openapi.json, to try: ${apiUrl}/docs)`);
  say(`  console      ${apiUrl}/   (log in with the token: batches and their videos, the fleet, new work)`);
  say(`  dashboard    ${apiUrl}${DASHBOARD_PATH}   (queue internals; any user name, the token as password)`);
  say(`  worker       one, logs in ${logFile}`);
  say();
  say('Try it:');
  say(`  curl -s -X POST ${apiUrl}/v1/renders -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"prompt": "a lighthouse at dusk"}'`);
  say(`  curl -s ${apiUrl}/v1/renders/1 -H 'Authorization: Bearer ${token}'      # 1: the jobId the POST answered`);
  say(`  ${cliEnv} npx sora-batch enqueue "a paper boat at dusk" --wait`);
  say(`  ${cliEnv} npx sora-batch status`);
  say();

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping the API, the worker, the S3 server and the simulator; removing the stack's Redis keys`);
    try {
      await api.close();
      await apiRedis.quit();
      await worker.close();
      s3.destroy();
      await local.close();
      say('stopped');
      process.exit(0);
    } catch (err) {
      process.stderr.write(`stack: stopping failed: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`stack: ${(err as Error).message}\n`);
  process.exit(1);
});
