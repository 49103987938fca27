import axios from 'axios';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

describe('a worker with WORKER_HTTP=true serves health and Prometheus metrics', () => {
  let stack: RenderStack;
  let url: string;
  beforeAll(async () => {
    stack = await startRenderStack();
    url = (await stack.startWorker({ WORKER_HTTP: 'true', HTTP_PORT: '0' })).httpUrl!;
  });
  afterAll(() => stack.close());

  it('answers /healthz while Redis answers', async () => {
    expect((await axios.get(`${url}/healthz`)).data).toEqual({ ok: true });
  });

  it('exposes queue, account and throughput metrics, and no key', async () => {
    const [{ jobId }] = await stack.producer.enqueueMany([{ prompt: 'a metrics fox' }]);
    await stack.waitForJobs([jobId!]);
    const text = (await axios.get(`${url}/metrics`)).data as string;
    expect(text).toMatch(/sora_queue_jobs\{state="completed"\} 1/);
    expect(text).toMatch(/sora_account_in_flight\{account="default"\} 0/);
    expect(text).toMatch(/sora_account_submits_in_window\{account="default"\} 1/);
    expect(text).toMatch(/sora_account_paused\{account="default"\} 0/);
    expect(text).toMatch(/sora_jobs_stored_total 1/);
    expect(text).toMatch(/sora_completion_to_stored_seconds_count 1/);
    expect(text).not.toContain(stack.env.KIE_ACCOUNTS.split(':')[1]);
  });

  it('has no callback route without webhooks configured', async () => {
    const res = await axios.post(`${url}/kie/callback/q/1?token=x`, {}, { validateStatus: () => true });
    expect(res.status).toBe(404);
  });
});
