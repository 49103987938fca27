/**
 * The build runs with plain node, as the Docker image runs it: `npm run build` into a folder laid
 * out like the image (package.json, node_modules, dist/), then the built worker renders a job
 * against the simulator, local S3 and Redis, serves /healthz and stops cleanly on SIGTERM, and the
 * built CLI answers --version and status. Nothing the built entry points load is a development
 * dependency (a production install, npm ci --omit=dev, has none of those).
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import axios from 'axios';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const ENTRY_POINTS = ['worker/main.js', 'producer/api/main.js', 'worker/webhookServer/main.js', 'producer/cli.js'];
const run = promisify(execFile);

let app: string;
let stack: RenderStack;

beforeAll(async () => {
  app = mkdtempSync(path.join(tmpdir(), 'sora-built-'));
  copyFileSync(path.join(ROOT, 'package.json'), path.join(app, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/build.ts'), '--out-dir', path.join(app, 'dist')], { cwd: ROOT });
  stack = await startRenderStack();
});

afterAll(async () => {
  await stack?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

/** The packages a built file and every built file it requires load, by name. */
function packagesLoadedBy(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
      if (spec!.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec!);
        if (spec!.endsWith('.json')) continue;
        visit(existsSync(`${target}.js`) ? `${target}.js` : path.join(target, 'index.js'));
      } else if (!isBuiltin(spec!)) {
        packages.add(
          spec!
            .split('/')
            .slice(0, spec!.startsWith('@') ? 2 : 1)
            .join('/'),
        );
      }
    }
  };
  visit(entry);
  return packages;
}

test('the build holds the run-time files, and its entry points load production dependencies only', () => {
  expect(existsSync(path.join(app, 'dist/pool/limiter/acquireSubmit.lua'))).toBe(true);
  expect(existsSync(path.join(app, 'dist/worker/main.js'))).toBe(true);
  for (const entry of ENTRY_POINTS) {
    const loaded = [...packagesLoadedBy(path.join(app, 'dist', entry))];
    expect(loaded.length).toBeGreaterThan(3);
    expect({ entry, notProduction: loaded.filter((p) => !(p in pkg.dependencies)) }).toEqual({ entry, notProduction: [] });
  }
});

/** A built entry point started with plain node, and the port it logs once it listens. */
function startBuilt(entry: string, env: Record<string, string>, listening: string) {
  const child = spawn(process.execPath, [path.join(app, 'dist', entry)], {
    cwd: app,
    env: { PATH: process.env.PATH, ...stack.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = {
    output: '',
    exited: new Promise<number | null>((resolve) => child.on('exit', resolve)),
    stop: () => child.kill('SIGTERM'),
    port: Promise.resolve(0),
  };
  child.stdout.on('data', (d: Buffer) => (proc.output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (proc.output += d.toString()));
  proc.port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start:\n${proc.output}`)), 60_000);
    child.stdout.on('data', () => {
      const m = new RegExp(`"port":(\\d+)[^\\n]*${listening}`).exec(proc.output);
      if (!m) return;
      clearTimeout(timer);
      resolve(Number(m[1]));
    });
    void proc.exited.then((code) => reject(new Error(`${entry} exited ${code}:\n${proc.output}`)));
  });
  return proc;
}

test('the built API serves the console, its files and /docs with plain node', async () => {
  const api = startBuilt('producer/api/main.js', { API_TOKENS: 'built-api-token-0123456789', HTTP_PORT: '0', HTTP_HOST: '127.0.0.1' }, 'api listening');
  try {
    const port = await api.port;
    const get = (p: string) =>
      axios.get(`http://127.0.0.1:${port}${p}`, { headers: { authorization: 'Bearer built-api-token-0123456789' }, responseType: 'text' });
    for (const p of ['/', '/login', '/console/assets/console.js', '/console/assets/console.css', '/docs', '/docs/swagger-ui-bundle.js', '/openapi.json']) {
      expect({ p, status: (await get(p)).status }).toEqual({ p, status: 200 });
    }
  } finally {
    api.stop();
  }
  expect(await api.exited).toBe(0);
});

test('the built CLI answers --version and status with plain node', async () => {
  const cli = path.join(app, 'dist/producer/cli.js');
  const env = { PATH: process.env.PATH, REDIS_URL: stack.env.REDIS_URL, QUEUE_NAME: stack.env.QUEUE_NAME, LIMITER_PREFIX: stack.env.LIMITER_PREFIX };
  expect((await run(process.execPath, [cli, '--version'], { env })).stdout.trim()).toBe(pkg.version);
  const status = JSON.parse((await run(process.execPath, [cli, 'status', '--json'], { env })).stdout) as { queue: string; counts: Record<string, number> };
  expect(status.queue).toBe(stack.env.QUEUE_NAME);
  expect(status.counts.waiting).toBe(0);
});

test('the built worker renders a job, serves /healthz and stops on SIGTERM with exit 0', async () => {
  const worker = startBuilt('worker/main.js', { WORKER_HTTP: 'true', HTTP_PORT: '0' }, 'worker HTTP server');
  try {
    const port = await worker.port;
    expect((await axios.get(`http://127.0.0.1:${port}/healthz`)).data).toEqual({ ok: true });

    const { jobId } = (await stack.producer.enqueueMany([{ prompt: 'a lighthouse rendered by the build' }]))[0]!;
    expect((await stack.waitForJobs([jobId])).get(jobId)).toBe('completed');
    const result = (await stack.queue.getJob(jobId))!.returnvalue as { key: string; sha256: string; taskId: string };
    expect(result.sha256).toBe(stack.sim.expectedVideo(result.taskId).sha256);
    expect((await stack.readObject(result.key)).metadata.sha256).toBe(result.sha256);
  } finally {
    worker.stop();
  }
  expect(await worker.exited).toBe(0);
  expect(worker.output).toContain('shutting down');
});
