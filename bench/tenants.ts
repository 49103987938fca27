/**
 * Fair-share benchmark: two tenants on one KIE account (10 slots) against the simulator with short
 * generation times: one with --big jobs enqueued first, one with --small jobs --gap ms later. Prints
 * the small tenant's last-stored time as a ratio to its own time alone (measured on the same stack
 * just before), with fair shares (the default) and without (FAIR_SHARES=false: first come, first
 * served), side by side, and how much of the big backlog was stored before the small one was done.
 *
 *   npm run bench:tenants -- [--big 500] [--small 10] [--gap 500] [--gen 400-600] [--fifo-too true]
 *
 * Real Redis on REDIS_URL (default 127.0.0.1:6379; keys under a fresh prefix, removed at the end),
 * an in-process S3 server and simulator, one in-process worker (WORKER_CONCURRENCY 50).
 */
import { parseArgs } from 'node:util';
import { startRenderStack } from '../test/support/renderStack';
import { raceTenants, TenantRace } from '../test/support/tenantRace';

const { values: o } = parseArgs({
  options: {
    big: { type: 'string', default: '500' },
    small: { type: 'string', default: '10' },
    gap: { type: 'string', default: '500' },
    gen: { type: 'string', default: '400-600' },
    'fifo-too': { type: 'string', default: 'true' },
  },
});
const [genMin, genMax] = o.gen.split('-').map(Number) as [number, number];

async function run(fair: boolean): Promise<TenantRace> {
  const stack = await startRenderStack({
    sim: { generationMs: [genMin, genMax], dailyLimit: 1_000_000 },
    env: { LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '50', FAIR_SHARES: String(fair) },
  });
  try {
    await stack.startWorker();
    return await raceTenants(stack, { big: Number(o.big), small: Number(o.small), gapMs: Number(o.gap), tag: fair ? 'fair' : 'fifo', timeoutMs: 30 * 60_000 });
  } finally {
    await stack.close();
  }
}

async function main(): Promise<void> {
  const rows: Record<string, Record<string, string | number>> = {};
  const modes = o['fifo-too'] === 'true' ? [true, false] : [true];
  for (const fair of modes) {
    const r = await run(fair);
    rows[fair ? 'fair shares' : 'FIFO (FAIR_SHARES=false)'] = {
      'small alone (ms)': r.aloneMs,
      'small behind big (ms)': r.smallMs,
      ratio: Number(r.ratio.toFixed(2)),
      [`big stored before (of ${o.big})`]: r.bigStoredBefore,
      'big makespan (ms)': r.bigMs,
    };
  }
  process.stdout.write(`two tenants, one account of 10 slots: ${o.big} big jobs, then ${o.small} small ones ${o.gap} ms later; generation ${o.gen} ms\n`);
  console.table(rows);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
