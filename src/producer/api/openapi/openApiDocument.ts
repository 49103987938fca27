/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the routes check with
 * (zod's own JSON Schema output, draft 2020-12, which OpenAPI 3.1 takes as it is). Request bodies
 * are described as a client sends them (defaults optional), answers as the server writes them.
 */
import { z } from 'zod';
import { LEGACY_PREFIXES, NAMED_SCHEMAS, type Operation, OPERATIONS } from './apiOperations';
import { errorSchema } from './apiSchemas';
import { SESSION_COOKIE } from '../../console/consoleSession';

/** Fastify's `/v1/batches/:id` as OpenAPI's `/v1/batches/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z]\w*)/g, '{$1}');

/** The unversioned alias of a /v1 path, if it has one (one release of grace). */
export function legacyAlias(path: string): string | undefined {
  const bare = path.replace(/^\/v1(?=\/)/, '');
  return bare !== path && LEGACY_PREFIXES.some((p) => bare === p || bare.startsWith(`${p}/`)) ? bare : undefined;
}

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  return rest;
}

export function openApiDocument(version: string): Json {
  const components: Record<string, Json> = { Error: jsonSchema(errorSchema, 'output') };
  const ref = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const name = NAMED_SCHEMAS.get(schema);
    if (!name) return jsonSchema(schema, io);
    components[name] ??= jsonSchema(schema, io);
    return { $ref: `#/components/schemas/${name}` };
  };

  const describe = (op: Operation, deprecated: boolean): Json => {
    const params = [...op.path.matchAll(/:([A-Za-z]\w*)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = Object.entries(op.query?.shape ?? {}).map(([name, field]) => ({
      name,
      in: 'query',
      required: !(field as z.ZodType).safeParse(undefined).success,
      schema: jsonSchema(field as z.ZodType, 'input'),
    }));
    const headers = Object.entries(op.headers ?? {}).map(([name, description]) => ({
      name,
      in: 'header',
      required: false,
      description,
      schema: { type: 'string' },
    }));
    const responses = Object.fromEntries(
      Object.entries(op.answers).map(([code, a]) => {
        const media = a.schema ? { 'application/json': { schema: ref(a.schema, 'output') } } : a.mediaType ? { [a.mediaType]: {} } : undefined;
        const error = Number(code) >= 400 ? { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } : undefined;
        return [code, { description: a.description, ...((media ?? error) && { content: media ?? error }) }];
      }),
    );
    return {
      operationId: deprecated ? `${op.operationId}Unversioned` : op.operationId,
      tags: [op.tag],
      summary: deprecated ? `${op.summary} (deprecated: use ${openApiPath(op.path)})` : op.summary,
      ...(deprecated && { deprecated: true }),
      ...(op.open && { security: [] }),
      ...((params.length || query.length || headers.length) && { parameters: [...params, ...query, ...headers] }),
      ...(op.body && { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body, 'input') } } } }),
      responses: { ...responses, ...(!op.open && { 401: { description: 'no valid API token or console session' } }) },
    };
  };

  const paths: Record<string, Record<string, Json>> = {};
  const add = (path: string, op: Operation, deprecated: boolean): void => {
    (paths[openApiPath(path)] ??= {})[op.method] = describe(op, deprecated);
  };
  for (const op of OPERATIONS) {
    add(op.path, op, false);
    const alias = legacyAlias(op.path);
    if (alias) add(alias, op, true);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'sora-batch',
      version,
      description:
        'Render video prompts in bulk through KIE.ai into S3. Every route lives under /v1; the unversioned /renders and /schedules paths answer for one more release, with a `Deprecation` header.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { basic: [] }, { session: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'one of API_TOKENS' },
        basic: { type: 'http', scheme: 'basic', description: 'any user name, one of API_TOKENS as the password' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: "the console's session, from logging in with a token" },
      },
      schemas: components,
    },
    paths,
  };
}
