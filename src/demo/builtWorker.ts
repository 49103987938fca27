/**
 * The worker of a production install (`npm run demo -- --built-worker <dir>`): `node
 * dist/worker/main.js` run in `<dir>`, as the Docker image runs it, with plain node and the
 * install's own dependencies. CI lays `<dir>` out with the Dockerfile's runtime stage
 * (scripts/replayRuntimeStage.ts) and has it render the demo batch.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';

export interface BuiltWorker {
  readonly pid: number;
  /** Where its HTTP server (/healthz, /metrics) listens. */
  readonly url: string;
  /** SIGTERM, then its exit code once its graceful shutdown ran. */
  stop(): Promise<number | null>;
}

/** How long a cold start of the built worker may take on a busy host. */
const START_TIMEOUT_MS = 60_000;

export async function startBuiltWorker(dir: string, env: Record<string, string>, logFile: string): Promise<BuiltWorker> {
  const main = path.join(dir, 'dist/worker/main.js');
  if (!existsSync(main)) throw new Error(`${main} does not exist: build first (npm run build), and install the build's production dependencies beside it`);
  const child = spawn(process.execPath, [main], {
    cwd: dir,
    // On loopback and a free port: the image's 0.0.0.0:3000 may be taken on a shared machine.
    env: { PATH: process.env.PATH, ...env, WORKER_HTTP: 'true', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the built worker did not start within ${START_TIMEOUT_MS / 1000} s (log: ${logFile})`)), START_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /"host":"([^"]+)","port":(\d+)[^\n]*worker HTTP server/.exec(output);
      if (!listening) return;
      clearTimeout(timer);
      resolve(`http://${listening[1]}:${listening[2]}`);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the built worker exited with code ${code} before it listened (log: ${logFile})`));
    });
  });
  const health = await fetch(`${url}/healthz`);
  if (!health.ok) throw new Error(`the built worker's /healthz answered ${health.status}`);
  return {
    pid: child.pid!,
    url,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
