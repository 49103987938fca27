/**
 * Render requests from a file: CSV with a header row (columns named as the request's fields), JSON
 * Lines, or one JSON array; a template may write each prompt from the line's columns. Every line
 * of a batch gets an idempotency key from the batch id and the line's content, so the same file
 * enqueued again after a crash or a partial enqueue adds only what is missing.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { echoIssue, type FieldIssue, formatIssues, ValidationError } from '../shared/errors';
import { REQUEST_FIELDS, type RenderRequest } from '../shared/renderRequest';

/** One line of the file as a request (not yet validated). */
export interface FileLine {
  /** Where it is: `3` (a line of a CSV or JSON Lines file) or `[2]` (an element of a JSON array). */
  line: string;
  input: Record<string, unknown>;
}

export interface BadLine {
  line: string;
  issues: FieldIssue[];
  /** The line as read (its columns, or its JSON), for the rejects file. */
  input: unknown;
}

export class FileUnreadableError extends Error {
  override name = 'FileUnreadableError';
}

const PLACEHOLDER = /\{([A-Za-z_][\w.-]*)\}/g;

/** The columns a template reads, in order of first use. */
export function templateFields(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

const NUMBER = /^-?\d+(\.\d+)?$/;

/** true, false and numbers as such (as `--option name=value` reads them). */
function scalar(v: string): string | number | boolean {
  return v === 'true' ? true : v === 'false' ? false : NUMBER.test(v) ? Number(v) : v;
}

/** A CSV cell as the request field it names: numbers, true/false, a list of image URLs (space-separated). */
function typedCell(column: string, cell: string): unknown {
  if (column === 'duration' || column === 'seed') return NUMBER.test(cell) ? Number(cell) : cell;
  if (column === 'removeWatermark') return scalar(cell);
  if (column === 'images') return cell.split(/\s+/).filter(Boolean);
  return cell;
}

/** CSV columns into a request: `options.sound` and `metadata.order` columns become those objects' keys. */
function rowToInput(row: Record<string, string>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(row)) {
    if (cell === '') continue;
    const nested = /^(options|metadata)\.(.+)$/.exec(column);
    if (!nested) {
      input[column] = typedCell(column, cell);
      continue;
    }
    const [, parent, key] = nested;
    input[parent!] = { ...(input[parent!] ?? {}), [key!]: parent === 'options' ? scalar(cell) : cell };
  }
  return input;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileUnreadableError(`cannot read --file: ${(err as Error).message}`);
  }
}

/** The file's lines as requests, and the lines that could not be read as one. */
function readRaw(file: string): { lines: FileLine[]; bad: BadLine[] } {
  return parseBatchText(readText(file), /\.csv$/i.test(file) ? 'csv' : 'json');
}

/** A batch file's text (CSV, or JSON Lines or one JSON array) as requests, and the lines that could not be read as one. */
export function parseBatchText(text: string, format: 'csv' | 'json'): { lines: FileLine[]; bad: BadLine[] } {
  const lines: FileLine[] = [];
  const bad: BadLine[] = [];
  const object = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (format === 'csv') {
    let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
    try {
      records = parse<(typeof records)[number]>(text, { columns: true, bom: true, skip_empty_lines: true, trim: true, info: true });
    } catch (err) {
      const e = err as Error & { lines?: number };
      bad.push({ line: String(e.lines ?? 1), issues: [{ field: '', value: undefined, rule: `is not CSV: ${e.message}` }], input: undefined });
      return { lines, bad };
    }
    for (const { record, info } of records) lines.push({ line: String(info.lines), input: rowToInput(record) });
    return { lines, bad };
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let array: unknown;
    try {
      array = JSON.parse(trimmed);
    } catch (err) {
      bad.push({
        line: '1',
        issues: [{ field: '', value: undefined, rule: `must be JSON Lines or one JSON array: ${(err as Error).message}` }],
        input: undefined,
      });
      return { lines, bad };
    }
    (array as unknown[]).forEach((item, i) => {
      if (object(item)) lines.push({ line: `[${i}]`, input: item });
      else bad.push({ line: `[${i}]`, issues: [{ field: '(request)', value: item, rule: 'must be a JSON object' }], input: item });
    });
    return { lines, bad };
  }
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (object(parsed)) lines.push({ line: String(i + 1), input: parsed });
    else bad.push({ line: String(i + 1), issues: [{ field: '', value: raw.trim(), rule: 'must be one JSON object per line' }], input: raw });
  });
  return { lines, bad };
}

