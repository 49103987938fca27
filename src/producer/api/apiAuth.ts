/**
 * Who may use the HTTP API and the dashboard: a caller presenting one of API_TOKENS, as
 * `Authorization: Bearer <token>` (programs) or HTTP Basic with the token as password (browsers,
 * which prompt for it on the dashboard). Tokens are compared by digest in constant time
 * (shared/httpTokens.ts).
 */
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
    throw new ConfigError([{ field: 'API_TOKENS', value: `${short.length} token(s)`, rule: `every token must have at least ${MIN_TOKEN_LENGTH} characters` }]);
  }
}
