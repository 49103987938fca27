/**
 * The deployment files agree with the code: the Dockerfile passes its lint (and the lint catches
 * what it is for), docker-compose runs the built entry points from one image, and every metric the
 * alert rules and the Grafana dashboard read is one a worker exports. (CI also runs
 * docker-compose config, promtool check/test rules and the runtime stage itself: .ci/run.)
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { parse } from 'yaml';
import type { AccountLimiter } from '../../src/pool/limiter/accountLimiter';
import type { ModelPauses } from '../../src/pool/modelPauses';
import { createWorkerMetrics } from '../../src/worker/metrics';
import { lintDockerfile } from '../../scripts/lintDockerfile';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  test('passes the lint', () => {
    expect(lintDockerfile(dockerfile, ROOT)).toEqual([]);
  });

  test.each([
    [
      'npm as the process',
      (d: string) => d.replace('CMD ["node", "dist/worker/main.js"]', 'CMD ["npm", "run", "worker"]'),
      /must run \["node","dist\/worker\/main.js"\] in exec form/,
    ],
    ['root', (d: string) => d.replace(/^USER node$/gm, 'USER root'), /runtime must run as a non-root USER/],
    ['no init', (d: string) => d.replace(/^ENTRYPOINT .*$/m, ''), /needs ENTRYPOINT \["\/usr\/bin\/tini", "--"\]/],
    ['no health check', (d: string) => d.replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, ''), /runtime needs a HEALTHCHECK on \/healthz/],
    ['dev dependencies at run time', (d: string) => d.replace('npm ci --omit=dev --omit=optional', 'npm ci'), /production dependencies only/],
    [
      'ffmpeg in the runtime',
      (d: string) => d.replace('install -y --no-install-recommends tini', 'install -y --no-install-recommends tini ffmpeg'),
      /ffmpeg belongs in runtime-posters only/,
    ],
    ['an unpinned base', (d: string) => d.replace('node:22-bookworm-slim', 'node:latest'), /must be pinned to a tag, not latest/],
    ['a file outside the context', (d: string) => d.replace('COPY bin ./bin', 'COPY bench ./bench'), /bench is left out of the build context/],
  ])('the lint refuses %s', (_what, change, problem) => {
    const changed = change(dockerfile);
    expect(changed).not.toBe(dockerfile);
    expect(lintDockerfile(changed, ROOT).join('\n')).toMatch(problem);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { image?: string; build?: { target: string }; command?: string[]; profiles?: string[]; volumes?: string[] }>;
  };
  const { services } = compose;

  test('workers, the API and the callback receiver run the built entry points of one image', () => {
    const app = ['worker', 'api', 'webhooks'].map((name) => services[name]!);
    expect(new Set(app.map((s) => s.image)).size).toBe(1);
    expect(app.every((s) => s.build?.target === '${SORA_BUILD_TARGET:-runtime}')).toBe(true);
    expect(services.worker!.command).toBeUndefined(); // the image's CMD: the worker
    for (const name of ['api', 'webhooks']) {
      const [node, script] = services[name]!.command!;
      expect(node).toBe('node');
      expect(existsSync(path.join(ROOT, script!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')))).toBe(true);
    }
  });

  test('Prometheus and Grafana come with the observability profile, their files from the repository', () => {
    for (const name of ['prometheus', 'grafana']) {
      expect(services[name]!.profiles).toEqual(['observability']);
      for (const volume of services[name]!.volumes!.filter((v) => v.startsWith('./'))) expect(existsSync(path.join(ROOT, volume.split(':')[0]!))).toBe(true);
    }
  });
});

describe('alerts and dashboard', () => {
  // Prometheus' own series.
  const ELSEWHERE = new Set(['up']);
  const exported = new Set(
    createWorkerMetrics({} as Queue, {} as AccountLimiter, {} as ModelPauses, [], async () => [])
      .registry.getMetricsAsArray()
      .map((m) => m.name),
  );
  const metricsIn = (expr: string): string[] => [...expr.matchAll(/\b(sora_[a-z_]+|up)\b/g)].map(([name]) => name.replace(/_(bucket|count|sum)$/, ''));

  const rules = (parse(read('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap(
    (g) => g.rules,
  );
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/sora-batch.json')) as {
    panels: Array<{ title: string; datasource?: { uid: string }; targets?: Array<{ expr: string }> }>;
  };
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));

  test('every metric an alert or a dashboard panel reads is one a worker exports', () => {
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(queries.length).toBeGreaterThanOrEqual(15);
    const unknown = [...rules.map((r) => ({ where: r.alert, expr: r.expr })), ...queries].flatMap(({ where, expr }) =>
      metricsIn(expr)
        .filter((m) => !exported.has(m) && !ELSEWHERE.has(m))
        .map((m) => `${where}: ${m}`),
    );
    expect(unknown).toEqual([]);
  });

  test('the alerts cover a pause, exhausted quota and credits, slow storing, failures and no worker', () => {
    const watched = new Set(rules.flatMap((r) => metricsIn(r.expr)));
    for (const metric of [
      'sora_account_paused',
      'sora_model_paused',
      'sora_account_submits_in_window',
      'sora_account_credits',
      'sora_completion_to_stored_seconds',
      'sora_jobs_failed_total',
      'up',
    ]) {
      expect(watched).toContain(metric);
    }
  });

  test('the dashboard reads the provisioned data source', () => {
    const datasources = (parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string }> }).datasources;
    const uids = new Set(dashboard.panels.filter((p) => p.targets).map((p) => p.datasource?.uid));
    expect([...uids]).toEqual([datasources[0]!.uid]);
  });
});
