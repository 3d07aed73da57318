/**
 * A registry double that speaks just enough of /v2 to serve one tag, with behaviour the test
 * switches: a good answer, server errors, rate limits, an HTML login page, a hang, a malformed
 * digest, a missing tag, or credentials that never work. It counts what it was asked.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** A fixed manifest body served on GET, so a digest computed from the body is predictable. */
export const FAULT_MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
export const FAULT_MANIFEST_DIGEST = `sha256:${createHash('sha256').update(FAULT_MANIFEST).digest('hex')}`;
/** What the token endpoint hands out in `unauthorized()` mode; it must never show up in an error. */
export const FAULT_TOKEN = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJmYXVsdC10ZXN0In0.c2VjcmV0LWZhdWx0LXRva2Vu';

type Mode =
  | { kind: 'ok'; digest: string | undefined; rateLimitRemaining?: string }
  | { kind: 'status'; status: number }
  | { kind: 'rateLimit'; retryAfterSec: number }
  | { kind: 'html' }
  | { kind: 'hang' }
  | { kind: 'malformedDigest' }
  | { kind: 'notFound' }
  | { kind: 'unauthorized' };

export interface FaultRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** Every request so far, token requests included. */
  readonly requests: number;
  /** Method and path of each request, in order. */
  readonly log: ReadonlyArray<{ method: string; path: string; authorization?: string }>;
  /** HEAD answers `digest` (GET serves FAULT_MANIFEST); with no digest, HEAD omits Docker-Content-Digest. */
  ok(digest: string | undefined, opts?: { rateLimitRemaining?: string }): void;
  status(code: number): void;
  rateLimit(retryAfterSec: number): void;
  html(): void;
  hang(): void;
  malformedDigest(): void;
  notFound(): void;
  unauthorized(): void;
  close(): Promise<void>;
}

export async function startFaultRegistry(): Promise<FaultRegistry> {
  let mode: Mode = { kind: 'notFound' };
  const log: Array<{ method: string; path: string; authorization?: string }> = [];
  const sockets = new Set<Socket>();
  let base = '';

  const json = (res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const entry: { method: string; path: string; authorization?: string } = { method: req.method ?? 'GET', path };
    if (req.headers.authorization !== undefined) entry.authorization = req.headers.authorization;
    log.push(entry);

    if (path === '/token') return json(res, 200, { token: FAULT_TOKEN, expires_in: 300 });
    if (path === '/v2/' || path === '/v2') return json(res, 200, {});
    if (!/^\/v2\/.+\/manifests\/[^/]+$/.test(path)) return json(res, 404, { errors: [{ code: 'NAME_UNKNOWN' }] });

    const head = req.method === 'HEAD';
    switch (mode.kind) {
      case 'ok': {
        const headers: Record<string, string> = { 'content-type': OCI_MANIFEST, 'content-length': String(FAULT_MANIFEST.length) };
        if (mode.digest !== undefined) headers['docker-content-digest'] = head ? mode.digest : FAULT_MANIFEST_DIGEST;
        if (mode.rateLimitRemaining !== undefined) headers['ratelimit-remaining'] = mode.rateLimitRemaining;
        res.writeHead(200, headers);
        res.end(head ? undefined : FAULT_MANIFEST);
        return;
      }
      case 'status':
        return json(res, mode.status, { errors: [{ code: 'UNKNOWN', message: 'fault injected' }] });
      case 'rateLimit':
        return json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS' }] }, { 'retry-after': String(mode.retryAfterSec) });
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(head ? undefined : '<!doctype html><html><body>Please sign in</body></html>');
        return;
      case 'hang':
        return; // never answer: the client's own timeout has to end this
      case 'malformedDigest':
        res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': 'sha256:not-a-digest' });
        res.end(head ? undefined : FAULT_MANIFEST);
        return;
      case 'notFound':
        return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
      case 'unauthorized':
        return json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, {
          'www-authenticate': `Bearer realm="${base}/token",service="fault",scope="repository:${path.split('/manifests/')[0]!.slice(4)}:pull"`,
        });
    }
  };

  const server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = `http://${host}`;

  return {
    host,
    get requests() {
      return log.length;
    },
    log,
    ok: (digest, opts = {}) => {
      mode = { kind: 'ok', digest, ...(opts.rateLimitRemaining === undefined ? {} : { rateLimitRemaining: opts.rateLimitRemaining }) };
    },
    status: (code) => {
      mode = { kind: 'status', status: code };
    },
    rateLimit: (retryAfterSec) => {
      mode = { kind: 'rateLimit', retryAfterSec };
    },
    html: () => {
      mode = { kind: 'html' };
    },
    hang: () => {
      mode = { kind: 'hang' };
    },
    malformedDigest: () => {
      mode = { kind: 'malformedDigest' };
    },
    notFound: () => {
      mode = { kind: 'notFound' };
    },
    unauthorized: () => {
      mode = { kind: 'unauthorized' };
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
