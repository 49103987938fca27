/**
 * Redis that does not answer: every process says so in one line per window (no ioredis stacks),
 * a process that never reached it gives up with exit 1 naming the URL (password masked), the CLI
 * within a few seconds; a connection lost after a start is retried forever, reported once per window.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'bullmq';
import { connectRedis, logQueueErrors, waitForRedis } from '../../src/shared/redis';
import { startRedisServer } from '../chaos/support/redisServer';
import { waitUntil } from '../support/fleet';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '../..');
const DEAD_REDIS = 'redis://:hunter2-secret@127.0.0.1:1';
const STACK_LINE = /^\s+at .+\(?.+:\d+:\d+\)?$/m;

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(args[0]!, args.slice(1), { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

const tsx = (script: string): string[] => [path.join(ROOT, 'node_modules/.bin/tsx'), script];

describe.each([
  ['worker', 'src/worker/main.ts', { KIE_API_KEY: 'sk-unused' }],
  ['api', 'src/producer/api/main.ts', { API_TOKENS: 'a-token-of-twenty-chars' }],
  ['webhooks', 'src/worker/webhookServer/main.ts', { WEBHOOK_BASE_URL: 'http://127.0.0.1:9', WEBHOOK_SECRET: 'a-secret-of-twenty-chars' }],
])('%s with a Redis that never answers', (_name, script, env) => {
  it('reports it once per window, then gives up after REDIS_CONNECT_TIMEOUT_MS with exit 1, naming the masked URL', async () => {
    const { code, output } = await run(tsx(script), { ...env, REDIS_URL: DEAD_REDIS, REDIS_CONNECT_TIMEOUT_MS: '2500', HTTP_PORT: '0' });
    expect(code).toBe(1);
    const lines = output
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, msg: 'cannot reach Redis at 127.0.0.1:1 (ECONNREFUSED); retrying' }),
      expect.objectContaining({
        level: 50,
        msg: expect.stringContaining('cannot reach Redis at redis://:***@127.0.0.1:1 within 2.5 s (ECONNREFUSED); giving up'),
      }),
    ]);
    expect(output).not.toContain('hunter2-secret');
    expect(output).not.toMatch(STACK_LINE);
  });
});

it('the CLI gives up within a few seconds with exit 1 and one message on stderr', async () => {
  const { code, output, ms } = await run([path.join(ROOT, 'bin/sora-batch'), 'status'], { REDIS_URL: DEAD_REDIS });
  expect(code).toBe(1);
  expect(output.trim().split('\n')).toEqual([
    'sora-batch: cannot reach Redis at 127.0.0.1:1 (ECONNREFUSED); retrying',
    expect.stringMatching(
      /^sora-batch: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 within 5 s \(ECONNREFUSED\); giving up\. Is redis-server running there, and is REDIS_URL right\?/,
    ),
  ]);
  // The CLI's own 5 s, not the 30 s a long-running process waits.
  expect(ms).toBeLessThan(20_000);
});

it('a connection lost after a start is retried until Redis is back, reported at warn once per window, and BullMQ prints nothing', async () => {
  const server = await startRedisServer();
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const log = (level: string) => (fields: object, message: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message });
  const logger = { warn: log('warn'), info: log('info'), error: log('error') };
  const redis = connectRedis(server.url, { logger, reportEveryMs: 1000 });
  const worker = new Worker('redis-trouble', async () => undefined, { connection: redis });
  logQueueErrors(worker, logger, 'worker');
  const printed: string[] = [];
  const spies = [jest.spyOn(console, 'error'), jest.spyOn(console, 'warn'), jest.spyOn(console, 'log')].map((spy) =>
    spy.mockImplementation((...args: unknown[]) => void printed.push(args.join(' '))),
  );
  try {
    await waitForRedis(redis, server.url, 5000);
    await worker.waitUntilReady();
    await server.restart(3500);
    await expect(redis.ping()).resolves.toBe('PONG');
    // The worker's blocking connection (BullMQ's copy) reconnects on its own backoff, up to 2 s later.
    await waitUntil(() => lines.at(-1)?.level === 'info', 'every connection to answer again', 10_000);

    const warnings = lines.filter((l) => l.level === 'warn');
    const where = `127.0.0.1:${server.port}`;
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    // One line per 1 s window over a 3.5 s outage, though ioredis reconnected many more times.
    expect(warnings.length).toBeLessThanOrEqual(5);
    for (const w of warnings) expect(w.message).toBe(`cannot reach Redis at ${where} (ECONNREFUSED); retrying`);
    expect(Number(warnings.at(-1)!.fields.failedAttempts)).toBeGreaterThan(warnings.length);
    expect(lines.at(-1)).toMatchObject({ level: 'info', message: `Redis at ${where} answers again` });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(printed).toEqual([]);
  } finally {
    for (const spy of spies) spy.mockRestore();
    await worker.close();
    await redis.quit();
    await server.close();
  }
});
