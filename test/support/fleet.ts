/** Waiting on a fleet of worker processes and on conditions that change while it runs. */
import type { ChildProcess } from 'node:child_process';

/** Polls `condition` until it holds; the error names what was awaited. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves once every worker process has logged that it started (it takes jobs from then on). */
export async function waitForWorkersStarted(workers: ReadonlyArray<ChildProcess & { output: string[] }>, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    () => {
      const exited = workers.find((w) => w.exitCode !== null);
      if (exited) throw new Error(`worker process exited with ${exited.exitCode}: ${exited.output.join('').slice(-2000)}`);
      return workers.every((w) => w.output.join('').includes('"msg":"worker started"'));
    },
    `${workers.length} worker process(es) to start`,
    timeoutMs,
  );
}
