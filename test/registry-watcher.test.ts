import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { shortDigest } from '../src/domain/image-ref.js';
import { RegistryClient } from '../src/clients/registry.js';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import type { RunningContainer } from '../src/domain/model.js';
import { nextSlot, Scheduler } from '../src/watchers/scheduler.js';
import {
  describeImpact,
  platformChanges,
  platformsMoved,
  RegistryWatcher,
  watchList,
  type ImageVersionState,
  type WorkloadSpec,
} from '../src/watchers/registry.js';
import { startFaultRegistry, type FaultRegistry } from './support/fault-registry.js';
import { RecordingService } from './support/recording-service.js';
import { registryAvailable, registryUnavailableReason, startRegistry, type TestRegistry } from './support/registry.js';

const quiet = createLogger({ level: 'silent' });
const OLD = `sha256:8b96908d${'1'.repeat(56)}`;
const NEW = `sha256:c4338b51${'2'.repeat(56)}`;
const WORKER_IMAGE = 'ghcr.io/confighubai/confighub-worker:latest';

/** Waits for `condition` with a deadline instead of sleeping a fixed time. */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('describeImpact', () => {
  const spec = (image: string, imagePullPolicy?: string, name = 'worker'): WorkloadSpec => ({ containers: [{ name, image, ...(imagePullPolicy ? { imagePullPolicy } : {}) }] });
  const pod = (pod: string, image: string, digest: string | undefined, ready = true): RunningContainer => ({ pod, container: 'worker', image, ...(digest ? { digest } : {}), ready });

  it('groups the users of the tag by pull policy and names each with the digest its pods run', () => {
    const specs = [
      { subject: 'worker:cost-optimizer-worker', value: spec(WORKER_IMAGE, 'Always') },
      { subject: 'worker:drift-worker', value: spec(WORKER_IMAGE, 'Always') },
      { subject: 'workload:prod/traderx/Deployment/reference-data', value: spec(WORKER_IMAGE) },
      { subject: 'workload:prod/other/Deployment/unrelated', value: spec('ghcr.io/confighubai/other:latest', 'Always') },
      { subject: 'workload:prod/pinned/Deployment/pinned', value: spec(`ghcr.io/confighubai/confighub-worker@${OLD}`, 'Always') },
    ];
    const running = [
      { subject: 'worker:cost-optimizer-worker', value: [pod('a', WORKER_IMAGE, OLD), pod('b', WORKER_IMAGE, OLD)] },
      { subject: 'worker:drift-worker', value: [pod('c', WORKER_IMAGE, OLD), pod('d', WORKER_IMAGE, NEW, false)] },
    ];
    expect(describeImpact(WORKER_IMAGE, specs, running, NEW)).toEqual([
      '3 workloads use :latest with imagePullPolicy Always — their next restart pulls the new digest',
      'worker cost-optimizer-worker: imagePullPolicy Always, runs sha256:8b96908d',
      'worker drift-worker: imagePullPolicy Always, runs sha256:8b96908d (1 pod), sha256:c4338b51 (1 pod, already the new digest)',
      'Deployment traderx/reference-data (cluster prod): imagePullPolicy Always (default), no running pods seen',
    ]);
  });

  it('says what IfNotPresent and Never mean, and matches the same tag however it is written', () => {
    const specs = [
      { subject: 'workload:prod/web/Deployment/nginx', value: spec('nginx:1.27', 'IfNotPresent', 'web') },
      { subject: 'workload:prod/web/Deployment/edge', value: spec('docker.io/library/nginx:1.27', 'Never', 'edge') },
    ];
    const running = [{ subject: 'workload:prod/web/Deployment/nginx', value: [{ pod: 'n1', container: 'web', image: 'nginx:1.27', digest: OLD, ready: true }] }];
    expect(describeImpact('docker.io/library/nginx:1.27', specs, running)).toEqual([
      '1 workload uses :1.27 with imagePullPolicy IfNotPresent — a restart on a node without the old image pulls the new digest; other nodes keep the old one',
      '1 workload uses :1.27 with imagePullPolicy Never — it never pulls it and keeps the image cached on its nodes',
      'Deployment web/edge (cluster prod): imagePullPolicy Never, no running pods seen',
      'Deployment web/nginx (cluster prod): imagePullPolicy IfNotPresent, runs sha256:8b96908d',
    ]);
  });

  it('is empty when nothing watched uses the tag', () => {
    expect(describeImpact(WORKER_IMAGE, [{ subject: 'worker:w', value: spec('ghcr.io/x/y:latest') }], [])).toEqual([]);
  });
});

