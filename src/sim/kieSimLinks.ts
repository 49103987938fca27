/**
 * Signed, expiring video links: `/files/<taskId>.mp4?expires=<epoch ms>&sig=<hmac>`.
 * expireLinks() rotates the signing secret, so every link issued before it stops working at once;
 * the retired secrets still prove a link came from this simulator (download-url accepts expired links).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type LinkCheck = { ok: true; taskId: string } | { ok: false; reason: string };

const FILE_PATH = /^\/files\/([A-Za-z0-9_-]+)\.mp4$/;

export class VideoLinks {
  private secret = randomBytes(32);
  private readonly retired: Buffer[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly ttlMs: number,
  ) {}

  mint(taskId: string, now = Date.now()): string {
    const expires = now + this.ttlMs;
    return `${this.baseUrl}/files/${taskId}.mp4?expires=${expires}&sig=${sign(this.secret, taskId, expires)}`;
  }

  expireAll(): void {
    this.retired.push(this.secret);
    this.secret = randomBytes(32);
  }

  /** May this link be downloaded now? */
  checkDownload(pathname: string, query: URLSearchParams, now = Date.now()): LinkCheck {
    const parsed = parse(pathname, query);
    if (!parsed.ok) return parsed;
    if (!verify(this.secret, parsed)) {
      return this.retired.some((s) => verify(s, parsed)) ? { ok: false, reason: 'link expired' } : { ok: false, reason: 'bad signature' };
    }
    if (parsed.expires <= now) return { ok: false, reason: 'link expired' };
    return { ok: true, taskId: parsed.taskId };
  }

  /** Was this URL issued by this simulator, expired or not? */
  checkIssued(url: string): LinkCheck {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return { ok: false, reason: `url ${JSON.stringify(url)} is not a URL` };
    }
    if (`${u.protocol}//${u.host}` !== this.baseUrl) return { ok: false, reason: `url ${url} was not issued by this service` };
    const parsed = parse(u.pathname, u.searchParams);
    if (!parsed.ok) return parsed;
    if (![this.secret, ...this.retired].some((s) => verify(s, parsed))) {
      return { ok: false, reason: `url ${url} was not issued by this service` };
    }
    return { ok: true, taskId: parsed.taskId };
  }
}

interface ParsedLink {
  ok: true;
  taskId: string;
  expires: number;
  sig: string;
}

function parse(pathname: string, query: URLSearchParams): ParsedLink | { ok: false; reason: string } {
  const taskId = FILE_PATH.exec(pathname)?.[1];
  const expires = Number(query.get('expires'));
  const sig = query.get('sig');
  if (!taskId || !Number.isSafeInteger(expires) || !sig) return { ok: false, reason: 'malformed link' };
  return { ok: true, taskId, expires, sig };
}

function sign(secret: Buffer, taskId: string, expires: number): string {
  return createHmac('sha256', secret).update(`${taskId}.${expires}`).digest('base64url');
}

function verify(secret: Buffer, link: ParsedLink): boolean {
  const expected = Buffer.from(sign(secret, link.taskId, link.expires));
  const given = Buffer.from(link.sig);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
