/**
 * The worker's KIE counters on /metrics agree with what the simulator itself counted: requests by
 * endpoint and outcome, 429s, retries, ambiguous submits and credits spent. The worker runs with no
 * pacing of its own against a simulator that enforces its interval, so 429s happen; creates are
 * overloaded (1003) half the time and some are answered by a reset after the task was made.
 */
import axios from 'axios';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(90_000);

/** A sample's value from Prometheus text, 0 when the series is absent (counters start unseen). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((l) => have.includes(l)) && have.length === wanted.length) return Number(m[3]);
  }
  return 0;
}

const JOBS = 8;
const CREATE = 'POST /api/v1/sora/generate';

let stack: RenderStack;
beforeAll(async () => {
  stack = await startRenderStack({ sim: { seed: 11, faults: { overloadRate: 0.5, createThenResetRate: 0.2 } } });
});
afterAll(() => stack.close());

test('KIE requests, 429s, retries, ambiguous submits and credits spent are counted as the simulator saw them', async () => {
  const { httpUrl } = await stack.startWorker({
    WORKER_HTTP: 'true',
    HTTP_PORT: '0',
    // No spacing of our own: the simulator's 30 ms interval answers 429 to what comes too close.
    KIE_MIN_INTERVAL_MS: '0',
    KIE_INTERVAL_MARGIN_MS: '0',
    KIE_RETRIES: '12',
    KIE_RETRY_BASE_MS: '5',
    // An unanswered create resubmits at once (flagged possibleDuplicate).
    KIE_AMBIGUOUS_GRACE_MS: '0',
  });
  const jobs = await stack.producer.enqueueMany(Array.from({ length: JOBS }, (_, i) => ({ prompt: `counted render ${i}`, duration: 10 })));
  const states = await stack.waitForJobs(
    jobs.map((j) => j.jobId),
    60_000,
  );
  expect([...states.values()].every((s) => s === 'completed')).toBe(true);
  const text = (await axios.get(`${httpUrl}/metrics`)).data as string;
  const { counters } = stack.sim;

  // Creates: every answer the simulator gave is counted under its outcome.
  const overloads = counters.faults.overload;
  const resets = counters.faults.createThenReset;
  const created = counters.tasks.length;
  expect(overloads).toBeGreaterThan(0);
  expect(resets).toBeGreaterThan(0);
  expect(sample(text, 'sora_kie_requests_total', { endpoint: CREATE, outcome: 'transient' })).toBe(overloads);
  expect(sample(text, 'sora_kie_requests_total', { endpoint: CREATE, outcome: 'ambiguous' })).toBe(resets);
  expect(sample(text, 'sora_kie_requests_total', { endpoint: CREATE, outcome: 'ok' })).toBe(created - resets);
  expect(sample(text, 'sora_ambiguous_submits_total', { account: 'default' })).toBe(resets);

  // 429s: every violation the simulator refused, on any endpoint.
  const refused = counters.violations.interval + counters.violations.concurrency + counters.violations.daily;
  expect(refused).toBeGreaterThan(0);
  expect(sample(text, 'sora_kie_rate_limited_total', { account: 'default' })).toBe(refused);
  const rateLimited = ['POST /api/v1/sora/generate', 'GET /api/v1/sora/record-info'].reduce(
    (n, endpoint) => n + sample(text, 'sora_kie_requests_total', { endpoint, outcome: 'rate-limited' }),
    0,
  );
  expect(rateLimited).toBe(refused);

  // Every overloaded create was tried again (the status poller's reads are not retried in place: it comes back).
  expect(sample(text, 'sora_kie_retries_total', { account: 'default' })).toBeGreaterThanOrEqual(overloads);

  // Credits: 30 per 10 s standard render for every task whose create we saw answered.
  expect(sample(text, 'sora_credits_spent_total', { account: 'default' })).toBe(30 * (created - resets));
  expect(text).not.toContain(stack.env.KIE_ACCOUNTS.split(':')[1]);
});
