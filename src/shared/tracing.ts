/**
 * Spans, through the OpenTelemetry API only: without a tracer provider (tracing off, the default)
 * every span here is a no-op that costs next to nothing. startTracing.ts installs the provider.
 *
 * One trace per job: the producer opens a span per job and BullMQ's telemetry (bullmq-otel) carries
 * its context in the job's options, so every run of the job's steps, on any worker, and the KIE
 * requests, the S3 upload and the notification made inside them, join that trace.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { BullMQOtel } from 'bullmq-otel';
import type { Config } from './config';

export type { Attributes, Span };

const TRACER_NAME = 'sora-batch';

/** BullMQ's telemetry for a Queue or Worker, when tracing is on. */
export function queueTelemetry(config: Pick<Config, 'tracing'>): BullMQOtel | undefined {
  return config.tracing ? new BullMQOtel({ tracerName: 'bullmq' }) : undefined;
}

/**
 * Runs `fn` in a span of its own (a child of the active one). A failure is recorded on the span
 * and thrown on; `fn` adds what it learns (an outcome, a size) to the span it is given.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind = SpanKind.INTERNAL): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export interface JobTraces {
  /** Per job, the context BullMQ stores in its options (`opts.telemetry.metadata`). */
  readonly metadata: readonly string[];
  /** Runs the adding under the first job's span when there is only one (its trace then shows it). */
  adding<T>(add: () => Promise<T>): Promise<T>;
  /** Ends every job's span, naming its job id, or the error that kept the jobs from being added. */
  end(jobIds: ReadonlyArray<string | undefined>, error?: Error): void;
}

/**
 * One span per job being enqueued, each the root of the job's trace unless the caller is inside a
 * span of its own (then the jobs continue the caller's trace). BullMQ's own add spans one per
 * call, which would put a whole batch, and everything its jobs do, into a single trace.
 */
export function startJobTraces(telemetry: BullMQOtel, count: number, queueName: string, attributes: Attributes): JobTraces {
  const tracer = trace.getTracer(TRACER_NAME);
  const active = context.active();
  const spans = Array.from({ length: count }, () =>
    tracer.startSpan(`enqueue ${queueName}`, { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': queueName, ...attributes } }, active),
  );
  const contexts = spans.map((span) => trace.setSpan(active, span));
  return {
    metadata: contexts.map((ctx) => telemetry.contextManager.getMetadata(ctx)),
    adding: (add) => (contexts.length === 1 ? context.with(contexts[0]!, add) : add()),
    end(jobIds, error) {
      spans.forEach((span, i) => {
        if (jobIds[i] !== undefined) span.setAttribute('messaging.message.id', jobIds[i]);
        if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        span.end();
      });
    },
  };
}
