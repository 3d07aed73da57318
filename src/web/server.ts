import { createServer, type Server } from 'node:http';
import type { Metrics } from '../metrics.js';

export interface Readiness {
  /** Name → ok, with a reason when not. */
  checks(): Record<string, { ok: boolean; detail?: string }>;
}

/** /healthz (the process answers), /readyz (store, Slack, clusters), /metrics (Prometheus). */
export function startHealthServer(port: number, metrics: Metrics, readiness: Readiness, beforeScrape: () => void): Promise<Server> {
  const server = createServer((request, response) => {
    void (async () => {
      const path = (request.url ?? '/').split('?')[0];
      if (path === '/healthz') {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (path === '/readyz') {
        const checks = readiness.checks();
        const ready = Object.values(checks).every((check) => check.ok);
        response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ready, checks })}\n`);
        return;
      }
      if (path === '/metrics') {
        beforeScrape();
        response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
        return;
      }
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    })().catch(() => response.writeHead(500).end());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
