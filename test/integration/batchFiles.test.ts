/**
 * Batch files through the `sora-batch` CLI (its own process) on a real Redis: CSV with a header and
 * a prompt template, bad lines listed with line and field and written to a rejects file, nothing
 * enqueued while any is bad unless --skip-bad, a file enqueued again after a crash mid-enqueue adding
 * only the missing lines (and --dry-run saying so), and the estimate of a file.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BatchLedger } from '../../src/batch/batchLedger';
import { keyedRequests, readBatchFile } from '../../src/producer/batchFile';
import { RenderProducer } from '../../src/producer/renderProducer';
import { cliSandbox } from '../support/cliProcess';

jest.setTimeout(60_000);

const { queueName: QUEUE_NAME, limiterPrefix: LIMITER_PREFIX, redis, queue, dir: tmp, cli } = cliSandbox('batch-files');
const ledger = new BatchLedger(redis, LIMITER_PREFIX, QUEUE_NAME);

const TEMPLATE = 'a {animal} in {city}, cinematic';

it('CSV with a template: bad lines are listed by line and field and written to the rejects file; nothing is enqueued unless --skip-bad', async () => {
  const file = path.join(tmp(), 'animals.csv');
  await writeFile(file, 'animal,city,duration,options.sound\ncat,Paris,10,\ndog,,15,\n"fox, red",Rome,12,\nowl,Oslo,15,true\n');
  const refused = await cli('enqueue', '--file', file, '--batch', 'zoo', '--template', TEMPLATE);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(`${file}:3: city: is used by --template but the line has no city (got nothing)`);
  expect(refused.stderr).toContain(`${file}:4: duration: sora-2 (KIE_API_STYLE=sora) accepts 10 or 15 (got 12)`);
  expect(refused.stderr).toContain(`${file}:5: options.sound: `);
  expect(refused.stderr).toContain(`3 bad lines in ${file}: nothing enqueued`);
  expect(await queue.count()).toBe(0);
  const rejects = (await readFile(`${file}.rejects.jsonl`, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { line: string; issues: Array<{ field: string }> });
  expect(rejects.map((r) => [r.line, r.issues[0]!.field])).toEqual([
    ['3', 'city'],
    ['4', 'duration'],
    ['5', 'options.sound'],
  ]);

  const own = path.join(tmp(), 'my-rejects.jsonl');
  const skipped = await cli('enqueue', '--file', file, '--batch', 'zoo', '--template', TEMPLATE, '--skip-bad', '--rejects', own, '--json');
  expect(skipped.code).toBe(0);
  expect(JSON.parse(skipped.stdout)).toMatchObject({ jobs: [{ created: true }] });
  expect((await readFile(own, 'utf8')).trim().split('\n')).toHaveLength(3);
  const [job] = await queue.getJobs(['waiting']);
  expect(job!.data).toEqual({
    type: 'text',
    prompt: 'a cat in Paris, cinematic',
    duration: 10,
    model: 'sora-2',
    aspectRatio: '16:9',
    quality: 'standard',
    batchId: 'zoo',
  });
  expect(await ledger.read('zoo')).toMatchObject({ joined: 1, counts: { waiting: 1 } });
});

it('a file enqueued again after a crash mid-enqueue adds only the missing lines; --dry-run says which exist', async () => {
  const file = path.join(tmp(), 'night.jsonl');
  const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `night: a train ${i % 6}`, duration: i < 6 ? 10 : 15 }));
  // Two identical lines are two renders, and stay two on the second run.
  lines.push(lines[0]!);
  await writeFile(file, `${lines.join('\n')}\n`);

  // The first run dies after its first chunk of 5 (as the CLI would, mid-enqueue): the same
  // producer path, with Redis refusing the second addBulk.
  const producer = new RenderProducer({ connection: redis, queueName: QUEUE_NAME, limiterPrefix: LIMITER_PREFIX, chunkSize: 5 });
  const addBulk = producer.queue.addBulk.bind(producer.queue);
  let calls = 0;
  producer.queue.addBulk = (jobs) => (++calls > 1 ? Promise.reject(new Error('connection lost')) : addBulk(jobs));
  await expect(producer.enqueueMany(keyedRequests(readBatchFile(file).lines, 'night'), { batchId: 'night' })).rejects.toThrow('connection lost');
  await producer.close();
  const before = (await queue.getJobs(['waiting'])).filter((j) => j.data.batchId === 'night');
  expect(before).toHaveLength(5);

  const dry = await cli('enqueue', '--file', file, '--batch', 'night', '--dry-run', '--json');
  expect(dry.code).toBe(0);
  const plan = JSON.parse(dry.stdout) as { wouldAdd: Array<{ line: string }>; existing: Array<{ line: string; jobId: string }> };
  expect(plan.existing.map((e) => e.line)).toEqual(['1', '2', '3', '4', '5']);
  expect(plan.existing.map((e) => e.jobId).sort()).toEqual(before.map((j) => j.id).sort());
  expect(plan.wouldAdd.map((e) => e.line)).toEqual(['6', '7', '8', '9', '10', '11', '12', '13']);

  const again = await cli('enqueue', '--file', file, '--batch', 'night');
  expect(again.stdout).toMatch(/^enqueued 8 jobs on \S+ \(5 already existed\)/);
  expect((await queue.getJobs(['waiting'])).filter((j) => j.data.batchId === 'night')).toHaveLength(13);
  expect((await cli('enqueue', '--file', file, '--batch', 'night')).stdout).toMatch(/^enqueued 0 jobs on \S+ \(13 already existed\)/);
  expect(await ledger.read('night')).toMatchObject({ joined: 13, counts: { waiting: 13 } });
});

it('estimate checks every line and prints jobs, seconds and cost per model, the quota, the budget and the finish', async () => {
  const file = path.join(tmp(), 'mixed.jsonl');
  await writeFile(
    file,
    [{ prompt: 'a' }, { prompt: 'b', duration: 15 }, { prompt: 'c', model: 'kling-2.6', duration: 5 }].map((r) => JSON.stringify(r)).join('\n'),
  );
  const json = await cli('estimate', file, '--budget', '0.5', '--json');
  expect(json.code).toBe(0);
  const { estimate } = JSON.parse(json.stdout) as { estimate: Record<string, unknown> };
  expect(estimate).toMatchObject({
    jobs: 3,
    seconds: 30,
    costUsd: 0.65,
    perModel: [
      { model: 'sora-2', jobs: 2, seconds: 25, costUsd: 0.375 },
      { model: 'kling-2.6', jobs: 1, seconds: 5, costUsd: 0.275 },
    ],
    quota: { accounts: 1, perWindow: 100, leftInWindow: 100, jobsNow: 3 },
    budget: { budgetUsd: 0.5, leftUsd: 0.5, jobsAllowed: 2, costAllowedUsd: 0.375 },
  });
  const text = await cli('estimate', file, '--budget', '0.5');
  expect(text.stdout).toContain(`estimate for ${file}: 3 jobs, 30 s of video, $0.65`);
  expect(text.stdout).toContain('budget: $0.50 left of $0.50 (spent $0.00, reserved $0.00): pays for 2 of 3 jobs ($0.38)');
  expect(text.stdout).toContain('finish: in about');
  await writeFile(file, '{"prompt": "fine"}\n{"prompt": "x", "seed": 3}\n');
  const bad = await cli('estimate', file);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain(`${file}:2: seed: `);
  // An estimate enqueues nothing: the 1 + 13 jobs of the tests before.
  expect(await queue.count()).toBe(14);
});
