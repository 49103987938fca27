/** The `sora-batch` command: enqueue renders, watch them, look at the queue and the accounts. */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../shared/config';
import { ConfigError, ValidationError } from '../shared/errors';
import { connectRedis } from '../shared/redis';
import { readBalances } from '../pool/accountCredits';
import { accountStatus, pauseAccount, resumeAccount } from '../pool/accountControl';
import { modelStatus, pauseModel, resumeModel } from '../pool/modelControl';
import { modelsMarkdown } from '../kie/catalog/modelsTable';
import { listOf } from '../kie/catalog/resolveRequest';
import { RenderProducer } from './renderProducer';
import { listRenderSchedules, removeRenderSchedule, scheduleRender } from './renderSchedules';
import { watchJobs } from './watchJobs';

const int = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};

/** One JSON request per line (JSON Lines), or one JSON array. */
function readRequests(file: string): unknown[] {
  const text = readFileSync(file, 'utf8').trim();
  if (text.startsWith('[')) return JSON.parse(text) as unknown[];
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new ValidationError([{ field: `${file}:${i + 1}`, value: line, rule: 'must be one JSON object per line' }]);
      }
    });
}

async function withRedis<T>(fn: (redis: ReturnType<typeof connectRedis>, config: ReturnType<typeof loadConfig>) => Promise<T>, accountsRequired = false): Promise<T> {
  const config = loadConfig(process.env, { accountsRequired });
  const redis = connectRedis(config.redisUrl);
  try {
    return await fn(redis, config);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

async function withProducer<T>(fn: (producer: RenderProducer, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  return withRedis(async (redis, config) => {
    const producer = new RenderProducer({ connection: redis, queueName: config.queueName, models: config.kie.models, notifyAllowPrivate: config.notify.allowPrivate });
    try {
      return await fn(producer, config);
    } finally {
      await producer.close();
    }
  });
}

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
    .option('--aspect-ratio <ratio>', "16:9, 9:16, 1:1 ... (the model's)")
    .option('--duration <seconds>', "clip length (the model's; Sora 2: 10 | 15)", int)
    .option('--quality <quality>', 'standard | high (Sora 2 only)')
    .option('--seed <seed>', "the model's seed range (Sora 2, Veo: 10000..99999)", int)
    .option('--batch <batchId>', 'batch id (also the S3 folder of the videos)');
}

const program = new Command('sora-batch').description('Render video prompts in bulk through KIE.ai (Sora 2, Veo 3.1, Kling, ...) into S3');

withRequestOptions(
  program
    .command('enqueue')
    .description('enqueue one prompt, or every request in --file (JSON Lines or a JSON array)')
    .argument('[prompt]', 'the prompt text')
    .option('-f, --file <path>', 'requests to enqueue, one JSON object per line'),
)
  .option('--key <key>', 'S3 key for the video (relative to S3_PREFIX)')
  .option('--idempotency-key <key>', 'same key, same job: never two')
  .option('--priority <n>', '1 (highest) ..', int)
  .option('--delay <ms>', 'start no earlier than this many ms from now (at most 30 days)', int)
  .option('--wait', 'show progress until every job is stored or failed')
  .action(async (prompt: string | undefined, o) => {
    let requests: unknown[];
    if (o.file) requests = readRequests(o.file as string);
    else if (prompt) requests = [requestFrom(prompt, o)];
    else throw new InvalidArgumentError('give a prompt or --file');
    await withProducer(async (producer, config) => {
      const jobs = await producer.enqueueMany(requests, { batchId: o.batch, idempotencyKey: o.idempotencyKey, priority: o.priority, delay: o.delay });
      const created = jobs.filter((j) => j.created).length;
      process.stdout.write(`enqueued ${created} job(s) on ${config.queueName}${created < jobs.length ? ` (${jobs.length - created} already existed)` : ''}\n`);
      for (const j of jobs) process.stdout.write(`${j.jobId}\n`);
      if (o.wait) {
        const outcome = await watchJobs(producer.queue, jobs.map((j) => j.jobId));
        for (const f of outcome.failed) process.stdout.write(`failed ${f.jobId}: ${f.reason}\n`);
        process.exitCode = outcome.failed.length ? 1 : 0;
      }
    });
  });

const schedules = program.command('schedules').description('recurring renders: one new video per iteration');
withRequestOptions(
  schedules
    .command('add')
    .description('create or replace the schedule <id> for <prompt>')
    .argument('<id>', 'schedule name: letters, digits, . _ -')
    .argument('<prompt>', 'the prompt text')
    .option('--cron <pattern>', 'cron pattern, e.g. "0 3 * * *" (03:00 daily)')
    .option('--tz <zone>', 'time zone of --cron, e.g. Europe/Berlin (default UTC)')
    .option('--every <ms>', 'or a fixed period in milliseconds', int),
).action(async (id: string, prompt: string, o) => {
  await withProducer(async (producer, config) => {
    const timing = { cron: o.cron, tz: o.tz, everyMs: o.every };
    const s = await scheduleRender(producer, id, timing, requestFrom(prompt, o), { minIntervalMs: config.scheduleMinIntervalMs });
    process.stdout.write(`schedule ${s.id} saved; next render at ${s.next ?? 'unknown'}\n`);
  });
});
schedules
  .command('list')
  .description('every schedule with its timing, next run and request')
  .action(() =>
    withProducer(async (producer) => {
      console.table(
        (await listRenderSchedules(producer)).map((s) => ({
          id: s.id,
          when: s.cron ? `${s.cron}${s.tz ? ` (${s.tz})` : ''}` : `every ${s.everyMs} ms`,
          next: s.next ?? '',
          prompt: s.request.type === 'text' ? s.request.prompt : `storyboard, ${s.request.shots.length} shots`,
        })),
      );
    }),
  );
schedules
  .command('remove <id>')
  .description('stop a schedule (renders it already enqueued still run)')
  .action((id: string) =>
    withProducer(async (producer) => {
      if (!(await removeRenderSchedule(producer, id))) throw new InvalidArgumentError(`no schedule ${id}`);
      process.stdout.write(`schedule ${id} removed\n`);
    }),
  );

program
  .command('status')
  .description('job counts of the queue and the state of every KIE account')
  .action(async () => {
    await withRedis(async (redis, config) => {
      const producer = new RenderProducer({ connection: redis, queueName: config.queueName });
      try {
        const counts = await producer.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
        process.stdout.write(`queue ${config.queueName}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
      } finally {
        await producer.close();
      }
      const balances = new Map(
        (await readBalances(redis, config.limiterPrefix, config.kie.accounts.map((a) => a.name))).map((b) => [b.account, b]),
      );
      console.table(
        (await accountStatus(redis, config)).map((a) => ({
          account: a.account,
          'in flight': `${a.inFlight}/${a.maxConcurrent}`,
          'submits in window': `${a.submitsInWindow}/${a.dailyLimit}`,
          'quota back at': a.nextQuotaAt ? new Date(a.nextQuotaAt).toISOString() : '',
          paused: a.paused ?? '',
          // Known balance: the last reading less what submits spent since (KIE_API_STYLE=jobs only).
          credits: balances.has(a.account) ? `${balances.get(a.account)!.credits} (read ${new Date(balances.get(a.account)!.readAt).toISOString()})` : '',
          waiters: a.waiters,
        })),
      );
      const pausedModels = (await modelStatus(redis, config)).filter((m) => m.paused);
      for (const m of pausedModels) {
        process.stdout.write(`model ${m.model} paused by ${m.paused!.by} since ${new Date(m.paused!.since).toISOString()}: ${m.paused!.reason} (${m.waiters} job(s) waiting)\n`);
      }
    }, true);
  });

const accounts = program.command('accounts').description('operator actions on KIE accounts');
accounts
  .command('pause <name>')
  .description('take an account out of rotation fleet-wide (its tasks in flight still finish)')
  .option('--reason <text>', 'shown in status', 'paused by an operator')
  .action((name: string, o) => withRedis((redis, config) => pauseAccount(redis, config, name, o.reason as string), true));
accounts
  .command('resume <name>')
  .description('put a paused account (e.g. after "insufficient credits") back into rotation')
  .action((name: string) =>
    withRedis(async (redis, config) => {
      const woken = await resumeAccount(redis, config, name);
      process.stdout.write(`account ${name} resumed; ${woken} waiting job(s) woken\n`);
    }, true),
  );

const models = program
  .command('models')
  .description('the model catalog: status at KIE when checked, runtime pause, prices (KIE_DEFAULT_MODEL, KIE_MODELS_FILE)')
  .option('--json', 'every entry as JSON, with its runtime pause')
  .option('--markdown', "the README's table of the catalog (reads no Redis)")
  .action(async (o: { json?: boolean; markdown?: boolean }) => {
    if (o.markdown) {
      const config = loadConfig(process.env, { accountsRequired: false });
      process.stdout.write(`${modelsMarkdown(config.kie.models)}\n`);
      return;
    }
    await withRedis(async (redis, config) => {
      const pauses = new Map((await modelStatus(redis, config)).map((m) => [m.model, m]));
      const entries = Object.values(config.kie.models.entries);
      if (o.json) {
        const list = entries.map((e) => ({ ...e, default: e.id === config.kie.models.defaultModel, paused: pauses.get(e.id)?.paused ?? null, waiters: pauses.get(e.id)?.waiters ?? 0 }));
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      console.table(
        entries.map((e) => {
          const pause = pauses.get(e.id);
          const modes = Object.keys(e.modes).map((m) => ({ text: 't2v', image: 'i2v', storyboard: 'storyboard' })[m]);
          const main = e.modes.text ?? e.modes.storyboard ?? e.modes.image!;
          return {
            model: e.id + (e.id === config.kie.models.defaultModel ? ' (default)' : ''),
            family: e.family,
            status: e.status + (e.unavailable ? `: ${e.unavailable}` : ''),
            paused: pause?.paused ? `${pause.paused.by}: ${pause.paused.reason} (${pause.waiters} waiting)` : '',
            modes: modes.join(', '),
            seconds: listOf(main.duration.seconds),
            credits: `${main.price.credits}/${main.price.per}${main.price.verified ? '' : ' (unverified)'}`,
          };
        }),
      );
    });
  });
models
  .command('resume <id>')
  .description('put a paused model back (KIE serves it again) and wake the jobs waiting for it')
  .action((id: string) =>
    withRedis(async (redis, config) => {
      if (!Object.hasOwn(config.kie.models.entries, id)) throw new InvalidArgumentError(`no model ${id} in the catalog (known: ${Object.keys(config.kie.models.entries).join(', ')})`);
      const woken = await resumeModel(redis, config, id);
      process.stdout.write(`model ${id} resumed; ${woken} waiting job(s) woken\n`);
    }),
  );
models
  .command('pause <id>')
  .description('take a model out of rotation fleet-wide until resumed (no probes; tasks in flight still finish)')
  .option('--reason <text>', 'shown in status', 'paused by an operator')
  .action((id: string, o) =>
    withRedis(async (redis, config) => {
      if (!Object.hasOwn(config.kie.models.entries, id)) throw new InvalidArgumentError(`no model ${id} in the catalog (known: ${Object.keys(config.kie.models.entries).join(', ')})`);
      await pauseModel(redis, config, id, o.reason as string);
      process.stdout.write(`model ${id} paused\n`);
    }),
  );

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof ValidationError || err instanceof InvalidArgumentError) {
    process.stderr.write(`sora-batch: ${(err as Error).message}\n`);
    process.exit(2);
  }
  process.stderr.write(`sora-batch: ${(err as Error).message}\n`);
  process.exit(1);
});
