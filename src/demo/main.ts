/**
 * `npm run demo`: the whole path on this machine. A KIE simulator, an embedded S3 server and Redis
 * (the local one, or a private one), a worker, a small batch of prompts, a progress bar, and a
 * table of the verified objects (with the duration and picture the worker read in each MP4) and
 * copies that play in any video player. Exits 0 only when every video was stored, its SHA-256
 * matches what the simulator served and it is what was asked for. `npm run demo -- --model veo-3.1-fast` renders with any catalog model.
 *
 * `npm run demo -- --console`: then serves the console (printing its URL and a login token) to
 * watch the batch's videos in a browser, until Ctrl-C.
 *
 * `npm run demo -- --built-worker <dir>`: the worker is the build of a production install in
 * `<dir>` (node dist/worker/main.js, its own process), which must also answer /healthz and exit 0
 * on SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { type Config, loadConfig } from '../shared/config';
import { buildApiServer } from '../producer/api/buildApiServer';
import { createLogger } from '../shared/logger';
import { connectRedis } from '../shared/redis';
import type { RenderResult } from '../shared/renderJob';
import { RenderProducer } from '../producer/renderProducer';
import { watchJobs } from '../producer/watchJobs';
import { startWorker } from '../worker/runtime';
import { createS3Client } from '../worker/storage/s3Client';
import { copyVideoOut, startLocalStack } from './localStack';
import { startBuiltWorker } from './builtWorker';

const PROMPTS = [
  'A paper boat drifting down a rain-soaked street at dusk, neon reflections',
  'A hummingbird hovering over a red flower, slow motion, macro lens',
  'Aerial shot of a lighthouse on a cliff during a storm, waves crashing',
  'A cat in a tiny astronaut suit floating inside a space station',
  'Time-lapse of a city skyline from sunset to night, lights switching on',
  'A chef flipping a pancake in a sunny kitchen, shallow depth of field',
];

/**
 * `--console`: the HTTP API and its console over the demo's queue, with a fresh token, until Ctrl-C
 * (DEMO_API_PORT, default 3000; 0 picks a free one): the batch's page plays the videos.
 */
