/**
 * Tells when a request made inside `whenWritten` has been written to its socket: the
 * ClientRequest's 'finish', which for a new connection comes only after connecting. Through the
 * HTTP client's diagnostics channel and the caller's async context, so the HTTP library (axios)
 * needs no hook of its own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

const pending = new AsyncLocalStorage<() => void>();
let subscribed = false;

function onRequestStart(message: unknown): void {
  const onWritten = pending.getStore();
  if (onWritten) (message as { request: ClientRequest }).request.once('finish', onWritten);
}

/** Runs `request`; `onWritten` runs once each HTTP request it makes is on its socket. */
export function whenWritten<T>(request: () => Promise<T>, onWritten: () => void): Promise<T> {
  if (!subscribed) {
    diagnosticsChannel.subscribe('http.client.request.start', onRequestStart);
    subscribed = true;
  }
  return pending.run(onWritten, request);
}
