/**
 * Who may use the HTTP API and the dashboard: a caller presenting one of API_TOKENS, as
 * `Authorization: Bearer <token>` (programs) or HTTP Basic with the token as password (browsers,
 * which prompt for it on the dashboard). Tokens are compared by digest in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../shared/config';
import { ConfigError } from '../../shared/errors';

const MIN_TOKEN_LENGTH = 16;

/** `npm run api` cannot run open: it needs at least one token, each long enough not to be guessed. */
export function requireApiTokens(config: Config): void {
  if (config.apiTokens.length === 0) {
    throw new ConfigError([{ field: 'API_TOKENS', value: undefined, rule: 'the HTTP API needs at least one token (comma-separated)' }]);
  }
  const short = config.apiTokens.filter((t) => t.length < MIN_TOKEN_LENGTH);
  if (short.length) {
    throw new ConfigError([
      { field: 'API_TOKENS', value: `${short.length} token(s)`, rule: `every token must have at least ${MIN_TOKEN_LENGTH} characters` },
    ]);
  }
}

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
