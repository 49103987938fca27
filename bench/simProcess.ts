/**
 * The KIE simulator as its own OS process (`src/sim/main.ts`), so its event loop shares nothing
 * with the harness: a stall in the harness must not bunch requests as they arrive and be counted
 * as the fleet's interval violations. The harness reads the counters over HTTP.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { COUNTERS_PATH, type SimCountersSnapshot } from '../src/sim/kieSimulator';

const ROOT = path.resolve(__dirname, '..');
const STARTUP_TIMEOUT_MS = 30_000;

export interface SimProcess {
  readonly url: string;
  readonly child: ChildProcess;
  counters(): Promise<SimCountersSnapshot>;
  close(): Promise<void>;
}

/** Starts `npm run sim`'s entry point on a free port with the given SIM_* variables. */
export async function spawnSimulator(simEnv: Record<string, string>): Promise<SimProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/sim/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', SIM_PORT: '0', ...simEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr.on('data', (d) => output.push(String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`simulator did not start within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}: ${output.join('').slice(-2000)}`));
    };
    const onExit = (code: number | null): void => fail(new Error(`simulator exited with ${code}`));
    child.once('exit', onExit);
    child.stdout.on('data', (d) => {
      output.push(String(d));
      const listening = /"url":"(http:\/\/[^"]+)"/.exec(output.join(''));
      if (listening) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(listening[1]!);
      }
    });
  });
  return {
    url,
    child,
    async counters() {
      const res = await fetch(`${url}${COUNTERS_PATH}`);
      if (!res.ok) throw new Error(`GET ${COUNTERS_PATH} answered ${res.status}`);
      return (await res.json()) as SimCountersSnapshot;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
