import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isDown, normaliseVersion, Prober, versionFromImageTag } from '../src/clients/probe.js';
import { startEndpoint, type Endpoint } from './support/endpoint-server.js';
import { makeCA, makeCert, type Pem } from './support/certs.js';
import { waitFor } from './support/fake-slack.js';
import { freePort } from './support/product.js';

const DAY = 86_400_000;



describe('version helpers', () => {
  it('normalises served versions and rejects garbage', () => {
    expect(normaliseVersion('v0.2.0')).toBe('0.2.0');
    expect(normaliseVersion(' 0.2.0 ')).toBe('0.2.0');
    expect(normaliseVersion('1.4.0-rc.1+build.7')).toBe('1.4.0-rc.1+build.7');
    expect(normaliseVersion('sha-39a4e17')).toBe('sha-39a4e17');
    expect(normaliseVersion('39a4e17')).toBe('39a4e17');
    expect(normaliseVersion(undefined)).toBeUndefined();
    expect(normaliseVersion('')).toBeUndefined();
    expect(normaliseVersion('latest')).toBeUndefined();
    expect(normaliseVersion('<html>oops</html>')).toBeUndefined();
    expect(normaliseVersion('0.2.0 (built on a tuesday)')).toBeUndefined();
    expect(normaliseVersion(`1${'0'.repeat(64)}`)).toBeUndefined();
  });

  it('reads release versions from image tags only', () => {
    expect(versionFromImageTag('ghcr.io/clevertree/relay:v0.2.0')).toBe('0.2.0');
    expect(versionFromImageTag('ghcr.io/clevertree/relay:0.1.0')).toBe('0.1.0');
    expect(versionFromImageTag('127.0.0.1:5000/relay:v1.2.3@sha256:' + 'a'.repeat(64))).toBe('1.2.3');
    expect(versionFromImageTag('ghcr.io/clevertree/relay:sha-39a4e17')).toBeUndefined();
    expect(versionFromImageTag('ghcr.io/confighubai/confighub-worker:latest')).toBeUndefined();
    expect(versionFromImageTag('127.0.0.1:5000/relay')).toBeUndefined();
    expect(versionFromImageTag('ghcr.io/clevertree/relay@sha256:' + 'b'.repeat(64))).toBeUndefined();
  });
});