/** Writes each line's prompt from the template; the columns it reads are not request fields (unless named as one). */
function applyTemplate(line: FileLine, template: string): FileLine | BadLine {
  const issues: FieldIssue[] = [];
  if (line.input.prompt !== undefined)
    issues.push({ field: 'prompt', value: line.input.prompt, rule: 'is written by --template: leave the prompt column out' });
  for (const field of templateFields(template)) {
    const v = line.input[field];
    if (v === undefined || v === '') issues.push({ field, value: v, rule: `is used by --template but the line has no ${field}` });
    else if (typeof v === 'object') issues.push({ field, value: v, rule: 'must be text or a number to fill the template' });
  }
  if (issues.length) return { line: line.line, issues, input: line.input };
  const prompt = template.replace(PLACEHOLDER, (_m, field: string) => String(line.input[field]));
  const input = Object.fromEntries(
    Object.entries(line.input).filter(([k]) => REQUEST_FIELDS.has(k) || k === 'idempotencyKey' || !templateFields(template).includes(k)),
  );
  return { line: line.line, input: { ...input, prompt } };
}

/** The lines of `file` as render requests (not yet validated), and those that are bad already. */
export function readBatchFile(file: string, opts: { template?: string } = {}): { lines: FileLine[]; bad: BadLine[] } {
  const raw = readRaw(file);
  if (opts.template === undefined) return raw;
  const lines: FileLine[] = [];
  const bad = [...raw.bad];
  for (const line of raw.lines) {
    const filled = applyTemplate(line, opts.template);
    if ('issues' in filled) bad.push(filled);
    else lines.push(filled);
  }
  return { lines, bad };
}

/** JSON with object keys sorted, so the same content always gives the same text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Each line's idempotency key: its batch, its content, and which occurrence of that content it is
 * (two identical lines are two renders, and stay two when the file is enqueued again). A line that
 * carries its own idempotencyKey keeps it; a line without a batch gets none.
 */
export function lineIdempotencyKeys(lines: readonly FileLine[], batchId: string | undefined): Array<string | undefined> {
  const seen = new Map<string, number>();
  return lines.map(({ input }) => {
    if (typeof input.idempotencyKey === 'string') return input.idempotencyKey;
    const batch = batchId ?? (typeof input.batchId === 'string' ? input.batchId : undefined);
    if (batch === undefined) return undefined;
    const { batchId: _b, ...content } = input;
    const digest = createHash('sha256').update(canonical(content)).digest('hex');
    const occurrence = (seen.get(digest) ?? 0) + 1;
    seen.set(digest, occurrence);
    return `batch-line\n${batch}\n${digest}\n${occurrence}`;
  });
}

/** The lines as the producer takes them, each with its idempotency key where it has one. */
export function keyedRequests(lines: readonly FileLine[], batchId: string | undefined): Array<Record<string, unknown>> {
  const keys = lineIdempotencyKeys(lines, batchId);
  return lines.map((l, i) => (keys[i] === undefined ? l.input : { ...l.input, idempotencyKey: keys[i] }));
}

/** `prompts.csv` -> `prompts.csv.rejects.jsonl`: beside the input. */
export function defaultRejectsPath(file: string): string {
  return `${file}.rejects.jsonl`;
}

export interface CheckedLine extends FileLine {
  request: RenderRequest;
}

/** Validates every line (the producer's check: the catalog, notifyUrl); a line's own idempotencyKey is not a request field. */
export function validateLines(
  read: { lines: FileLine[]; bad: BadLine[] },
  validate: (fields: unknown) => RenderRequest,
): { good: CheckedLine[]; bad: BadLine[] } {
  const good: CheckedLine[] = [];
  const bad = [...read.bad];
  for (const line of read.lines) {
    const { idempotencyKey: _key, ...fields } = line.input;
    try {
      good.push({ ...line, request: validate(fields) });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      bad.push({ line: line.line, issues: err.issues, input: line.input });
    }
  }
  bad.sort((a, b) => lineOrder(a.line) - lineOrder(b.line));
  return { good, bad };
}

const lineOrder = (line: string): number => Number(line.replace(/[[\]]/g, ''));

/** `prompts.csv:4: duration: ... (got 12)`, one line per issue. */
export function describeBadLine(file: string, bad: BadLine): string[] {
  return bad.issues.map((i) => `${file}:${bad.line}: ${i.field ? formatIssues([i]) : formatIssues([i]).replace(/^: /, '')}`);
}

/** The rejects file: one JSON line per bad line, with its issues and what it held. */
export function writeRejects(path: string, bad: readonly BadLine[]): void {
  writeFileSync(path, bad.map((b) => `${JSON.stringify({ line: b.line, issues: b.issues.map(echoIssue), input: b.input })}\n`).join(''));
}
