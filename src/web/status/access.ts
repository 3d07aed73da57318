import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Who may see the status page: optional HTTP basic auth on every path but the probes, the
 * metrics and the webhooks (their callers can't log in; the hooks check their own secrets).
 * Runs before anything else, so without credentials every method gets 401 first.
 */

export interface BasicAuth {
  username: string;
  password: string;
}

const OPEN_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Decided on the matched route, not the raw URL: `/%68ealthz` or `/hooks/../` match no open route. */
export function needsCredentials(route: string | undefined): boolean {
  if (route === undefined) return true;
  return !(OPEN_ROUTES.has(route) || route.startsWith('/hooks/'));
}

const digestOf = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time on the hashes, so the comparison says nothing about how much of a guess matched. */
export function credentialsMatch(header: string | undefined, expected: BasicAuth): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return false;
  const userOk = timingSafeEqual(digestOf(decoded.slice(0, colon)), digestOf(expected.username));
  const passwordOk = timingSafeEqual(digestOf(decoded.slice(colon + 1)), digestOf(expected.password));
  return userOk && passwordOk;
}

export function registerBasicAuth(app: FastifyInstance, auth: BasicAuth): void {
  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    if (!needsCredentials(request.routeOptions.url)) return undefined;
    if (credentialsMatch(request.headers.authorization, auth)) return undefined;
    return reply
      .code(401)
      .header('www-authenticate', 'Basic realm="Driftwatch status", charset="UTF-8"')
      .header('cache-control', 'no-store')
      .type('text/plain; charset=utf-8')
      .send('401 Unauthorized: the status page needs its user name and password.\n');
  });
}
