/**
 * The webhook routes on the web server, in process, against the real `docker-registry`: what a
 * delivery makes Driftwatch do (a HEAD through the watcher, a notice) and what bad, forged,
 * replayed or bursting deliveries change (nothing beyond the answer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions, type TagState } from '../src/clients/registry.js';
import { parseConfig, type Config } from '../src/config.js';
import type { ImageRef } from '../src/domain/image-ref.js';
import { shortDigest } from '../src/domain/image-ref.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { RegistryWatcher } from '../src/watchers/registry.js';
import { registrySettings } from '../src/clients/registry-auth.js';
import { registerHealth } from '../src/web/health.js';
import { RECHECK_DELAYS_MS, registerHooks, type Hooks } from '../src/web/hooks/index.js';
import { githubSignature } from '../src/web/hooks/ghcr.js';
import { createWebApp } from '../src/web/server.js';
import { waitFor } from './support/fake-slack.js';
import { RecordingService } from './support/recording-service.js';
import { registryAvailable, registryUnavailableReason, startRegistry, type TestRegistry } from './support/registry.js';

const ENV = { DW_TEST_REGISTRY_TOKEN: 'registry-token-0123456789', DW_TEST_GHCR_SECRET: 'ghcr-secret-0123456789', DW_TEST_HUB_TOKEN: 'hub-token-0123456789' };
const EVENTS = 'application/vnd.docker.distribution.events.v1+json';
const FAKE_DIGEST = `sha256:${'f'.repeat(64)}`;

/** The real client, counting HEADs and how many run at once; a gate can hold them. */
class CountingClient extends RegistryClient {
  heads = 0;
  inFlight = 0;
  maxInFlight = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  constructor(options: RegistryClientOptions) {
    super(options);
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  override async headTag(ref: ImageRef, platforms: string[]): Promise<TagState> {
    this.heads++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      return await super.headTag(ref, platforms);
    } finally {
      this.inFlight--;
    }
  }
}

interface Harness {
  app: FastifyInstance;
  hooks: Hooks;
  runtime: Runtime;
  watcher: RegistryWatcher;
  client: CountingClient;
  service: RecordingService;
  logs: string[];
  dir: string;
  /** Notices about tag moves that reached the channel (after the outbox drained). */
  moves(): Promise<string[]>;
}

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.app.close();
    await h.watcher.stop();
    await h.client.close();
    await h.runtime.stop(0).catch(() => {});
    rmSync(h.dir, { recursive: true, force: true });
  }
});

async function harness(config: Record<string, unknown>): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-hooks-'));
  const parsed: Config = parseConfig({
    slack: { channel: 'C0ALERTS' },
    store: { path: join(dir, 'db.sqlite') },
    webhooks: { registry: { tokenEnv: 'DW_TEST_REGISTRY_TOKEN' }, ghcr: { secretEnv: 'DW_TEST_GHCR_SECRET' }, dockerhub: { tokenEnv: 'DW_TEST_HUB_TOKEN' } },
    ...config,
  });
  const logs: string[] = [];
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }) as unknown as NodeJS.WritableStream,
  });
  const runtime = new Runtime(parsed, { log: createLogger({ level: 'silent' }) });
  const client = new CountingClient({ registries: registrySettings(parsed, {}), dockerConfigPath: '/nonexistent' });
  const watcher = new RegistryWatcher({ config: parsed, sink: runtime.sink(), client, log });
  const service = new RecordingService();
  const poster = runtime.startDelivery(service);
  const app = createWebApp({ log });
  const hooks = registerHooks(app, { webhooks: parsed.webhooks, registries: parsed.registries, env: ENV, checker: watcher, metrics: runtime.metrics, log });
  registerHealth(app, { metrics: runtime.metrics, checks: () => hooks.readiness() });
  await app.ready();
  const h: Harness = {
    app,
    hooks,
    runtime,
    watcher,
    client,
    service,
    logs,
    dir,
    async moves() {
      expect(await poster.drain(3000)).toBe(true);
      return service.posted.map((message) => message.text).filter((text) => text.includes(' moved: '));
    },
  };
  harnesses.push(h);
  // The first look records where every tag points (silently), as the first poll would.
  await watcher.runCycle();
  client.heads = 0;
  return h;
}

function registryEvent(host: string, repository: string, tag: string | undefined, digest: string, over: { action?: string; mediaType?: string } = {}) {
  return {
    id: 'e1',
    action: over.action ?? 'push',
    target: { mediaType: over.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', digest, repository, ...(tag === undefined ? {} : { tag }), url: `http://${host}/v2/${repository}/manifests/${digest}` },
    request: { host, method: 'PUT' },
  };
}

const postRegistry = (h: Harness, events: unknown[], headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: `Bearer ${ENV.DW_TEST_REGISTRY_TOKEN}`, 'content-type': EVENTS, ...headers }, payload: JSON.stringify({ events }) });

