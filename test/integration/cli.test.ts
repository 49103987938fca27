/** The `sora-batch` CLI as a user runs it (its own process), against a real Redis. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { version } from '../../package.json';
import { registerAccounts } from '../../src/pool/accountRegistry';
import { REDIS_URL } from '../support/renderStack';
import { cliRunner, cliSandbox } from '../support/cliProcess';

jest.setTimeout(60_000);

/** The CLI runs with only what a shell without KIE keys has: the Redis URL, a queue, a limiter prefix. */
const { queueName: QUEUE_NAME, limiterPrefix: LIMITER_PREFIX, redis, queue, dir: tmp, cli } = cliSandbox('cli');

it('enqueue says what it did (count, queue, job id), --json for scripts; bad input exits 2 naming the field', async () => {
  const ok = await cli('enqueue', 'a kite over the dunes', '--duration', '15', '--batch', 'kites');
  expect(ok.code).toBe(0);
  const [, jobId] = /^enqueued 1 job on test-cli-\w+: job id (\S+)\n$/.exec(ok.stdout) ?? [];
  expect((await queue.getJob(jobId!))!.data).toMatchObject({ prompt: 'a kite over the dunes', duration: 15, batchId: 'kites' });

  const json = await cli('enqueue', 'a kite at night', '--idempotency-key', `kite-${QUEUE_NAME}`, '--json');
  expect(json.code).toBe(0);
  const parsed = JSON.parse(json.stdout) as { queue: string; jobs: Array<{ jobId: string; created: boolean }> };
  expect(parsed).toEqual({ queue: QUEUE_NAME, jobs: [{ jobId: expect.stringMatching(/^idem-/), created: true }] });
  expect((await cli('enqueue', 'a kite at night', '--idempotency-key', `kite-${QUEUE_NAME}`)).stdout).toBe(
    `enqueued 0 jobs on ${QUEUE_NAME} (1 already existed): job id ${parsed.jobs[0]!.jobId}\n`,
  );

  const bad = await cli('enqueue', 'a kite', '--seed', '12');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('seed: sora-2 (KIE_API_STYLE=sora) accepts 10000 to 99999 (got 12)');

  const late = await cli('enqueue', 'a kite next year', '--delay', '31536000000');
  expect(late.code).toBe(2);
  expect(late.stderr).toContain('delay: must be a whole number of milliseconds from 0 to 2592000000 (30 days) (got 31536000000)');
});

it('enqueue --file refuses a notifyUrl into a private network, naming the field', async () => {
  const file = path.join(tmp(), 'notify.jsonl');
  await writeFile(file, `${JSON.stringify({ prompt: 'a way in', notifyUrl: 'http://10.1.2.3/admin' })}\n`);
  const before = await queue.count();
  const bad = await cli('enqueue', '--file', file);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('notifyUrl: must not point into a private network: 10.1.2.3 is a private (RFC 1918) address');
  expect(await queue.count()).toBe(before);
});

it('--file takes JSON Lines or one JSON array, as its help says; per-request options with --file are a usage error', async () => {
  const lines = path.join(tmp(), 'prompts.jsonl');
  await writeFile(lines, '{"prompt": "first line"}\n\n{"prompt": "second line", "duration": 15}\n');
  const array = path.join(tmp(), 'prompts.json');
  await writeFile(array, '[{"prompt": "in an array"}]');
  expect((await cli('enqueue', '--file', lines)).stdout).toMatch(new RegExp(`^enqueued 2 jobs on ${QUEUE_NAME}: job ids \\S+, \\S+\\n$`));
  expect((await cli('enqueue', '--file', array)).stdout).toMatch(/^enqueued 1 job on /);
  expect((await cli('enqueue', '--help')).stdout.replace(/\s+/g, ' ')).toContain('JSON Lines (one JSON object per line) or one JSON array');

  const mixed = await cli('enqueue', '--file', lines, '--duration', '15');
  expect([mixed.code, mixed.stderr]).toEqual([2, 'sora-batch: --duration applies to a prompt; with --file each request carries its own fields\n']);
  const missing = await cli('enqueue', '--file', path.join(tmp(), 'nope.jsonl'));
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('cannot read --file: ENOENT');
  await writeFile(lines, '{"prompt": "fine"}\nnot json\n');
  const broken = await cli('enqueue', '--file', lines);
  expect(broken.code).toBe(2);
  expect(broken.stderr).toContain('prompts.jsonl:2: must be one JSON object per line (got "not json")');
});