async function watchInConsole(config: Config, redis: Redis, batchId: string, logFile: string, say: (line: string) => void): Promise<void> {
  const token = `demo-${randomBytes(12).toString('hex')}`;
  const { default: pino } = await import('pino');
  const api = buildApiServer({
    config: { ...config, apiTokens: [token] },
    redis,
    logger: createLogger('info', 'api', pino.destination({ dest: logFile, sync: true })),
  });
  const port = Number(process.env.DEMO_API_PORT?.trim() || 3000);
  await api.listen({ port, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  say(`\nwatch the result in the console: ${url}/#/batches/${batchId}`);
  say(`log in with the token ${token}; Ctrl-C stops the demo`);
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await api.close();
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({ options: { model: { type: 'string' }, 'built-worker': { type: 'string' }, console: { type: 'boolean' } } });
  const builtDir = args['built-worker'] && path.resolve(args['built-worker']);
  const workDir = path.resolve('.demo');
  mkdirSync(workDir, { recursive: true });
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  const run = Date.now().toString(36);
  const local = await startLocalStack({
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queueName: `sora-demo-${run}`,
    limiterPrefix: `sora-demo-${run}`,
    workDir,
    sim: { seed: 1 },
  });
  const { redis, sim, s3 } = local;
  say(`redis      ${redis.url}${redis.startedHere ? ' (a private redis-server started for the demo)' : ''}`);
  say(`KIE        ${sim.url} (simulator: caps enforced, 100 ms min interval, 1.5-4 s generation)`);
  say(`S3         ${s3.endpoint} (s3rver, files under ${s3.directory})`);

  // The AWS SDK reads its credentials from the environment, as in production.
  process.env.AWS_ACCESS_KEY_ID ??= local.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= local.env.AWS_SECRET_ACCESS_KEY;
  const workerEnv = { ...local.env, ...(args.model ? { KIE_DEFAULT_MODEL: args.model } : {}), LOG_LEVEL: 'info', WORKER_CONCURRENCY: '10' };
  const config = loadConfig(workerEnv);
  const logFile = path.join(workDir, 'worker.log');
  const { default: pino } = await import('pino');
  let stopWorker: () => Promise<number | null>;
  if (builtDir) {
    const built = await startBuiltWorker(builtDir, workerEnv, logFile);
    say(`worker     built, in ${builtDir}: node dist/worker/main.js (pid ${built.pid}), ${built.url}/healthz answered 200`);
    stopWorker = () => built.stop();
  } else {
    const runtime = await startWorker(config, createLogger('info', 'worker', pino.destination({ dest: logFile, sync: true })));
    stopWorker = () => runtime.close().then(() => 0);
  }
  say(`worker     queue ${config.queueName}, logs in ${logFile}\n`);

  const connection = connectRedis(redis.url);
  const producer = new RenderProducer({ connection, queueName: config.queueName, limiterPrefix: config.limiterPrefix, models: config.kie.models });
  // Two of the model's clip lengths and aspect ratios, alternately (Sora 2: 10 and 15 s, 16:9 and 9:16; Veo: 8 s only).
  const model = config.kie.models.entries[config.kie.models.defaultModel]!;
  const mode = model.modes.text ?? model.modes.image;
  const seconds = mode?.duration.seconds ?? [];
  const ratios = Object.keys(mode?.aspectRatio?.values ?? {}).filter((r) => r !== 'auto');
  const pick = <T>(values: readonly T[], i: number): T | undefined => values[i % Math.min(2, values.length)];
  say(`model      ${model.id} (${model.title}, ${model.family} API; at KIE: ${model.status})\n`);
  const jobs = await producer.enqueueMany(
    PROMPTS.map((prompt, i) => ({ prompt, duration: pick(seconds, i), aspectRatio: pick(ratios, i), batchId: `demo-${run}` })),
  );
  const outcome = await watchJobs(
    producer.queue,
    jobs.map((j) => j.jobId),
    { timeoutMs: 120_000, output: process.stdout },
  );

  const s3Client = createS3Client(config);
  const videos = path.join(workDir, 'videos');
  const rows = [];
  let verified = 0;
  for (const { jobId } of jobs) {
    const job = await producer.queue.getJob(jobId);
    const result = job?.returnvalue as RenderResult | undefined;
    if (!result) {
      rows.push({ job: jobId, key: '-', bytes: 0, video: '', sha256: job?.failedReason ?? 'not finished', verified: 'no', 'on disk': '' });
      continue;
    }
    const head = await s3Client.send(new HeadObjectCommand({ Bucket: result.bucket, Key: result.key }));
    const ok =
      head.Metadata?.sha256 === result.sha256 &&
      sim.expectedVideo(result.taskId).sha256 === result.sha256 &&
      head.ContentLength === result.size &&
      result.video !== undefined &&
      !result.warnings;
    if (ok) verified++;
    const file = await copyVideoOut(s3Client, result.bucket, result.key, videos);
    const video = result.video
      ? `${result.video.durationSeconds} s, ${result.video.width}x${result.video.height}${result.video.hasAudio ? ', sound' : ''}`
      : '?';
    rows.push({
      job: jobId,
      key: result.key,
      bytes: result.size,
      video,
      sha256: `${result.sha256.slice(0, 16)}…`,
      verified: ok ? 'yes' : 'NO',
      'on disk': path.relative(process.cwd(), file),
    });
    for (const w of result.warnings ?? []) say(`warning ${jobId}: ${w.message}`);
  }
  say('');
  console.table(rows);
  say(
    `\n${verified}/${jobs.length} videos stored and verified (SHA-256 equals what KIE served; duration and picture as requested) in s3://${config.s3.bucket}/demo-${run}/`,
  );
  say(
    `KIE simulator: ${sim.counters.tasks.length} tasks created, ${sim.counters.requests.total} API requests, cap violations ${JSON.stringify(sim.counters.violations)}`,
  );
  for (const f of outcome.failed) say(`failed ${f.jobId}: ${f.reason}`);
  if (args.console) {
    await watchInConsole(config, connection, `demo-${run}`, logFile, say);
  } else {
    say(`copies to open in a video player (H.264, AAC where the model makes sound): ${path.join(videos, `demo-${run}`)}`);
  }

  s3Client.destroy();
  await producer.close();
  await connection.quit();
  const stopped = await stopWorker();
  if (stopped !== 0) say(`the worker exited with code ${stopped} on SIGTERM (log: ${logFile})`);
  // The demo's queue and account keys go with it: nothing is left in a shared Redis.
  await local.close();
  process.exit(verified === jobs.length && stopped === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
