/**
 * Tokens presented over HTTP (the API's API_TOKENS, the worker's METRICS_TOKEN): read from an
 * Authorization header, compared by digest in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The token an Authorization header presents, Bearer or Basic (password part); undefined when none. */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme, credentials] = authorization.trim().split(/\s+/, 2);
  if (!credentials) return undefined;
  switch (scheme?.toLowerCase()) {
    case 'bearer':
      return credentials;
    case 'basic': {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon < 0 ? undefined : decoded.slice(colon + 1);
    }
    default:
      return undefined;
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** A checker for one fixed set of tokens. */
export function tokenChecker(tokens: readonly string[]): (candidate: string | undefined) => boolean {
  const known = tokens.map(digest);
  return (candidate) => {
    if (candidate === undefined) return false;
    const presented = digest(candidate);
    // Every token is compared, so the time taken does not tell which one came close.
    return known.reduce((found, token) => timingSafeEqual(token, presented) || found, false);
  };
}
