/**
 * Reads a Dockerfile into its stages and instructions, for the checks that stand in for Docker
 * where there is none (lintDockerfile.ts, replayRuntimeStage.ts). Enough of the format for this
 * project's Dockerfile: comments, line continuations, ARG defaults in FROM, named stages.
 */

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined by a space. */
  readonly args: string;
  /** 1-based line where it starts. */
  readonly line: number;
}

export interface Stage {
  /** `AS name`, or the stage's index when it has none. */
  readonly name: string;
  /** The image it starts from, ARG defaults filled in, or the name of an earlier stage. */
  readonly base: string;
  /** Set when `base` names an earlier stage. */
  readonly parent?: Stage;
  /** Its instructions after FROM. */
  readonly instructions: Instruction[];
  readonly line: number;
}

export function readInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    // A comment line, even inside a continued instruction, is dropped (as Docker does).
    if (line.startsWith('#') || (line === '' && !pending)) return;
    const continued = line.endsWith('\\');
    const part = continued ? line.slice(0, -1).trim() : line;
    pending ??= { parts: [], line: index + 1 };
    if (part) pending.parts.push(part);
    if (continued) return;
    const [keyword = '', ...rest] = pending.parts.join(' ').split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: pending.line });
    pending = undefined;
  });
  return instructions;
}

export function readStages(text: string): Stage[] {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of readInstructions(text)) {
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = instruction.args.split('=', 2);
      args.set(name!.trim(), value.trim());
    } else if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const base = words[0]!.replace(/\$\{?(\w+)\}?/g, (_m, name: string) => args.get(name) ?? '');
      const name = words[1]?.toLowerCase() === 'as' ? words[2]! : String(stages.length);
      stages.push({ name, base, parent: stages.find((s) => s.name === base), instructions: [], line: instruction.line });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** What an image built for `stage` carries: the instructions of its ancestors, then its own. */
export function chainOf(stage: Stage): Instruction[] {
  return [...(stage.parent ? chainOf(stage.parent) : []), ...stage.instructions];
}

/** The last instruction with this keyword in a chain (the one in force: CMD, USER, ...). */
export function lastOf(chain: readonly Instruction[], keyword: string): Instruction | undefined {
  return chain.filter((i) => i.keyword === keyword).at(-1);
}

/** The arguments of an exec-form instruction (`["node", "x.js"]`), or undefined in shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith('[')) return undefined;
  try {
    const parsed = JSON.parse(args) as unknown;
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}