it('schedules add, list (text and --json) and remove', async () => {
  expect((await cli('schedules', 'list')).stdout).toBe(`no schedules on ${QUEUE_NAME}\n`);
  const added = await cli('schedules', 'add', 'nightly', 'the harbour at night', '--cron', '0 3 * * *', '--tz', 'Europe/Lisbon', '--quality', 'high');
  expect(added.code).toBe(0);
  expect(added.stdout).toMatch(/schedule nightly saved; next render at \d{4}-\d\d-\d\dT03:00:00/);
  const schedulers = await queue.getJobSchedulers();
  expect(schedulers).toHaveLength(1);
  expect(schedulers[0]!.template?.data).toMatchObject({ prompt: 'the harbour at night', quality: 'high' });

  const listed = await cli('schedules', 'list');
  expect(listed.stdout).toContain(`schedules on ${QUEUE_NAME}:`);
  expect(listed.stdout).toContain('0 3 * * * (Europe/Lisbon)');
  const json = await cli('schedules', 'list', '--json');
  expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id: 'nightly', cron: '0 3 * * *', tz: 'Europe/Lisbon' })]);

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

it('status and the account commands need no KIE key: they read the accounts the fleet registered', async () => {
  const none = await cli('status');
  expect(none.code).toBe(0);
  expect(none.stdout).toMatch(new RegExp(`^queue ${QUEUE_NAME}: waiting \\d+, active 0, delayed 0, prioritized 0, completed 0, failed 0\\n`));
  expect(none.stdout).toContain(`accounts: none configured in this shell, and no worker has registered any under LIMITER_PREFIX=${LIMITER_PREFIX}`);

  // What every worker writes at start.
  await registerAccounts(redis, LIMITER_PREFIX, [{ name: 'acme', maxConcurrent: 4, dailyLimit: 40 }]);
  expect((await cli('accounts', 'pause', 'acme', '--reason', 'billing')).stdout).toBe('account acme paused: billing\n');
  const text = await cli('status');
  expect(text.stdout).toContain("accounts (as the fleet's workers registered them):");
  expect(text.stdout).toMatch(/acme.*0\/4.*0\/40.*billing/);
  const json = JSON.parse((await cli('status', '--json')).stdout) as Record<string, unknown>;
  expect(json).toMatchObject({
    queue: QUEUE_NAME,
    counts: { active: 0 },
    accountsFrom: 'registered',
    accounts: [{ account: 'acme', maxConcurrent: 4, dailyLimit: 40, paused: 'billing' }],
  });
  expect((await cli('accounts', 'resume', 'acme')).stdout).toBe('account acme resumed; 0 waiting jobs woken\n');

  const unknown = await cli('accounts', 'pause', 'nobody');
  expect([unknown.code, unknown.stderr]).toEqual([2, 'sora-batch: account "nobody" is not known (registered: acme)\n']);
});

it('--version, --help with examples and environment, and usage errors exit 2', async () => {
  expect(await cli('--version')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  const helps = await Promise.all(
    [['enqueue'], ['status'], ['schedules', 'add'], ['schedules', 'list'], ['accounts', 'pause']].map((command) => cli(...command, '--help')),
  );
  for (const help of helps) {
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n {2}\$ sora-batch /);
    expect(help.stdout).toContain('Environment:\n  REDIS_URL');
  }
  expect((await cli('--help')).stdout).toContain('Exit codes: 0 done, 1 failed');
  const usages = [['enqueue', '--no-such-option'], ['bogus'], ['enqueue'], ['schedules', 'add', 'only-an-id'], ['enqueue', 'x', '--duration', 'ten']];
  const results = await Promise.all(usages.map((usage) => cli(...usage)));
  expect(results.map((r) => r.code)).toEqual(usages.map(() => 2));
  for (const res of results) expect(res.stderr).not.toMatch(/^\s+at /m);
  const config = await cliRunner({ REDIS_URL, QUEUE_NAME: 'no spaces allowed' })('status');
  expect(config.code).toBe(2);
  expect(config.stderr).toContain('QUEUE_NAME="no spaces allowed"');
});
