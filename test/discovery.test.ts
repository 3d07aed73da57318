/**
 * `discover:` end to end: the real client-node against the fake apiserver over HTTPS, the real
 * incident engine, and for `/worker pin` of a discovered Deployment the real Bolt app against the
 * fake Slack and the real Debian registry. Assertions are on what a user sees: the channel, the
 * answers, the PATCH the apiserver received, `/version status`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { KubeCluster } from '../src/clients/kube.js';
import { ConfigError, parseConfig } from '../src/config.js';
import { createLogger, setLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { KubeWatcher } from '../src/watchers/kube.js';
import { versionStatusMessage } from '../src/commands/version.js';
import { discoveredTargets, findPinSubject, type DiscoveredState } from '../src/commands/targets.js';
import { discoveryWatches, ownerWorkloadOf, selectorMatches } from '../src/kube/discovery.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { shortDigest } from '../src/domain/image-ref.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { startFakeSlack, waitFor as waitForSlack, type FakeSlack } from './support/fake-slack.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { RecordingService, type Posted } from './support/recording-service.js';
import { waitUntil } from './support/wait-until.js';

const quiet = createLogger({ level: 'silent' });
beforeAll(() => setLogger(quiet));

const waitFor = <T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 10_000): Promise<T> => waitUntil(what, probe, timeoutMs);

function workload(kind: 'Deployment' | 'DaemonSet' | 'StatefulSet', namespace: string, name: string, image: string, extra: { labels?: Record<string, string>; containers?: Array<{ name: string; image: string }> } = {}) {
  const selector = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace, labels: { ...selector, ...(extra.labels ?? {}) } },
    spec: {
      ...(kind === 'DaemonSet' ? {} : { replicas: 1 }),
      ...(kind === 'Deployment' ? { progressDeadlineSeconds: 600 } : {}),
      selector: { matchLabels: selector },
      template: { metadata: { labels: selector }, spec: { containers: extra.containers ?? [{ name: 'app', image }] } },
    },
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  fake: FakeApiserver;
  runtime: Runtime;
  watcher: KubeWatcher;
  incidents(): string[];
  discovered(): string[];
  /** Every reply in the thread of the incident root that starts with `prefix`. */
  thread(prefix: string): string;
}

