/**
 * Storage benchmark: storeVideo (download from a local HTTP host -> MP4 check + SHA-256 + count ->
 * lib-storage multipart to a temporary key -> CopyObject with the hash -> delete) against a raw
 * lib-storage Upload of the same bytes, generated in memory the same way, to the same s3rver.
 * Prints MB/s for each, their ratio, where storeVideo's time goes (time to the end of the upload,
 * then the copy and the delete) and each run's peak RSS above its start (sampled every 5 ms
 * after a collected heap), to show memory stays near queueSize x partSize whatever the size.
 *
 * By default s3rver and the video host run as child processes (this file with --serve), so
 * the bench process holds only the client side of each transfer: in one process, s3rver's
 * work on the parts would share an event loop and a heap with the code being measured.
 *
 *   npm run bench:storage -- [--sizes 16,64,256] [--rounds 3] [--part-mb 8] [--servers process|inline]
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { loadConfig } from '../src/shared/config';
import { startLocalS3 } from '../src/sim/localS3';
import { createS3Client } from '../src/worker/storage/s3Client';
import { storeVideo } from '../src/worker/storage/storeVideo';
import { startVideoServer, videoChunks } from '../test/support/videoServer';

const { values: opt } = parseArgs({
  options: {
    sizes: { type: 'string', default: '16,64,256' },
    rounds: { type: 'string', default: '3' },
    'part-mb': { type: 'string', default: '8' },
    servers: { type: 'string', default: 'process' },
    serve: { type: 'string' },
    memory: { type: 'string' },
    mb: { type: 'string' },
    's3-url': { type: 'string' },
    'videos-url': { type: 'string' },
  },
});
const MB = 1024 * 1024;
const SIZES_MB = opt.sizes.split(',').map(Number);
const ROUNDS = Number(opt.rounds);
const PART_BYTES = Number(opt['part-mb']) * MB;
const BUCKET = 'bench-storage';
/** storeVideo's own queueSize (parts in flight), so both sides upload alike. */
const QUEUE_SIZE = 4;
const videoPath = (mb: number): string => `/video-${mb}mb.mp4`;

interface Server {
  url: string;
  close(): Promise<void>;
}

async function startServer(what: string): Promise<Server> {
  if (what === 's3') {
    const s3 = await startLocalS3({ buckets: [BUCKET] });
    return { url: s3.endpoint, close: () => s3.close() };
  }
  const videos = await startVideoServer();
  for (const mb of SIZES_MB) videos.route(videoPath(mb), { kind: 'video', size: mb * MB });
  return { url: videos.origin, close: () => videos.close() };
}

