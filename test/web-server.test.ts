/** The web server's shared rules: health routes, the 1 MiB limit on every route, server.host, hooks only when configured. */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { Runtime } from '../src/runtime.js';
import { readinessBody, registerHealth } from '../src/web/health.js';
import { registerHooks } from '../src/web/hooks/index.js';
import { BODY_LIMIT_BYTES, createWebApp, listen } from '../src/web/server.js';
import { RecordingService } from './support/recording-service.js';

const quiet = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function app(checks: () => Record<string, { ok: boolean; state?: string; detail?: string }> = () => ({ store: { ok: true } })) {
  const metrics = new Metrics();
  const web = createWebApp({ log: quiet });
  registerHooks(web, { webhooks: { registry: { tokenEnv: 'T' } }, registries: {}, env: { T: 'token-0123456789' }, checker: undefined, metrics, log: quiet });
  registerHealth(web, { metrics, checks });
  cleanups.push(() => web.close());
  return web;
}

describe('health routes', () => {
  it('/healthz answers, /readyz names components and states, /metrics is Prometheus text', async () => {
    let storeOk = true;
    const web = app(() => ({ store: { ok: storeOk }, delivery: { ok: true, state: '0 pending, 0 refused by Slack' } }));
    expect((await web.inject({ url: '/healthz' })).body).toBe('ok\n');
    const ready = await web.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true, checks: { store: { ok: true, state: 'ok' }, delivery: { ok: true, state: '0 pending, 0 refused by Slack' } } });
    storeOk = false;
    expect((await web.inject({ url: '/readyz' })).statusCode).toBe(503);
    const metrics = await web.inject({ url: '/metrics' });
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('# TYPE driftwatch_webhook_requests_total counter');
  });

  it('/readyz never serves error text: a failing component shows its state, not its detail', () => {
    const body = readinessBody({ cluster: { ok: false, detail: 'connect ECONNREFUSED 10.0.0.7:6443 with Bearer eyJhbGciOi…' } });
    expect(body).toEqual({ ready: false, checks: { cluster: { ok: false, state: 'not ready' } } });
  });
});

describe('the 1 MiB body limit', () => {
  it('answers 413 on every route, known or not, before anything else looks at the request', async () => {
    const web = app();
    const big = Buffer.alloc(BODY_LIMIT_BYTES + 1, 'x');
    for (const [method, url] of [['POST', '/hooks/registry'], ['POST', '/readyz'], ['POST', '/nowhere'], ['PUT', '/metrics']] as const) {
      const answer = await web.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: big });
      expect([method, url, answer.statusCode]).toEqual([method, url, 413]);
      expect(answer.json()).toEqual({ error: 'request body larger than 1 MiB' });
    }
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      expect((await web.inject({ method: 'GET', url, headers: { 'content-length': String(2 * 1024 * 1024) } })).statusCode).toBe(413);
    }
    // Exactly at the limit is fine (here: a well-formed delivery without credentials → 401).
    const atLimit = await web.inject({ method: 'POST', url: '/hooks/registry', headers: { 'content-type': 'application/json' }, payload: Buffer.alloc(BODY_LIMIT_BYTES, ' ') });
    expect(atLimit.statusCode).toBe(401);
  });

  it('also when the body comes chunked, with no length declared (a real socket)', async () => {
    const web = app();
    const port = await listen(web, '127.0.0.1', 0);
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/hooks/registry', headers: { 'content-type': 'application/json', authorization: 'Bearer token-0123456789', 'transfer-encoding': 'chunked' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, ' ');
      let sent = 0;
      const pump = () => {
        while (sent < 2 * 1024 * 1024) {
          sent += chunk.length;
          if (!request.write(chunk)) return void request.once('drain', pump);
        }
        request.end();
      };
      pump();
    });
    expect(status).toBe(413);
  });
});

describe('the server in the runtime', () => {
  it('listens on server.host, serves the hooks only when configured, and closes on shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-web-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const run = async (extra: Record<string, unknown>) => {
      const runtime = new Runtime(parseConfig({ store: { path: join(dir, `${Object.keys(extra).join('-') || 'plain'}.db`) }, server: { host: '127.0.0.1', port: 0 }, ...extra }), { log: quiet });
      await runtime.startServices({ service: new RecordingService() });
      const base = `http://127.0.0.1:${runtime.webPort}`;
      const answers = {
        healthz: (await fetch(`${base}/healthz`)).status,
        hook: (await fetch(`${base}/hooks/registry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"events":[]}' })).status,
        ready: (await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, { state: string }> },
      };
      await runtime.shutdown(0);
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
      return answers;
    };
    const plain = await run({});
    expect(plain.healthz).toBe(200);
    expect(plain.hook).toBe(404);
    expect(Object.keys(plain.ready.checks).some((name) => name.startsWith('webhook:'))).toBe(false);
    const hooked = await run({ webhooks: { registry: { tokenEnv: 'DW_TEST_UNSET_TOKEN_VARIABLE' } } });
    expect(hooked.hook).toBe(401); // configured, but its variable is unset: every delivery is refused
    expect(hooked.ready.checks['webhook:registry']).toEqual({ ok: true, state: 'no valid delivery yet' });
  });

  it('server.host defaults to every interface', () => {
    expect(parseConfig({}).server).toEqual({ host: '0.0.0.0', port: 9090 });
  });
});
