/**
 * One delivery attempt of a notification: signed the Standard Webhooks way, POSTed with a deadline,
 * no redirects, no proxy, and only to an address the destination rule allows, checked on the
 * address the connection actually goes to.
 */
import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { trace } from '@opentelemetry/api';
import type { Webhook } from 'standardwebhooks';
import { NotificationError } from '../../shared/errors';
import { destinationRefusal } from '../../shared/notifyDestination';
import { retryAfterMs } from '../../shared/retryAfter';

/** What is delivered; the same on every attempt, so a receiver can dedupe by `webhookId`. */
export interface Notification {
  url: string;
  webhookId: string;
  /** The JSON body exactly as signed and sent. */
  body: string;
}

export interface DeliveryOptions {
  /** Signs with NOTIFY_SECRET; without it the notification goes unsigned. */
  signer?: Webhook;
  allowPrivate: boolean;
  timeoutMs: number;
}

/**
 * DNS as usual, then every address it gave is judged before the socket connects to one of them: the
 * check and the connect use the same answer, so a name that rebinds between them cannot slip through.
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family);
      const addresses = typeof address === 'string' ? [address] : address.map((a) => a.address);
      for (const a of addresses) {
        const refusal = destinationRefusal(a, allowPrivate);
        if (refusal) return callback(new NotificationError(`destination refused: ${hostname} resolves to ${refusal}`, true), address, family);
      }
      callback(null, address, family);
    });
  };
}

/** The URL, if it may be tried at all. Node connects to a literal address without a lookup, so it is judged here. */
function destination(url: string, allowPrivate: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new NotificationError('destination refused: notifyUrl is not a URL', true);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new NotificationError(`destination refused: ${parsed.protocol} is not http or https`, true);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const refusal = isIP(host) ? destinationRefusal(host, allowPrivate) : undefined;
  if (refusal) throw new NotificationError(`destination refused: ${refusal}`, true);
  return parsed;
}

function post(url: URL, body: string, headers: Record<string, string>, opts: DeliveryOptions): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        // A fresh connection each time: a kept-alive socket would skip the lookup above.
        agent: false,
        lookup: guardedLookup(opts.allowPrivate),
        // One deadline for DNS, connect, TLS and the answer's headers.
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
        res.destroy(); // the answer's body is not needed
      },
    );
    req.on('error', (err: Error) => {
      if (err instanceof NotificationError) return reject(err);
      const why = err.name === 'AbortError' ? `no answer within ${opts.timeoutMs} ms` : ((err as NodeJS.ErrnoException).code ?? err.message);
      reject(new NotificationError(`notifyUrl unreachable: ${why}`, false));
    });
    req.end(body);
  });
}

/**
 * Sends one attempt; resolves on a 2xx. Throws a NotificationError: permanent for a refused
 * destination, a redirect (never followed) and any 4xx but 408 and 429; retryable otherwise.
 */
export async function deliverNotification(n: Notification, opts: DeliveryOptions): Promise<void> {
  const url = destination(n.url, opts.allowPrivate);
  // The attempt's time, not the event's: the receiver's replay window is judged against it.
  const timestamp = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'sora-batch',
    'webhook-id': n.webhookId,
    'webhook-timestamp': String(timestamp),
  };
  if (opts.signer) headers['webhook-signature'] = opts.signer.sign(n.webhookId, new Date(timestamp * 1000), n.body);

  const answer = await post(url, n.body, headers, opts);
  const { status } = answer;
  trace.getActiveSpan()?.setAttribute('http.response.status_code', status);
  if (status >= 200 && status < 300) return;
  const retryAfter = retryAfterMs(answer.headers['retry-after']);
  if (status >= 300 && status < 400)
    throw new NotificationError(`notifyUrl answered ${status}: redirects are not followed, point notifyUrl at the final address`, true);
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new NotificationError(`notifyUrl answered ${status}`, true);
  throw new NotificationError(`notifyUrl answered ${status}`, false, retryAfter);
}