/** `--serve s3|videos`: one server for a child process; prints its base URL as the first line. */
async function serve(what: string): Promise<void> {
  const server = await startServer(what);
  process.stdout.write(`${server.url}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

async function spawnServer(what: 's3' | 'videos'): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, __filename, '--serve', what, '--sizes', opt.sizes], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return {
    url: String(line).trim(),
    close: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function startServers(): Promise<{ s3: Server; videos: Server }> {
  const start = opt.servers === 'process' ? spawnServer : startServer;
  return { s3: await start('s3'), videos: await start('videos') };
}

/** Wall time per S3 command name, from a middleware on the client. */
function commandTimer(s3: S3Client): Map<string, number> {
  const spent = new Map<string, number>();
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const t0 = performance.now();
      try {
        return await next(args);
      } finally {
        const name = context.commandName ?? '?';
        spent.set(name, (spent.get(name) ?? 0) + performance.now() - t0);
      }
    },
    { step: 'initialize', name: 'benchCommandTimer' },
  );
  return spent;
}

interface Run {
  ms: number;
  /** For storeVideo: ms spent in the copy and the delete after the upload completed. */
  afterUploadMs: number;
}

type Method = 'storeVideo' | 'raw';

/** An S3 client on the given server and the two ways of storing `mb` megabytes under `key`. */
function transfers(s3Url: string, videosUrl: string) {
  // The SDK's default credential chain reads these; s3rver accepts only its own pair.
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  const s3 = createS3Client(loadConfig({ KIE_API_KEY: 'bench', S3_ENDPOINT: s3Url, S3_BUCKET: BUCKET }));
  const spent = commandTimer(s3);
  const methods: Record<Method, (mb: number, key: string) => Promise<unknown>> = {
    storeVideo: (mb, key) =>
      storeVideo({
        s3,
        bucket: BUCKET,
        key,
        url: `${videosUrl}${videoPath(mb)}`,
        metadata: { 'task-id': key, account: 'bench' },
        allowedHosts: ['127.0.0.1'],
        maxBytes: 2048 * MB,
        timeoutMs: 600_000,
        partSizeBytes: PART_BYTES,
      }),
    raw: (mb, key) =>
      new Upload({
        client: s3,
        params: { Bucket: BUCKET, Key: key, Body: Readable.from(videoChunks({ size: mb * MB })), ContentType: 'video/mp4' },
        partSize: PART_BYTES,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      }).done(),
  };
  return {
    s3,
    /** Runs one transfer, deletes what it stored (so s3rver's directory is alike for every run). */
    run: async (method: Method, mb: number, key: string): Promise<Run> => {
      spent.clear();
      const t0 = performance.now();
      await methods[method](mb, key);
      const ms = performance.now() - t0;
      const afterUploadMs = (spent.get('CopyObjectCommand') ?? 0) + (spent.get('DeleteObjectCommand') ?? 0);
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
      return { ms, afterUploadMs };
    },
  };
}

/**
 * `--memory METHOD`: one transfer in a fresh process, printing its peak RSS above the RSS just
 * before it (sampled every 5 ms). A fresh process because RSS rarely shrinks: in a process that
 * has already moved a file, the allocator's retained pages would hide the next run's growth.
 */
async function memoryProbe(method: Method): Promise<void> {
  const [s3Url, videosUrl, mb] = [opt['s3-url']!, opt['videos-url']!, Number(opt.mb)];
  const { s3, run } = transfers(s3Url, videosUrl);
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  await run(method, mb, `memory/${method}-${mb}mb.mp4`).finally(() => clearInterval(sampler));
  peak = Math.max(peak, process.memoryUsage.rss());
  s3.destroy();
  process.stdout.write(`${peak - base}\n`);
}

async function peakRssDelta(method: Method, mb: number, servers: { s3: Server; videos: Server }): Promise<number> {
  const args = ['--memory', method, '--mb', String(mb), '--s3-url', servers.s3.url, '--videos-url', servers.videos.url, '--part-mb', opt['part-mb']];
  const child = spawn(process.execPath, [...process.execArgv, __filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`memory probe ${method} ${mb} MB exited with ${code}`);
  return Number(out.trim());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const collectGarbage = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  const servers = await startServers();
  const { s3, run } = transfers(servers.s3.url, servers.videos.url);

  const col = (v: string | number, w: number) => String(v).padStart(w);
  const mbs = (mb: number, ms: number) => ((mb / ms) * 1000).toFixed(1);
  const rssMb = (bytes: number) => (bytes / MB).toFixed(0);
  const rows: string[] = [];
  const summary: string[] = [];
  try {
    // Warm-up: JIT, connections, s3rver's first writes; not counted.
    for (const method of ['storeVideo', 'raw'] as const) await run(method, SIZES_MB[0]!, `warmup/${method}.mp4`);
    for (const mb of SIZES_MB) {
      const results: Record<Method, Run[]> = { storeVideo: [], raw: [] };
      const ratios: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const order: Method[] = round % 2 === 0 ? ['storeVideo', 'raw'] : ['raw', 'storeVideo'];
        for (const method of order) {
          collectGarbage?.();
          results[method].push(await run(method, mb, `${method}/${mb}mb-${round}.mp4`));
        }
        const [s, r] = [results.storeVideo[round]!, results.raw[round]!];
        ratios.push(r.ms / s.ms);
        rows.push(
          `  ${col(mb, 7)}  ${col(round + 1, 5)}  ${order[0]!.padEnd(10)}  ${col(mbs(mb, s.ms), 12)}  ${col(mbs(mb, r.ms), 8)}  ${col((r.ms / s.ms).toFixed(3), 6)}` +
            `  ${col(`${Math.round(s.ms - s.afterUploadMs)}+${Math.round(s.afterUploadMs)}`, 15)}  ${col(Math.round(r.ms), 7)}`,
        );
      }
      const med = (method: Method, pick: (r: Run) => number) => median(results[method].map(pick));
      const rss = [await peakRssDelta('storeVideo', mb, servers), await peakRssDelta('raw', mb, servers)];
      summary.push(
        `  ${col(mb, 7)}  ${col(
          mbs(
            mb,
            med('storeVideo', (r) => r.ms),
          ),
          12,
        )}  ${col(
          mbs(
            mb,
            med('raw', (r) => r.ms),
          ),
          8,
        )}  ${col(median(ratios).toFixed(3), 6)}` + `  ${col(Math.round(med('storeVideo', (r) => r.afterUploadMs)), 14)}  ${col(rss.map(rssMb).join('/'), 18)}`,
      );
    }
  } finally {
    s3.destroy();
    await servers.s3.close();
    await servers.videos.close();
  }
  process.stdout.write(
    `\nstorage benchmark: part ${PART_BYTES / MB} MB, ${QUEUE_SIZE} parts in flight, ${ROUNDS} rounds per size, s3rver and video host ${opt.servers === 'process' ? 'in child processes' : 'in this process'}, node ${process.version}` +
      `${collectGarbage ? ', heap collected before each run' : ' (run with node --expose-gc to collect the heap before each run)'}\n` +
      `ratio = storeVideo MB/s / raw Upload MB/s in the same round (aim >= 0.9); s = storeVideo, r = raw\n` +
      `s ms upload+copy = until the multipart upload completed + CopyObject and DeleteObject of the temporary key\n\n` +
      `  ${col('size MB', 7)}  ${col('round', 5)}  ${'first'.padEnd(10)}  ${col('storeVideo/s', 12)}  ${col('raw/s', 8)}  ${col('ratio', 6)}` +
      `  ${col('s ms upload+copy', 15)}  ${col('r ms', 7)}\n` +
      `${rows.join('\n')}\n\n` +
      `  ${col('size MB', 7)}  ${col('storeVideo/s', 12)}  ${col('raw/s', 8)}  ${col('ratio', 6)}  ${col('copy+delete ms', 14)}  ${col('peak rss +MB s/r', 18)}\n` +
      `${summary.join('\n')}\n` +
      `(medians; MB/s; ratio = median of the rounds' ratios; peak rss = one transfer in a fresh process, above its RSS before the transfer)\n` +
      `\nreproduce: npm run bench:storage -- --sizes ${opt.sizes} --rounds ${ROUNDS} --part-mb ${opt['part-mb']} --servers ${opt.servers}\n`,
  );
}

(opt.serve ? serve(opt.serve) : opt.memory ? memoryProbe(opt.memory as Method) : main()).catch((err: Error) => {
  process.stderr.write(`bench:storage failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