async function harness(discover: unknown[], before: (fake: FakeApiserver) => void, extra: { workloads?: unknown[]; beforeStart?: (runtime: Runtime) => void; recoveriesBeforeResolve?: number; podLogs?: KubeCluster['podLogs'] } = {}): Promise<Harness> {
  const fake = await startFakeApiserver();
  cleanups.push(() => fake.close());
  before(fake);
  const dir = mkdtempSync(join(tmpdir(), 'discovery-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfigPath = fake.kubeconfigFile('prod-admin');
  const config = parseConfig({
    slack: { channel: 'C0ALERTS' },
    store: { path: join(dir, 'db.sqlite') },
    clusters: [{ name: 'prod', context: 'prod-admin' }],
    workloads: extra.workloads ?? [],
    discover,
    alerting: { failuresBeforeAlert: 1, ...(extra.recoveriesBeforeResolve === undefined ? { recoveriesBeforeResolve: 1 } : extra.recoveriesBeforeResolve > 0 ? { recoveriesBeforeResolve: extra.recoveriesBeforeResolve } : {}) },
  });
  const runtime = new Runtime(config, { log: quiet });
  const service = new RecordingService();
  runtime.startDelivery(service);
  cleanups.push(() => runtime.stop(2_000));
  extra.beforeStart?.(runtime);
  const watcher = new KubeWatcher({
    config,
    sink: runtime.sink(),
    cluster: (name) => {
      const cluster = new KubeCluster({ name, context: 'prod-admin', kubeconfigPath, requestTimeoutMs: 3_000 });
      if (extra.podLogs) cluster.podLogs = extra.podLogs; // a log read the test answers when it wants
      return cluster;
    },
    log: quiet,
    idleTimeoutMs: 20_000,
    recheckEveryMs: 400,
    backoffMinMs: 50,
    backoffMaxMs: 300,
  });
  watcher.start();
  cleanups.push(() => watcher.stop());
  const current = (root: Posted) => service.current(root);
  return {
    fake,
    runtime,
    watcher,
    incidents: () => service.roots().filter((root) => /^(Resolved: )?#\d+ /.test(root.text)).map(current),
    thread: (prefix) => service.thread(service.roots().find((root) => root.text.startsWith(prefix))?.ts ?? '').map((reply) => reply.text).join('\n'),
    discovered: () => discoveredTargets(runtime.store.subjects.allStates<DiscoveredState | null>('discovered')).map((target) => target.subject),
  };
}

const versionRows = (runtime: Runtime) => versionStatusMessage(runtime).table?.rows.map((row) => row[0]) ?? [];

describe('discover: against the fake apiserver', () => {
  it('a crash loop in a discovered Deployment alerts like a listed one; a workload created while running is picked up, one deleted is dropped', async () => {
    const image = 'ghcr.io/finos/traderx/reference-data:latest';
    const h = await harness([{ cluster: 'prod', namespaces: ['traderx'] }], (fake) => {
      fake.failImage(image, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=app');
      fake.upsert(workload('Deployment', 'traderx', 'reference-data', image));
      fake.upsert(workload('Deployment', 'traderx', 'trade-feed', 'ghcr.io/finos/traderx/trade-feed:v1'));
      // Outside the discovered namespace: never watched.
      fake.upsert(workload('Deployment', 'default', 'reference-data', image));
    }, { recoveriesBeforeResolve: 0 }); // 0: the default (2), which a single "ok" after a deletion must not leave half-resolved
    // The fake marks the rollout stuck at once (a real deadline takes minutes), so the root may open on that and the crash loop join it.
    const root = await waitFor('the discovered workload incident with its crash loop', () => h.incidents().find((text) => text.includes('reference-data') && text.includes('CrashLoopBackOff')), 20_000);
    expect(root).toContain('#1 Deployment traderx/reference-data (cluster prod): workload failing');
    expect(root).toContain('CrashLoopBackOff');
    expect(root).toContain(`Image: ${image}`);
    expect(h.discovered()).toEqual(['workload:prod/traderx/Deployment/reference-data', 'workload:prod/traderx/Deployment/trade-feed']);
    expect(h.incidents()).toHaveLength(1);
    // Its mutable tag is watched like a listed workload's: the spec is recorded under its subject.
    expect(h.runtime.store.subjects.state<{ containers: Array<{ image: string }> }>('workload:prod/traderx/Deployment/reference-data', 'spec')?.value.containers[0]?.image).toBe(image);
    await waitFor('/version status to list both', () => versionRows(h.runtime).includes('traderx/trade-feed') && versionRows(h.runtime).includes('traderx/reference-data'));
    expect(h.watcher.health()['cluster:prod']?.detail).toContain('2 discovered workloads');

    // A StatefulSet created while running crash-loops too: picked up without a restart.
    const cacheImage = 'ghcr.io/finos/traderx/cache:7';
    h.fake.failImage(cacheImage, 'CrashLoopBackOff', 'back-off 10s restarting failed container=app');
    h.fake.upsert(workload('StatefulSet', 'traderx', 'cache', cacheImage));
    const cacheRoot = await waitFor('the new workload incident', () => h.incidents().find((text) => text.includes('StatefulSet traderx/cache')));
    expect(cacheRoot).toContain('#2 StatefulSet traderx/cache (cluster prod): workload failing');
    expect(h.discovered()).toContain('workload:prod/traderx/StatefulSet/cache');

    // Deleted: dropped, its incident resolves, it leaves /version status.
    h.fake.remove('StatefulSet', 'traderx', 'cache');
    await waitFor('the deleted workload to be dropped', () => !h.discovered().includes('workload:prod/traderx/StatefulSet/cache'));
    const resolved = await waitFor('its incident to resolve', () => h.incidents().find((text) => text.startsWith('Resolved: #2 StatefulSet traderx/cache')));
    expect(resolved).toMatch(/^Resolved: #2 /);
    expect(h.thread('#2 ')).toMatch(/Resolved after .* — StatefulSet traderx\/cache was deleted/);
    expect(h.thread('#2 ')).not.toContain('Recovered');
    expect(h.runtime.store.events.forIncident(2).find((e) => e.type === 'incident.resolved')?.summary).toContain('deleted');
    expect(versionRows(h.runtime)).not.toContain('traderx/cache');
    expect(h.incidents().find((text) => text.startsWith('#1 ') || text.startsWith('Resolved: #1'))).toMatch(/^#1 /); // the other one is untouched
  });

  it('a judgement still reading the crash log when its workload is deleted reports nothing for it afterwards', async () => {
    const image = 'ghcr.io/finos/traderx/flaky:latest';
    const subject = 'workload:prod/traderx/Deployment/flaky';
    const reads: Array<(text: string) => void> = [];
    const h = await harness(
      [{ cluster: 'prod', namespaces: ['traderx'] }],
      (fake) => {
        fake.failImage(image, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=app');
        fake.upsert(workload('Deployment', 'traderx', 'flaky', image));
      },
      { recoveriesBeforeResolve: 0, podLogs: () => new Promise<string>((resolve) => reads.push(resolve)) },
    );
    await waitFor('the crash log read to start', () => reads.length > 0);
    h.fake.remove('Deployment', 'traderx', 'flaky');
    await waitFor('the deleted workload to be dropped', () => !h.discovered().includes(subject));
    // The log arrives after the drop: the judgement it belonged to must not speak for a workload nobody watches.
    for (const answer of reads.splice(0)) answer('panic: boom\n');
    await new Promise((resolve) => setImmediate(resolve));
    await h.watcher.stop(); // waits for every judgement in flight
    expect(h.runtime.store.incidents.openIncidents()).toEqual([]);
    expect(reads).toEqual([]); // and none was started again for it
  });

  it('a cluster watched only through discover: is a loop of the heartbeat, cycled only once its workload lists answer', async () => {
    let forbidden = true;
    const h = await harness([{ cluster: 'prod', namespaces: ['traderx'] }], (fake) => {
      fake.upsert(workload('Deployment', 'traderx', 'reference-data', 'ghcr.io/finos/traderx/reference-data:1'));
      // RBAC lets Driftwatch see pods but not the workloads: discovery watches nothing.
      fake.setFault((request) => (forbidden && request.path.startsWith('/apis/apps/') ? { status: 403, reason: 'Forbidden', message: 'deployments.apps is forbidden' } : undefined));
    });
    // The periodic look ran (it records the cluster's API as answering): the loop still has not cycled.
    await waitFor('a periodic look', () => h.runtime.store.incidents.problem('cluster:prod', 'cluster_unreachable'));
    expect(h.watcher.loops()).toEqual([{ name: 'kube watches', everyMs: 400, lastCycleAt: undefined }]);
    expect(h.discovered()).toEqual([]);
    forbidden = false;
    await waitFor('the discovered workload', () => h.discovered().length === 1);
    await waitFor('the loop to cycle', () => h.watcher.loops()[0]?.lastCycleAt !== undefined);
  });

  it('namespaces: all costs one watch per kind for the cluster (and one pod watch), not one per namespace or workload', async () => {
    const h = await harness([{ cluster: 'prod', namespaces: 'all', labelSelector: 'team=payments' }], (fake) => {
      for (const ns of ['a', 'b', 'c']) for (let i = 0; i < 4; i++) fake.upsert(workload('Deployment', ns, `svc-${i}`, 'ghcr.io/x/svc:1', { labels: { team: i % 2 ? 'payments' : 'search' } }));
      fake.upsert(workload('DaemonSet', 'relay', 'relay', 'ghcr.io/x/relay:sha-39a4e17', { labels: { team: 'payments' } }));
    });
    await waitFor('the payments workloads to be discovered', () => h.discovered().length === 7 && h.discovered());
    expect(h.discovered()).toContain('workload:prod/relay/DaemonSet/relay');
    expect(h.discovered()).not.toContain('workload:prod/a/Deployment/svc-0');
    await waitFor('the watches to open', () => h.fake.openWatches() >= 4);
    const watches = h.fake.requests().filter((request) => request.query.watch === 'true' || request.query.watch === '1');
    const paths = [...new Set(watches.map((request) => request.path))].sort();
    expect(paths).toEqual(['/api/v1/pods', '/apis/apps/v1/daemonsets', '/apis/apps/v1/deployments', '/apis/apps/v1/statefulsets']);
    expect(watches.filter((request) => request.path !== '/api/v1/pods').every((request) => request.query.labelSelector === 'team=payments')).toBe(true);
    expect(h.fake.openWatches()).toBe(4);
  });

  it('a namespace with many pods is listed in pages of 500, and every pod arrives', async () => {
    const fake = await startFakeApiserver();
    cleanups.push(() => fake.close());
    fake.upsert(workload('Deployment', 'big', 'web', 'ghcr.io/x/web:1'));
    fake.upsert({ ...workload('Deployment', 'big', 'web', 'ghcr.io/x/web:1'), spec: { ...workload('Deployment', 'big', 'web', 'ghcr.io/x/web:1').spec, replicas: 1201 } });
    await waitFor('1201 pods', () => fake.list('Pod', 'big').length === 1201);
    const cluster = new KubeCluster({ name: 'prod', context: 'prod-admin', kubeconfigPath: fake.kubeconfigFile('prod-admin') });
    const seen = new Set<string>();
    const handle = cluster.watchResource('/api/v1/namespaces/big/pods', undefined, { onEvent: (type, pod) => type === 'ADDED' && seen.add(pod.metadata.name), onState: () => undefined });
    cleanups.push(() => handle.stop());
    await waitFor('every pod', () => seen.size === 1201);
    const lists = fake.requests().filter((request) => request.path === '/api/v1/namespaces/big/pods' && request.query.watch === undefined);
    expect(lists.map((request) => [request.query.limit, request.query.continue])).toEqual([
      ['500', undefined],
      ['500', '500'],
      ['500', '1000'],
    ]);
  });

  it('a listed workload is not discovered a second time; one deleted while Driftwatch was down is dropped at the next start', async () => {
    const vanished = 'workload:prod/traderx/Deployment/old-feed';
    const h = await harness([{ cluster: 'prod', namespaces: ['traderx'] }], (fake) => fake.upsert(workload('Deployment', 'traderx', 'reference-data', 'ghcr.io/finos/traderx/reference-data:1')), {
      workloads: [{ cluster: 'prod', namespace: 'traderx', name: 'reference-data' }],
      beforeStart: (runtime) => {
        const at = Date.now();
        runtime.store.subjects.setState(vanished, 'discovered', { cluster: 'prod', namespace: 'traderx', kind: 'Deployment', name: 'old-feed', present: true, containers: ['app'] }, at);
        runtime.store.subjects.setState(vanished, 'spec', { containers: [{ name: 'app', image: 'ghcr.io/finos/traderx/old-feed:latest' }] }, at);
        // It was crash-looping when Driftwatch went down: its incident is open.
        runtime.sink().check({ subject: vanished, problem: 'workload_failing', ok: false, immediate: true, summary: 'CrashLoopBackOff, 3 restarts' });
      },
      recoveriesBeforeResolve: 0, // the default (2): a single look must end it
    });
    await waitFor('the listed workload to be seen', () => h.runtime.store.subjects.state('workload:prod/traderx/Deployment/reference-data', 'running'));
    await waitFor('the vanished workload to be dropped', () => h.discovered().length === 0);
    // Its tag is no longer watched: its spec names no image.
    expect(h.runtime.store.subjects.state<{ containers: unknown[] }>(vanished, 'spec')?.value.containers).toEqual([]);
    expect(versionRows(h.runtime).filter((row) => row === 'traderx/reference-data')).toHaveLength(1);
    // Its incident ends as deleted instead of staying open with reminders.
    await waitFor('its incident to resolve', () => h.incidents().find((text) => text.startsWith('Resolved: #1 Deployment traderx/old-feed')));
    expect(h.thread('#1 ')).toMatch(/Resolved after .* — Deployment traderx\/old-feed was deleted/);
    expect(h.runtime.store.incidents.openIncidents()).toEqual([]);
  });
});

describe('pure discovery decisions', () => {
  it('checks discover: entries and names the path of each problem', () => {
    let problems: string[] = [];
    try {
      parseConfig({
        clusters: [{ name: 'prod' }],
        discover: [
          { cluster: 'nope', namespaces: 'all' },
          { cluster: 'prod', namespaces: [] },
          { cluster: 'prod', namespaces: ['Bad_NS'] },
          { cluster: 'prod', namespaces: 'all', labelSelector: 'a b c' },
          { cluster: 'prod', namespaces: 'all', labelSelectr: 'team=payments' },
        ],
      });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        'discover[0].cluster: unknown cluster "nope" (clusters: prod)',
        'discover[1].namespaces: expected at least one namespace, or all',
        'discover[2].namespaces[0]: expected a Kubernetes namespace name like traderx',
        'discover[3].labelSelector: expected a label selector like team=payments or env in (prod,staging)',
        'discover[4].labelSelectr: unknown key; did you mean "labelSelector"? (valid keys: cluster, namespaces, labelSelector)',
      ]),
    );
    const ok = parseConfig({ clusters: [{ name: 'prod' }], discover: [{ cluster: 'prod', namespaces: 'all', labelSelector: 'env in (a,b),!legacy,tier!=cache' }] });
    expect(ok.discover[0]).toEqual({ cluster: 'prod', namespaces: 'all', labelSelector: 'env in (a,b),!legacy,tier!=cache' });
  });

  it('finds the owning workload of a pod and matches selectors', () => {
    expect(ownerWorkloadOf({ metadata: { labels: { 'pod-template-hash': '7f8c9d' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'reference-data-7f8c9d', controller: true }] } })).toEqual({ kind: 'Deployment', name: 'reference-data' });
    expect(ownerWorkloadOf({ metadata: { ownerReferences: [{ kind: 'DaemonSet', name: 'relay', controller: true }] } })).toEqual({ kind: 'DaemonSet', name: 'relay' });
    expect(ownerWorkloadOf({ metadata: { ownerReferences: [{ kind: 'Job', name: 'migrate', controller: true }] } })).toBeUndefined();
    expect(selectorMatches({ matchLabels: { app: 'x' } }, { app: 'x', tier: 'web' })).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'x' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, { app: 'x', tier: 'web' })).toBe(false);
    expect(selectorMatches({}, { app: 'x' })).toBe(false);
  });

  it('plans one pod watch per cluster when a scope covers all namespaces', () => {
    const plan = discoveryWatches([
      { cluster: 'prod', namespaces: ['traderx', 'default'] },
      { cluster: 'prod', namespaces: 'all', labelSelector: 'team=payments' },
      { cluster: 'edge', namespaces: ['relay'] },
    ]);
    expect(plan.pods).toEqual([
      { cluster: 'prod', namespace: undefined, labelSelector: undefined },
      { cluster: 'edge', namespace: 'relay', labelSelector: undefined },
    ]);
    expect(plan.workloads).toHaveLength(4);
  });

  it('an unfiltered namespaces: all scope absorbs the other scopes of its cluster: one watch per kind, one pod watch', () => {
    const plan = discoveryWatches([
      { cluster: 'prod', namespaces: ['traderx', 'default'] },
      { cluster: 'prod', namespaces: 'all', labelSelector: 'team=payments' },
      { cluster: 'prod', namespaces: 'all' },
      { cluster: 'prod', namespaces: ['traderx'], labelSelector: 'tier=web' },
      { cluster: 'edge', namespaces: ['relay'] },
      { cluster: 'edge', namespaces: 'all', labelSelector: 'team=payments' },
    ]);
    expect(plan.workloads).toEqual([
      { cluster: 'prod', namespace: undefined, labelSelector: undefined },
      { cluster: 'edge', namespace: 'relay', labelSelector: undefined },
      { cluster: 'edge', namespace: undefined, labelSelector: 'team=payments' },
    ]);
    expect(plan.pods).toEqual([
      { cluster: 'prod', namespace: undefined, labelSelector: undefined },
      { cluster: 'edge', namespace: undefined, labelSelector: undefined },
    ]);
  });

  it('reads every way of naming a workload, and lists the candidates of an ambiguous one', () => {
    const discovered = discoveredTargets([
      { subject: 'workload:prod/traderx/Deployment/reference-data', value: { cluster: 'prod', namespace: 'traderx', kind: 'Deployment', name: 'reference-data', present: true, containers: ['app'] } },
      { subject: 'workload:prod/default/Deployment/reference-data', value: { cluster: 'prod', namespace: 'default', kind: 'Deployment', name: 'reference-data', present: true, containers: ['app'] } },
      { subject: 'workload:prod/relay/DaemonSet/relay', value: { cluster: 'prod', namespace: 'relay', kind: 'DaemonSet', name: 'relay', present: true, containers: ['relay'] } },
      { subject: 'workload:prod/old/Deployment/gone', value: { cluster: 'prod', namespace: 'old', kind: 'Deployment', name: 'gone', present: false, containers: [] } },
    ]);
    const config = { workers: [{ name: 'cost-optimizer-worker', cluster: 'prod', namespace: 'confighub', container: 'worker' }], workloads: [] };
    const subjectOf = (word: string, ns?: string) => findPinSubject(config, discovered, word, ns).target.subject;
    expect(subjectOf('traderx/reference-data')).toBe('workload:prod/traderx/Deployment/reference-data');
    expect(subjectOf('deploy/reference-data', 'default')).toBe('workload:prod/default/Deployment/reference-data');
    expect(subjectOf('DaemonSet/relay', 'relay')).toBe('workload:prod/relay/DaemonSet/relay');
    expect(subjectOf('prod/relay/DaemonSet/relay')).toBe('workload:prod/relay/DaemonSet/relay');
    expect(subjectOf('workload:prod/relay/DaemonSet/relay')).toBe('workload:prod/relay/DaemonSet/relay');
    expect(subjectOf('relay')).toBe('workload:prod/relay/DaemonSet/relay');
    expect(subjectOf('cost-optimizer-worker')).toBe('worker:cost-optimizer-worker');
    expect(() => subjectOf('reference-data')).toThrow('"reference-data" names 2 workloads: prod/default/Deployment/reference-data, prod/traderx/Deployment/reference-data');
    expect(() => subjectOf('old/gone')).toThrow(/Unknown workload "old\/gone"/);
    expect(() => subjectOf('nope')).toThrow(/Unknown worker "nope"\. Workers: cost-optimizer-worker\. Workloads: default\/reference-data/);
  });
});

describe('/worker pin of a discovered Deployment, through the real Bolt app', () => {
  const BOT = 'xoxb-1111-2222-test-bot-token';
  const APP = 'xapp-1-A0TEST-3333-test-app-token';
  const CHANNEL = 'C0ALERTS';
  const ONCALL = 'U0ONCALL';
  let registry: TestRegistry;
  let kube: FakeApiserver;
  let slack: FakeSlack;
  let runtime: Runtime;
  let app: App;
  let watcher: KubeWatcher;
  let dir: string;
  let ref: string;
  let good: string;
  let bad: string;
  const subject = 'workload:prod/traderx/Deployment/reference-data';

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'none' });
    ref = `${registry.host}/finos/reference-data:1.0`;
    good = (await registry.pushImage('finos/reference-data', '1.0', { seed: 'good' })).digest;
    bad = (await registry.pushImage('finos/reference-data', '1.0', { seed: 'bad' })).digest;
    kube = await startFakeApiserver();
    kube.setImageDigest(ref, bad);
    kube.failImage(ref, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=app');
    kube.upsert(workload('Deployment', 'traderx', 'reference-data', ref));
    kube.upsert(workload('Deployment', 'default', 'reference-data', ref));
    kube.upsert(workload('Deployment', 'traderx', 'two-containers', ref, { containers: [{ name: 'app', image: ref }, { name: 'sidecar', image: ref }] }));
    dir = mkdtempSync(join(tmpdir(), 'discovery-pin-'));
    process.env.KUBECONFIG = kube.kubeconfigFile('prod-admin');
    slack = await startFakeSlack({ botToken: BOT, appToken: APP });
    const config = parseConfig({
      slack: { channel: CHANNEL },
      store: { path: join(dir, 'db.sqlite') },
      clusters: [{ name: 'prod', context: 'prod-admin' }],
      registries: { [registry.host]: { insecure: true } },
      discover: [{ cluster: 'prod', namespaces: 'all' }],
      access: { 'worker pin': { users: [ONCALL] }, 'worker unpin': { users: [ONCALL] } },
      alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 },
    });
    runtime = new Runtime(config, { log: quiet, poster: { baseBackoffMs: 100 } });
    runtime.follower.configure({ pollMs: 25, timeoutMs: 15_000 });
    // The registry watcher saw the tag move good → bad: the tag's previous digest is the last good one.
    const sink = runtime.sink();
    sink.tagDigest(ref, good, {});
    sink.tagDigest(ref, bad, {});
    const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: slack.apiUrl, port: 0 });
    app = created.app;
    runtime.startDelivery(new SlackService(created.client));
    await app.start();
    watcher = new KubeWatcher({ config, sink, cluster: (name) => runtime.cluster(name), log: quiet, recheckEveryMs: 400, backoffMinMs: 50, backoffMaxMs: 300 });
    watcher.start();
  }, 30_000);

  afterAll(async () => {
    await watcher?.stop();
    if (runtime) await runtime.follower.stopAll();
    await app?.stop().catch(() => {});
    await runtime?.stop(1000);
    await slack?.close();
    await kube?.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  type Body = Record<string, unknown> & { text?: string; blocks?: unknown[] };
  const textOf = (body: Body) => slack.messageText(body as never);
  async function nextResponse(send: () => Promise<unknown>): Promise<Body> {
    const before = slack.responses().length;
    await send();
    await waitForSlack(() => slack.responses().length > before, { what: 'an answer through response_url' });
    return slack.responses()[before]!.body as Body;
  }
  const slash = (text: string, user = ONCALL) => nextResponse(() => slack.sendEnvelope('slash_commands', slack.slashPayload({ command: '/worker', text, user_id: user, channel_id: CHANNEL })));
  function button(body: { blocks?: unknown[] }, action: string): { action_id: string; value: string } {
    for (const block of (body.blocks ?? []) as Array<{ type: string; elements?: Array<{ action_id?: string; value?: string }> }>) {
      for (const element of block.elements ?? []) if (element.action_id?.startsWith(`dw_${action}_`)) return { action_id: element.action_id, value: element.value ?? '' };
    }
    throw new Error(`no ${action} button in ${JSON.stringify(body.blocks)?.slice(0, 300)}`);
  }
  const press = (found: { action_id: string; value: string }, messageTs: string) =>
    nextResponse(() => slack.sendEnvelope('interactive', slack.blockActionPayload({ user: ONCALL, channel: CHANNEL, message_ts: messageTs, action_id: found.action_id, value: found.value })));

  it('the incident root carries the Pin button; /worker pin traderx/reference-data patches its container to the last good digest after confirmation', async () => {
    const root = await waitForSlack(() => slack.channel(CHANNEL).find((message) => message.text.includes('Deployment traderx/reference-data (cluster prod): workload failing') && message.text.includes('Last good digest')), { what: 'the incident root with its last good digest', timeoutMs: 15_000 });
    const incidentId = Number(/^#(\d+) /.exec(root.text)![1]);
    const pin = button(root as unknown as Body, 'worker_pin');
    expect(JSON.parse(pin.value)).toMatchObject({ worker: 'prod/traderx/Deployment/reference-data', digest: good });
    expect(root.text).toContain(`/worker pin prod/traderx/Deployment/reference-data ${shortDigest(good)}`);

    const preview = await slash('pin traderx/reference-data');
    const previewText = textOf(preview);
    expect(previewText).toContain(`Pin Deployment traderx/reference-data to ${shortDigest(good)}?`);
    expect(previewText).toContain(ref);
    expect(previewText).toContain("last good: the tag's previous digest");
    expect(kube.patches()).toHaveLength(0);

    const done = await press(button(preview, 'confirm'), root.ts);
    expect(textOf(done)).toContain(`Pinned Deployment traderx/reference-data to ${shortDigest(good)}`);
    const patches = kube.patches();
    expect(patches).toHaveLength(1);
    expect(patches[0]!.path).toBe('/apis/apps/v1/namespaces/traderx/deployments/reference-data');
    expect(patches[0]!.contentType).toBe('application/strategic-merge-patch+json');
    expect(patches[0]!.body).toEqual({
      metadata: { annotations: { 'driftwatch.io/pinned-from': ref, 'driftwatch.io/pinned-by': ONCALL, 'driftwatch.io/pinned-at': expect.any(String), 'driftwatch.io/pin-reason': `incident #${incidentId}` } },
      spec: { template: { spec: { containers: [{ name: 'app', image: `${registry.host}/finos/reference-data@${good}` }] } } },
    });
    expect(kube.get('Deployment', 'default', 'reference-data')!.spec.template.spec.containers[0].image).toBe(ref);
    const audit = runtime.store.audit.all().filter((entry) => entry.action === 'worker pin' && entry.result === 'patched');
    expect(audit).toEqual([expect.objectContaining({ actor: ONCALL, before: ref, after: `${registry.host}/finos/reference-data@${good}`, incidentId, target: expect.stringContaining(subject) })]);
    await waitForSlack(() => slack.thread(CHANNEL, root.ts).some((reply) => reply.text.includes(`📌 Pinned Deployment traderx/reference-data to ${shortDigest(good)}`)), { what: 'the pin in the incident thread' });

    // And back: unpin puts the tag it was pinned from back, and removes the pin annotations.
    const unpinPreview = await slash('unpin deploy/reference-data -n traderx');
    expect(textOf(unpinPreview)).toContain('Unpin Deployment traderx/reference-data?');
    const unpinned = await press(button(unpinPreview, 'confirm'), root.ts);
    expect(textOf(unpinned)).toContain(`Unpinned Deployment traderx/reference-data: back to ${ref}.`);
    expect(kube.patches()).toHaveLength(2);
    expect(kube.patches()[1]!.body).toEqual({
      metadata: { annotations: { 'driftwatch.io/pinned-from': null, 'driftwatch.io/pinned-by': null, 'driftwatch.io/pinned-at': null, 'driftwatch.io/pin-reason': null } },
      spec: { template: { spec: { containers: [{ name: 'app', image: ref }] } } },
    });
  });

  it('ambiguous names answer with the candidates; several containers need --container; nothing is patched', async () => {
    const before = kube.patches().length;
    const ambiguous = textOf(await slash('pin reference-data'));
    expect(ambiguous).toContain('"reference-data" names 2 workloads: prod/default/Deployment/reference-data, prod/traderx/Deployment/reference-data');
    const several = textOf(await slash(`pin traderx/two-containers ${good}`));
    expect(several).toContain('Deployment traderx/two-containers has 2 containers (app, sidecar): add --container <name>.');
    const chosen = textOf(await slash(`pin deploy/two-containers -n traderx ${good} --container sidecar`));
    expect(chosen).toContain(`Pin Deployment traderx/two-containers to ${shortDigest(good)}?`);
    expect(chosen).toContain('sidecar');
    expect(kube.patches()).toHaveLength(before);
  });
});
