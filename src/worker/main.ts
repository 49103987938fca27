/** `npm run worker`: one worker process of the fleet. */
import { createLogger } from '../shared/logger';
import { loadConfigOrExit, startOrExit, stopOnSignals } from '../shared/processLifecycle';
import { startTracing } from '../shared/startTracing';
import { startWorker } from './runtime';
import { requireFfmpegForPosters } from './storage/storePoster';

async function main(): Promise<void> {
  const config = loadConfigOrExit('sora-batch worker', undefined, requireFfmpegForPosters);
  const logger = createLogger(config.logLevel, 'worker');
  // Before the worker starts, so its first job's steps are traced (with OTEL_EXPORTER_OTLP_ENDPOINT set).
  const tracing = startTracing(config, 'sora-batch-worker');
  const runtime = await startOrExit(logger, () => startWorker(config, logger));
  // Whatever is still running at the deadline resumes on another worker from its persisted step.
  stopOnSignals(logger, async () => {
    await runtime.close();
    await tracing?.shutdown();
  });
}

void main();