describe('watch list and platform decisions', () => {
  it('watches images[], expectFrom images and the tags pods use, once per reference, never a digest', () => {
    const config = parseConfig({
      images: [{ ref: 'nginx', every: '5m', platforms: ['linux/arm64'] }],
      endpoints: [{ name: 'relay', url: 'https://relay.example/', expectFrom: { image: 'ghcr.io/clevertree/relay:latest' } }],
    });
    const specs = [
      { subject: 'worker:w', value: { containers: [{ name: 'worker', image: WORKER_IMAGE }, { name: 'side', image: 'docker.io/library/nginx:latest' }] } },
      { subject: 'workload:c/n/Deployment/p', value: { containers: [{ name: 'p', image: `ghcr.io/org/pinned@${OLD}` }, { name: 'bad', image: 'Not A Ref' }] } },
    ];
    const bad: string[] = [];
    const list = [...watchList(config, specs, (ref) => bad.push(ref)).values()];
    expect(list.map(({ ref, every, platforms, versioned, source }) => ({ ref, every, platforms, versioned, source }))).toEqual([
      { ref: 'nginx', every: 300_000, platforms: ['linux/arm64'], versioned: false, source: 'images' },
      { ref: 'ghcr.io/clevertree/relay:latest', every: 60_000, platforms: ['linux/amd64'], versioned: true, source: 'expectFrom' },
      { ref: WORKER_IMAGE, every: 60_000, platforms: ['linux/amd64'], versioned: false, source: 'spec' },
    ]);
    expect(bad).toEqual(['Not A Ref']);
  });

  it('a move is quiet only when every configured platform kept its digest', () => {
    expect(platformsMoved(platformChanges(['linux/amd64'], { 'linux/amd64': OLD }, { 'linux/amd64': OLD }))).toBe(false);
    expect(platformsMoved(platformChanges(['linux/amd64'], { 'linux/amd64': OLD }, { 'linux/amd64': NEW }))).toBe(true);
    expect(platformsMoved(platformChanges(['linux/amd64', 'linux/arm64'], { 'linux/amd64': OLD }, { 'linux/amd64': OLD, 'linux/arm64': NEW }))).toBe(true);
    // The configured platform is not in the index at all: say so rather than stay quiet.
    expect(platformsMoved(platformChanges(['linux/s390x'], {}, {}))).toBe(true);
  });
});

// ---- against real registries ------------------------------------------------------------------

interface Harness {
  runtime: Runtime;
  watcher: RegistryWatcher;
  client: RegistryClient;
  service: RecordingService;
  clock: ManualClock;
  deliver(): Promise<void>;
}

const harnesses: Array<{ harness: Harness; dir: string }> = [];

interface HarnessOptions {
  timeoutMs?: number;
  /** Basic credentials for the client (config names an env variable; tests hand the value over). */
  credentials?: { username: string; password: string };
  client?: (real: RegistryClient) => RegistryClient;
  scheduler?: Scheduler;
}

