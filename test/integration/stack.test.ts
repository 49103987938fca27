/**
 * `npm run stack` as a person runs it: it prints what they need, a render enqueued through what it
 * printed is stored and copied out as an .mp4, and Ctrl-C (SIGINT to the process group, as a
 * terminal sends it) stops everything: exit 0, every port free, the stack's Redis keys gone.
 */
import { ChildProcess, exec, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitUntil } from '../support/fleet';
import { REDIS_URL } from '../support/renderStack';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '../..');
const QUEUE = `test-stack-${randomUUID().slice(0, 8)}`;

function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

let child: ChildProcess | undefined;
let dir: string;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

it('prints every URL and credential, renders what its printed commands enqueue, and stops cleanly on Ctrl-C', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stack-test-'));
  // What `npm run stack` runs (npm itself reports a Ctrl-C as its own exit by SIGINT, whatever the script did).
  const started = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/demo/stack.ts'], {
    cwd: ROOT,
    // Its own process group, so the test can signal it as a terminal's Ctrl-C does.
    detached: true,
    env: { PATH: process.env.PATH, REDIS_URL, STACK_QUEUE: QUEUE, STACK_DIR: dir, STACK_API_PORT: '0', STACK_SIM_PORT: '0', STACK_S3_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = started;
  let output = '';
  started.stdout.on('data', (d) => (output += String(d)));
  started.stderr.on('data', (d) => (output += String(d)));
  await waitUntil(() => output.includes('npx sora-batch status'), 'the stack to print its commands', 60_000);

  const url = (label: string): string => new RegExp(`${label}\\s+(http://127\\.0\\.0\\.1:\\d+)`).exec(output)![1]!;
  const [apiUrl, simUrl, s3Url] = [url('HTTP API'), url('KIE \\(sim\\)'), url('S3 \\(s3rver\\)')];
  expect(output).toContain(`API key sim-key`);
  expect(output).toContain('access key S3RVER   secret S3RVER');
  expect(output).toContain(`files under ${path.join(dir, 's3')}`);
  expect(output).toContain(`dashboard    ${apiUrl}/dashboard`);
  expect(output).toContain(`console      ${apiUrl}/   (log in with the token`);
  const token = /token (stack-[0-9a-f]+)/.exec(output)![1]!;

  // The printed curl, as a person pastes it: its URL, header and body.
  const curl = /curl -s -X POST (\S+) -H 'Authorization: Bearer (\S+)' -H 'Content-Type: application\/json' -d '(.+)'/.exec(output)!;
  expect(curl[2]).toBe(token);
  const answer = await fetch(curl[1]!, { method: 'POST', headers: { authorization: `Bearer ${curl[2]}`, 'content-type': 'application/json' }, body: curl[3] });
  expect(answer.status).toBe(201);
  const { jobId } = (await answer.json()) as { jobId: string };
  // The printed sora-batch command, run as printed.
  const cliLine = /^ {2}(REDIS_URL=.* npx sora-batch enqueue .*)$/m.exec(output)![1]!;
  const cli = await promisify(exec)(cliLine, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  expect(cli.stdout).toMatch(new RegExp(`^enqueued 1 job on ${QUEUE}: job id \\S+\\nstored 1 of 1 job\\n$`));

  await waitUntil(() => output.includes(`stored job ${jobId}:`), 'the curl render to be stored', 60_000);
  const status = (await (await fetch(`${apiUrl}/v1/renders/${jobId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
  expect(status).toMatchObject({ state: 'completed', step: 'stored' });
  // The printed console logs in with the printed token.
  const login = await fetch(`${apiUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  expect(login.status).toBe(204);
  expect((await fetch(`${apiUrl}/`, { headers: { cookie: login.headers.get('set-cookie')!.split(';')[0]! } })).status).toBe(200);
  const file = new RegExp(`stored job ${jobId}: .*a copy to play: (\\S+\\.mp4)`).exec(output)![1]!;
  expect(file.startsWith(path.join(dir, 'videos'))).toBe(true);
  expect(existsSync(file) && statSync(file).size).toBeGreaterThan(0);

  const exited = once(started, 'exit');
  process.kill(-started.pid!, 'SIGINT');
  const [code] = (await exited) as [number | null];
  expect(code).toBe(0);
  expect(output).toMatch(/stopped\n$/);
  expect(output).not.toMatch(/^\s+at /m);
  for (const u of [apiUrl, simUrl, s3Url]) expect(await refused(u)).toBe(true);
  const redis = new Redis(REDIS_URL);
  try {
    expect([...(await redis.keys(`bull:${QUEUE}:*`)), ...(await redis.keys(`${QUEUE}:*`))]).toEqual([]);
  } finally {
    redis.disconnect();
  }
});
