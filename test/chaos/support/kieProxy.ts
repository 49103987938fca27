/**
 * A loopback proxy between the workers and the KIE simulator that lets a test act while an
 * answer is in transit: KIE has done the work, the worker does not know yet. That is the window
 * where a crash or an expiring link hurts, and it is a few microseconds wide without the proxy.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface KieAnswer {
  /** "METHOD /path", e.g. "POST /api/v1/sora/generate". */
  readonly route: string;
  readonly status: number;
  /** The parsed JSON body (undefined when it is not JSON). */
  readonly body: unknown;
}

/** Runs before an answer is forwarded; the answer waits for it. */
export type AnswerHook = (answer: KieAnswer) => void | Promise<void>;

export interface KieProxy {
  /** Give this to the workers as KIE_BASE_URL. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startKieProxy(target: string, beforeAnswer: AnswerHook): Promise<KieProxy> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const route = `${req.method} ${new URL(req.url ?? '/', target).pathname}`;
    const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers, agent }, async (answer) => {
      const parts: Buffer[] = [];
      for await (const part of answer) parts.push(part as Buffer);
      const raw = Buffer.concat(parts);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = undefined;
      }
      await beforeAnswer({ route, status: answer.statusCode ?? 0, body });
      const { 'transfer-encoding': _chunked, ...headers } = answer.headers;
      res.writeHead(answer.statusCode ?? 502, { ...headers, 'content-length': raw.length }).end(raw);
    });
    // The simulator's injected resets reach the worker as resets.
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
