/**
 * Server-sent events for the console: each open stream reads its sources every second and sends
 * an event only when what it read changed (and a comment line now and then, so that proxies keep
 * an idle stream open). The reads are the same as the /v1 routes'.
 */
import type { FastifyReply } from 'fastify';
import type { Logger } from '../../shared/logger';

export const EVENT_INTERVAL_MS = 1_000;
const KEEPALIVE_MS = 15_000;

export interface EventSource {
  event: string;
  /** The data to send, and what must change for it to be sent again (default: all of it). */
  read(): Promise<{ data: unknown; key?: string }>;
}

export function eventSource<T>(event: string, read: () => Promise<T>, key?: (data: T) => string): EventSource {
  return { event, read: async () => read().then((data) => ({ data, key: key?.(data) })) };
}

export class EventStreams {
  private readonly stops = new Set<() => void>();

  constructor(private readonly logger: Logger) {}

  open(reply: FastifyReply, sources: readonly EventSource[]): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const sent = new Map<string, string>();
    let lastWrite = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let failing = false;
    const stop = (): void => {
      clearTimeout(timer);
      this.stops.delete(stop);
      // The stream ends with its connection, so a closing server waits on no kept-alive socket.
      res.end(() => res.socket?.destroy());
    };
    const open = (): boolean => this.stops.has(stop);
    this.stops.add(stop);
    // The response closes when the client hangs up (or the stream was ended).
    res.on('close', stop);

    const tick = async (): Promise<void> => {
      try {
        for (const source of sources) {
          const { data, key } = await source.read();
          if (!open()) return; // stopped while reading: the response has ended
          const json = JSON.stringify(data ?? null);
          if (sent.get(source.event) === (key ?? json)) continue;
          sent.set(source.event, key ?? json);
          res.write(`event: ${source.event}\ndata: ${json}\n\n`);
          lastWrite = Date.now();
        }
        failing = false;
      } catch (err) {
        // Redis away: the stream stays open and catches up when it is back.
        if (!failing) this.logger.warn({ err: (err as Error).message }, 'console event stream: a read failed');
        failing = true;
      }
      if (!open()) return;
      if (Date.now() - lastWrite >= KEEPALIVE_MS) {
        res.write(': keepalive\n\n');
        lastWrite = Date.now();
      }
      if (open()) timer = setTimeout(() => void tick(), EVENT_INTERVAL_MS);
    };
    void tick();
  }

  /** Ends every open stream (the server is closing; browsers reconnect to another replica). */
  closeAll(): void {
    for (const stop of [...this.stops]) stop();
  }
}
