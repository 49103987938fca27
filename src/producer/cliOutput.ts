/**
 * How `sora-batch` commands print what they found: for a person by default, as JSON with `--json`
 * (one document on stdout, nothing else there), so scripts never parse a table.
 */
import type { Command } from 'commander';

/** Adds `--json` to a command that prints data. */
export function withJsonOption(command: Command): Command {
  return command.option('--json', 'print the result as one JSON document on stdout (for scripts)');
}

/** Prints `data` as JSON when `json` is set; otherwise `show` prints it for a person. */
export function printResult<T>(data: T, json: boolean | undefined, show: (data: T) => void): void {
  if (json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else show(data);
}

/** "1 job" / "3 jobs". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
