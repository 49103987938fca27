/**
 * Opens the HTTP stream of a finished video, guarding against SSRF: only allowlisted hosts are
 * ever contacted, redirects included (we follow them ourselves, so each hop is checked first).
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import axios from 'axios';
import { StorageError } from '../../shared/errors';

export interface DownloadLimits {
  allowedHosts: readonly string[];
  maxBytes: number;
  /** Until the response headers arrive; the caller bounds the body through `signal`. */
  timeoutMs: number;
  signal: AbortSignal;
}

export interface VideoDownload {
  body: IncomingMessage;
  /** Content-Length, when the server announced one. */
  contentLength?: number;
  /** The final URL as it may be shown in messages (see describeUrl). */
  source: string;
}

const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** The link is dead rather than the server unwell: a fresh link from KIE is the cure. */
const EXPIRED_STATUSES = new Set([403, 404, 410]);

// Keep-alive: a worker downloads many videos from the same few hosts.
const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgent = new https.Agent({ keepAlive: true });

/** Host and path only: video links are signed, and the query string is the signature. */
export function describeUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

function checkedUrl(url: string, allowedHosts: readonly string[]): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StorageError(`video URL ${describeUrl(url)} is not a valid URL`, false, true);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new StorageError(`video URL ${describeUrl(u)} must use http or https, not ${u.protocol}`, false, true);
  }
  if (!allowedHosts.includes(u.hostname.toLowerCase())) {
    throw new StorageError(`video host ${u.hostname} is not in VIDEO_HOSTS (${allowedHosts.join(', ')}); refused ${describeUrl(u)}`, false, true);
  }
  return u;
}

async function get(url: URL, limits: DownloadLimits): Promise<IncomingMessage & { statusCode: number }> {
  try {
    const response = await axios.get<IncomingMessage>(url.href, {
      responseType: 'stream',
      maxRedirects: 0,
      validateStatus: () => true,
      timeout: limits.timeoutMs,
      signal: limits.signal,
      httpAgent,
      httpsAgent,
      // The bytes are hashed and counted as they come; a decoded body would not match Content-Length.
      decompress: false,
      headers: { 'Accept-Encoding': 'identity' },
    });
    const body = response.data;
    return Object.assign(body, { statusCode: response.status });
  } catch (err) {
    if (limits.signal.aborted && limits.signal.reason instanceof StorageError) throw limits.signal.reason;
    const e = err as { code?: string; message?: string };
    throw new StorageError(`downloading ${describeUrl(url)} failed: ${e.code ?? ''} ${e.message ?? String(err)}`.replace(/\s+/g, ' '));
  }
}

export async function openVideoDownload(url: string, limits: DownloadLimits): Promise<VideoDownload> {
  let target = checkedUrl(url, limits.allowedHosts);
  for (let hops = 0; ; hops++) {
    const body = await get(target, limits);
    const status = body.statusCode;
    const where = describeUrl(target);
    if (REDIRECT_STATUSES.has(status)) {
      body.destroy();
      const location = body.headers.location;
      if (!location) throw new StorageError(`${where} answered ${status} without a Location header`);
      if (hops >= MAX_REDIRECTS) throw new StorageError(`${where} redirected more than ${MAX_REDIRECTS} times`, false, true);
      target = checkedUrl(new URL(location, target).href, limits.allowedHosts);
      continue;
    }
    if (status < 200 || status > 299) {
      body.destroy();
      if (EXPIRED_STATUSES.has(status)) throw new StorageError(`video link ${where} answered ${status}: the link has expired or is invalid`, true);
      throw new StorageError(`downloading ${where} answered HTTP ${status}`);
    }
    const announced = body.headers['content-length'];
    const contentLength = announced === undefined ? undefined : Number(announced);
    if (contentLength !== undefined && contentLength > limits.maxBytes) {
      body.destroy();
      throw new StorageError(`video at ${where} is ${contentLength} bytes, larger than the limit of ${limits.maxBytes}`, false, true);
    }
    return { body, contentLength: Number.isSafeInteger(contentLength) ? contentLength : undefined, source: where };
  }
}
