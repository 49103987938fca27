/**
 * The `sora-batch` command: enqueue renders, watch them, look at the queue and the accounts.
 * Exit codes: 0 done, 1 failed (Redis unreachable, a job failed under --wait), 2 usage or
 * configuration (a bad option, a bad request, a bad variable).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { version } from '../../package.json';
import { Config, loadConfig } from '../shared/config';
import { BatchConflictError, ConfigError, UnknownAccountError, ValidationError } from '../shared/errors';
import { connectRedis, TroubleLog, waitForRedis } from '../shared/redis';
import { pauseAccount, resumeAccount } from '../pool/accountControl';
import { modelStatus, pauseModel, resumeModel } from '../pool/modelControl';
import { modelsMarkdown } from '../kie/catalog/modelsTable';
import { listOf } from '../kie/catalog/resolveRequest';
import { count, printResult, withJsonOption } from './cliOutput';
import { readFleetStatus } from './fleetStatus';
import { jobIdForIdempotencyKey, producerSettings, RenderProducer } from './renderProducer';
import { startTracing } from '../shared/startTracing';
import { queueTelemetry } from '../shared/tracing';
import {
  CheckedLine,
  defaultRejectsPath,
  describeBadLine,
  FileUnreadableError,
  keyedRequests,
  lineIdempotencyKeys,
  readBatchFile,
  validateLines,
  writeRejects,
} from './batchFile';
import { batchStatus, type BatchStatus } from '../batch/batchStatus';
import { cancelBatch } from '../batch/cancelBatch';
import { type BatchEstimate, estimateBatch, readCapacity } from '../batch/estimateBatch';
import { fromMicroUsd } from '../batch/batchKeys';
import { formatManifest, MANIFEST_FORMATS, type ManifestFormat } from '../batch/manifestFormat';
import { openBatch } from '../batch/openBatch';
import { batchFieldsSchema, parseWith } from '../batch/batchSchemas';
import { listRenderSchedules, removeRenderSchedule, scheduleRender } from './renderSchedules';
import { watchJobs } from './watchJobs';
import { wakeBudgetWaiters } from '../pool/budgetWaiters';
import type { SpendStatus } from '../pool/limiter/accountLimiter';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/** A command a person waits for gives up on an unreachable Redis after this long (or REDIS_CONNECT_TIMEOUT_MS if shorter). */
const CLI_REDIS_TIMEOUT_MS = 5000;
/** Job ids printed inline after an enqueue; --json lists them all. */
const IDS_SHOWN = 10;
/** Bad lines of a file listed on stderr; the rejects file holds them all. */
const BAD_LINES_SHOWN = 20;

/** A mistake in how the command was called (exit 2), found after commander parsed it. */
class UsageError extends Error {}

const int = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};

/** Redis trouble as plain lines on stderr: stdout holds the command's data. */
const stderrTrouble: TroubleLog = {
  warn: (_fields, message) => void process.stderr.write(`sora-batch: ${message}\n`),
  info: (_fields, message) => void process.stderr.write(`sora-batch: ${message}\n`),
  error: (_fields, message) => void process.stderr.write(`sora-batch: ${message}\n`),
};

type Redis = ReturnType<typeof connectRedis>;