function ghcrBody(namespace: string, name: string, tag: string, digest: string): string {
  return JSON.stringify({ action: 'published', package: { name, namespace, package_type: 'container', owner: { login: namespace }, package_version: { container_metadata: { tag: { name: tag, digest } } } } });
}

const postGhcr = (h: Harness, body: string, headers: Record<string, string> = {}) =>
  h.app.inject({
    method: 'POST',
    url: '/hooks/ghcr',
    headers: { 'content-type': 'application/json', 'x-github-event': 'package', 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': githubSignature(ENV.DW_TEST_GHCR_SECRET, body), ...headers },
    payload: body,
  });

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe.skipIf(!registryAvailable())(`webhooks against the real registry${registryAvailable() ? '' : ` (skipped: ${registryUnavailableReason()})`}`, () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'none' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  const watchedConfig = (repository: string) => ({ registries: { [registry.host]: { insecure: true } }, images: [{ ref: `${registry.host}/${repository}:latest`, every: '1h' }] });

  it('a push makes the tag move seen at once, announced once however it was seen', async () => {
    const repository = 'team/push-once';
    const ref = `${registry.host}/${repository}:latest`;
    const first = await registry.pushImage(repository, 'latest');
    const h = await harness(watchedConfig(repository));
    const second = await registry.pushImage(repository, 'latest');

    const answer = await postRegistry(h, [registryEvent(registry.host, repository, 'latest', second.digest)]);
    expect(answer.statusCode).toBe(202);
    await waitFor(async () => (await h.moves()).length === 1, { what: 'the tag-move notice' });
    expect((await h.moves())[0]!.split('\n')[0]).toBe(`${ref} moved: ${shortDigest(first.digest)} → ${shortDigest(second.digest)}`);
    // Polling sees the same move afterwards, and the same webhook again: still one notice.
    await h.watcher.checkImage(ref);
    await postRegistry(h, [registryEvent(registry.host, repository, 'latest', second.digest)]);
    await h.watcher.stop();
    expect(await h.moves()).toHaveLength(1);

    // The other way round: polling first, then the webhook of the same push.
    const third = await registry.pushImage(repository, 'latest');
    const polled = await harness(watchedConfig(repository));
    const fourth = await registry.pushImage(repository, 'latest');
    await polled.watcher.checkImage(ref);
    await postRegistry(polled, [registryEvent(registry.host, repository, 'latest', fourth.digest)]);
    await polled.watcher.stop();
    expect(await polled.moves()).toEqual([expect.stringContaining(`moved: ${shortDigest(third.digest)} → ${shortDigest(fourth.digest)}`)]);
  });

  it('missing or wrong credentials, bad content, oversize bodies: refused, no registry request, no message', async () => {
    const repository = 'team/refused';
    await registry.pushImage(repository, 'latest');
    const h = await harness(watchedConfig(repository));
    const moved = await registry.pushImage(repository, 'latest');
    const requestsBefore = h.client.stats().requests;
    const good = [registryEvent(registry.host, repository, 'latest', moved.digest)];

    expect((await postRegistry(h, good, { authorization: '' })).statusCode).toBe(401);
    expect((await postRegistry(h, good, { authorization: 'Bearer not-the-token-000' })).statusCode).toBe(401);
    expect((await postRegistry(h, good, { authorization: `Basic ${ENV.DW_TEST_REGISTRY_TOKEN}` })).statusCode).toBe(401);
    expect((await postRegistry(h, good, { 'content-type': 'text/plain' })).statusCode).toBe(415);
    const malformed = await h.app.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: `Bearer ${ENV.DW_TEST_REGISTRY_TOKEN}`, 'content-type': EVENTS }, payload: '{"events":[' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toEqual({ error: 'body is not JSON' });
    const huge = JSON.stringify({ events: good, padding: 'x'.repeat(2 * 1024 * 1024) });
    // Over the limit: 413 even with wrong credentials (the size is checked first).
    expect((await h.app.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: 'Bearer wrong-000000', 'content-type': EVENTS }, payload: huge })).statusCode).toBe(413);
    expect((await h.app.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: `Bearer ${ENV.DW_TEST_REGISTRY_TOKEN}`, 'content-type': EVENTS }, payload: huge })).statusCode).toBe(413);

    const body = ghcrBody('team', 'refused', 'latest', moved.digest);
    expect((await postGhcr(h, body, { 'x-hub-signature-256': githubSignature('not-the-secret', body) })).statusCode).toBe(401);
    expect((await postGhcr(h, body, { 'x-hub-signature-256': '' })).statusCode).toBe(401);
    expect((await postGhcr(h, `${body} `, { 'x-hub-signature-256': githubSignature(ENV.DW_TEST_GHCR_SECRET, body) })).statusCode).toBe(401);
    const hub = JSON.stringify({ push_data: { tag: 'latest' }, repository: { repo_name: repository } });
    expect((await h.app.inject({ method: 'POST', url: '/hooks/dockerhub/not-the-token-0000', headers: { 'content-type': 'application/json' }, payload: hub })).statusCode).toBe(401);
    expect((await h.app.inject({ method: 'POST', url: '/hooks/dockerhub', headers: { 'content-type': 'application/json' }, payload: hub })).statusCode).toBe(401);

    expect(h.client.heads).toBe(0);
    expect(h.client.stats().requests).toBe(requestsBefore);
    expect(await h.moves()).toEqual([]);
    const metrics = await (await h.app.inject({ url: '/metrics' })).body;
    expect(metric(metrics, 'driftwatch_webhook_requests_total', 'hook="registry",outcome="unauthorized"')).toBe(3);
    expect(metric(metrics, 'driftwatch_webhook_requests_total', 'hook="registry",outcome="too_large"')).toBe(2);
    expect(metric(metrics, 'driftwatch_webhook_requests_total', 'hook="registry",outcome="malformed"')).toBe(1);
    expect(metric(metrics, 'driftwatch_webhook_requests_total', 'hook="registry",outcome="unsupported_media_type"')).toBe(1);
    expect(metric(metrics, 'driftwatch_webhook_requests_total', 'hook="ghcr",outcome="unauthorized"')).toBe(3);
    expect(metric(metrics, 'driftwatch_webhook_last_valid_timestamp_seconds', 'hook="ghcr"')).toBe(0);
    // The log says what was refused, never the credentials it was sent.
    expect(h.logs.join('')).toContain('webhook registry refused a delivery: no bearer token');
    for (const secret of Object.values(ENV)) expect(h.logs.join('')).not.toContain(secret);
  });

  it('pulls, blob pushes, deletes, pushes by digest and unwatched repositories: 202 and nothing', async () => {
    const repository = 'team/ignored';
    await registry.pushImage(repository, 'latest');
    const h = await harness(watchedConfig(repository));
    const moved = await registry.pushImage(repository, 'latest');
    const events = [
      registryEvent(registry.host, repository, 'latest', moved.digest, { action: 'pull' }),
      registryEvent(registry.host, repository, 'latest', moved.digest, { action: 'delete' }),
      registryEvent(registry.host, repository, undefined, moved.digest, { mediaType: 'application/octet-stream' }),
      registryEvent(registry.host, repository, undefined, moved.digest),
      registryEvent(registry.host, 'team/unwatched', 'latest', moved.digest),
      registryEvent('registry.elsewhere.example', repository, 'latest', moved.digest),
    ];
    for (const event of events) expect((await postRegistry(h, [event])).statusCode).toBe(202);
    const ping = '{"zen":"Keep it logically awesome.","hook_id":1}';
    expect((await postGhcr(h, ping, { 'x-github-event': 'ping' })).statusCode).toBe(202);
    expect(h.client.heads).toBe(0);
    expect(await h.moves()).toEqual([]);
  });

  it('a replayed GitHub delivery is accepted once', async () => {
    const repository = 'acme/replayed';
    await registry.pushImage(repository, 'latest');
    const h = await harness({ registries: { 'ghcr.io': { url: `http://${registry.host}` } }, images: [{ ref: `ghcr.io/${repository}:latest`, every: '1h' }] });
    const moved = await registry.pushImage(repository, 'latest');
    const body = ghcrBody('acme', 'replayed', 'latest', moved.digest);
    const delivery = { 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' };
    expect((await postGhcr(h, body, delivery)).json()).toEqual({ status: 'accepted', checking: 1 });
    await waitFor(async () => (await h.moves()).length === 1, { what: 'the notice of the first delivery' });
    expect((await postGhcr(h, body, delivery)).json()).toEqual({ status: 'ignored', reason: 'delivery already received' });
    await h.watcher.stop();
    expect(h.client.heads).toBe(1);
    expect(await h.moves()).toHaveLength(1);
  });

  it('1000 pushes of one tag in a burst: one HEAD in flight at a time, one more after it, one notice', async () => {
    const repository = 'team/burst';
    await registry.pushImage(repository, 'latest');
    const h = await harness(watchedConfig(repository));
    const moved = await registry.pushImage(repository, 'latest');
    h.client.hold();
    const event = [registryEvent(registry.host, repository, 'latest', moved.digest)];
    const answers = await Promise.all(Array.from({ length: 1000 }, () => postRegistry(h, event)));
    expect(answers.every((answer) => answer.statusCode === 202)).toBe(true);
    // Every delivery was answered while the first HEAD was still held.
    expect(h.client.heads).toBe(1);
    h.client.release();
    // Asking again while one is queued joins that one: this waits for it without adding a HEAD.
    await h.watcher.checkNow(`${registry.host}/${repository}:latest`);
    expect(h.client.heads).toBe(2);
    expect(h.client.maxInFlight).toBe(1);
    expect(await h.moves()).toHaveLength(1);
  });

  it('a digest the registry does not serve for that tag: no notice, a debug line', async () => {
    const repository = 'team/stale';
    const served = await registry.pushImage(repository, 'latest');
    const h = await harness(watchedConfig(repository));
    expect((await postRegistry(h, [registryEvent(registry.host, repository, 'latest', FAKE_DIGEST)])).statusCode).toBe(202);
    const line = await waitFor(() => h.logs.find((entry) => entry.includes('but the registry serves')), { timeoutMs: 10_000, what: 'the debug line' });
    expect(JSON.parse(line)).toMatchObject({ level: 20, named: FAKE_DIGEST, served: served.digest });
    // It looked again a few times (the registry may not have linked the tag yet), then gave up.
    expect(h.client.heads).toBe(1 + RECHECK_DELAYS_MS.length);
    expect(await h.moves()).toEqual([]);
  });

  it('an event that arrives before the registry serves its digest still brings the notice', async () => {
    const repository = 'team/early';
    const first = await registry.pushImage(repository, 'latest', { seed: 'one' });
    // The same seed gives the same manifest: learn the digest under another tag first.
    const next = await registry.pushImage(repository, 'staging', { seed: 'two' });
    const h = await harness(watchedConfig(repository));
    expect((await postRegistry(h, [registryEvent(registry.host, repository, 'latest', next.digest)])).statusCode).toBe(202);
    await waitFor(() => h.client.heads >= 1, { what: 'the first HEAD' });
    expect((await registry.pushImage(repository, 'latest', { seed: 'two' })).digest).toBe(next.digest);
    await waitFor(async () => (await h.moves()).length === 1, { timeoutMs: 10_000, what: 'the notice after the registry caught up' });
    expect((await h.moves())[0]).toContain(`moved: ${shortDigest(first.digest)} → ${shortDigest(next.digest)}`);
  });

  it('/readyz and /metrics show when each hook last received a valid delivery, and nothing secret', async () => {
    const repository = 'team/ready';
    await registry.pushImage(repository, 'latest');
    const h = await harness(watchedConfig(repository));
    const before = (await h.app.inject({ url: '/readyz' })).json() as { ready: boolean; checks: Record<string, { ok: boolean; state: string }> };
    expect(before.checks).toEqual({
      'webhook:registry': { ok: true, state: 'no valid delivery yet' },
      'webhook:ghcr': { ok: true, state: 'no valid delivery yet' },
      'webhook:dockerhub': { ok: true, state: 'no valid delivery yet' },
    });
    const sent = Date.now();
    await postRegistry(h, [registryEvent(registry.host, repository, 'latest', FAKE_DIGEST, { action: 'pull' })]);
    const after = (await h.app.inject({ url: '/readyz' })).json() as typeof before;
    expect(after.checks['webhook:registry']!.state).toMatch(/^last valid delivery at \d{4}-\d\d-\d\dT/);
    expect(Date.parse(after.checks['webhook:registry']!.state.slice('last valid delivery at '.length))).toBeGreaterThanOrEqual(sent - 1000);
    const text = JSON.stringify(after);
    expect(text).not.toContain(registry.host);
    for (const secret of Object.values(ENV)) expect(text).not.toContain(secret);
    const metrics = (await h.app.inject({ url: '/metrics' })).body;
    expect(metric(metrics, 'driftwatch_webhook_last_valid_timestamp_seconds', 'hook="registry"')).toBeGreaterThanOrEqual(Math.floor(sent / 1000) - 1);
    expect(metric(metrics, 'driftwatch_webhook_requests_total', 'hook="registry",outcome="ignored"')).toBe(1);
  });
});
