import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { Prober, type ProbeResult } from '../src/clients/probe.js';
import {
  EndpointWatcher,
  endpointChecks,
  expectedVersion,
  expiryCheck,
  fleetCheck,
  nextServed,
  versionChangedNotice,
  type Expectation,
  type ServedState,
} from '../src/watchers/endpoints.js';
import { startEndpoint, type Endpoint } from './support/endpoint-server.js';
import { makeCA, makeCert, type Pem } from './support/certs.js';
import { RecordingService } from './support/recording-service.js';
import { waitFor } from './support/fake-slack.js';
import { freePort } from './support/product.js';

const quiet = createLogger({ level: 'silent' });
const DAY = 86_400_000;
const MIN = 60_000;
const IMAGE = 'ghcr.io/acme/edge:latest';
const WORKLOAD = 'spot/edge/DaemonSet/edge';



// ---------------------------------------------------------------------------------------------
// Pure decisions

const at = Date.UTC(2026, 10, 24, 3, 0, 0);
const expect020: Expectation = { version: '0.2.0', source: `image label of ${IMAGE}` };
const answer = (over: Partial<ProbeResult> = {}): ProbeResult => ({ at, url: 'https://edge.example/hooks', status: 200, latencyMs: 12, ...over });
const endpointCfg = { name: 'edge-sjc3', versionHeader: 'X-Edge-Version' };

describe('expected version', () => {
  const none = { imageVersion: () => undefined, workloadSpec: () => undefined };

  it('comes from config, the image label, or the workload image tag, each with its source', () => {
    expect(expectedVersion({ expect: 'v0.2.0' }, none)).toEqual({ version: '0.2.0', source: 'config' });
    expect(expectedVersion({ expectFrom: { image: IMAGE } }, { ...none, imageVersion: (ref) => (ref === IMAGE ? { version: '0.2.0', digest: 'sha256:aa', at: 0 } : undefined) })).toEqual(expect020);
    const spec = { containers: [{ name: 'sidecar', image: 'nginx:stable' }, { name: 'edge', image: 'ghcr.io/acme/edge:v0.2.0' }] };
    expect(expectedVersion({ expectFrom: { workload: WORKLOAD } }, { ...none, workloadSpec: (ref) => (ref === WORKLOAD ? spec : undefined) })).toEqual({ version: '0.2.0', source: `image tag of ${WORKLOAD}` });
  });

  it('is unknown, with the reason, when nothing says what it should be', () => {
    expect(expectedVersion({}, none)).toEqual({ unknown: 'no expect or expectFrom configured' });
    expect(expectedVersion({ expectFrom: { image: IMAGE } }, none)).toEqual({ unknown: `no version label read yet for ${IMAGE}` });
    expect(expectedVersion({ expectFrom: { image: IMAGE } }, { ...none, imageVersion: () => ({ version: null, digest: 'sha256:aa', at: 0 }) })).toEqual({ unknown: `${IMAGE} has no org.opencontainers.image.version label` });
    const shaTagged = { containers: [{ name: 'edge', image: 'ghcr.io/acme/edge:sha-39a4e17' }] };
    expect(expectedVersion({ expectFrom: { workload: WORKLOAD } }, { ...none, workloadSpec: () => shaTagged })).toEqual({
      unknown: `the image tag of ${WORKLOAD} carries no version (ghcr.io/acme/edge:sha-39a4e17)`,
    });
  });
});

