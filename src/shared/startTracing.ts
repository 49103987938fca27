/**
 * Installs OpenTelemetry tracing for a process when the configuration turns it on
 * (OTEL_EXPORTER_OTLP_ENDPOINT): a tracer provider exporting in batches over OTLP/HTTP, W3C trace
 * context propagation, and a service name. Every span the code makes (tracing.ts) goes there.
 */
import { NodeTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { version } from '../../package.json';
import type { Config } from './config';

export interface Tracing {
  /** Sends the spans still buffered, then stops tracing (call before the process exits). */
  shutdown(): Promise<void>;
}

/** A collector that does not answer must not hold a stopping process up for long. */
const SHUTDOWN_DEADLINE_MS = 5000;

/**
 * Starts tracing as `config.tracing` says; undefined when it is off. `exporter` replaces the OTLP
 * exporter (tests read spans from memory); spans then go out one by one instead of in batches.
 */
export function startTracing(config: Pick<Config, 'tracing'>, serviceName: string, exporter?: SpanExporter): Tracing | undefined {
  if (!config.tracing) return undefined;
  const processor = exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracing.tracesUrl }));
  const provider = new NodeTracerProvider({
    // OTEL_RESOURCE_ATTRIBUTES (e.g. deployment.environment) is honoured; OTEL_SERVICE_NAME wins over the program's name.
    resource: defaultResource()
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(resourceFromAttributes({ 'service.name': config.tracing.serviceName ?? serviceName, 'service.version': version })),
    spanProcessors: [processor],
  });
  provider.register();
  return {
    shutdown: () =>
      Promise.race([provider.shutdown().catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_DEADLINE_MS).unref())]),
  };
}
