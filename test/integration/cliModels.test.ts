/** `sora-batch models` and the model flags of `enqueue`, as a user runs them (own process), against a real Redis. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildCatalog } from '../../src/kie/catalog/modelCatalog';
import { modelsMarkdown } from '../../src/kie/catalog/modelsTable';
import { REDIS_URL } from '../support/renderStack';

jest.setTimeout(60_000);

const BIN = path.resolve(__dirname, '../../bin/sora-batch');
const ID = randomUUID().slice(0, 8);
const ENV = { PATH: process.env.PATH, REDIS_URL, QUEUE_NAME: `test-cli-models-${ID}`, LIMITER_PREFIX: `test-cli-models-${ID}` };
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(ENV.QUEUE_NAME, { connection: redis });

afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  const keys = await redis.keys(`${ENV.LIMITER_PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { env: { ...ENV, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

it('models --json lists the catalog with each runtime pause; pause and resume change it; an unknown id exits 2', async () => {
  const listed = await cli(['models', '--json']);
  expect(listed.code).toBe(0);
  const models = JSON.parse(listed.stdout) as Array<{ id: string; status: string; paused: unknown; default: boolean }>;
  expect(models.map((m) => m.id)).toContain('veo-3.1-fast');
  expect(models.find((m) => m.id === 'sora-2')).toMatchObject({ status: 'paused', paused: null, default: true });

  expect((await cli(['models', 'pause', 'kling-2.6', '--reason', 'budget review'])).stdout).toContain('model kling-2.6 paused');
  const paused = JSON.parse((await cli(['models', '--json'])).stdout) as typeof models;
  expect(paused.find((m) => m.id === 'kling-2.6')!.paused).toMatchObject({ by: 'operator', reason: 'budget review' });
  expect((await cli(['status'], { KIE_API_KEY: 'k' })).stdout).toContain('model kling-2.6 paused by operator');
  expect((await cli(['models', 'resume', 'kling-2.6'])).stdout).toContain('model kling-2.6 resumed; 0 waiting jobs woken');

  const unknown = await cli(['models', 'resume', 'sora-3']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('no model sora-3 in the catalog');
});

it('models --markdown prints the table the README carries, for the configured catalog', async () => {
  const printed = await cli(['models', '--markdown'], { KIE_API_STYLE: 'jobs' });
  expect(printed.stdout.trim()).toBe(modelsMarkdown(buildCatalog({ apiStyle: 'jobs' }).catalog));
});

it('enqueue takes --model, --image and --option, validated against the model', async () => {
  const ok = await cli([
    'enqueue',
    'a crane takes off',
    '--model',
    'kling-2.6',
    '--image',
    'https://img.example/a.png',
    '--option',
    'sound=true',
    '--duration',
    '10',
  ]);
  expect(ok.code).toBe(0);
  const [, jobId] = /: job id (\S+)\n$/.exec(ok.stdout) ?? [];
  expect((await queue.getJob(jobId!))!.data).toEqual({
    type: 'text',
    model: 'kling-2.6',
    prompt: 'a crane takes off',
    duration: 10,
    images: [{ url: 'https://img.example/a.png', role: 'first-frame' }],
    options: { sound: true },
  });
  const bad = await cli(['enqueue', 'x', '--model', 'kling-2.6', '--duration', '15']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('duration: kling-2.6 accepts 5 or 10 (got 15)');
});
