/** `npm run worker`: one worker process of the fleet. */
import { createLogger } from '../shared/logger';
import { loadConfigOrExit, startOrExit, stopOnSignals } from '../shared/processLifecycle';
import { startWorker } from './runtime';
import { requireFfmpegForPosters } from './storage/storePoster';

async function main(): Promise<void> {
  const config = loadConfigOrExit('sora-batch worker', undefined, requireFfmpegForPosters);
  const logger = createLogger(config.logLevel, 'worker');
  const runtime = await startOrExit(logger, () => startWorker(config, logger));
  // Whatever is still running at the deadline resumes on another worker from its persisted step.
  stopOnSignals(logger, runtime.close);
}

void main();