describe('served-version history', () => {
  it('starts without a notice, keeps `since` while the value holds, and reports a change', () => {
    const first = nextServed(undefined, answer(), at, expect020);
    expect(first.change).toBeUndefined();
    expect(first.served).toMatchObject({ version: null, since: at, seen: true, up: true, expected: '0.2.0', expectedSource: `image label of ${IMAGE}` });
    const again = nextServed(first.served, answer(), at + MIN, expect020);
    expect(again.served.since).toBe(at);
    const changed = nextServed(again.served, answer({ version: '0.2.0', versionRaw: '0.2.0' }), at + 192 * MIN, expect020);
    expect(changed.served).toMatchObject({ version: '0.2.0', since: at + 192 * MIN });
    expect(versionChangedNotice('edge-sjc3', changed.change!, at + 192 * MIN)).toMatchObject({
      subject: 'endpoint:edge-sjc3',
      kind: 'version_changed',
      summary: 'edge-sjc3 now serves 0.2.0; it served no version for 3h 12m',
    });
  });

  it('a down probe reads nothing: it keeps the last version and a first probe that is down is not a baseline', () => {
    const down = answer({ status: undefined, error: { kind: 'refused', message: 'edge-sjc3: connection refused by 127.0.0.1:9' } });
    const first = nextServed(undefined, down, at, expect020);
    expect(first.served).toMatchObject({ version: null, seen: false, up: false, error: 'connection refused by 127.0.0.1:9' });
    expect(nextServed(first.served, answer({ version: '0.1.0' }), at + MIN, expect020).change).toBeUndefined();
    const serving = nextServed(undefined, answer({ version: '0.1.0' }), at, expect020).served;
    const during = nextServed(serving, down, at + MIN, expect020);
    expect(during.served).toMatchObject({ version: '0.1.0', since: at, up: false });
    expect(during.change).toBeUndefined();
  });
});