function harness(config: Record<string, unknown>, options: HarnessOptions = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'dw-regwatch-'));
  const parsed = parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path: join(dir, 'db.sqlite') }, ...config });
  const clock = new ManualClock();
  const runtime = new Runtime(parsed, { clock, log: quiet });
  const registries = Object.fromEntries(Object.entries(parsed.registries).map(([host, r]) => [host, { insecure: r.insecure, ...options.credentials }]));
  const client = new RegistryClient({ registries, dockerConfigPath: '/nonexistent', timeoutMs: options.timeoutMs ?? 10_000 });
  const watcher = new RegistryWatcher({
    config: parsed,
    sink: runtime.sink(),
    client: options.client ? options.client(client) : client,
    log: quiet,
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
  });
  const service = new RecordingService();
  const poster = runtime.startDelivery(service);
  const h: Harness = {
    runtime,
    watcher,
    client,
    service,
    clock,
    async deliver() {
      expect(await poster.drain(3000)).toBe(true);
    },
  };
  harnesses.push({ harness: h, dir });
  return h;
}

afterEach(async () => {
  for (const { harness: h, dir } of harnesses.splice(0)) {
    await h.watcher.stop();
    await h.client.close();
    await h.runtime.stop(0).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

const texts = (service: RecordingService) => service.posted.map((message) => message.text);
const moved = (text: string) => text.includes(' moved: ');

describe.skipIf(!registryAvailable())(`RegistryWatcher against the real registry${registryAvailable() ? '' : ` (skipped: ${registryUnavailableReason()})`}`, () => {
  let registry: TestRegistry;
  const registries = () => ({ [registry.host]: { insecure: true } });

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'none' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('posts exactly one notice per move, with the image and both short digests; moving back posts a second', async () => {
    const ref = `${registry.host}/confighubai/confighub-worker:latest`;
    const first = await registry.pushImage('confighubai/confighub-worker', 'latest', { seed: 'good' });
    const h = harness({ registries: registries(), images: [{ ref }] });

    await h.watcher.checkImage(ref); // first sighting: recorded silently
    await h.watcher.checkImage(ref); // unchanged
    await h.deliver();
    expect(h.service.posted).toEqual([]);

    const second = await registry.pushImage('confighubai/confighub-worker', 'latest', { seed: 'bad' });
    h.clock.advance(60_000);
    await h.watcher.checkImage(ref);
    await h.watcher.checkImage(ref);
    await h.deliver();
    expect(texts(h.service)).toHaveLength(1);
    const notice = h.service.posted[0]!.text;
    expect(notice.split('\n')[0]).toBe(`${ref} moved: ${shortDigest(first.digest)} → ${shortDigest(second.digest)}`);
    expect(notice).toContain(`full: ${first.digest} → ${second.digest}`);

    // Moving it back (the same image again) is a move too.
    await registry.pushImage('confighubai/confighub-worker', 'latest', { seed: 'good' });
    h.clock.advance(60_000);
    await h.watcher.checkImage(ref);
    await h.deliver();
    expect(texts(h.service)).toHaveLength(2);
    expect(h.service.posted[1]!.text.split('\n')[0]).toBe(`${ref} moved: ${shortDigest(second.digest)} → ${shortDigest(first.digest)}`);
    expect(h.service.roots()).toHaveLength(2); // notices of their own: no incident was open

    // The engine's correlation reads the full digests from the timeline.
    const events = h.runtime.store.events.ofSubject(`image:${ref}`, 'notice.tag_moved');
    expect(events.map((event) => [event.data.from, event.data.to])).toEqual([
      [first.digest, second.digest],
      [second.digest, first.digest],
    ]);
  });

  it('a registry that goes away produces no move, and after failuresBeforeAlert failed checks one warning naming the image', async () => {
    const own = await startRegistry({ auth: 'none' });
    try {
      const ref = `${own.host}/team/outage:latest`;
      await own.pushImage('team/outage', 'latest', { seed: 'one' });
      const h = harness({ registries: { [own.host]: { insecure: true } }, images: [{ ref }] }, { timeoutMs: 1000 });
      await h.watcher.checkImage(ref);
      await own.stop();
      await h.watcher.checkImage(ref);
      await h.deliver();
      expect(h.service.posted).toEqual([]); // one failure is not yet an alert
      await h.watcher.checkImage(ref);
      await h.deliver();
      expect(h.service.roots()).toHaveLength(1);
      const root = h.service.roots()[0]!.text;
      expect(root).toContain('registry check failing');
      expect(root).toContain(ref);
      expect(root).toContain('ECONNREFUSED');
      expect(texts(h.service).some(moved)).toBe(false);
      expect(h.runtime.store.incidents.openIncidents()[0]!.severity).toBe('warning');
    } finally {
      await own.stop();
    }
  });

  it('a multi-arch rebuild that keeps linux/amd64 stays quiet (timeline only); an amd64 rebuild is posted', async () => {
    const repo = 'relay/multi';
    const ref = `${registry.host}/${repo}:latest`;
    const first = await registry.pushImage(repo, 'latest', { platforms: ['linux/amd64', 'linux/arm64'] });
    const h = harness({ registries: registries(), images: [{ ref, platforms: ['linux/amd64'] }] });
    await h.watcher.checkImage(ref);

    const armOnly = await registry.pushIndexReusing(repo, 'latest', { 'linux/amd64': first.platformDigests!['linux/amd64']! }, ['linux/arm64']);
    expect(armOnly.digest).not.toBe(first.digest);
    h.clock.advance(60_000);
    await h.watcher.checkImage(ref);
    await h.deliver();
    expect(h.service.posted).toEqual([]);
    const quietEvents = h.runtime.store.events.ofSubject(`image:${ref}`, 'notice.tag_moved');
    expect(quietEvents).toHaveLength(1);
    expect(quietEvents[0]!.data).toMatchObject({ quiet: true, from: first.digest, to: armOnly.digest });

    const amd = await registry.pushIndexReusing(repo, 'latest', { 'linux/arm64': armOnly.platformDigests!['linux/arm64']! }, ['linux/amd64']);
    h.clock.advance(60_000);
    await h.watcher.checkImage(ref);
    await h.deliver();
    expect(texts(h.service)).toHaveLength(1);
    expect(h.service.posted[0]!.text).toContain(`${ref} moved: ${shortDigest(armOnly.digest)} → ${shortDigest(amd.digest)}`);
    expect(h.service.posted[0]!.text).toContain(`linux/amd64: ${shortDigest(first.platformDigests!['linux/amd64']!)} → ${shortDigest(amd.platformDigests!['linux/amd64']!)}`);
  });

  it('watches a tag only a worker spec uses, and the notice lists the workloads it will hit', async () => {
    const repo = 'confighubai/spec-only';
    const ref = `${registry.host}/${repo}:latest`;
    const first = await registry.pushImage(repo, 'latest', { seed: 's1' });
    const h = harness({ registries: registries() }); // not in images[]
    const sink = h.runtime.sink();
    // What the Kubernetes watcher records.
    sink.state('worker:cost-optimizer-worker', 'spec', { containers: [{ name: 'worker', image: ref, imagePullPolicy: 'Always' }] });
    sink.running('worker:cost-optimizer-worker', [{ pod: 'cost-optimizer-worker-7d9f-abcde', container: 'worker', image: ref, digest: first.digest, ready: true }]);
    sink.state('workload:prod/traderx/Deployment/reference-data', 'spec', { containers: [{ name: 'app', image: ref, imagePullPolicy: 'IfNotPresent' }] });
    sink.state('workload:prod/traderx/Deployment/pinned', 'spec', { containers: [{ name: 'app', image: `${registry.host}/${repo}@${first.digest}` }] });

    await h.watcher.runCycle();
    const second = await registry.pushImage(repo, 'latest', { seed: 's2' });
    await h.watcher.runCycle();
    await h.deliver();
    expect(texts(h.service)).toEqual([
      [
        `${ref} moved: ${shortDigest(first.digest)} → ${shortDigest(second.digest)}`,
        '1 worker uses :latest with imagePullPolicy Always — its next restart pulls the new digest',
        '1 workload uses :latest with imagePullPolicy IfNotPresent — a restart on a node without the old image pulls the new digest; other nodes keep the old one',
        `worker cost-optimizer-worker: imagePullPolicy Always, runs ${shortDigest(first.digest)}`,
        'Deployment traderx/reference-data (cluster prod): imagePullPolicy IfNotPresent, no running pods seen',
        `full: ${first.digest} → ${second.digest}`,
      ].join('\n'),
    ]);
  });

  it('a tag a worker was pinned away from stays watched, and its next move says the pin may be ready to lift', async () => {
    const repo = 'confighubai/pinned-away';
    const ref = `${registry.host}/${repo}:latest`;
    const first = await registry.pushImage(repo, 'latest', { seed: 'p1' });
    const h = harness({ registries: registries() });
    const sink = h.runtime.sink();
    // The worker runs a digest now; the kube watcher reports the tag it was pinned from.
    sink.state('worker:cost-optimizer-worker', 'spec', { containers: [{ name: 'worker', image: `${registry.host}/${repo}@${first.digest}` }], pinnedFrom: ref });
    await h.watcher.runCycle();
    const second = await registry.pushImage(repo, 'latest', { seed: 'p2' });
    await h.watcher.runCycle();
    await h.deliver();
    const posted = texts(h.service).map((text) => text.split('\n')[0]);
    expect(posted).toEqual([
      `${ref} moved: ${shortDigest(first.digest)} → ${shortDigest(second.digest)}`,
      `worker cost-optimizer-worker is pinned away from ${ref}, which moved again (${shortDigest(first.digest)} → ${shortDigest(second.digest)}): the pin may be ready to lift — /worker unpin cost-optimizer-worker`,
    ]);
  });

  it('keeps the version label of an expectFrom image, read again only when the digest changes', async () => {
    const repo = 'clevertree/relay';
    const ref = `${registry.host}/${repo}:latest`;
    const first = await registry.pushImage(repo, 'latest', { version: '0.1.0' });
    const h = harness({ registries: registries(), endpoints: [{ name: 'relay-dfw1', url: 'https://relay.example/', versionHeader: 'X-Relay-Version', expectFrom: { image: ref } }] });
    const version = () => h.runtime.store.subjects.state<ImageVersionState>(`image:${ref}`, 'version')?.value;

    await h.watcher.runCycle();
    expect(version()).toEqual({ version: '0.1.0', digest: first.digest, at: h.clock.now() });
    const gets = h.client.stats().byMethod.GET ?? 0;
    await h.watcher.runCycle();
    expect(h.client.stats().byMethod.GET ?? 0).toBe(gets); // same digest: no label read

    const second = await registry.pushImage(repo, 'latest', { version: '0.2.0' });
    h.clock.advance(60_000);
    await h.watcher.runCycle();
    expect(version()).toEqual({ version: '0.2.0', digest: second.digest, at: h.clock.now() });
  });

  it('a label that cannot be read leaves the expected version unknown but never hides the move', async () => {
    const repo = 'clevertree/relay-arm';
    const ref = `${registry.host}/${repo}:latest`;
    const first = await registry.pushImage(repo, 'latest', { version: '0.1.0' });
    const h = harness({ registries: registries(), endpoints: [{ name: 'relay-arm', url: 'https://relay.example/', versionHeader: 'X-Relay-Version', expectFrom: { image: ref } }] });
    await h.watcher.runCycle();
    // The next build is published for arm64 only: no linux/amd64 image to read a label from.
    const second = await registry.pushImage(repo, 'latest', { version: '0.2.0', platforms: ['linux/arm64'] });
    h.clock.advance(60_000);
    await h.watcher.runCycle();
    await h.deliver();
    expect(texts(h.service).map((text) => text.split('\n')[0])).toEqual([`${ref} moved: ${shortDigest(first.digest)} → ${shortDigest(second.digest)}`]);
    expect(h.runtime.store.subjects.state<ImageVersionState>(`image:${ref}`, 'version')?.value).toMatchObject({ version: null, digest: second.digest });
    expect(h.runtime.store.incidents.problem(`image:${ref}`, 'registry_failing')?.state ?? 'ok').toBe('ok');
  });

  it('checks each reference with one HEAD per cycle, at most 4 at a time per registry, never overlapping one image', async () => {
    const refs: string[] = [];
    for (let i = 0; i < 12; i++) {
      const repo = `fleet/app${i % 3}`;
      await registry.pushImage(repo, `v${i}`, { seed: `f${i}` });
      refs.push(`${registry.host}/${repo}:v${i}`);
    }
    let active = 0;
    let peak = 0;
    let heads = 0;
    const h = harness(
      { registries: registries(), images: refs.map((ref) => ({ ref })) },
      {
        // Counts the real client's HEADs in flight.
        client: (real) =>
          Object.assign(Object.create(real) as RegistryClient, {
            headTag: async (...args: Parameters<RegistryClient['headTag']>) => {
              active++;
              heads++;
              peak = Math.max(peak, active);
              try {
                return await real.headTag(...args);
              } finally {
                active--;
              }
            },
          }),
      },
    );
    await h.watcher.runCycle();
    expect(h.client.stats().byMethod).toEqual({ HEAD: 12 });
    await Promise.all([h.watcher.runCycle(), h.watcher.runCycle(), h.watcher.checkImage(refs[0]!)]); // joined, not repeated
    expect(h.client.stats().byMethod).toEqual({ HEAD: 24 });
    expect(heads).toBe(24);
    expect(peak).toBe(4);
  });

  it('start() checks on its own schedule until stop()', async () => {
    const ref = `${registry.host}/team/scheduled:latest`;
    const pushed = await registry.pushImage('team/scheduled', 'latest', { seed: 'sched' });
    const h = harness({ registries: registries(), images: [{ ref, every: '1s' }] }, { scheduler: new Scheduler(() => 0) });
    h.watcher.start();
    const sightings = () => h.runtime.store.digests.historyOf(ref);
    await until(() => sightings()[0]?.digest === pushed.digest, 'the first scheduled check');
    const next = await registry.pushImage('team/scheduled', 'latest', { seed: 'sched-2' });
    await until(() => sightings()[0]?.digest === next.digest, 'a scheduled check to see the move');
    await h.watcher.stop();
    const heads = h.client.stats().byMethod.HEAD;
    await registry.pushImage('team/scheduled', 'latest', { seed: 'sched-3' });
    await h.watcher.checkImage(ref); // a direct check still works; the schedule itself is gone
    expect(h.client.stats().byMethod.HEAD).toBe(heads! + 1);
    await h.deliver();
    expect(texts(h.service).filter(moved)).toHaveLength(2);
  });
});

describe.skipIf(!registryAvailable())(`RegistryWatcher with token auth${registryAvailable() ? '' : ` (skipped: ${registryUnavailableReason()})`}`, () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('asks for one token per repository scope, then only HEADs', async () => {
    const refs: string[] = [];
    for (let i = 0; i < 6; i++) {
      const repo = `tok/app${i % 2}`;
      await registry.pushImage(repo, `t${i}`, { seed: `t${i}` });
      refs.push(`${registry.host}/${repo}:t${i}`);
    }
    const h = harness(
      { registries: { [registry.host]: { insecure: true } }, images: refs.map((ref) => ({ ref })) },
      { credentials: { username: registry.username!, password: registry.password! } },
    );
    const before = registry.tokenRequests();
    await h.watcher.runCycle();
    expect(registry.tokenRequests() - before).toBe(2);
    // The first HEAD of each repository is challenged once (401), then retried with the token.
    expect(h.client.stats()).toMatchObject({ tokenRequests: 2, byMethod: { HEAD: 6 + 2, GET: 2 } });
    await h.watcher.runCycle();
    expect(registry.tokenRequests() - before).toBe(2);
    expect(h.client.stats()).toMatchObject({ tokenRequests: 2, byMethod: { HEAD: 6 + 2 + 6, GET: 2 } });
    await h.deliver();
    expect(h.service.posted).toEqual([]);
  });
});

describe('RegistryWatcher against a faulty registry', () => {
  let fault: FaultRegistry;
  beforeAll(async () => {
    fault = await startFaultRegistry();
  });
  afterAll(async () => {
    await fault?.close();
  });

  it('500, timeout, HTML, 401, 404 and a bad digest header are failed checks: one warning, never a move', async () => {
    const ref = `${fault.host}/confighubai/confighub-worker:latest`;
    const h = harness({ registries: { [fault.host]: { insecure: true } }, images: [{ ref }] }, { timeoutMs: 300 });
    fault.ok(OLD);
    await h.watcher.checkImage(ref);

    const faults: Array<[string, () => void]> = [
      ['500', () => fault.status(500)],
      ['timeout', () => fault.hang()],
      ['html', () => fault.html()],
      ['401', () => fault.unauthorized()],
      ['404', () => fault.notFound()],
      ['malformed digest', () => fault.malformedDigest()],
    ];
    for (const [, inject] of faults) {
      inject();
      h.clock.advance(60_000);
      await h.watcher.checkImage(ref);
    }
    await h.deliver();
    expect(h.service.roots()).toHaveLength(1);
    const root = h.service.roots()[0]!;
    expect(root.text).toContain('registry check failing');
    expect(root.text).toContain(ref);
    expect(h.service.current(root)).toContain('Docker-Content-Digest'); // the root follows the latest error
    expect(texts(h.service).some(moved)).toBe(false);
    expect(JSON.stringify(h.service.posted)).not.toContain('eyJ'); // the 401's token never shows

    // Back with the same digest: still no move, and the warning resolves.
    fault.ok(OLD);
    await h.watcher.checkImage(ref);
    await h.watcher.checkImage(ref);
    await h.deliver();
    expect(texts(h.service).some(moved)).toBe(false);
    expect(h.service.current(root)).toMatch(/^Resolved: /);
    expect(h.runtime.store.digests.historyOf(ref).map((sighting) => sighting.digest)).toEqual([OLD]);
  });

  it('a 429 is a failed check; the registry is left alone until Retry-After passes, and the wait counts as failed checks', async () => {
    const ref = `${fault.host}/team/limited:latest`;
    const h = harness({ registries: { [fault.host]: { insecure: true } }, images: [{ ref }] });
    fault.ok(OLD, { rateLimitRemaining: '97;w=21600' });
    await h.watcher.checkImage(ref);
    expect(h.runtime.store.subjects.state(`image:${ref}`, 'ratelimit')?.value).toBe(97);
    fault.rateLimit(3600);
    await h.watcher.checkImage(ref);
    const asked = fault.requests;
    await h.watcher.checkImage(ref);
    expect(fault.requests).toBe(asked);
    // A long wait is not silence: the held check fails too, so the warning builds up.
    expect(h.runtime.store.incidents.problem(`image:${ref}`, 'registry_failing')).toMatchObject({ state: 'alerting', badStreak: 2 });
    expect(h.runtime.store.incidents.problem(`image:${ref}`, 'registry_failing')!.summary).toMatch(/rate limited \(429\); next request at /);
  });
});

describe('Scheduler', () => {
  it('keeps each task on a fixed phase: the jitter is drawn once, so checks of a period never drift apart', async () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const runs: number[] = [];
      let draws = 0;
      const scheduler = new Scheduler(() => (draws++, 0.5));
      scheduler.every(1000, async () => void runs.push(Date.now()));
      await vi.advanceTimersByTimeAsync(5_050);
      await scheduler.stop();
      expect(runs).toEqual([50, 1050, 2050, 3050, 4050, 5050]);
      expect(draws).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a run that outlasts its period skips the slots it missed instead of stacking up', () => {
    expect(nextSlot(50, 1000, 900)).toBe(1050);
    expect(nextSlot(50, 1000, 1050)).toBe(1050);
    expect(nextSlot(50, 1000, 3400)).toBe(4050);
  });
});
