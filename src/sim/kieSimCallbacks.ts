/** Delivers task-completion callbacks, once each (no retries), and counts what happened. */
import http from 'node:http';
import https from 'node:https';
import type { SimCounters } from './kieSimTypes';

const CALLBACK_TIMEOUT_MS = 5000;

export class CallbackSender {
  private readonly inFlight = new Set<http.ClientRequest>();
  private closed = false;

  constructor(private readonly counters: SimCounters) {}

  send(url: string, body: unknown, headers: Record<string, string> = {}): void {
    const payload = Buffer.from(JSON.stringify(body));
    const transport = url.startsWith('https:') ? https : http;
    const settle = (delivered: boolean): void => {
      if (!this.inFlight.delete(req) || this.closed) return;
      if (delivered) this.counters.callbacks.delivered++;
      else this.counters.callbacks.failed++;
    };
    // agent: false, so no keep-alive socket outlives close().
    const req = transport.request(url, {
      method: 'POST',
      agent: false,
      timeout: CALLBACK_TIMEOUT_MS,
      headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length, ...headers },
    });
    this.inFlight.add(req);
    req.on('response', (res) => {
      res.resume();
      settle(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy(new Error('callback timed out')));
    req.on('error', () => settle(false));
    req.end(payload);
  }

  close(): void {
    this.closed = true;
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
  }
}
