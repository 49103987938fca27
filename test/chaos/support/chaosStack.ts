/**
 * The chaos suite's stack: the integration render stack (simulator, S3 server, queue, workers as
 * OS processes), on a redis-server of the test file's own so that a scenario may restart it, plus
 * what a scenario needs to hurt the processes and to wait for them.
 */
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { waitForWorkersStarted, waitUntil } from '../../support/fleet';
import type { RenderStack, StackOptions } from '../../support/renderStack';
import { freePort } from './freePort';
import { RedisServer, startRedisServer } from './redisServer';

export type WorkerProcess = ChildProcess & { output: string[] };

const ROOT = path.resolve(__dirname, '../../..');
export const WEBHOOK_SECRET = 'chaos-webhook-secret-0123456789';
/** A process started with tsx on a busy 2-core host may take this long to come up. */
const START_TIMEOUT_MS = 60_000;

/**
 * Starts a redis-server for the calling test file (before its tests, closed after them) and
 * points the render stack at it. Jest gives each test file its own modules and process.env, and
 * the render stack reads REDIS_URL when it is first loaded: it is loaded only after this is set.
 */
export function useChaosRedis(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    process.env.REDIS_URL = server.url;
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('useChaosRedis(): the redis-server has not started (call it at the top of the test file)');
    return server;
  };
}

export async function startChaosStack(opts: StackOptions = {}): Promise<RenderStack> {
  // A require, not an import: the module must load only now that REDIS_URL is set.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a dynamic import() here would be real ESM, outside jest's module registry
  const { startRenderStack, REDIS_URL } = require('../../support/renderStack') as typeof import('../../support/renderStack');
  if (REDIS_URL !== process.env.REDIS_URL) {
    throw new Error(`the render stack was loaded before useChaosRedis() set REDIS_URL: it uses ${REDIS_URL}, not ${process.env.REDIS_URL}`);
  }
  return startRenderStack({
    ...opts,
    env: {
      // A killed worker's active jobs are taken over within about twice this.
      WORKER_LOCK_MS: '2000',
      ...opts.env,
    },
  });
}

/** Resolves once the process has printed `text`; fails early, with its output, if it exits. */
export async function waitForOutput(child: WorkerProcess, text: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  await waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before printing ${text}: ${child.output.join('').slice(-2000)}`);
      return child.output.join('').includes(text);
    },
    `a process to print ${JSON.stringify(text)}`,
    timeoutMs,
    25,
  );
}

/** A worker process that has started taking jobs. */
export async function spawnStartedWorker(stack: RenderStack, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = stack.spawnWorker(env);
  await waitForWorkersStarted([worker], START_TIMEOUT_MS);
  return worker;
}

/** Exit code and signal of a process, once it has exited. */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export async function sigkill(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exitOf(child);
}

/** Worker environment for KIE callbacks to the receiver at `port` (run in a worker or on its own). */
export function webhookEnv(port: number): Record<string, string> {
  return { WEBHOOK_BASE_URL: `http://127.0.0.1:${port}`, WEBHOOK_SECRET, HTTP_PORT: String(port) };
}

/** Worker environment that also runs the callback receiver in the worker process (WORKER_HTTP), on a free port. */
export async function receiverInWorkerEnv(): Promise<Record<string, string>> {
  return { ...webhookEnv(await freePort()), WORKER_HTTP: 'true' };
}

/** Resolves once an HTTP server answers GET /healthz with 200 at `port`. */
export async function waitForHealthz(port: number, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  await waitUntil(
    () =>
      fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    `a healthy server on port ${port}`,
    timeoutMs,
    100,
  );
}

/**
 * The callback receiver as a process of its own (`npm run webhooks`), so callbacks keep arriving
 * while workers die. Killed by the caller (stopProcesses).
 */
export async function spawnReceiver(stack: RenderStack, port: number): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/worker/webhookServer/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...stack.env, ...webhookEnv(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as WorkerProcess;
  child.output = [];
  child.stdout!.on('data', (d) => child.output.push(String(d)));
  child.stderr!.on('data', (d) => child.output.push(String(d)));
  await waitForOutput(child, 'webhook receiver listening');
  return child;
}

/** SIGKILLs whichever of these processes still run. */
export async function stopProcesses(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map(sigkill));
}