describe('Prober over HTTP', () => {
  let endpoint: Endpoint;
  let prober: Prober;
  beforeAll(async () => {
    endpoint = await startEndpoint();
    prober = new Prober({ timeoutMs: 2_000 });
  });
  afterAll(async () => {
    await prober.close();
    await endpoint.close();
  });
  beforeEach(() => {
    endpoint.setStatus(200);
    endpoint.setVersion('X-Relay-Version', undefined);
    endpoint.setDelay(0);
    endpoint.setRedirect(undefined);
    endpoint.rejectHead(false);
  });

  const relay = () => ({ url: endpoint.url, name: 'relay-dfw1', versionHeader: 'X-Relay-Version', headers: { 'X-Relay-Branch': 'main' } });

  it('reads the version header with HEAD, sending the configured headers, v prefix dropped', async () => {
    endpoint.setVersion('X-Relay-Version', 'v0.2.0');
    const before = endpoint.requestCount();
    const result = await prober.probe(relay());
    expect(result).toMatchObject({ url: endpoint.url, status: 200, version: '0.2.0', versionRaw: 'v0.2.0' });
    expect(result.error).toBeUndefined();
    expect(result.versionProblem).toBeUndefined();
    expect(isDown(result)).toBe(false);
    const sent = endpoint.requests().slice(before);
    expect(sent.map((r) => r.method)).toEqual(['HEAD']);
    expect(sent[0]?.headers['x-relay-branch']).toBe('main');
  });

  it('reports a missing version header (the stale v0.1.0 relay of seed 004)', async () => {
    const result = await prober.probe(relay());
    expect(result.status).toBe(200);
    expect(result.versionProblem).toBe('missing');
    expect(result.version).toBeUndefined();
    expect(isDown(result)).toBe(false);
  });

  it('reports a header that is not a version as garbage, keeping what was served', async () => {
    endpoint.setVersion('X-Relay-Version', 'not a version');
    const result = await prober.probe(relay());
    expect(result).toMatchObject({ versionProblem: 'garbage', versionRaw: 'not a version' });
    expect(result.version).toBeUndefined();
  });

  it('falls back to GET when HEAD answers 405', async () => {
    endpoint.rejectHead();
    endpoint.setVersion('X-Relay-Version', '0.2.0');
    const before = endpoint.requestCount();
    const result = await prober.probe(relay());
    expect(endpoint.requests().slice(before).map((r) => r.method)).toEqual(['HEAD', 'GET']);
    expect(result).toMatchObject({ status: 200, version: '0.2.0' });
  });

  it('counts a 5xx as down', async () => {
    endpoint.setStatus(503);
    const result = await prober.probe(relay());
    expect(result.status).toBe(503);
    expect(isDown(result)).toBe(true);
    expect(result.error).toEqual({ kind: 'http', message: expect.stringContaining('relay-dfw1: HTTP 503') });
  });

  it('reports a redirect with its location instead of following it', async () => {
    endpoint.setRedirect('https://relay.example/moved');
    const result = await prober.probe(relay());
    expect(result).toMatchObject({ status: 301, location: 'https://relay.example/moved' });
    expect(result.error?.kind).toBe('redirect');
    expect(result.error?.message).toBe('relay-dfw1: redirected with 301 to https://relay.example/moved');
  });

  it('follows a redirect when asked to', async () => {
    const target = await startEndpoint();
    try {
      target.setVersion('X-Relay-Version', '0.2.0');
      endpoint.setRedirect(target.url);
      const result = await prober.probe({ ...relay(), followRedirects: true });
      expect(result).toMatchObject({ status: 200, version: '0.2.0' });
      expect(result.error).toBeUndefined();
      expect(target.requestCount()).toBe(1);
    } finally {
      await target.close();
    }
  });

  it('stops at its own deadline when the endpoint is slow', async () => {
    const quick = new Prober({ timeoutMs: 300 });
    try {
      endpoint.setDelay(3_000);
      const started = Date.now();
      const result = await quick.probe(relay());
      const took = Date.now() - started;
      expect(result.error).toEqual({ kind: 'timeout', message: `relay-dfw1: no answer from ${new URL(endpoint.url).host} within 300ms` });
      expect(took).toBeGreaterThanOrEqual(280);
      expect(took).toBeLessThan(1_000);
      expect(isDown(result)).toBe(true);
    } finally {
      await quick.close();
    }
  });

  it('reports a refused connection with the host and port', async () => {
    const port = await freePort();
    const result = await prober.probe({ url: `http://127.0.0.1:${port}/`, name: 'relay-ord1' });
    expect(result.error).toEqual({ kind: 'refused', message: `relay-ord1: connection refused by 127.0.0.1:${port}` });
    expect(result.status).toBeUndefined();
    expect(isDown(result)).toBe(true);
  });

  it('reports a DNS failure naming the host', async () => {
    const result = await prober.probe({ url: 'http://node-dfw1.relaynet.invalid/hooks', name: 'relay-dfw1' });
    expect(result.error?.kind).toBe('dns');
    expect(result.error?.message).toMatch(/^relay-dfw1: DNS lookup failed for node-dfw1\.relaynet\.invalid/);
  });

  it('drops a huge body after a small read instead of buffering it', async () => {
    const total = 512 * 1024 * 1024;
    endpoint.rejectHead();
    endpoint.setHugeBody(total);
    try {
      const started = Date.now();
      const result = await prober.probe(relay());
      expect(result.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(3_000);
      await waitFor(() => endpoint.hugeBody()?.settled === true, { what: 'the huge response to end' });
      const outcome = endpoint.hugeBody()!;
      expect(outcome.completed).toBe(false);
      expect(outcome.bytesWritten).toBeLessThan(64 * 1024 * 1024);
    } finally {
      endpoint.setHugeBody(0);
    }
  });

  it('checks the CORS preflight: 405 and a missing or foreign Allow-Origin fail, * and the origin pass', async () => {
    const cors = { origin: 'https://example.com' };
    endpoint.setOptions({ status: 405 });
    const before = endpoint.requestCount();
    const rejected = await prober.probe({ ...relay(), cors });
    expect(rejected.cors).toEqual({ ok: false, status: 405, reason: 'preflight answered 405' });
    const preflight = endpoint.requests().slice(before).find((r) => r.method === 'OPTIONS');
    expect(preflight?.headers.origin).toBe('https://example.com');
    expect(preflight?.headers['access-control-request-method']).toBe('GET');

    endpoint.setOptions({ status: 204 });
    expect((await prober.probe({ ...relay(), cors })).cors).toEqual({ ok: false, status: 204, reason: 'preflight has no Access-Control-Allow-Origin' });

    endpoint.setOptions({ status: 204, allowOrigin: 'https://other.example' });
    expect((await prober.probe({ ...relay(), cors })).cors).toMatchObject({ ok: false, reason: 'Access-Control-Allow-Origin is https://other.example, not https://example.com' });

    endpoint.setOptions({ status: 204, allowOrigin: '*' });
    expect((await prober.probe({ ...relay(), cors })).cors).toEqual({ ok: true, status: 204, allowOrigin: '*' });

    endpoint.setOptions({ status: 200, allowOrigin: 'https://example.com' });
    expect((await prober.probe({ ...relay(), cors: { origin: 'https://example.com', method: 'POST' } })).cors?.ok).toBe(true);
    expect(endpoint.requests().at(-1)?.headers['access-control-request-method']).toBe('POST');
  });

  it('keeps connections alive across HEAD probes (undici would close one per HEAD)', async () => {
    const keepAlive = await startEndpoint();
    const own = new Prober({ timeoutMs: 2_000 });
    try {
      keepAlive.setVersion('X-Relay-Version', '0.2.0');
      for (let index = 0; index < 20; index++) expect((await own.probe({ url: `${keepAlive.url}/`, versionHeader: 'X-Relay-Version' })).version).toBe('0.2.0');
      expect(keepAlive.requests().every((request) => request.method === 'HEAD')).toBe(true);
      expect(keepAlive.connectionCount()).toBeLessThanOrEqual(2);
    } finally {
      await own.close();
      await keepAlive.close();
    }
  });

  it('never has more probes in flight than its concurrency bound', async () => {
    const bounded = new Prober({ concurrency: 3, timeoutMs: 5_000 });
    const server = await startEndpoint();
    try {
      server.setDelay(100);
      const results = await Promise.all(Array.from({ length: 12 }, () => bounded.probe({ url: server.url })));
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(server.maxConcurrent()).toBe(3);
      expect(bounded.stats()).toMatchObject({ probes: 12, inFlightMax: 3, inFlight: 0, queued: 0 });
    } finally {
      await bounded.close();
      await server.close();
    }
  });
});

describe('Prober over TLS', () => {
  let ca: Pem;
  let prober: Prober;
  const endpoints: Endpoint[] = [];
  const serve = async (cert: Pem): Promise<Endpoint> => {
    const endpoint = await startEndpoint({ tls: cert });
    endpoints.push(endpoint);
    return endpoint;
  };
  const day = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY);

  beforeAll(() => {
    ca = makeCA();
    prober = new Prober({ timeoutMs: 3_000, ca: ca.cert });
  });
  afterAll(async () => {
    await prober.close();
    await Promise.all(endpoints.map((e) => e.close()));
  });

  it('records expiry of a valid certificate trusted through the extra CA', async () => {
    const endpoint = await serve(makeCert(ca, { names: ['127.0.0.1'], notBefore: day(-1), notAfter: new Date(Date.now() + 30 * DAY + 3_600_000) }));
    endpoint.setVersion('X-Relay-Version', '0.2.0');
    const result = await prober.probe({ url: endpoint.url, versionHeader: 'X-Relay-Version' });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ status: 200, version: '0.2.0' });
    expect(result.tls).toMatchObject({ daysLeft: 30, authorized: true, subject: 'CN=127.0.0.1', issuer: 'CN=driftwatch test CA' });
    expect(Date.parse(result.tls!.validTo)).toBeGreaterThan(Date.now() + 30 * DAY);
  });

  it('rejects an expired certificate and says since when', async () => {
    const notAfter = day(-10);
    const endpoint = await serve(makeCert(ca, { names: ['127.0.0.1'], notBefore: day(-100), notAfter }));
    const result = await prober.probe({ url: endpoint.url, name: 'relay-dfw1' });
    expect(result.error).toEqual({ kind: 'tls', message: `relay-dfw1: TLS certificate has expired (notAfter ${notAfter.toISOString().slice(0, 10)})` });
    expect(result.tls).toMatchObject({ authorized: false, authorizationError: 'CERT_HAS_EXPIRED', daysLeft: -10 });
    expect(isDown(result)).toBe(true);
    expect(endpoint.requestCount()).toBe(0);
  });

  it('rejects a certificate for another name', async () => {
    const endpoint = await serve(makeCert(ca, { names: ['node-ord1.relaynet.online'] }));
    const result = await prober.probe({ url: endpoint.url, name: 'relay-dfw1' });
    expect(result.error).toEqual({ kind: 'tls', message: 'relay-dfw1: TLS certificate does not match 127.0.0.1 (it is for node-ord1.relaynet.online)' });
  });

  it('rejects a self-signed certificate', async () => {
    const endpoint = await serve(makeCert(ca, { names: ['127.0.0.1'], selfSigned: true }));
    const result = await prober.probe({ url: endpoint.url, name: 'relay-dfw1' });
    expect(result.error).toEqual({ kind: 'tls', message: 'relay-dfw1: TLS certificate is self-signed (CN=127.0.0.1)' });
  });

  it('does not trust the test CA unless it is given', async () => {
    const endpoint = await serve(makeCert(ca, { names: ['127.0.0.1'] }));
    const untrusting = new Prober({ timeoutMs: 3_000 });
    try {
      const result = await untrusting.probe({ url: endpoint.url, name: 'relay-dfw1' });
      expect(result.error).toEqual({ kind: 'tls', message: 'relay-dfw1: TLS certificate is signed by an untrusted issuer (CN=driftwatch test CA)' });
    } finally {
      await untrusting.close();
    }
  });
});
