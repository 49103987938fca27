import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export interface MainScript {
  /** Entry point, relative to the repository root. */
  script: string;
  /** The log message it writes (with a "port" field) once it listens. */
  listening: string;
}

/** Runs an HTTP entry point in a child process; once it logs that it listens (host and port), `whileRunning` gets its port. */
export function runMain(
  main: MainScript,
  env: Record<string, string>,
  whileRunning?: (port: number, child: ReturnType<typeof spawn>) => Promise<void>,
): Promise<{ code: number | null; stderr: string; port?: number; host?: string }> {
  return new Promise((resolve, reject) => {
    // node with tsx's loader, not the tsx command: that one relays a signal to its child and, when
    // the child does not acknowledge it within 30 ms (a busy host), kills it and exits 143.
    const child = spawn(process.execPath, ['--import', 'tsx', main.script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let port: number | undefined;
    let host: string | undefined;
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = new RegExp(`(?:"host":"([^"]*)",)?"port":(\\d+)[^\\n]*${main.listening}`).exec(stdout);
      if (m && port === undefined && whileRunning) {
        host = m[1];
        port = Number(m[2]);
        whileRunning(port, child).catch((err) => {
          child.kill('SIGKILL');
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, port, host });
    });
  });
}
