/**
 * Lints the Dockerfile where no Docker runs (CI): what Docker's builder refuses (dockerfile-utils,
 * the validator of VS Code's Docker extension), and what this project's image promises:
 *   - a build stage, and a default target `runtime` (the last stage) beside `runtime-posters`;
 *   - base images pinned to a tag, never `latest`;
 *   - runtime stages: production dependencies only (npm ci --omit=dev), nothing from the build
 *     stage but dist/, a non-root USER, tini as the entrypoint so node gets SIGTERM, node itself as
 *     the command (not npm or a shell), a HEALTHCHECK on /healthz, ffmpeg only for posters;
 *   - apt-get installs without recommends, their package lists removed in the same layer;
 *   - every COPY source exists and passes .dockerignore (an allowlist).
 *
 *   tsx scripts/lintDockerfile.ts [Dockerfile]      prints the problems; exit 1 when there are any
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validate } from 'dockerfile-utils';
import { chainOf, execForm, lastOf, readStages, type Instruction, type Stage } from './dockerfile';

const RUNTIME_TARGETS = ['runtime', 'runtime-posters'];
const WORKER_COMMAND = ['node', 'dist/worker/main.js'];

/** Names the .dockerignore allowlist (`*` then `!name` lines) lets into the build context. */
function contextAllowlist(dockerignore: string): string[] | undefined {
  const lines = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (lines[0] !== '*') return undefined;
  return lines
    .slice(1)
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).replace(/\/+$/, ''));
}

function copySources(copy: Instruction): { from?: string; sources: string[] } {
  const words = copy.args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1) };
}

function runtimeProblems(stage: Stage): string[] {
  const problems: string[] = [];
  const at = (i: Instruction | undefined): string => (i ? `line ${i.line}` : `stage ${stage.name}`);
  const chain = chainOf(stage);
  const user = lastOf(chain, 'USER');
  if (!user || /^(root|0)(:|$)/.test(user.args)) problems.push(`${at(user)}: ${stage.name} must run as a non-root USER`);
  const entrypoint = execForm(lastOf(chain, 'ENTRYPOINT')?.args ?? '');
  if (!entrypoint || !/(^|\/)tini$/.test(entrypoint[0]!) || entrypoint[1] !== '--') {
    problems.push(`${at(lastOf(chain, 'ENTRYPOINT'))}: ${stage.name} needs ENTRYPOINT ["/usr/bin/tini", "--"], so SIGTERM reaches node`);
  }
  const cmd = execForm(lastOf(chain, 'CMD')?.args ?? '');
  if (JSON.stringify(cmd) !== JSON.stringify(WORKER_COMMAND)) {
    problems.push(
      `${at(lastOf(chain, 'CMD'))}: ${stage.name} must run ${JSON.stringify(WORKER_COMMAND)} in exec form (node as the process, not npm or a shell)`,
    );
  }
  if (!lastOf(chain, 'HEALTHCHECK')?.args.includes('/healthz'))
    problems.push(`${at(lastOf(chain, 'HEALTHCHECK'))}: ${stage.name} needs a HEALTHCHECK on /healthz`);
  const installs = chain.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install)\b/.test(i.args));
  if (!installs.length) problems.push(`stage ${stage.name}: installs no dependencies (npm ci --omit=dev)`);
  for (const i of installs)
    if (!i.args.includes('--omit=dev')) problems.push(`line ${i.line}: ${stage.name} must install production dependencies only (npm ci --omit=dev)`);
  for (const copy of chain.filter((i) => i.keyword === 'COPY')) {
    const { from, sources } = copySources(copy);
    if (from !== undefined && sources.some((s) => !/^\/app\/dist\/?$/.test(s)))
      problems.push(`line ${copy.line}: ${stage.name} may take only /app/dist from another stage`);
    if (from === undefined && sources.some((s) => /^(\.\/)?(src|test|bench|node_modules)(\/|$)/.test(s)))
      problems.push(`line ${copy.line}: ${stage.name} copies sources or modules: only dist/ and production dependencies belong there`);
  }
  const ffmpeg = chain.find((i) => i.keyword === 'RUN' && /\bffmpeg\b/.test(i.args));
  if (ffmpeg && stage.name !== 'runtime-posters') problems.push(`line ${ffmpeg.line}: ffmpeg belongs in runtime-posters only`);
  if (!ffmpeg && stage.name === 'runtime-posters') problems.push(`stage runtime-posters: installs no ffmpeg`);
  return problems;
}

export function lintDockerfile(text: string, repoDir: string): string[] {
  const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`);
  const stages = readStages(text);
  const names = stages.map((s) => s.name);
  if (!names.includes('build')) problems.push('no stage named build (the compiler and dev dependencies stay there)');
  for (const target of RUNTIME_TARGETS) if (!names.includes(target)) problems.push(`no stage named ${target}`);
  if (stages.at(-1)?.name !== 'runtime') problems.push('the last stage (the default target) must be runtime');
  for (const stage of stages.filter((s) => !s.parent)) {
    const tag = /^[^@]+:([\w.-]+)$/.exec(stage.base)?.[1];
    if (!tag || tag === 'latest') problems.push(`line ${stage.line}: base image ${stage.base || '(empty)'} must be pinned to a tag, not latest`);
  }
  for (const stage of stages.filter((s) => RUNTIME_TARGETS.includes(s.name))) problems.push(...runtimeProblems(stage));

  const allowed = existsSync(path.join(repoDir, '.dockerignore')) ? contextAllowlist(readFileSync(path.join(repoDir, '.dockerignore'), 'utf8')) : undefined;
  if (!allowed) problems.push('.dockerignore must be an allowlist (`*`, then `!name` for each file or folder the Dockerfile copies)');
  for (const stage of stages) {
    for (const i of stage.instructions) {
      if (
        i.keyword === 'RUN' &&
        /apt-get install/.test(i.args) &&
        !(i.args.includes('--no-install-recommends') && i.args.includes('rm -rf /var/lib/apt/lists'))
      ) {
        problems.push(`line ${i.line}: apt-get install needs --no-install-recommends and rm -rf /var/lib/apt/lists/* in the same RUN`);
      }
      if (i.keyword !== 'COPY' && i.keyword !== 'ADD') continue;
      const { from, sources } = copySources(i);
      if (from !== undefined) continue;
      for (const source of sources) {
        const top = source.replace(/^\.\//, '').split('/')[0]!;
        if (!existsSync(path.join(repoDir, source))) problems.push(`line ${i.line}: ${source} does not exist`);
        else if (allowed && !allowed.includes(top)) problems.push(`line ${i.line}: ${source} is left out of the build context by .dockerignore`);
      }
    }
  }
  return problems;
}

if (require.main === module) {
  const file = path.resolve(process.argv[2] ?? 'Dockerfile');
  const problems = lintDockerfile(readFileSync(file, 'utf8'), path.dirname(file));
  for (const p of problems) process.stderr.write(`${path.relative(process.cwd(), file)}: ${p}\n`);
  if (problems.length) process.exit(1);
  process.stdout.write(`${path.relative(process.cwd(), file)}: no problems\n`);
}
