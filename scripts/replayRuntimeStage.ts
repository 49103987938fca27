/**
 * Runs the Dockerfile's runtime stage without Docker: into `<dir>`, standing for its WORKDIR, its
 * COPY instructions copy from this clone (the build stage's /app/dist is this clone's dist/, so
 * `npm run build` comes first) and its npm commands run there (npm ci --omit=dev). What changes the
 * system rather than the app folder (apt-get, a symlink on PATH, npm's cache) is skipped and listed.
 * The folder is then laid out as the image's /app: `node dist/worker/main.js` in it runs the worker
 * the image runs (CI has it render the demo batch: npm run demo -- --built-worker <dir>).
 *
 *   tsx scripts/replayRuntimeStage.ts <dir> [target]      target: runtime (default)
 */
import { execSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chainOf, execForm, readStages } from './dockerfile';

const ROOT = path.resolve(__dirname, '..');
/** The parts of a RUN that lay out the app folder; the others are the system's. */
const APP_COMMAND = /^npm (ci|install)\b/;

function replay(dir: string, target: string): void {
  const stages = readStages(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const stage = stages.find((s) => s.name === target);
  if (!stage) throw new Error(`the Dockerfile has no stage ${target}`);
  mkdirSync(dir, { recursive: true });
  const workdirOf = (name: string): string =>
    chainOf(stages.find((s) => s.name === name)!)
      .filter((i) => i.keyword === 'WORKDIR')
      .at(-1)?.args ?? '/';
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  for (const { keyword, args, line } of chainOf(stage)) {
    const where = `Dockerfile:${line} ${keyword}`;
    if (keyword === 'COPY') {
      const words = args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const destination = path.join(dir, paths.at(-1)!);
      for (const source of paths.slice(0, -1)) {
        // Another stage's absolute path is that stage's work folder in this clone.
        const local = from ? path.join(ROOT, path.relative(workdirOf(from), source)) : path.join(ROOT, source);
        if (!existsSync(local)) throw new Error(`${where}: ${local} does not exist${from ? ' (run npm run build first)' : ''}`);
        const into = paths.at(-1)!.endsWith('/') || paths.length > 2 ? path.join(destination, path.basename(local)) : destination;
        cpSync(local, into, { recursive: true });
        say(`${where} ${path.relative(ROOT, local) || '.'} -> ${path.relative(dir, into) || '.'}`);
      }
    } else if (keyword === 'RUN') {
      for (const command of args.split('&&').map((c) => c.trim())) {
        if (!APP_COMMAND.test(command)) {
          say(`${where} skipped (the system's, not the app folder's): ${command}`);
          continue;
        }
        say(`${where} ${command}`);
        execSync(command, { cwd: dir, stdio: 'inherit' });
      }
    } else if (keyword === 'ENV' || keyword === 'CMD' || keyword === 'ENTRYPOINT' || keyword === 'USER') {
      say(`${where} ${execForm(args)?.join(' ') ?? args}`);
    }
  }
}

const [dir, target = 'runtime'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: tsx scripts/replayRuntimeStage.ts <dir> [target]\n');
  process.exit(2);
}
replay(path.resolve(dir), target);
