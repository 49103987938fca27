/**
 * `/openapi.json` (the document clients are generated from) and `/docs`, Swagger UI over it. Swagger
 * UI's files come from the swagger-ui-dist package and are served here: no CDN at run time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { version } from '../../../package.json';
import { openApiDocument } from './openapi/openApiDocument';

const SWAGGER_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_FILES: Record<string, string> = { 'swagger-ui.css': 'text/css; charset=utf-8', 'swagger-ui-bundle.js': 'text/javascript; charset=utf-8' };

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sora-batch API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/console/assets/docs.js"></script>
</body>
</html>
`;

export function registerDocsRoutes(app: FastifyInstance): void {
  const document = openApiDocument(version);
  // Read once, on first use: a server that never shows the docs never loads 1.5 MB of them.
  const files = new Map<string, Buffer>();

  app.get('/openapi.json', () => document);
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DOCS_PAGE));
  app.get<{ Params: { file: string } }>('/docs/:file', async (request, reply) => {
    const type = Object.hasOwn(SWAGGER_FILES, request.params.file) ? SWAGGER_FILES[request.params.file] : undefined;
    if (!type) return reply.code(404).send({ error: `no file ${request.params.file}` });
    if (!files.has(request.params.file)) files.set(request.params.file, readFileSync(path.join(SWAGGER_DIR, request.params.file)));
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(files.get(request.params.file));
  });
}
