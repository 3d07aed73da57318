/**
 * A public endpoint stand-in for probe tests and `driftwatch demo`: an HTTP(S) server on 127.0.0.1:0 whose answers the
 * test changes between probes (version header, status, preflight, delay, huge body, redirect).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface EndpointRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface HugeBodyOutcome {
  /** Bytes the server managed to write before the client went away or it finished. */
  bytesWritten: number;
  /** True when the whole body was sent (i.e. the client read it all). */
  completed: boolean;
  /** True once the response ended one way or the other. */
  settled: boolean;
}

export interface Endpoint {
  url: string;
  setVersion(header: string, value: string | undefined): void;
  setStatus(code: number): void;
  setOptions(behaviour: { status: number; allowOrigin?: string }): void;
  setDelay(ms: number): void;
  setHugeBody(bytes: number): void;
  setRedirect(location: string | undefined): void;
  rejectHead(reject?: boolean): void;
  requests(): EndpointRequest[];
  requestCount(): number;
  /** Most requests the server was answering at the same time. */
  maxConcurrent(): number;
  /** TCP connections opened to it so far (keep-alive reuses them). */
  connectionCount(): number;
  hugeBody(): HugeBodyOutcome | undefined;
  close(): Promise<void>;
}

export async function startEndpoint(options: { tls?: { key: string; cert: string } } = {}): Promise<Endpoint> {
  const version = new Map<string, string>();
  let status = 200;
  let preflight: { status: number; allowOrigin?: string } = { status: 204, allowOrigin: '*' };
  let delayMs = 0;
  let hugeBytes = 0;
  let redirect: string | undefined;
  let headRejected = false;
  const seen: EndpointRequest[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  let huge: HugeBodyOutcome | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.method === 'OPTIONS') {
      const headers: Record<string, string> = {};
      if (preflight.allowOrigin !== undefined) headers['access-control-allow-origin'] = preflight.allowOrigin;
      res.writeHead(preflight.status, headers).end();
      return;
    }
    if (req.method === 'HEAD' && headRejected) {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (redirect !== undefined) {
      res.writeHead(301, { location: redirect }).end();
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    for (const [name, value] of version) headers[name] = value;
    if (hugeBytes > 0 && req.method === 'GET') {
      headers['content-length'] = String(hugeBytes);
      res.writeHead(status, headers);
      streamHugeBody(res, hugeBytes);
      return;
    }
    res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : 'ok\n');
  };

  const streamHugeBody = (res: http.ServerResponse, total: number): void => {
    const outcome: HugeBodyOutcome = { bytesWritten: 0, completed: false, settled: false };
    huge = outcome;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = (): void => {
      while (outcome.bytesWritten < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - outcome.bytesWritten));
        outcome.bytesWritten += piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('finish', () => {
      outcome.completed = true;
      outcome.settled = true;
    });
    res.on('close', () => {
      outcome.settled = true;
    });
    pump();
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    res.on('close', () => concurrent--);
    if (delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!res.destroyed) answer(req, res);
      }, delayMs);
      timers.add(timer);
    } else {
      answer(req, res);
    }
  };

  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  // A TLS client that rejects our certificate shows up here; it is expected in these tests.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    connectionCount: () => connections,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/hooks/lib/sources/tmdb.js`,
    setVersion(header, value) {
      if (value === undefined) version.delete(header.toLowerCase());
      else version.set(header.toLowerCase(), value);
    },
    setStatus(code) {
      status = code;
    },
    setOptions(behaviour) {
      preflight = behaviour;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    setHugeBody(bytes) {
      hugeBytes = bytes;
    },
    setRedirect(location) {
      redirect = location;
    },
    rejectHead(reject = true) {
      headRejected = reject;
    },
    requests: () => [...seen],
    requestCount: () => seen.length,
    maxConcurrent: () => maxConcurrent,
    hugeBody: () => huge,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