/** No command needs a KIE key: they read and write Redis only. */
async function withRedis<T>(fn: (redis: Redis, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, { accountsRequired: false });
  const redis = connectRedis(config.redisUrl, { logger: stderrTrouble });
  try {
    await waitForRedis(redis, config.redisUrl, Math.min(config.redisConnectTimeoutMs, CLI_REDIS_TIMEOUT_MS));
    return await fn(redis, config);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

async function withProducer<T>(fn: (producer: RenderProducer, config: Config, redis: Redis) => Promise<T>): Promise<T> {
  return withRedis(async (redis, config) => {
    // An enqueue starts each job's trace (with OTEL_EXPORTER_OTLP_ENDPOINT set); sent before the CLI exits.
    const tracing = startTracing(config, 'sora-batch-cli');
    const producer = new RenderProducer({
      connection: redis,
      ...producerSettings(config),
      logger: stderrTrouble,
      telemetry: queueTelemetry(config),
    });
    try {
      return await fn(producer, config, redis);
    } finally {
      await producer.close();
      await tracing?.shutdown();
    }
  });
}

const REQUEST_OPTIONS = {
  model: '--model',
  image: '--image',
  option: '--option',
  aspectRatio: '--aspect-ratio',
  duration: '--duration',
  quality: '--quality',
  seed: '--seed',
  key: '--key',
} as const;

/** What commander hands an action: the options its command declares (commander itself types them `any`). */
type JsonFlag = { json?: boolean };
type RequestFlags = { [K in keyof typeof REQUEST_OPTIONS]?: unknown } & { batch?: string };
type FileFlags = { template?: string; tenant?: string; rejects?: string };
type EnqueueFlags = JsonFlag &
  RequestFlags &
  FileFlags & { file?: string; idempotencyKey?: string; priority?: number; delay?: number; skipBad?: boolean; dryRun?: boolean; wait?: boolean };
type ReasonFlag = { reason: string };

/** `--option name=value` (repeatable): true/false and numbers are read as such. */
function collectOption(v: string, previous: Record<string, string | number | boolean> = {}): Record<string, string | number | boolean> {
  const at = v.indexOf('=');
  if (at < 1) throw new InvalidArgumentError('must be name=value, e.g. sound=true');
  const raw = v.slice(at + 1);
  const value = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return { ...previous, [v.slice(0, at)]: value };
}

/** The render request the request options describe (validated by the producer). */
function requestFrom(prompt: string, o: Record<string, unknown>): Record<string, unknown> {
  const fields = {
    prompt,
    model: o.model,
    images: o.image,
    options: o.option,
    aspectRatio: o.aspectRatio,
    duration: o.duration,
    quality: o.quality,
    seed: o.seed,
    key: o.key,
    batchId: o.batch,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** The options every render request takes, on `enqueue` and `schedules add`. */
function withRequestOptions(command: Command): Command {
  return command
    .option('--model <id>', 'catalog model (see `sora-batch models`; default KIE_DEFAULT_MODEL)')
    .option('--image <url>', 'an image for image-to-video, first frame first (repeatable)', (v: string, all: string[] = []) => [...all, v])
    .option('--option <name=value>', "one of the model's options, e.g. sound=true (repeatable)", collectOption)
    .option('--aspect-ratio <ratio>', "16:9, 9:16, 1:1 ... (the model's; default 16:9 where it has it)")
    .option('--duration <seconds>', "clip length (the model's; Sora 2: 10 | 15, default 10)", int)
    .option('--quality <quality>', 'standard | high (Sora 2 only; default standard)')
    .option('--seed <seed>', "the model's seed range (Sora 2, Veo: 10000..99999)", int)
    .option('--batch <batchId>', 'batch id (also the S3 folder of the videos)');
}

/** Help text after a command's options: examples, then the environment it reads. */
function helpAfter(examples: string[], env: string[]): string {
  return `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n\nEnvironment:\n${env.map((e) => `  ${e}`).join('\n')}\n`;
}

const REDIS_ENV = [
  'REDIS_URL                  Redis of the queue (default redis://127.0.0.1:6379)',
  `REDIS_CONNECT_TIMEOUT_MS   give up on an unreachable Redis after this long (the CLI waits at most ${CLI_REDIS_TIMEOUT_MS / 1000} s)`,
];
const QUEUE_ENV = 'QUEUE_NAME                 the queue (default sora-renders)';
const STYLE_ENV = "KIE_API_STYLE              sora | jobs: requests the workers' KIE API cannot render are refused here";
const ACCOUNT_ENV = [
  "LIMITER_PREFIX             prefix of the account pool's keys (default sora-batch)",
  "KIE_ACCOUNTS, KIE_API_KEY  optional: without them, the accounts the fleet's workers registered",
];

const program = new Command('sora-batch')
  .description('Render video prompts in bulk through KIE.ai into S3: enqueue, watch, and look at the queue and the accounts')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError('(add --help for usage)')
  // Usage errors exit 2 (not commander's 1): see the catch at the end.
  .exitOverride()
  .addHelpText(
    'after',
    `\nExit codes: 0 done, 1 failed (Redis unreachable, a job failed under --wait), 2 usage or configuration.\n` +
      `Every command reads REDIS_URL and QUEUE_NAME; none needs a KIE key. "sora-batch <command> --help" shows examples.\n`,
  );

/** The lines of --file, checked the way the producer checks them; bad ones listed on stderr and written to the rejects file. */
function checkFile(
  producer: RenderProducer,
  o: { file: string; template?: string; batch?: string; tenant?: string; rejects?: string },
): { good: CheckedLine[]; bad: number; rejects?: string } {
  let read;
  try {
    read = readBatchFile(o.file, { template: o.template });
  } catch (err) {
    if (err instanceof FileUnreadableError) throw new UsageError(err.message);
    throw err;
  }
  const { good, bad } = validateLines(read, (fields) => producer.validate(fields, { batchId: o.batch, tenant: o.tenant }));
  if (!bad.length) return { good, bad: 0 };
  const rejects = o.rejects ?? defaultRejectsPath(o.file);
  writeRejects(rejects, bad);
  const lines = bad.flatMap((b) => describeBadLine(o.file, b));
  for (const line of lines.slice(0, BAD_LINES_SHOWN)) process.stderr.write(`sora-batch: ${line}\n`);
  if (lines.length > BAD_LINES_SHOWN) process.stderr.write(`sora-batch: ... and ${lines.length - BAD_LINES_SHOWN} more\n`);
  process.stderr.write(`sora-batch: ${count(bad.length, 'bad line')} of ${count(good.length + bad.length, 'line')} written to ${rejects}\n`);
  return { good, bad: bad.length, rejects };
}

/** Dollars as a person reads them: $1.50, $0.0375. */
function usd(n: number): string {
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 0.1 ? 4 : 2)}`;
}

/** "4 min", "2 h 5 min", "3 d 2 h". */
function duration(ms: number): string {
  const min = Math.ceil(ms / 60_000);
  if (min < 60) return `${min} min`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `${Math.floor(min / 1440)} d${Math.floor((min % 1440) / 60) ? ` ${Math.floor((min % 1440) / 60)} h` : ''}`;
}

function printEstimate(e: BatchEstimate, what: string): void {
  process.stdout.write(`${what}: ${count(e.jobs, 'job')}, ${e.seconds} s of video, ${usd(e.costUsd)}\n`);
  console.table(e.perModel.map((m) => ({ model: m.model, jobs: m.jobs, seconds: m.seconds, cost: usd(m.costUsd) })));
  const q = e.quota;
  process.stdout.write(
    `quota: ${count(q.accounts, 'account')}, ${q.perWindow} submits per ${Math.round(q.windowMs / 3_600_000)} h window, ${q.leftInWindow} left now: ` +
      (q.jobsNow === e.jobs ? `all ${count(e.jobs, 'job')} can start now\n` : `${q.jobsNow} can start now, ${e.jobs - q.jobsNow} wait for later windows\n`),
  );
  if (e.budget) {
    const b = e.budget;
    process.stdout.write(
      `budget: ${usd(b.leftUsd)} left of ${usd(b.budgetUsd)} (spent ${usd(b.spentUsd)}, reserved ${usd(b.reservedUsd)}): ` +
        (b.jobsAllowed === e.jobs
          ? `pays for all ${count(e.jobs, 'job')}\n`
          : `pays for ${b.jobsAllowed} of ${count(e.jobs, 'job')} (${usd(b.costAllowedUsd)})\n`),
    );
  }
  process.stdout.write(
    `finish: in about ${duration(e.finish.durationMs)} (${e.finish.finishAt}), assuming:\n${e.finish.assumptions.map((a) => `  - ${a}\n`).join('')}`,
  );
}

/** The budget an estimate is held against: --budget, else the batch's; with what the batch spent and reserved. */
async function budgetFor(
  producer: RenderProducer,
  batchId: string | undefined,
  budgetUsd: number | undefined,
): Promise<{ budgetUsd: number; spentUsd: number; reservedUsd: number } | undefined> {
  const record = batchId === undefined ? undefined : await producer.batches.read(batchId);
  const budget = budgetUsd ?? (record?.budgetMicroUsd === undefined ? undefined : fromMicroUsd(record.budgetMicroUsd));
  if (budget === undefined) return undefined;
  return { budgetUsd: budget, spentUsd: fromMicroUsd(record?.spentMicroUsd ?? 0), reservedUsd: fromMicroUsd(record?.reservedMicroUsd ?? 0) };
}

const dollars = (v: string): number => {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError('must be a number of dollars, e.g. 25 or 12.50');
  return Number(v);
};

/** Options of a batch file, on `enqueue --file` and `estimate`. */
function withFileOptions(command: Command): Command {
  return command
    .option('--template <text>', 'write each prompt from the line\'s columns, e.g. "a {animal} in {city}, cinematic"')
    .option('--tenant <name>', 'who the jobs are rendered for (default: the batch id; fair shares and budgets)');
}

withJsonOption(
  withFileOptions(
    withRequestOptions(
      program
        .command('enqueue')
        .description('enqueue one prompt, or every render request in --file')
        .argument('[prompt]', 'the prompt text (or use --file)')
        .option(
          '-f, --file <path>',
          'render requests: CSV with a header row (columns named as the fields: prompt, duration, model, options.sound, ...), JSON Lines (one JSON object per line) or one JSON array; each carries its own fields',
        ),
    ),
  ),
)
  .option('--key <key>', 'S3 key for the video (relative to S3_PREFIX; one prompt only)')
  .option('--idempotency-key <key>', 'same key, same job: never two (one prompt only)')
  .option('--priority <n>', '1 (highest) to 2097152, for every job', int)
  .option('--delay <ms>', 'start no earlier than this many ms from now (at most 30 days), for every job', int)
  .option('--rejects <path>', 'where bad lines of --file are written (default: <file>.rejects.jsonl)')
  .option('--skip-bad', 'enqueue the good lines of --file even when some are bad (by default nothing is enqueued then)')
  .option('--dry-run', 'show what --file would add and what exists already; add nothing')
  .option('--wait', 'show progress (on stderr) until every job is stored or failed; exit 1 if one failed')
  .addHelpText(
    'after',
    helpAfter(
      [
        'sora-batch enqueue "a cat in a tiny astronaut suit" --duration 15 --wait',
        'sora-batch enqueue --file prompts.csv --batch nightly --template "a {animal} in {city}, cinematic"',
        'sora-batch enqueue --file prompts.jsonl --batch nightly --dry-run   # again after a crash: adds only what is missing',
        'sora-batch enqueue "a paper boat at dusk" --idempotency-key order-42 --json',
      ],
      [...REDIS_ENV, QUEUE_ENV, STYLE_ENV, 'LIMITER_PREFIX             where batches are recorded (default sora-batch)'],
    ),
  )
  .action(async (prompt: string | undefined, o: EnqueueFlags) => {
    if (o.file) {
      if (prompt !== undefined) throw new UsageError('give a prompt or --file, not both');
      const perRequest: string[] = Object.entries(REQUEST_OPTIONS)
        .filter(([field]) => o[field as keyof typeof REQUEST_OPTIONS] !== undefined)
        .map(([, flag]) => flag);
      if (o.idempotencyKey !== undefined) perRequest.push('--idempotency-key');
      if (perRequest.length)
        throw new UsageError(
          `${perRequest.join(', ')} ${perRequest.length === 1 ? 'applies' : 'apply'} to a prompt; with --file each request carries its own fields`,
        );
    } else {
      const fileOnly = (['template', 'rejects', 'skipBad', 'dryRun'] as const).filter((k) => o[k] !== undefined);
      if (fileOnly.length)
        throw new UsageError(
          `--${fileOnly.map((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')} ${fileOnly.length === 1 ? 'applies' : 'apply'} to --file`,
        );
      if (prompt === undefined) throw new UsageError('give a prompt, or --file with render requests');
    }
    await withProducer(async (producer, config) => {
      const opts = { batchId: o.batch, tenant: o.tenant, idempotencyKey: o.idempotencyKey, priority: o.priority, delay: o.delay };
      let requests: unknown[];
      const file = o.file;
      if (file) {
        const checked = checkFile(producer, { ...o, file });
        if (checked.bad && !o.skipBad) {
          throw new UsageError(
            `${count(checked.bad, 'bad line')} in ${file}: nothing enqueued; fix them (see ${checked.rejects}), or add --skip-bad to enqueue the other ${count(checked.good.length, 'line')}`,
          );
        }
        requests = keyedRequests(checked.good, o.batch);
        if (o.dryRun) return dryRun(producer, config, checked.good, lineIdempotencyKeys(checked.good, o.batch), o.json);
      } else requests = [requestFrom(prompt!, o)];
      const jobs = await producer.enqueueMany(requests, opts);
      const created = jobs.filter((j) => j.created).length;
      if (!o.json) {
        const existed = jobs.length - created;
        const ids =
          jobs
            .slice(0, IDS_SHOWN)
            .map((j) => j.jobId)
            .join(', ') + (jobs.length > IDS_SHOWN ? ` and ${jobs.length - IDS_SHOWN} more (--json lists all)` : '');
        process.stdout.write(
          `enqueued ${count(created, 'job')} on ${config.queueName}${existed ? ` (${existed} already existed)` : ''}: job id${jobs.length === 1 ? '' : 's'} ${ids}\n`,
        );
      }
      const outcome = o.wait
        ? await watchJobs(
            producer.queue,
            jobs.map((j) => j.jobId),
          )
        : undefined;
      printResult({ queue: config.queueName, jobs, ...(outcome ? { outcome } : {}) }, o.json, () => {
        if (!outcome) return;
        process.stdout.write(`stored ${outcome.stored.length} of ${count(jobs.length, 'job')}\n`);
        for (const f of outcome.failed) process.stdout.write(`failed job ${f.jobId}: ${f.reason}\n`);
      });
      if (outcome?.failed.length) process.exitCode = EXIT_FAILURE;
    });
  });

/** `enqueue --file --dry-run`: which lines would become jobs, and which are jobs already (same batch, same content). */
async function dryRun(
  producer: RenderProducer,
  config: Config,
  lines: CheckedLine[],
  keys: Array<string | undefined>,
  json: boolean | undefined,
): Promise<void> {
  const ids = keys.map((k) => (k === undefined ? undefined : jobIdForIdempotencyKey(k)));
  const existing = await producer.existingIds(ids);
  const entries = lines.map((l, i) => ({ line: l.line, jobId: ids[i] ?? null, exists: ids[i] !== undefined && existing.has(ids[i]) }));
  const wouldAdd = entries.filter((e) => !e.exists);
  printResult({ queue: config.queueName, wouldAdd, existing: entries.filter((e) => e.exists) }, json, () => {
    process.stdout.write(
      `dry run: would enqueue ${count(wouldAdd.length, 'job')} on ${config.queueName}; ${entries.length - wouldAdd.length} of ${count(entries.length, 'line')} exist already\n`,
    );
    if (wouldAdd.length)
      process.stdout.write(
        `would add lines ${wouldAdd
          .slice(0, 20)
          .map((e) => e.line)
          .join(', ')}${wouldAdd.length > 20 ? ` and ${wouldAdd.length - 20} more` : ''}\n`,
      );
    if (ids.some((id) => id === undefined))
      process.stdout.write('lines without a batch (--batch or their own batchId) get no idempotency key: enqueued again, they are added again\n');
  });
}

withJsonOption(
  withFileOptions(
    program
      .command('estimate')
      .description(
        "what a batch file will cost and take, before anything is enqueued: every line checked, cost per model, the accounts' quota, the budget, the finish time",
      )
      .argument('<file>', 'render requests as for enqueue --file (CSV, JSON Lines, one JSON array)')
      .option('--batch <batchId>', 'the batch it is for: its budget, and what it spent already')
      .option('--budget <usd>', "hold the estimate against this budget (default: the batch's)", dollars)
      .option('--rejects <path>', 'where bad lines are written (default: <file>.rejects.jsonl)'),
  ),
)
  .addHelpText(
    'after',
    helpAfter(
      ['sora-batch estimate prompts.csv --batch nightly', 'sora-batch estimate prompts.jsonl --budget 25 --json'],
      [
        ...REDIS_ENV,
        QUEUE_ENV,
        STYLE_ENV,
        ...ACCOUNT_ENV,
        'KIE_MAX_CONCURRENT, KIE_DAILY_LIMIT, KIE_MIN_INTERVAL_MS, POLL_INTERVAL_MS  the caps, as the workers run with',
        'KIE_TYPICAL_GENERATION_MS  time per clip assumed (default 180000)',
        'KIE_USD_PER_CREDIT         dollars per credit',
      ],
    ),
  )
  .action((file: string, o: JsonFlag & FileFlags & { batch?: string; budget?: number }) =>
    withProducer(async (producer, config, redis) => {
      const checked = checkFile(producer, { ...o, file });
      const estimate = estimateBatch(
        checked.good.map((l) => l.request),
        config,
        await readCapacity(redis, config),
        await budgetFor(producer, o.batch, o.budget),
      );
      printResult({ file, estimate, badLines: checked.bad }, o.json, () => printEstimate(estimate, `estimate for ${file}`));
      if (checked.bad) process.exitCode = EXIT_USAGE;
    }),
  );

/** Money in the daily window, budget waiters, and each tenant's share against its TENANT_LIMITS. */
function printSpend(spend: SpendStatus, config: Config): void {
  const budget = config.kie.dailyBudgetUsd;
  process.stdout.write(
    `spend in the daily window: ${usd(spend.usedUsd)} (${usd(spend.reservedUsd)} reserved)` +
      (budget === undefined ? ', no daily budget' : `, daily budget ${usd(budget)} (KIE_DAILY_BUDGET_USD), left ${usd(Math.max(0, budget - spend.usedUsd))}`) +
      (spend.budgetWaiters ? `; ${count(spend.budgetWaiters, 'job')} waiting (reason budget)\n` : '\n'),
  );
  for (const [tenant, t] of Object.entries(spend.tenants)) {
    const limits = config.tenantLimits[tenant];
    const caps = limits
      ? ` (TENANT_LIMITS: ${limits.concurrent ?? '-'} in flight, ${limits.daily ?? '-'} a day, ${limits.budgetUsd === undefined ? 'no budget' : usd(limits.budgetUsd)})`
      : '';
    process.stdout.write(`tenant ${tenant || '(none)'}: ${count(t.submits, 'submit')}, ${usd(t.usedUsd)} in the window${caps}\n`);
  }
}

/** A batch id given on the command line, or a usage error. */
function batchIdArg(id: string): string {
  return parseWith(batchFieldsSchema, { id }).id!;
}

function printStatus(st: BatchStatus): void {
  const c = st.counts;
  process.stdout.write(
    `batch ${st.batchId} on ${st.queue} (tenant ${st.tenant}): ${st.state}\n` +
      `jobs ${st.jobs}: waiting ${c.waiting}, submitted ${c.submitted}, stored ${c.stored}, failed ${c.failed}, cancelled ${c.cancelled}\n` +
      `stored ${count(st.videosStored, 'video')}, ${st.secondsRendered} s rendered, ${st.bytesStored} bytes\n` +
      `spent ${usd(st.spentUsd)}, reserved ${usd(st.reservedUsd)}` +
      (st.budgetUsd === null ? ', no budget\n' : `, budget ${usd(st.budgetUsd)}, left ${usd(st.budgetLeftUsd!)}\n`) +
      (st.waitingForBudget ? `${count(st.waitingForBudget, 'job')} waiting (reason budget): raise it with sora-batch batch budget ${st.batchId} <usd>\n` : '') +
      (st.estimatedFinishAt ? `estimated finish: ${st.estimatedFinishAt}\n` : '') +
      (st.endedAt ? `ended at ${st.endedAt}\n` : '') +
      (st.manifest ? `manifest: s3 key ${st.manifest.key} (written ${st.manifest.writtenAt})\n` : ''),
  );
  for (const f of st.failures) process.stdout.write(`failed job ${f.jobId}: ${f.reason}\n`);
}

const BATCH_ENV = [...REDIS_ENV, QUEUE_ENV, 'LIMITER_PREFIX             where batches are recorded (default sora-batch)'];

async function showBatch(id: string, json: boolean | undefined): Promise<void> {
  await withProducer(async (producer, config, redis) => {
    const st = await batchStatus(producer.batches, batchIdArg(id), await readCapacity(redis, config));
    if (!st) throw new UsageError(`no batch ${id} on ${config.queueName}`);
    printResult(st, json, printStatus);
  });
}

const batch = withJsonOption(
  program
    .command('batch')
    .description('a batch: its status (counts, spend, budget, finish time, failures); create, budget, cancel, export')
    .argument('[id]', 'the batch (same as `batch status <id>`)'),
)
  .addHelpText(
    'after',
    helpAfter(
      [
        'sora-batch batch nightly',
        'sora-batch batch nightly --json | jq .spentUsd',
        'sora-batch batch cancel nightly',
        'sora-batch batch export nightly --format csv > nightly.csv',
      ],
      BATCH_ENV,
    ),
  )
  .action(async (id: string | undefined, o: JsonFlag) => {
    if (id === undefined) return void batch.help({ error: true });
    await showBatch(id, o.json);
  });
withJsonOption(
  batch
    .command('status')
    .description('counts by state, videos stored, seconds rendered, money spent and reserved, budget left, finish time, failures')
    .argument('<id>', 'the batch'),
)
  .addHelpText('after', helpAfter(['sora-batch batch status nightly --json'], BATCH_ENV))
  .action((id: string, o: JsonFlag) => showBatch(id, o.json));
batch
  .command('create')
  .description('create a batch with a budget, a tenant or a notifyUrl for its batch.completed (jobs naming it as batchId join it)')
  .argument('<id>', 'the batch id (1 to 200 characters; also the S3 folder of its videos)')
  .option('--budget <usd>', 'budget in dollars', dollars)
  .option('--tenant <name>', 'who it is rendered for (default: the batch id)')
  .option('--notify-url <url>', 'receives a signed batch.completed when the batch ends')
  .addHelpText(
    'after',
    helpAfter(
      ['sora-batch batch create nightly --budget 25 --notify-url https://example.com/hooks/renders'],
      [...BATCH_ENV, 'NOTIFY_ALLOW_PRIVATE       allow a notifyUrl on a private address'],
    ),
  )
  .action((id: string, o: { tenant?: string; budget?: number; notifyUrl?: string }) =>
    withProducer(async (producer, config) => {
      const fields = parseWith(batchFieldsSchema, { id, tenant: o.tenant, budgetUsd: o.budget, notifyUrl: o.notifyUrl });
      const { created } = await openBatch(producer.batches, fields, config.notify.allowPrivate);
      process.stdout.write(created ? `batch ${id} created on ${config.queueName}\n` : `batch ${id} exists already with these fields\n`);
    }),
  );
batch
  .command('budget')
  .description("set a batch's budget in dollars, or remove it with `none`")
  .argument('<id>', 'the batch')
  .argument('<usd>', 'dollars, or none')
  .addHelpText('after', helpAfter(['sora-batch batch budget nightly 40', 'sora-batch batch budget nightly none'], BATCH_ENV))
  .action((id: string, amount: string) =>
    withProducer(async (producer, config, redis) => {
      if (amount !== 'none' && !/^\d+(\.\d+)?$/.test(amount))
        throw new UsageError(`<usd> must be a number of dollars, e.g. 25 or 12.50, or none (got ${amount})`);
      const budget = amount === 'none' ? null : Number(amount);
      if (!(await producer.batches.setBudget(batchIdArg(id), budget))) throw new UsageError(`no batch ${id} on ${config.queueName}`);
      const woken = await wakeBudgetWaiters(redis, config.limiterPrefix);
      process.stdout.write(
        (budget === null ? `batch ${id}: budget removed` : `batch ${id}: budget ${usd(budget)}`) +
          (woken ? `; ${woken} job(s) waiting for a budget woken\n` : '\n'),
      );
    }),
  );
withJsonOption(
  batch
    .command('cancel')
    .description('cancel a batch: jobs not yet submitted are removed, submitted ones finish and are stored (they are paid for), then it is cancelled')
    .argument('<id>', 'the batch'),
)
  .addHelpText('after', helpAfter(['sora-batch batch cancel nightly'], BATCH_ENV))
  .action((id: string, o: JsonFlag) =>
    withProducer(async (producer, config) => {
      const outcome = await cancelBatch(producer.queue, producer.batches, batchIdArg(id));
      if (outcome.outcome === 'none') throw new UsageError(`no batch ${id} on ${config.queueName}`);
      const record = (await producer.batches.read(id))!;
      printResult({ batchId: id, ...outcome, state: record.state, submitted: record.counts.submitted }, o.json, () => {
        if (outcome.outcome === 'finished') return void process.stdout.write(`batch ${id} had finished: nothing to cancel\n`);
        process.stdout.write(
          `batch ${id}: ${count(outcome.removed, 'job')} removed before submit; ` +
            (record.state === 'cancelled' ? 'cancelled\n' : `${count(record.counts.submitted, 'submitted job')} finishing (paid for), then cancelled\n`),
        );
      });
    }),
  );
batch
  .command('export')
  .description("every ended job of the batch, one line each (the manifest's lines): key, size, sha256, model, prompt, cost, taskId, times, or the failure")
  .argument('<id>', 'the batch')
  .option('--format <format>', 'jsonl or csv', 'jsonl')
  .addHelpText('after', helpAfter(['sora-batch batch export nightly > nightly.jsonl', 'sora-batch batch export nightly --format csv'], BATCH_ENV))
  .action((id: string, o: { format: string }) =>
    withProducer(async (producer, config) => {
      if (!MANIFEST_FORMATS.includes(o.format as ManifestFormat)) throw new UsageError(`--format must be ${MANIFEST_FORMATS.join(' or ')} (got ${o.format})`);
      if (!(await producer.batches.read(batchIdArg(id)))) throw new UsageError(`no batch ${id} on ${config.queueName}`);
      process.stdout.write(formatManifest(await producer.batches.lines(id), o.format as ManifestFormat));
    }),
  );

const schedules = program.command('schedules').description('recurring renders: one new video per iteration');
withRequestOptions(
  schedules
    .command('add')
    .description('create or replace the schedule <id> for <prompt>')
    .argument('<id>', 'schedule name: letters, digits, . _ -')
    .argument('<prompt>', 'the prompt text')
    .option('--cron <pattern>', 'cron pattern, e.g. "0 3 * * *" (03:00 daily)')
    .option('--tz <zone>', 'time zone of --cron, e.g. Europe/Berlin (default UTC)')
    .option('--every <ms>', 'or a fixed period in milliseconds (at least SCHEDULE_MIN_INTERVAL_MS, default 60000)', int),
)
  .addHelpText(
    'after',
    helpAfter(
      [
        'sora-batch schedules add harbour "the harbour at night" --cron "0 3 * * *" --tz Europe/Lisbon',
        'sora-batch schedules add clock "a clock tower" --every 3600000 --quality high',
      ],
      [...REDIS_ENV, QUEUE_ENV, STYLE_ENV],
    ),
  )
  .action(async (id: string, prompt: string, o: RequestFlags & { cron?: string; tz?: string; every?: number }) => {
    await withProducer(async (producer, config) => {
      const timing = { cron: o.cron, tz: o.tz, everyMs: o.every };
      const s = await scheduleRender(producer, id, timing, requestFrom(prompt, o), { minIntervalMs: config.scheduleMinIntervalMs });
      process.stdout.write(`schedule ${s.id} saved; next render at ${s.next ?? 'unknown'}\n`);
    });
  });
withJsonOption(schedules.command('list').description('every schedule with its timing, next run and prompt'))
  .addHelpText('after', helpAfter(['sora-batch schedules list', 'sora-batch schedules list --json'], [...REDIS_ENV, QUEUE_ENV]))
  .action((o: JsonFlag) =>
    withProducer(async (producer, config) => {
      printResult(await listRenderSchedules(producer), o.json, (list) => {
        if (!list.length) return void process.stdout.write(`no schedules on ${config.queueName}\n`);
        process.stdout.write(`schedules on ${config.queueName}:\n`);
        console.table(
          list.map((s) => ({
            id: s.id,
            when: s.cron ? `${s.cron}${s.tz ? ` (${s.tz})` : ''}` : `every ${s.everyMs} ms`,
            next: s.next ?? '',
            prompt: s.request.type === 'text' ? s.request.prompt : `storyboard, ${s.request.shots.length} shots`,
          })),
        );
      });
    }),
  );
schedules
  .command('remove')
  .description('stop a schedule (renders it already enqueued still run)')
  .argument('<id>', 'the schedule')
  .addHelpText('after', helpAfter(['sora-batch schedules remove harbour'], [...REDIS_ENV, QUEUE_ENV]))
  .action((id: string) =>
    withProducer(async (producer, config) => {
      if (!(await removeRenderSchedule(producer, id))) throw new UsageError(`no schedule ${id} on ${config.queueName}`);
      process.stdout.write(`schedule ${id} removed\n`);
    }),
  );

withJsonOption(program.command('status').description('job counts of the queue and the state of every KIE account'))
  .addHelpText(
    'after',
    helpAfter(
      ['sora-batch status', 'sora-batch status --json | jq .spend'],
      [
        ...REDIS_ENV,
        QUEUE_ENV,
        ...ACCOUNT_ENV,
        'KIE_DAILY_WINDOW, KIE_DAILY_WINDOW_MS, KIE_MIN_INTERVAL_MS  as the workers run with',
        "KIE_DAILY_BUDGET_USD, TENANT_LIMITS  as the workers run with (the spend shown is the fleet's)",
      ],
    ),
  )
  .action(async (o: JsonFlag) => {
    await withRedis(async (redis, config) => {
      const producer = new RenderProducer({ connection: redis, queueName: config.queueName, logger: stderrTrouble });
      let status: Awaited<ReturnType<typeof readFleetStatus>>;
      try {
        status = await readFleetStatus(redis, config, producer.queue);
      } finally {
        await producer.close();
      }
      const { counts, accounts, pausedModels, spend } = status;
      printResult(status, o.json, () => {
        process.stdout.write(
          `queue ${config.queueName}: ${Object.entries(counts)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}\n`,
        );
        if (!accounts.length) {
          process.stdout.write(`accounts: none configured in this shell, and no worker has registered any under LIMITER_PREFIX=${config.limiterPrefix}\n`);
          return;
        }
        process.stdout.write(`accounts (${status.accountsFrom === 'configured' ? 'configured in this shell' : "as the fleet's workers registered them"}):\n`);
        console.table(
          accounts.map((a) => ({
            account: a.account,
            'in flight': `${a.inFlight}/${a.maxConcurrent}`,
            'submits in window': `${a.submitsInWindow}/${a.dailyLimit}`,
            'quota back at': a.nextQuotaAt ? new Date(a.nextQuotaAt).toISOString() : '',
            paused: a.paused ?? '',
            // Known balance: the last reading less what submits spent since (KIE_API_STYLE=jobs only).
            credits: a.credits ? `${a.credits.credits} (read ${new Date(a.credits.readAt).toISOString()})` : '',
            waiters: a.waiters,
          })),
        );
        if (spend) printSpend(spend, config);
        for (const m of pausedModels) {
          process.stdout.write(
            `model ${m.model} paused by ${m.paused!.by} since ${new Date(m.paused!.since).toISOString()}: ${m.paused!.reason} (${count(m.waiters, 'job')} waiting)\n`,
          );
        }
      });
    });
  });

const accounts = program.command('accounts').description('operator actions on KIE accounts');
accounts
  .command('pause')
  .description('take an account out of rotation fleet-wide (its tasks in flight still finish)')
  .argument('<name>', 'the account')
  .option('--reason <text>', 'shown in status', 'paused by an operator')
  .addHelpText('after', helpAfter(['sora-batch accounts pause acme --reason "billing"'], [...REDIS_ENV, ...ACCOUNT_ENV]))
  .action((name: string, o: ReasonFlag) =>
    withRedis(async (redis, config) => {
      await pauseAccount(redis, config, name, o.reason);
      process.stdout.write(`account ${name} paused: ${o.reason}\n`);
    }),
  );
accounts
  .command('resume')
  .description('put a paused account (e.g. after "insufficient credits") back into rotation')
  .argument('<name>', 'the account')
  .addHelpText('after', helpAfter(['sora-batch accounts resume acme'], [...REDIS_ENV, ...ACCOUNT_ENV]))
  .action((name: string) =>
    withRedis(async (redis, config) => {
      const woken = await resumeAccount(redis, config, name);
      process.stdout.write(`account ${name} resumed; ${count(woken, 'waiting job')} woken\n`);
    }),
  );

const MODEL_ENV = 'KIE_DEFAULT_MODEL, KIE_MODELS_FILE  the catalog this shell sees (default sora-2; your own entries)';

/** A catalog id, or a usage error naming the ones there are. */
function knownModel(config: Config, id: string): string {
  if (!Object.hasOwn(config.kie.models.entries, id))
    throw new UsageError(`no model ${id} in the catalog (known: ${Object.keys(config.kie.models.entries).join(', ')})`);
  return id;
}

const models = withJsonOption(
  program
    .command('models')
    .description('the model catalog: status at KIE when checked, runtime pause, prices (KIE_DEFAULT_MODEL, KIE_MODELS_FILE)')
    .option('--markdown', "the README's table of the catalog (reads no Redis)"),
)
  .addHelpText('after', helpAfter(['sora-batch models', 'sora-batch models --json', 'sora-batch models --markdown'], [...REDIS_ENV, MODEL_ENV]))
  .action(async (o: { json?: boolean; markdown?: boolean }) => {
    if (o.markdown) {
      const config = loadConfig(process.env, { accountsRequired: false });
      process.stdout.write(`${modelsMarkdown(config.kie.models)}\n`);
      return;
    }
    await withRedis(async (redis, config) => {
      const pauses = new Map((await modelStatus(redis, config)).map((m) => [m.model, m]));
      const entries = Object.values(config.kie.models.entries).map((e) => ({
        ...e,
        default: e.id === config.kie.models.defaultModel,
        paused: pauses.get(e.id)?.paused ?? null,
        waiters: pauses.get(e.id)?.waiters ?? 0,
      }));
      printResult(entries, o.json, (list) => {
        process.stdout.write(`models (default ${config.kie.models.defaultModel}):\n`);
        console.table(
          list.map((e) => {
            const modes = Object.keys(e.modes).map((m) => ({ text: 't2v', image: 'i2v', storyboard: 'storyboard' })[m]);
            const main = e.modes.text ?? e.modes.storyboard ?? e.modes.image!;
            return {
              model: e.id + (e.default ? ' (default)' : ''),
              family: e.family,
              status: e.status + (e.unavailable ? `: ${e.unavailable}` : ''),
              paused: e.paused ? `${e.paused.by}: ${e.paused.reason} (${e.waiters} waiting)` : '',
              modes: modes.join(', '),
              seconds: listOf(main.duration.seconds),
              credits: `${main.price.credits}/${main.price.per}${main.price.verified ? '' : ' (unverified)'}`,
            };
          }),
        );
      });
    });
  });
models
  .command('resume')
  .description('put a paused model back (KIE serves it again) and wake the jobs waiting for it')
  .argument('<id>', 'the catalog id')
  .addHelpText('after', helpAfter(['sora-batch models resume sora-2'], [...REDIS_ENV, MODEL_ENV]))
  .action((id: string) =>
    withRedis(async (redis, config) => {
      const woken = await resumeModel(redis, config, knownModel(config, id));
      process.stdout.write(`model ${id} resumed; ${count(woken, 'waiting job')} woken\n`);
    }),
  );
models
  .command('pause')
  .description('take a model out of rotation fleet-wide until resumed (no probes; tasks in flight still finish)')
  .argument('<id>', 'the catalog id')
  .option('--reason <text>', 'shown in status', 'paused by an operator')
  .addHelpText('after', helpAfter(['sora-batch models pause kling-2.6 --reason "quality regression"'], [...REDIS_ENV, MODEL_ENV]))
  .action((id: string, o: ReasonFlag) =>
    withRedis(async (redis, config) => {
      await pauseModel(redis, config, knownModel(config, id), o.reason);
      process.stdout.write(`model ${id} paused: ${o.reason}\n`);
    }),
  );

program.parseAsync().catch((err: unknown) => {
  // Commander has printed its own message (or the help, or the version) already.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  process.stderr.write(`sora-batch: ${(err as Error).message}\n`);
  const usage =
    err instanceof UsageError ||
    err instanceof ConfigError ||
    err instanceof ValidationError ||
    err instanceof UnknownAccountError ||
    err instanceof BatchConflictError;
  process.exit(usage ? EXIT_USAGE : EXIT_FAILURE);
});
