/**
 * The routes a Fastify app registered, as its onRoute hook saw them: what the OpenAPI test holds
 * against the document. Only the hook sees every route with its final (prefixed) path.
 */
import type { FastifyInstance } from 'fastify';

export interface RegisteredRoute {
  method: string;
  url: string;
}

const routes = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Call before the first route is added. */
export function trackRoutes(app: FastifyInstance): void {
  const list: RegisteredRoute[] = [];
  routes.set(app, list);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) list.push({ method, url: route.url });
  });
}

export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return routes.get(app) ?? [];
}
