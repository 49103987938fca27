/**
 * The console's pages: `/` (the console, a page of small vanilla JS modules), `/login` (a token in,
 * a session cookie out), `/console/logout`, and the static files under `/console/assets/`, served
 * from this folder (copied beside the JavaScript by `npm run build`). No CDN, no external font.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config';
import type { Logger } from '../../shared/logger';
import { tokenChecker } from '../../shared/httpTokens';
import { parseWith } from '../../batch/batchSchemas';
import { z } from 'zod';
import { type ConsoleSessions, sessionCookie } from './consoleSession';

const ASSETS = path.join(__dirname, 'assets');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Pages and assets anyone may fetch: what the login needs. */
export const OPEN_CONSOLE_ROUTES: ReadonlySet<string> = new Set(['/login', '/console/session', '/console/assets/:file']);
/** Pages a browser opens: without a session they go to the login page (the API answers 401). */
export const CONSOLE_PAGES: ReadonlySet<string> = new Set(['/', '/docs']);

const loginBodySchema = z.strictObject({
  token: z.string({ error: 'must be one of API_TOKENS' }).min(1, { error: 'must not be empty' }).max(1000, { error: 'is too long' }),
});

/** Only what the page itself needs; videos come from S3, whose origin is allowed to play them. */
function contentSecurityPolicy(config: Config): string {
  const s3 = config.s3.endpoint ? new URL(config.s3.endpoint).origin : 'https://*.amazonaws.com';
  return `default-src 'self'; media-src 'self' ${s3}; img-src 'self' data: ${s3}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'`;
}

export function registerConsoleRoutes(app: FastifyInstance, deps: { config: Config; sessions: ConsoleSessions; logger: Logger }): void {
  const { config, sessions, logger } = deps;
  const isKnownToken = tokenChecker(config.apiTokens);
  const assets = new Map(
    readdirSync(ASSETS)
      .filter((name) => Object.hasOwn(TYPES, path.extname(name)))
      .map((name) => [name, readFileSync(path.join(ASSETS, name))]),
  );
  const csp = contentSecurityPolicy(config);
  const page = (name: string) => async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.type(TYPES['.html']!).header('content-security-policy', csp).header('cache-control', 'no-store').send(assets.get(name));

  app.get('/', page('index.html'));
  app.get('/login', page('login.html'));

  app.get<{ Params: { file: string } }>('/console/assets/:file', async (request, reply) => {
    const body = assets.get(request.params.file);
    if (!body || request.params.file.endsWith('.html')) return reply.code(404).send({ error: `no file ${request.params.file}` });
    return reply.type(TYPES[path.extname(request.params.file)]!).header('cache-control', 'no-cache').send(body);
  });

  app.post<{ Body: unknown }>('/console/session', async (request, reply) => {
    const { token } = parseWith(loginBodySchema, request.body);
    if (!isKnownToken(token)) {
      logger.warn({ ip: request.ip }, 'console login refused');
      return reply.code(401).send({ error: 'not one of API_TOKENS' });
    }
    logger.info({ ip: request.ip }, 'console login');
    return reply
      .header('set-cookie', sessionCookie(sessions.issue(token), request.protocol === 'https'))
      .code(204)
      .send();
  });

  app.post('/console/logout', async (request, reply) =>
    reply
      .header('set-cookie', sessionCookie('', request.protocol === 'https'))
      .code(204)
      .send(),
  );
}
