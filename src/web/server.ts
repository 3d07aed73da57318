/**
 * The HTTP server on `server.host`:`server.port`: health, metrics and the registry webhooks
 * today, more routes later. `createWebApp` builds an app with the rules every route shares; route
 * modules add themselves (`registerHealth(app, deps)`, `registerHooks(app, deps)`), and tests
 * drive the app with `inject()` without a socket.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '../log.js';

/** Request bodies above this get 413, on every route (PRODUCTION.md, "Listeners"). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Node refuses request heads over 16 KiB (431) by default, so no routed path segment is longer. */
export const MAX_PATH_PARAM_LENGTH = 16 * 1024;

export function createWebApp(options: { log?: Logger } = {}): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    // SIGTERM must not wait for idle keep-alive connections (a Prometheus scraper, a registry).
    forceCloseConnections: true,
    logger: false,
    // Docker Hub's webhook secret is a path segment: a token of any length a request line can
    // carry must route, so a wrong one answers 401 rather than the router's 414 (which quotes
    // the path, and with it the token).
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Fastify's own answers to a bad URL quote the path; these never do.
    frameworkErrors: (error, _request, frameworkReply) => {
      const reply = frameworkReply as FastifyReply;
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      return reply.code(status).send({ error: status === 414 ? 'path too long' : 'bad request' });
    },
  });
  // A declared length over the limit is refused before anything reads the body or checks
  // credentials, whatever the route (routes without a body parser would otherwise never look).
  app.addHook('onRequest', async (request, reply) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > BODY_LIMIT_BYTES) return reply.code(413).header('connection', 'close').send(tooLarge());
    return undefined;
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not found' }));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 413) return reply.code(413).header('connection', 'close').send(tooLarge());
    if (status === 500) {
      options.log?.error({ err: error, method: request.method, route: request.routeOptions.url }, 'web request failed');
      return reply.code(500).send({ error: 'internal error' });
    }
    return reply.code(status).send({ error: error.message });
  });
  return app;
}

function tooLarge(): { error: string } {
  return { error: `request body larger than ${BODY_LIMIT_BYTES / 1024 / 1024} MiB` };
}

/** Starts listening; resolves to the bound port (useful with port 0). */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<number> {
  await app.listen({ host, port });
  const address = app.server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}
