/** The `sora-batch` CLI as a user runs it (its own process), against a real Redis. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../support/renderStack';

jest.setTimeout(60_000);

const BIN = path.resolve(__dirname, '../../bin/sora-batch');
const QUEUE_NAME = `test-cli-${randomUUID().slice(0, 8)}`;
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(QUEUE_NAME, { connection: redis });

afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  await redis.quit();
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { env: { PATH: process.env.PATH, REDIS_URL, QUEUE_NAME } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

it('enqueue adds one validated job and prints its id; bad input exits 2 naming the field', async () => {
  const ok = await cli('enqueue', 'a kite over the dunes', '--duration', '15', '--batch', 'kites');
  expect(ok.code).toBe(0);
  const jobId = ok.stdout.trim().split('\n').pop()!;
  expect((await queue.getJob(jobId))!.data).toMatchObject({ prompt: 'a kite over the dunes', duration: 15, batchId: 'kites' });

  const bad = await cli('enqueue', 'a kite', '--seed', '5');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('seed');

  const late = await cli('enqueue', 'a kite next year', '--delay', '31536000000');
  expect(late.code).toBe(2);
  expect(late.stderr).toContain('delay: must be a whole number of milliseconds from 0 to 2592000000 (30 days) (got 31536000000)');
});

it('enqueue --file refuses a notifyUrl into a private network, naming the field', async () => {
  const file = path.join(tmpdir(), `notify-${randomUUID()}.jsonl`);
  writeFileSync(file, `${JSON.stringify({ prompt: 'a way in', notifyUrl: 'http://10.1.2.3/admin' })}\n`);
  const before = await queue.count();
  const bad = await cli('enqueue', '--file', file);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('notifyUrl: must not point into a private network: 10.1.2.3 is a private (RFC 1918) address');
  expect(await queue.count()).toBe(before);
});

it('schedules add, list and remove', async () => {
  const added = await cli('schedules', 'add', 'nightly', 'the harbour at night', '--cron', '0 3 * * *', '--tz', 'Europe/Lisbon', '--quality', 'high');
  expect(added.code).toBe(0);
  expect(added.stdout).toMatch(/schedule nightly saved; next render at \d{4}-\d\d-\d\dT03:00:00/);
  const schedulers = await queue.getJobSchedulers();
  expect(schedulers).toHaveLength(1);
  expect(schedulers[0]!.template?.data).toMatchObject({ prompt: 'the harbour at night', quality: 'high' });

  const listed = await cli('schedules', 'list');
  expect(listed.stdout).toContain('nightly');
  expect(listed.stdout).toContain('0 3 * * * (Europe/Lisbon)');

  const bad = await cli('schedules', 'add', 'hourly', 'x', '--every', '10');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('everyMs');
  const flood = await cli('schedules', 'add', 'flood', 'x', '--cron', '* * * * * *');
  expect(flood.code).toBe(2);
  expect(flood.stderr).toContain('cron: fires 1 s apart');

  expect((await cli('schedules', 'remove', 'nightly')).code).toBe(0);
  expect(await queue.getJobSchedulers()).toEqual([]);
  const missing = await cli('schedules', 'remove', 'nightly');
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('no schedule nightly');
});
