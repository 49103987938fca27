/**
 * Traces, end to end on the render stack: one trace per job from its enqueue to its stored object
 * and its notification (BullMQ's telemetry carries the context through the job's options), spans
 * around every KIE request (endpoint, account, outcome, task id), the S3 upload and the delivery,
 * and never a secret in any of them. Spans are read from an in-memory exporter.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { loadConfig } from '../../src/shared/config';
import { RenderProducer } from '../../src/producer/renderProducer';
import { startTracing, type Tracing } from '../../src/shared/startTracing';
import { queueTelemetry } from '../../src/shared/tracing';
import { RenderStack, startRenderStack } from '../support/renderStack';

jest.setTimeout(60_000);

const KIE_KEY = `sk-trace-${'k'.repeat(24)}`;
const NOTIFY_SECRET = `whsec_${Buffer.from('a tracing test secret of 32 bytes').toString('base64')}`;
const WEBHOOK_SECRET = 'webhook-secret-for-the-tracing-test';

const exporter = new InMemorySpanExporter();
let tracing: Tracing | undefined;
let stack: RenderStack;
let receiver: Server;
let producer: RenderProducer;

beforeAll(async () => {
  receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  stack = await startRenderStack({
    accounts: { default: KIE_KEY },
    env: {
      // Tracing on, as OTEL_EXPORTER_OTLP_ENDPOINT turns it on; the spans go to memory instead.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      NOTIFY_SECRET,
      NOTIFY_ALLOW_PRIVATE: 'true',
      WEBHOOK_SECRET,
    },
  });
  tracing = startTracing(stack.config, 'tracing-test', exporter);
  producer = new RenderProducer({
    connection: stack.redis,
    queueName: stack.config.queueName,
    notifyAllowPrivate: true,
    telemetry: queueTelemetry(stack.config),
  });
});

afterAll(async () => {
  await producer?.close();
  await stack?.close();
  await tracing?.shutdown();
  await new Promise((resolve) => receiver?.close(resolve));
});

const attr = (span: ReadableSpan, name: string): unknown => span.attributes[name];

async function spansUntil(what: string, enough: (spans: ReadableSpan[]) => boolean, timeoutMs = 15_000): Promise<ReadableSpan[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const spans = exporter.getFinishedSpans();
    if (enough(spans)) return spans;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; spans: ${[...new Set(spans.map((s) => s.name))].join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('tracing is off unless an OTLP endpoint is set, and OTEL_SDK_DISABLED turns it off', () => {
  expect(loadConfig({ KIE_API_KEY: 'k' }).tracing).toBeUndefined();
  expect(loadConfig({ KIE_API_KEY: 'k', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
    tracesUrl: 'http://collector:4318/v1/traces',
    serviceName: undefined,
  });
  expect(
    loadConfig({
      KIE_API_KEY: 'k',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/traces',
      OTEL_SERVICE_NAME: 'renders',
    }).tracing,
  ).toEqual({
    tracesUrl: 'http://tempo:4318/traces',
    serviceName: 'renders',
  });
  expect(loadConfig({ KIE_API_KEY: 'k', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
  expect(() => loadConfig({ KIE_API_KEY: 'k', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
    /OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318": must be a URL[\s\S]*OTEL_EXPORTER_OTLP_PROTOCOL="grpc": must be one of http\/protobuf/,
  );
});

test('each job is one trace from its enqueue to its stored object and its notification, with no secret in any span', async () => {
  await stack.startWorker();
  const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/renders/done?token=receiver-token`;
  const jobs = await producer.enqueueMany([
    { prompt: 'a lighthouse in a storm', notifyUrl },
    { prompt: 'a paper boat at dusk', notifyUrl },
  ]);
  const states = await stack.waitForJobs(jobs.map((j) => j.jobId));
  expect([...states.values()]).toEqual(['completed', 'completed']);
  const spans = await spansUntil('two delivered notifications', (all) => all.filter((s) => attr(s, 'notify.outcome') === 'delivered').length === 2);

  const traceIds = new Set<string>();
  for (const { jobId } of jobs) {
    const result = (await stack.queue.getJob(jobId))!.returnvalue;
    const enqueue = spans.find((s) => s.name === `enqueue ${stack.config.queueName}` && attr(s, 'messaging.message.id') === jobId);
    expect(enqueue).toBeDefined();
    expect(enqueue!.parentSpanContext).toBeUndefined(); // the root of the job's trace
    const traceId = enqueue!.spanContext().traceId;
    traceIds.add(traceId);
    const trace = spans.filter((s) => s.spanContext().traceId === traceId);

    // Every run of the job's steps (BullMQ's process spans), on whichever worker.
    const runs = trace.filter((s) => s.name === `process ${stack.config.queueName}`);
    expect(runs.length).toBeGreaterThanOrEqual(2); // submit, then store once the poller woke it
    expect(runs.every((s) => attr(s, 'bullmq.job.id') === jobId)).toBe(true);

    // Every create request has its span; on a busy host KIE may answer one with 429 before the retry
    // that creates the task.
    const creates = trace.filter((s) => s.name === 'kie POST /api/v1/sora/generate');
    expect(creates.slice(0, -1).every((s) => attr(s, 'kie.outcome') === 'rate-limited' && attr(s, 'http.response.status_code') === 429)).toBe(true);
    const create = creates.at(-1);
    expect(create?.attributes).toMatchObject({
      'kie.endpoint': 'POST /api/v1/sora/generate',
      'kie.account': 'default',
      'kie.model': stack.config.kie.models.defaultModel,
      'kie.outcome': 'ok',
      'kie.task_id': result.taskId,
      'http.response.status_code': 200,
    });

    const store = trace.find((s) => s.name === `store video ${result.bucket}`);
    expect(store?.attributes).toMatchObject({
      'aws.s3.bucket': result.bucket,
      'aws.s3.key': result.key,
      'video.bytes': result.size,
      'video.sha256': result.sha256,
    });

    const notify = trace.find((s) => s.name.startsWith('notify '));
    expect(notify?.attributes).toMatchObject({
      'notify.destination': `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      'notify.outcome': 'delivered',
      'notify.job_id': jobId,
      'http.response.status_code': 204,
    });
  }
  expect(traceIds.size).toBe(2);

  // The status poller's reads serve every job's turn: traces of their own, with the task they read.
  const read = spans.find((s) => s.name === 'kie GET /api/v1/sora/record-info');
  expect(read?.attributes).toMatchObject({ 'kie.account': 'default', 'kie.outcome': 'ok' });
  expect(typeof attr(read!, 'kie.task_id')).toBe('string');

  // No key, secret or token anywhere: names, attributes, events, the receiver's own token in its URL.
  const everything = JSON.stringify(
    spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, resource: s.resource.attributes })),
  );
  for (const secret of [KIE_KEY, NOTIFY_SECRET, WEBHOOK_SECRET, 'receiver-token', 'Bearer']) expect(everything).not.toContain(secret);
});
