/**
 * The console's login: a person gives one of API_TOKENS once and gets a session cookie (HttpOnly,
 * SameSite=Strict) holding an expiry and an HMAC of it keyed by the token. The token itself is
 * never stored in the browser, a page or a log; a token removed from API_TOKENS ends its sessions,
 * and any API replica with the same tokens accepts the cookie.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'sora_session';
export const SESSION_TTL_MS = 12 * 3_600_000;

const sign = (token: string, expires: number): Buffer => createHmac('sha256', token).update(`sora-batch console session ${expires}`).digest();

/** The value of the cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

export interface ConsoleSessions {
  /** The cookie value for a session of `token` (a known token: the caller has checked it). */
  issue(token: string, now?: number): string;
  /** Whether the Cookie header carries a live session of a known token. */
  valid(cookieHeader: string | undefined, now?: number): boolean;
}

export function consoleSessions(tokens: readonly string[]): ConsoleSessions {
  return {
    issue(token, now = Date.now()) {
      const expires = now + SESSION_TTL_MS;
      return `${expires}.${sign(token, expires).toString('base64url')}`;
    },
    valid(cookieHeader, now = Date.now()) {
      const match = /^(\d{13})\.([A-Za-z0-9_-]{43})$/.exec(cookieValue(cookieHeader, SESSION_COOKIE) ?? '');
      if (!match || Number(match[1]) <= now) return false;
      const presented = Buffer.from(match[2]!, 'base64url');
      // Every token is tried, so the time taken does not tell which one matched.
      return tokens.reduce((found, token) => timingSafeEqual(sign(token, Number(match[1])), presented) || found, false);
    },
  };
}

/** The Set-Cookie header for `value` (empty value and Max-Age 0: logged out). */
export function sessionCookie(value: string, secure: boolean): string {
  const maxAge = value ? Math.floor(SESSION_TTL_MS / 1000) : 0;
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}
