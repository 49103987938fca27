/**
 * A limiter client as its own OS process, for tests of acquirers in several processes: it runs the
 * steps given as JSON in argv[2] (each at a pinned Redis time), in lockstep with the other processes
 * (step i starts once every process has reached it, so they contest each pinned instant together),
 * and prints one JSON array of answers. Run with `node --import tsx`.
 */
import { Redis } from 'ioredis';
import { AccountLimiter, LimiterOptions, RequestClass, TurnKind } from '../../src/pool/limiter/accountLimiter';

export type LimiterStep =
  /** A worker's job: `<job>-0`, asking again until granted, then `<job>-1`, and so on. */
  | { op: 'submit'; job: string; nowMs: number }
  | { op: 'turn'; account: string; kind: TurnKind; cls: RequestClass; nowMs: number }
  | { op: 'send'; account: string; cls: RequestClass; token: string; nowMs: number };

export interface LimiterStepsInput {
  redisUrl: string;
  options: LimiterOptions;
  /** Key prefix of the lockstep counters; every process of one run uses the same. */
  barrier: string;
  processes: number;
  steps: LimiterStep[];
}

async function lockstep(redis: Redis, key: string, processes: number): Promise<void> {
  await redis.incr(key);
  while (Number(await redis.get(key)) < processes) await new Promise((r) => setTimeout(r, 1));
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]!) as LimiterStepsInput;
  const redis = new Redis(input.redisUrl, { maxRetriesPerRequest: 1 });
  const limiter = new AccountLimiter(redis, input.options);
  const answers: unknown[] = [];
  const granted = new Map<string, number>();
  for (const [i, step] of input.steps.entries()) {
    await lockstep(redis, `${input.barrier}:${i}`, input.processes);
    if (step.op === 'submit') {
      const jobId = `${step.job}-${granted.get(step.job) ?? 0}`;
      const grant = await limiter.acquireSubmit(jobId, { nowMs: step.nowMs });
      if (grant.granted) granted.set(step.job, (granted.get(step.job) ?? 0) + 1);
      answers.push({ jobId, ...grant });
    } else if (step.op === 'turn') {
      answers.push(await limiter.tryRequestTurn(step.account, step.kind, step.nowMs, step.cls));
    } else {
      answers.push(await limiter.fenceSend(step.account, step.cls, step.token, step.nowMs));
    }
  }
  process.stdout.write(JSON.stringify(answers));
  await redis.quit();
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
