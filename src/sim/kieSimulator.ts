/**
 * A stand-in for KIE's API as a real HTTP server, for tests, benchmarks and the demo: every endpoint
 * family (sora, jobs, veo) with each model's validation from the catalog, the three caps (refused
 * with 429 and counted), paused models, link expiry, callbacks and fault injection down to the
 * transport (resets, cut bodies), which is why it uses node:http directly.
 *
 * `GET /__sim/counters` answers the live counters as JSON (Maps as objects), uncounted and
 * without faults, so a harness can read a simulator running in another process. No KIE path
 * starts with `/__sim/`.
 */
import http from 'node:http';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { CallbackSender } from './kieSimCallbacks';
import { type CapLimits, SimCaps } from './kieSimCaps';
import { countRequest, newCounters } from './kieSimCounters';
import { type Answer, gatewayError, type RawAnswer, RESET, type SimDialectApi } from './kieSimDialect';
import { SimEngine } from './kieSimEngine';
import { jobsDialect } from './kieSimJobsDialect';
import { VideoLinks } from './kieSimLinks';
import { SimModels } from './kieSimModels';
import { seededRandom } from './kieSimRandom';
import { soraDialect } from './kieSimSoraDialect';
import { veoDialect } from './kieSimVeoDialect';
import type { KieSimulator, SimCounters, SimFaults, SimOptions, SimRequestClass } from './kieSimTypes';
import { measureVideo, simVideo, type SimVideo } from './kieSimVideo';

export type * from './kieSimTypes';

export const COUNTERS_PATH = '/__sim/counters';

/**
 * What `GET /__sim/counters` answers: the counters with their Maps as objects, and how late the
 * simulator's own event loop ran (a stalled simulator judges requests that queued meanwhile as
 * arriving together).
 */
export type SimCountersSnapshot = Omit<SimCounters, 'submitsByPrompt' | 'submitsBySeed'> & {
  submitsByPrompt: Record<string, number>;
  submitsBySeed: Record<string, number>;
  eventLoopDelayMs: { p99: number; max: number };
};