describe('checks of one probe', () => {
  const served = (over: Partial<ServedState> = {}): ServedState => ({ version: null, since: at, seen: true, up: true, latencyMs: 5, checkedAt: at, url: 'u', ...over });
  const kinds = (checks: ReturnType<typeof endpointChecks>) => checks.map((check) => `${check.problem}:${check.ok ? 'ok' : 'bad'}`);

  it('a missing, garbage or different header is stale, naming expected, its source and what is served', () => {
    const [, stale] = endpointChecks({ endpoint: endpointCfg, result: answer(), served: served(), expectation: expect020 });
    expect(stale).toMatchObject({ problem: 'endpoint_stale', ok: false, summary: `serves no X-Edge-Version header; expected 0.2.0 (image label of ${IMAGE})` });
    expect(stale!.detail!.fields).toEqual([['Expected', `0.2.0 (image label of ${IMAGE})`], ['Served', 'none'], ['Since', '2026-11-24 03:00:00 UTC']]);
    const garbage = endpointChecks({ endpoint: endpointCfg, result: answer(), served: served({ raw: '<html>' }), expectation: expect020 })[1]!;
    expect(garbage.summary).toBe(`serves an unreadable X-Edge-Version header "<html>"; expected 0.2.0 (image label of ${IMAGE})`);
    expect(endpointChecks({ endpoint: endpointCfg, result: answer(), served: served({ version: '0.1.0' }), expectation: expect020 })[1]!.summary).toBe(`serves 0.1.0; expected 0.2.0 (image label of ${IMAGE})`);
    expect(endpointChecks({ endpoint: endpointCfg, result: answer(), served: served({ version: '0.2.0' }), expectation: expect020 })[1]).toMatchObject({ ok: true, summary: 'serves 0.2.0 as expected' });
    expect(kinds(endpointChecks({ endpoint: endpointCfg, result: answer(), served: served(), expectation: { unknown: 'x' } }))).toEqual(['endpoint_down:ok']);
  });

  it('down is only down, a TLS failure is only a TLS problem: neither says stale', () => {
    const refused = endpointChecks({ endpoint: endpointCfg, result: answer({ status: undefined, error: { kind: 'refused', message: 'edge-sjc3: connection refused by 127.0.0.1:9' } }), served: served({ up: false }), expectation: expect020 });
    expect(refused).toEqual([expect.objectContaining({ problem: 'endpoint_down', ok: false, summary: 'connection refused by 127.0.0.1:9' })]);
    const unavailable = endpointChecks({ endpoint: endpointCfg, result: answer({ status: 503, error: { kind: 'http', message: 'edge-sjc3: HTTP 503 from 127.0.0.1:9' } }), served: served({ up: false }), expectation: expect020 });
    expect(unavailable.map((check) => check.summary)).toEqual(['HTTP 503 from 127.0.0.1:9']);
    const expired = endpointChecks({ endpoint: endpointCfg, result: answer({ status: undefined, error: { kind: 'tls', message: 'edge-sjc3: TLS certificate has expired (notAfter 2026-01-01)' } }), served: served({ up: false }), expectation: expect020 });
    expect(kinds(expired)).toEqual(['tls_invalid:bad', 'endpoint_down:ok']);
    expect(expired[0]!.summary).toBe('TLS certificate has expired (notAfter 2026-01-01)');
  });

  it('a certificate near its end is a warning; CORS says which part failed', () => {
    expect(expiryCheck('endpoint:e', 13, '2026-12-07T00:00:00.000Z')).toMatchObject({ problem: 'tls_expiring', ok: false, summary: 'TLS certificate expires in 13 days (2026-12-07)' });
    expect(expiryCheck('endpoint:e', 14, '2026-12-08T00:00:00.000Z').ok).toBe(true);
    const cors = { ...endpointCfg, cors: { origin: 'https://example.com', method: 'GET' } };
    const wrong = endpointChecks({ endpoint: cors, result: answer({ cors: { ok: false, status: 204, allowOrigin: 'https://other.example', reason: 'Access-Control-Allow-Origin is https://other.example, not https://example.com' } }), served: served(), expectation: { unknown: 'x' } });
    expect(wrong.at(-1)).toMatchObject({ problem: 'cors_failing', ok: false, summary: 'Access-Control-Allow-Origin is https://other.example, not https://example.com (Origin https://example.com)' });
  });

  it('a fleet is split when endpoints that are up serve different versions', () => {
    const member = (name: string, over: Partial<ServedState>) => ({ name, served: served(over) });
    expect(fleetCheck('edge', [member('edge-a', { version: '0.1.0' }), member('edge-b', { version: '0.2.0' }), member('edge-c', { version: '0.1.0' })])).toMatchObject({
      subject: 'service:edge',
      problem: 'split_fleet',
      ok: false,
      summary: 'edge serves 0.1.0 (edge-a, edge-c), 0.2.0 (edge-b)',
    });
    expect(fleetCheck('edge', [member('edge-a', { version: '0.2.0' }), member('edge-b', { version: '0.2.0' })])).toMatchObject({ ok: true, summary: 'edge serves 0.2.0 (edge-a, edge-b)' });
    // A member that is down is left out; one live member is no fleet verdict at all.
    expect(fleetCheck('edge', [member('edge-a', { version: '0.1.0' }), member('edge-b', { version: '0.2.0', up: false })])).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// The watcher against real servers, through the real engine and outbox

let ca: Pem;
let prober: Prober;
const servers: Endpoint[] = [];
const runtimes: Runtime[] = [];

beforeAll(() => {
  ca = makeCA('endpoint watcher test CA');
  prober = new Prober({ ca: ca.cert, timeoutMs: 2_000 });
});
afterAll(async () => {
  await prober.close();
  for (const server of servers) await server.close();
});
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop(0).catch(() => {});
});

async function server(options: Parameters<typeof startEndpoint>[0] = {}): Promise<Endpoint> {
  const started = await startEndpoint(options);
  servers.push(started);
  return started;
}

function harness(endpoints: unknown[], extra: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const config = parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-endpoints-')), 'db.sqlite') }, endpoints, ...extra });
  const runtime = new Runtime(config, { clock, log: quiet });
  runtimes.push(runtime);
  const sink = runtime.sink();
  const watcher = new EndpointWatcher({ config, sink, prober, log: quiet });
  const service = new RecordingService();
  const poster = runtime.startDelivery(service);
  const drain = async () => expect(await poster.drain(3_000)).toBe(true);
  const texts = () => service.posted.flatMap((message) => [message.text, ...message.updates]);
  return { clock, config, runtime, sink, watcher, service, drain, texts };
}

describe('EndpointWatcher: seed 004, the stale deploy nobody could see from the cluster', () => {
  it('expected from the image label: no header → one stale-deploy incident; 0.2.0 served → resolved in the same thread with the notice', async () => {
    const edge = await server();
    const h = harness([{ name: 'edge-sjc3', service: 'edge', url: edge.url, headers: { 'X-Edge-Branch': 'main' }, versionHeader: 'X-Edge-Version', expectFrom: { image: IMAGE } }]);
    // The registry watcher's word: the tag's newest image is labelled 0.2.0.
    h.sink.state(`image:${IMAGE}`, 'version', { version: '0.2.0', digest: `sha256:${'3'.repeat(64)}`, at: h.clock.now() });

    await h.watcher.probeEndpoint('edge-sjc3');
    await h.drain();
    expect(h.service.posted).toHaveLength(0); // one bad probe is pending, not an alert
    h.clock.advance(30_000);
    await h.watcher.probeEndpoint('edge-sjc3');
    await h.drain();

    const roots = h.service.roots();
    expect(roots).toHaveLength(1);
    expect(roots[0]!.text).toContain('#1 endpoint edge-sjc3: stale deploy');
    expect(roots[0]!.text).toContain(`serves no X-Edge-Version header; expected 0.2.0 (image label of ${IMAGE})`);
    expect(roots[0]!.text).toContain(`Expected: 0.2.0 (image label of ${IMAGE})`);
    expect(roots[0]!.text).toContain('Served: none');
    expect(edge.requests().at(-1)!.headers['x-edge-branch']).toBe('main');

    // 3h 12m later someone gets the new binary onto the node.
    h.clock.advance(192 * MIN - 30_000);
    edge.setVersion('X-Edge-Version', '0.2.0');
    await h.watcher.probeEndpoint('edge-sjc3');
    h.clock.advance(30_000);
    await h.watcher.probeEndpoint('edge-sjc3');
    await h.drain();

    expect(h.service.roots()).toHaveLength(1);
    const thread = h.service.thread(roots[0]!.ts).map((message) => message.text);
    expect(thread.some((text) => text.startsWith('edge-sjc3 now serves 0.2.0; it served no version for 3h 12m'))).toBe(true);
    expect(thread.at(-1)).toContain('Resolved after 3h 12m 30s');
    expect(h.service.current(roots[0]!)).toMatch(/^Resolved: #1 endpoint edge-sjc3: stale deploy/);
    // The resolved root shows what is served now, not the first bad answer.
    expect(h.service.current(roots[0]!)).toContain('Served: 0.2.0');
    expect(h.service.current(roots[0]!)).not.toContain('Served: none');
    expect(h.runtime.store.subjects.state<ServedState>('endpoint:edge-sjc3', 'served')!.value).toMatchObject({ version: '0.2.0', status: 200, expected: '0.2.0', expectedSource: `image label of ${IMAGE}` });

    // After a restart the history is read back: the same version is no change and no notice.
    const again = new EndpointWatcher({ config: h.config, sink: h.sink, prober, log: quiet });
    h.clock.advance(30_000);
    await again.probeEndpoint('edge-sjc3');
    expect(again.servedState('edge-sjc3')!.since).toBe(h.watcher.servedState('edge-sjc3')!.since);
    expect(h.runtime.store.events.ofSubject('endpoint:edge-sjc3', 'notice.version_changed', 0)).toHaveLength(1);
  });

  it('expected from config: a version that goes missing posts one incident, its change notice inside the thread', async () => {
    const edge = await server();
    edge.setVersion('X-Edge-Version', 'v0.2.0');
    const h = harness([{ name: 'edge-lax1', url: edge.url, versionHeader: 'X-Edge-Version', expect: '0.2.0' }]);
    await h.watcher.probeEndpoint('edge-lax1');
    h.clock.advance(25 * MIN);
    edge.setVersion('X-Edge-Version', undefined);
    await h.watcher.probeEndpoint('edge-lax1');
    h.clock.advance(30_000);
    await h.watcher.probeEndpoint('edge-lax1');
    await h.drain();

    const roots = h.service.roots();
    expect(roots.map((root) => root.text.split('\n')[0])).toEqual(['#1 endpoint edge-lax1: stale deploy']);
    expect(roots[0]!.text).toContain('serves no X-Edge-Version header; expected 0.2.0 (config)');
    expect(h.service.thread(roots[0]!.ts).map((message) => message.text.split('\n')[0])).toEqual(['edge-lax1 now serves no version; it served 0.2.0 for 25m']);
  });

  it('expected from the workload image tag: the DaemonSet says v0.2.0 but the node still serves 0.1.0', async () => {
    const edge = await server();
    edge.setVersion('X-Edge-Version', '0.1.0');
    const h = harness(
      [{ name: 'edge-dfw2', service: 'edge', url: edge.url, versionHeader: 'X-Edge-Version', expectFrom: { workload: WORKLOAD }, workload: WORKLOAD }],
      { clusters: [{ name: 'spot' }], workloads: [{ cluster: 'spot', namespace: 'edge', kind: 'DaemonSet', name: 'edge' }] },
    );
    h.sink.state(`workload:${WORKLOAD}`, 'spec', { containers: [{ name: 'edge', image: 'ghcr.io/acme/edge:v0.2.0', imagePullPolicy: 'Always' }] });
    await h.watcher.runCycle();
    await h.watcher.runCycle();
    await h.drain();
    const roots = h.service.roots();
    expect(roots).toHaveLength(1);
    expect(roots[0]!.text).toContain(`serves 0.1.0; expected 0.2.0 (image tag of ${WORKLOAD})`);
    expect([...h.runtime.store.subjects.linked('endpoint:edge-dfw2')].sort()).toEqual(['service:edge', `workload:${WORKLOAD}`]);
  });
});

describe('EndpointWatcher: fleets, CORS, TLS, down', () => {
  it('two endpoints of one service serving different versions are a split fleet, listing who serves what', async () => {
    const a = await server();
    const b = await server();
    a.setVersion('X-Edge-Version', '0.1.0');
    b.setVersion('X-Edge-Version', '0.2.0');
    const h = harness([
      { name: 'edge-ams1', service: 'edge', url: a.url, versionHeader: 'X-Edge-Version' },
      { name: 'edge-fra1', service: 'edge', url: b.url, versionHeader: 'X-Edge-Version' },
    ]);
    await h.watcher.runCycle();
    await h.watcher.runCycle();
    await h.drain();
    const roots = h.service.roots();
    expect(roots).toHaveLength(1); // nothing is expected, so neither endpoint is stale
    expect(roots[0]!.text).toContain('#1 service edge: split fleet');
    expect(roots[0]!.text).toContain('edge serves 0.1.0 (edge-ams1), 0.2.0 (edge-fra1)');
    expect(h.watcher.servedState('edge-ams1')).toMatchObject({ expectedUnknown: 'no expect or expectFrom configured' });

    a.setVersion('X-Edge-Version', '0.2.0');
    await h.watcher.runCycle();
    await h.watcher.runCycle();
    await h.drain();
    expect(h.service.current(roots[0]!)).toMatch(/^Resolved: #1 service edge: split fleet/);
    expect(h.watcher.stats()).toMatchObject({ probes: 8, failedProbes: 0, cycles: 4 });
    expect(h.watcher.stats().lastCycleMs).toBeGreaterThanOrEqual(0);
  });

  it('a CORS preflight answered 405 is the CORS problem, the version being fine', async () => {
    const edge = await server();
    edge.setVersion('X-Edge-Version', '0.2.0');
    edge.setOptions({ status: 405 });
    const h = harness([{ name: 'edge-nyc4', url: edge.url, versionHeader: 'X-Edge-Version', expect: '0.2.0', cors: { origin: 'https://example.com' } }]);
    await h.watcher.runCycle();
    await h.watcher.runCycle();
    await h.drain();
    const roots = h.service.roots();
    expect(roots).toHaveLength(1);
    expect(roots[0]!.text).toContain('#1 endpoint edge-nyc4: CORS preflight failing');
    expect(roots[0]!.text).toContain('preflight answered 405 (Origin https://example.com)');
    const preflight = edge.requests().find((request) => request.method === 'OPTIONS')!;
    expect(preflight.headers.origin).toBe('https://example.com');
    expect(h.texts().some((text) => text.includes('stale deploy'))).toBe(false);
  });

  it('an expired certificate is a TLS problem, not a stale deploy; a valid one near its end is a warning', async () => {
    const expired = await server({ tls: makeCert(ca, { names: ['127.0.0.1'], notBefore: new Date(Date.now() - 90 * DAY), notAfter: new Date(Date.now() - 2 * DAY) }) });
    const ending = await server({ tls: makeCert(ca, { names: ['127.0.0.1'], notAfter: new Date(Date.now() + 5 * DAY) }) });
    ending.setVersion('X-Edge-Version', '0.2.0');
    const h = harness([
      { name: 'edge-sea1', url: expired.url, versionHeader: 'X-Edge-Version', expect: '0.2.0' },
      { name: 'edge-sea2', url: ending.url, versionHeader: 'X-Edge-Version', expect: '0.2.0' },
    ]);
    await h.watcher.runCycle();
    await h.watcher.runCycle();
    await h.drain();
    // Both probes run at once, so which incident gets #1 is a race: compare without the ids.
    const titles = h.service.roots().map((root) => root.text.split('\n')[0]!.replace(/^#\d+ /, ''));
    expect(titles.sort()).toEqual(['endpoint edge-sea1: TLS certificate invalid', 'endpoint edge-sea2: TLS certificate expiring soon']);
    const invalid = h.service.roots().find((root) => root.text.includes('edge-sea1'))!;
    expect(invalid.text).toMatch(/TLS certificate has expired \(notAfter \d{4}-\d{2}-\d{2}\)/);
    const expiring = h.service.roots().find((root) => root.text.includes('edge-sea2'))!;
    expect(expiring.text).toMatch(/TLS certificate expires in [45] days/);
    expect(h.texts().some((text) => text.includes('stale deploy') || text.includes('endpoint down'))).toBe(false);
    expect(h.watcher.servedState('edge-sea1')).toMatchObject({ seen: false, up: false });
    expect(h.watcher.servedState('edge-sea2')).toMatchObject({ version: '0.2.0', tls: { authorized: true } });
  });

  it('a refused port and a 503 are "down" with distinct reasons, never "stale"', async () => {
    const port = await freePort();
    const failing = await server();
    failing.setStatus(503);
    const h = harness([
      { name: 'edge-gru1', url: `http://127.0.0.1:${port}/hooks`, versionHeader: 'X-Edge-Version', expect: '0.2.0' },
      { name: 'edge-gru2', url: failing.url, versionHeader: 'X-Edge-Version', expect: '0.2.0' },
    ]);
    await h.watcher.runCycle();
    await h.watcher.runCycle();
    await h.drain();
    const roots = h.service.roots();
    expect(roots.map((root) => root.text.split('\n')[0]).sort()).toEqual(['#1 endpoint edge-gru1: endpoint down', '#2 endpoint edge-gru2: endpoint down']);
    expect(roots.find((root) => root.text.includes('edge-gru1'))!.text).toContain(`connection refused by 127.0.0.1:${port}`);
    expect(roots.find((root) => root.text.includes('edge-gru2'))!.text).toContain('HTTP 503 from 127.0.0.1:');
    expect(h.texts().some((text) => text.includes('stale deploy'))).toBe(false);
    expect(h.runtime.store.incidents.problem('endpoint:edge-gru2', 'endpoint_stale')).toBeUndefined();
    expect(h.watcher.stats()).toMatchObject({ probes: 4, failedProbes: 4 });
  });

  it('start() probes on the scheduler, sets the static links, and stop() ends it', async () => {
    const edge = await server();
    edge.setVersion('X-Edge-Version', '0.2.0');
    const h = harness(
      [{ name: 'edge-syd1', service: 'edge', url: edge.url, versionHeader: 'X-Edge-Version', expect: '0.2.0', workload: WORKLOAD, every: '1s' }],
      { clusters: [{ name: 'spot' }], workloads: [{ cluster: 'spot', namespace: 'edge', kind: 'DaemonSet', name: 'edge' }] },
    );
    const watcher = new EndpointWatcher({ config: h.config, sink: h.sink, prober, log: quiet });
    watcher.start();
    expect([...h.runtime.store.subjects.linked('endpoint:edge-syd1')].sort()).toEqual(['service:edge', `workload:${WORKLOAD}`]);
    await waitFor(() => watcher.stats().probes >= 3, { what: 'three scheduled probes' });
    await watcher.stop();
    expect(h.runtime.store.subjects.state<ServedState>('endpoint:edge-syd1', 'served')!.value).toMatchObject({ version: '0.2.0', up: true });
  });
});
