import { isIP, type AddressInfo } from 'node:net';
import { buildWebhookServer, WebhookServerDeps } from './buildWebhookServer';

export interface RunningWebhookServer {
  /** Where it can be reached on this host, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  /** The address it listens on (HTTP_HOST unless given), e.g. 127.0.0.1 or 0.0.0.0. */
  readonly host: string;
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
    await app.listen({ port: deps.port ?? deps.config.httpPort, host: deps.host ?? deps.config.httpHost });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { address, port } = app.server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return { url: `http://${reachable(address)}:${port}`, host: address, port, close: () => (closing ??= app.close()) };
}

/** How this host reaches a server listening on `address` (every interface: through loopback). */
function reachable(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return isIP(address) === 6 ? `[${address}]` : address;
}