const DIALECTS = { sora: soraDialect, jobs: jobsDialect, veo: veoDialect } as const;
const ROUTES = new Map(
  Object.values(DIALECTS).flatMap((dialect) => Object.entries(dialect.routes).map(([route, handle]) => [route, { dialect, handle }] as const)),
);
const NO_FAULTS: SimFaults = {
  overloadRate: 0,
  serverErrorRate: 0,
  resetRate: 0,
  gatewayErrorRate: 0,
  createThenResetRate: 0,
  createThenGatewayErrorRate: 0,
  createWithoutTaskIdRate: 0,
  createThenGarbledRate: 0,
  linkRefreshRefusedRate: 0,
  cutBodyRate: 0,
  noContentLengthRate: 0,
  offSpecVideoRate: 0,
  failRate: 0,
  insufficientCredits: [],
  dropCallbacks: false,
  pausedModels: [],
};
const DEFAULT_CREDITS = 1000;
const MAX_BODY_BYTES = 1024 * 1024;
const INVALID_JSON = Symbol('invalid JSON');

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a number >= 0 (got ${value})`);
  return value;
}

function compileOptions(o: SimOptions) {
  if (o.apiKeys.length === 0) throw new RangeError('apiKeys must hold at least one key');
  const limits: CapLimits = {
    maxConcurrent: nonNegative('maxConcurrent', o.maxConcurrent ?? 10),
    dailyLimit: nonNegative('dailyLimit', o.dailyLimit ?? 100),
    dailyWindowMs: nonNegative('dailyWindowMs', o.dailyWindowMs ?? 86_400_000),
    minIntervalMs: nonNegative('minIntervalMs', o.minIntervalMs ?? 1000),
    rates: o.rates,
  };
  for (const [cls, rate] of Object.entries(o.rates ?? {})) {
    if (!rate || !(Number.isInteger(rate.limit) && rate.limit >= 1 && rate.windowMs > 0))
      throw new RangeError(`rates.${cls} must be a whole limit >= 1 per a window > 0 ms (got ${JSON.stringify(rate)})`);
  }
  const generationMs = o.generationMs ?? 5000;
  const [minGen, maxGen] = typeof generationMs === 'number' ? [generationMs, generationMs] : generationMs;
  if (!(nonNegative('generationMs', minGen) <= nonNegative('generationMs', maxGen))) {
    throw new RangeError(`generationMs range must be [min, max] (got [${minGen}, ${maxGen}])`);
  }
  const videoBytes = o.videoBytes ?? 256 * 1024;
  if (!Number.isSafeInteger(videoBytes) || videoBytes < 1) {
    throw new RangeError(`videoBytes must be a whole number >= 1 (got ${videoBytes})`);
  }
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    apiKeys: new Set(o.apiKeys),
    limits,
    linkTtlMs: nonNegative('linkTtlMs', o.linkTtlMs ?? 20 * 60_000),
    videoBytes,
    engine: {
      generationMs,
      generationMsByModel: o.generationMsByModel ?? {},
      hdDelayMs: nonNegative('hdDelayMs', o.hdDelayMs ?? 0),
      bannedWords: o.bannedWords ?? ['forbidden'],
      callbackHmacKey: o.callbackHmacKey,
      credits: Object.fromEntries(o.apiKeys.map((k) => [k, o.credits?.[k] ?? DEFAULT_CREDITS])),
    },
    seed: o.seed ?? 1,
    models: new SimModels(o.models),
  };
}

export async function startKieSimulator(options: SimOptions): Promise<KieSimulator> {
  const settings = compileOptions(options);
  const counters = newCounters([...settings.apiKeys]);
  const faults: SimFaults = { ...NO_FAULTS, ...options.faults };
  const server = http.createServer();
  server.listen(settings.port, settings.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;

  const links = new VideoLinks(url, settings.linkTtlMs);
  const caps = new SimCaps(settings.limits, counters);
  const callbacks = new CallbackSender(counters);
  const dialectOf = (task: { dialect: keyof typeof DIALECTS }) => DIALECTS[task.dialect];
  const random = seededRandom(settings.seed);
  const engine = new SimEngine(settings.engine, settings.models, counters, faults, links, caps, callbacks, random, dialectOf);
  const measured = new Map<string, { size: number; sha256: string }>();
  const videoOf = (taskId: string): SimVideo => {
    const task = engine.task(taskId);
    if (!task) throw new RangeError(`the simulator created no task ${taskId}`);
    return simVideo(taskId, task.video, settings.videoBytes);
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const send = (res: http.ServerResponse, answer: Answer | RawAnswer): void => {
    if ('text' in answer) res.writeHead(answer.status, { 'Content-Type': answer.contentType }).end(answer.text);
    else res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body));
  };

  async function serveApi(req: http.IncomingMessage, res: http.ServerResponse, target: URL): Promise<void> {
    const route = `${req.method} ${target.pathname}`;
    const found = ROUTES.get(route);
    if (!found) {
      const dialect: SimDialectApi = target.pathname.startsWith('/api/v1/sora/')
        ? soraDialect
        : target.pathname.startsWith('/api/v1/veo/')
          ? veoDialect
          : jobsDialect;
      // An unknown endpoint is an HTTP 404 in every family (the sora dialect's code 404 rides in a 200).
      return send(res, { ...dialect.answer(404, `no such endpoint: ${route}`), status: 404 });
    }
    const { dialect, handle } = found;
    if (engine.roll(faults.resetRate)) {
      counters.faults.reset++;
      req.socket.destroy();
      return;
    }
    if (engine.roll(faults.gatewayErrorRate)) {
      counters.faults.gatewayError++;
      return send(res, gatewayError(502));
    }
    const key = bearerKey(req.headers.authorization);
    const known = key !== undefined && settings.apiKeys.has(key) ? key : undefined;
    countRequest(counters, route, known);
    if (known === undefined) return send(res, dialect.answer(401, 'missing or unknown API key'));
    const tooSoon = caps.arrive(known, requestClassOf(route));
    if (tooSoon) return send(res, dialect.answer(429, tooSoon.message));
    if (engine.roll(faults.serverErrorRate)) {
      counters.faults.serverError++;
      return send(res, dialect.answer(500, 'internal server error'));
    }
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (body === INVALID_JSON) return send(res, dialect.answer(dialect.codes.invalid, 'the body is not JSON (or above 1 MiB)'));
    const outcome = handle(engine, { key: known, body, query: target.searchParams });
    if (outcome === RESET) req.socket.destroy();
    else send(res, outcome);
  }

  async function serveVideo(req: http.IncomingMessage, res: http.ServerResponse, target: URL): Promise<void> {
    counters.downloads.requests++;
    const link = links.checkDownload(target.pathname, target.searchParams);
    if (!link.ok) {
      counters.downloads.forbidden++;
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end(link.reason);
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET' }).end();
      return;
    }
    const video = videoOf(link.taskId);
    const { size } = video;
    const cut = engine.roll(faults.cutBodyRate);
    if (cut) counters.faults.cutBody++;
    const unannounced = engine.roll(faults.noContentLengthRate);
    if (unannounced) {
      counters.faults.noContentLength++;
      // Neither a length nor chunks: the body ends when the connection does.
      res.useChunkedEncodingByDefault = false;
      res.writeHead(200, { 'Content-Type': 'video/mp4', Connection: 'close' });
    } else {
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': size });
    }
    await writeVideo(res, video.chunks(), cut ? Math.floor(size / 2) : undefined, unannounced);
  }

  function serveCounters(req: http.IncomingMessage, res: http.ServerResponse, target: URL): void {
    if (req.method !== 'GET' || target.pathname !== COUNTERS_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`only GET ${COUNTERS_PATH} lives under /__sim/`);
      return;
    }
    const eventLoopDelayMs = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    const snapshot = JSON.stringify({ ...counters, eventLoopDelayMs }, (_key, value: unknown): unknown =>
      value instanceof Map ? Object.fromEntries(value) : value,
    );
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(snapshot);
  }

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const target = new URL(req.url ?? '/', url);
    const serve = target.pathname.startsWith('/files/') ? serveVideo : target.pathname.startsWith('/__sim/') ? serveCounters : serveApi;
    // A throw, early or late, ends this request only.
    Promise.resolve()
      .then(() => serve(req, res, target))
      .catch(() => res.destroy());
  });

  return {
    url,
    counters,
    setFaults: (f) => Object.assign(faults, f),
    task: (taskId) => engine.task(taskId),
    expireLinks: () => links.expireAll(),
    expectedVideo(taskId) {
      let m = measured.get(taskId);
      if (!m) measured.set(taskId, (m = measureVideo(videoOf(taskId))));
      return m;
    },
    async close() {
      loopDelay.disable();
      engine.close();
      callbacks.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets would hold close() open until the clients let go.
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Creates (in any dialect a POST to .../generate or .../createTask) and everything else, which reads. */
function requestClassOf(route: string): SimRequestClass {
  return /^POST \S*\/(generate|createTask)$/.test(route) ? 'create' : 'read';
}

function bearerKey(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_BODY_BYTES) return INVALID_JSON;
    parts.push(part);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    return INVALID_JSON;
  }
}

/**
 * Streams with backpressure; with `cutAt`, sends that many bytes and then ends the connection: a
 * reset, or with `closeEnds` (no length announced: only the close marks the end) a clean close.
 */
async function writeVideo(res: http.ServerResponse, chunks: Iterable<Buffer>, cutAt?: number, closeEnds = false): Promise<void> {
  let sent = 0;
  for (const chunk of chunks) {
    if (cutAt !== undefined && sent + chunk.length >= cutAt) {
      await new Promise((resolve) => res.write(chunk.subarray(0, cutAt - sent), resolve));
      if (closeEnds) res.end();
      else res.destroy();
      return;
    }
    sent += chunk.length;
    if (!res.write(chunk) && !(await drained(res))) return;
  }
  res.end();
}

/** Resolves true on 'drain', false when the response closes first (the client went away). */
function drained(res: http.ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (ok: boolean) => () => {
      res.off('drain', onDrain).off('close', onClose);
      resolve(ok);
    };
    const onDrain = settle(true);
    const onClose = settle(false);
    res.on('drain', onDrain).on('close', onClose);
  });
}
