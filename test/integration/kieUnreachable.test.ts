/**
 * A KIE_BASE_URL that does not resolve: a worker process says so at `info` within seconds, one
 * warning per retried request (attempt, endpoint, account, error; never the key), then that the
 * job backs off as a whole and when it tries again.
 */
import { waitUntil } from '../support/fleet';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

interface LogLine {
  level: number;
  time: number;
  msg: string;
  [field: string]: unknown;
}

let stack: RenderStack;

beforeAll(async () => {
  stack = await startRenderStack({
    accounts: { acme: 'sk-never-shown-1234' },
    env: { KIE_BASE_URL: 'http://kie.invalid', KIE_RETRY_BASE_MS: '100', KIE_RETRIES: '2', LOG_LEVEL: 'info' },
  });
});

afterAll(() => stack.close());

it('every retried request and the job-wide backoff are logged, with the endpoint and account, within seconds', async () => {
  const worker = stack.spawnWorker();
  const lines = (): LogLine[] =>
    worker.output
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  await waitUntil(() => lines().some((l) => l.msg === 'worker started'), 'the worker to start', 20_000);
  const { jobId } = await stack.producer.enqueue({ prompt: 'a lighthouse no one can reach' });
  const enqueuedAt = Date.now();
  await waitUntil(() => lines().some((l) => l.what === 'submit'), 'the submit setback', 15_000);

  const retries = lines().filter((l) => l.msg.startsWith('KIE request failed'));
  expect(retries.map((l) => l.msg)).toEqual(['KIE request failed (attempt 1 of 3); retrying', 'KIE request failed (attempt 2 of 3); retrying']);
  for (const l of retries) {
    expect(l).toMatchObject({ level: 40, account: 'acme', jobId, endpoint: 'POST http://kie.invalid/api/v1/sora/generate' });
    expect(l.err).toContain('could not connect to KIE (ENOTFOUND)');
  }
  const setback = lines().find((l) => l.what === 'submit')!;
  expect(setback).toMatchObject({ level: 40, jobId, setbacks: 1, maxSetbacks: 12 });
  expect(setback.msg).toMatch(/^submit failed; the job backs off and tries again in \d+ (ms|s) \(at \d{4}-\d\d-\d\dT[\d:.]+Z, setback 1 of 12\): .*ENOTFOUND/);
  expect(Date.parse(setback.retryAt as string)).toBeGreaterThan(setback.time);
  // Seconds, not the half minute a person used to wait in silence.
  expect(setback.time - enqueuedAt).toBeLessThan(5000);
  expect(worker.output.join('')).not.toContain('sk-never-shown-1234');
});
