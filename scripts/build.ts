/**
 * `npm run build`: compiles src/ into dist/ (tsconfig.build.json: sources only, no tests or
 * benches) and copies beside the JavaScript every file under src/ that is not TypeScript, since
 * the code reads some at run time from its own folder (the limiter's .lua scripts, anything the
 * simulator serves). dist/ mirrors src/, so `node dist/worker/main.js` runs what `tsx
 * src/worker/main.ts` runs, and paths relative to a module (../../package.json) hold in both.
 *
 *   tsx scripts/build.ts [--out-dir <dir>]     (default: dist)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const SOURCES = path.join(ROOT, 'src');

function outDir(argv: readonly string[]): string {
  const at = argv.indexOf('--out-dir');
  if (at < 0) return path.join(ROOT, 'dist');
  const dir = argv[at + 1];
  if (!dir) throw new Error('--out-dir needs a directory');
  return path.resolve(dir);
}

/** Every file under `dir` (relative paths) that tsc does not turn into JavaScript. */
function runtimeAssets(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.ts'))
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

function build(out: string): void {
  // A file deleted from src/ must not live on in the build.
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
  const assets = runtimeAssets(SOURCES);
  for (const file of assets) {
    mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
    cpSync(path.join(SOURCES, file), path.join(out, file));
  }
  process.stdout.write(`built ${path.relative(process.cwd(), out) || '.'} (${assets.length} run-time files copied from src/)\n`);
}

build(outDir(process.argv.slice(2)));
