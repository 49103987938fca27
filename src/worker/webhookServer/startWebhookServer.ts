import type { AddressInfo } from 'node:net';
import { buildWebhookServer, WebhookServerDeps } from './buildWebhookServer';

export interface RunningWebhookServer {
  /** Where it listens, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting callbacks and waits for those in progress. The Redis connection stays open: it is the caller's. */
  close(): Promise<void>;
}

/**
 * Runs the receiver, as `npm run webhooks` does or inside a worker process that shares its Redis
 * connection. Port 0 picks a free port (tests).
 */
export async function startWebhookServer(deps: WebhookServerDeps & { port?: number; host?: string }): Promise<RunningWebhookServer> {
  const app = buildWebhookServer(deps);
  try {
    await app.listen({ port: deps.port ?? deps.config.httpPort, host: deps.host ?? '0.0.0.0' });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const host = deps.host && deps.host !== '0.0.0.0' ? deps.host : '127.0.0.1';
  let closing: Promise<void> | undefined;
  return { url: `http://${host}:${port}`, port, close: () => (closing ??= app.close()) };
}
