/**
 * Loads the limiter's Lua scripts (one file per verb, BullMQ style) onto a connection. A file
 * named `verb-N.lua` takes exactly N keys; `verb.lua` takes a count that depends on the accounts.
 * Shared pieces live in `_name.lua` files and are pulled in by a `--- @include "_name"` line.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

export type LimiterScript =
  | 'acquireSubmit'
  | 'tryRequestTurn'
  | 'releaseSlot'
  | 'resume'
  | 'bindTask'
  | 'refundSubmit'
  | 'readStatus'
  | 'sweepExpiredSlots'
  | 'scheduleCheck'
  | 'claimCheck'
  | 'confirmSubmit'
  | 'confirmCharge'
  | 'fenceSend'
  | 'widenMargin'
  | 'hurryCheck'
  | 'checkModel'
  | 'pauseModel'
  | 'resumeModel';

export type ScriptArg = string | number;

export interface LimiterScripts {
  run(script: LimiterScript, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown>;
}

interface ScriptSource {
  readonly lua: string;
  readonly numberOfKeys?: number;
}

const INCLUDE = /^--- @include "([\w-]+)"\s*$/gm;
const COMMAND_PREFIX = 'accountLimiter_';

function inline(dir: string, name: string, seen: Set<string>): string {
  const text = readFileSync(join(dir, `${name}.lua`), 'utf8');
  return text.replace(INCLUDE, (_line, include: string) => {
    // A piece pulled in twice would declare its locals twice.
    if (seen.has(include)) return '';
    seen.add(include);
    return inline(dir, include, seen);
  });
}

let sources: Map<string, ScriptSource> | undefined;

function readSources(): Map<string, ScriptSource> {
  if (sources) return sources;
  sources = new Map();
  for (const file of readdirSync(__dirname)) {
    const m = /^([a-zA-Z]+)(?:-(\d+))?\.lua$/.exec(file);
    if (!m) continue;
    const base = file.slice(0, -'.lua'.length);
    sources.set(m[1]!, { lua: inline(__dirname, base, new Set()), numberOfKeys: m[2] === undefined ? undefined : Number(m[2]) });
  }
  return sources;
}

type DefinedCommand = (...args: ScriptArg[]) => Promise<unknown>;

const loaded = new WeakMap<Redis, LimiterScripts>();

/**
 * Loads every script into the server's script cache, so the first request of a process does not
 * pay the NOSCRIPT round trip between its turn and its send.
 */
export async function preloadLimiterScripts(redis: Redis): Promise<void> {
  await Promise.all([...readSources().values()].map(({ lua }) => redis.script('LOAD', lua)));
}

/** Defines the scripts on `redis` once (EVALSHA, falling back to EVAL once per connection). */
export function loadLimiterScripts(redis: Redis): LimiterScripts {
  const known = loaded.get(redis);
  if (known) return known;
  const all = readSources();
  for (const [name, { lua }] of all) redis.defineCommand(COMMAND_PREFIX + name, { lua });
  const commands = redis as unknown as Record<string, DefinedCommand>;
  const scripts: LimiterScripts = {
    run(script, keys, args) {
      const source = all.get(script);
      if (!source) throw new Error(`limiter script ${script}.lua is missing from ${__dirname}`);
      if (source.numberOfKeys !== undefined && source.numberOfKeys !== keys.length) {
        throw new Error(`limiter script ${script} takes ${source.numberOfKeys} keys, got ${keys.length}`);
      }
      return commands[COMMAND_PREFIX + script]!(keys.length, ...keys, ...args);
    },
  };
  loaded.set(redis, scripts);
  return scripts;
}
