/**
 * Alerts as fast as the events (PRODUCTION.md): the real client-node watch against the fake
 * apiserver, the real engine and outbox, with the DEFAULT config — no kubeRecheckMs, no
 * failuresBeforeAlert override. The watcher looks again only every 30 s by default, so an alert
 * that arrives within these tests' deadlines (well under 30 s) came from the watch event itself.
 * Pods are real captured objects (test/fixtures/pods) or the fake's own pods given a captured status.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeCluster } from '../src/clients/kube.js';
import { parseConfig } from '../src/config.js';
import { createLogger, setLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { KubeWatcher } from '../src/watchers/kube.js';
import type { CheckObservation } from '../src/domain/model.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { RecordingService } from './support/recording-service.js';
import { podFixture } from './support/pod-fixtures.js';
import { waitUntil } from './support/wait-until.js';

const quiet = createLogger({ level: 'silent' });
beforeAll(() => setLogger(quiet));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Well under the watcher's default 30 s look-again: meeting it proves the alert came from the event. */
const EVENT_DEADLINE_MS = 12_000;

const waitFor = <T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = EVENT_DEADLINE_MS): Promise<T> => waitUntil(what, probe, timeoutMs);

function deployment(namespace: string, name: string, image: string, replicas: number, container = 'main') {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: { replicas, selector: { matchLabels: labels }, progressDeadlineSeconds: 600, template: { metadata: { labels }, spec: { containers: [{ name: container, image }] } } },
  };
}

async function harness(workloads: Array<{ namespace: string; name: string }>, before: (fake: FakeApiserver) => void | Promise<void>) {
  const fake = await startFakeApiserver();
  cleanups.push(() => fake.close());
  await before(fake);
  const dir = mkdtempSync(join(tmpdir(), 'kube-events-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfigPath = fake.kubeconfigFile('prod-admin');
  // The default config: only what must be said (where Slack and the store are, which cluster and workloads).
  const config = parseConfig({
    slack: { channel: 'C0ALERTS' },
    store: { path: join(dir, 'db.sqlite') },
    clusters: [{ name: 'prod', context: 'prod-admin' }],
    workloads: workloads.map((w) => ({ cluster: 'prod', ...w })),
  });
  expect(config.alerting.failuresBeforeAlert).toBe(2);
  const runtime = new Runtime(config, { log: quiet });
  const service = new RecordingService();
  const poster = runtime.startDelivery(service);
  cleanups.push(() => runtime.stop(2_000));
  const checks: CheckObservation[] = [];
  const sink = runtime.sink();
  // The watcher as the runtime makes it: no recheck, settle or grace overrides (only the client's reconnect backoff).
  const watcher = new KubeWatcher({
    config,
    sink: { ...sink, check: (observation) => (checks.push(observation), sink.check(observation)) },
    cluster: (name) => new KubeCluster({ name, context: 'prod-admin', kubeconfigPath, requestTimeoutMs: 3_000 }),
    log: quiet,
    backoffMinMs: 50,
    backoffMaxMs: 300,
  });
  watcher.start();
  cleanups.push(() => watcher.stop());
  const incidentRoots = () => service.roots().filter((root) => /^#\d+ /.test(root.text));
  return { fake, runtime, poster, service, checks, incidents: () => incidentRoots().map((root) => service.current(root)), subject: (ns: string, name: string) => `workload:prod/${ns}/Deployment/${name}` };
}

/** The captured status of a fixture, for the fake's own pod (same container name). */
const capturedStatus = (file: string) => podFixture(file).status as Record<string, unknown>;

describe('pod problems alert on the watch event, with the default config', () => {
  it('a crash loop (captured CrashLoopBackOff status) reaches the channel as an incident root long before the 30 s look-again', async () => {
    const h = await harness([{ namespace: 'shop', name: 'checkout' }], (fake) => void fake.upsert(deployment('shop', 'checkout', 'alpine:latest', 1)));
    const pod = await waitFor('the pod Ready', () => h.fake.list('Pod', 'shop').find((p) => p.status?.containerStatuses?.[0]?.ready === true));
    await waitFor('the healthy look', () => h.checks.some((c) => c.problem === 'workload_failing' && c.ok));
    h.fake.setLogs('shop', pod.metadata.name, 'main', 'panic: cannot reach db:5432\n', { previous: true });
    const changedAt = Date.now();
    h.fake.setPodStatus('shop', pod.metadata.name, capturedStatus('crashloop-backoff'));
    await waitFor('the incident root', () => h.incidents().find((text) => text.includes('checkout')));
    const tookMs = Date.now() - changedAt;
    expect(tookMs).toBeLessThan(EVENT_DEADLINE_MS);
    // The crash log is read after the alert: its lines arrive as an edit of the root.
    const root = await waitFor('the root edited with the crash log', () => h.incidents().find((text) => text.includes('checkout') && text.includes('panic: cannot reach db:5432')));
    expect(root).toContain('#1 Deployment shop/checkout (cluster prod): workload failing');
    expect(root).toContain('CrashLoopBackOff, 3 restarts');
    expect(root).toContain('Last exit: code 1: Error');
    expect(root).toContain('panic: cannot reach db:5432');
    // One look was enough: the engine saw exactly one bad observation when it opened.
    const bad = h.checks.filter((c) => c.problem === 'workload_failing' && !c.ok);
    expect(bad[0]!.immediate).toBe(true);
  });

  it('a single restart does not alert: the first crash counts looks, and the container then stays Running', async () => {
    const h = await harness([{ namespace: 'shop', name: 'cart' }], (fake) => void fake.upsert(deployment('shop', 'cart', 'alpine:latest', 1)));
    const pod = await waitFor('the pod Ready', () => h.fake.list('Pod', 'shop').find((p) => p.status?.containerStatuses?.[0]?.ready === true));
    await waitFor('the healthy look', () => h.checks.some((c) => c.problem === 'workload_failing' && c.ok));
    const now = new Date().toISOString();
    const status = (state: Record<string, unknown>, restartCount: number, ready: boolean, lastState: Record<string, unknown> = {}) => ({
      phase: 'Running',
      containerStatuses: [{ name: 'main', image: 'alpine:latest', imageID: 'docker-pullable://alpine@sha256:621c2f39f8133acb8e64023a94dbdf0d5ca81896102b9e57c0dc184cadaf5528', ready, restartCount, state, lastState }],
    });
    // The kubelet's own sequence for one crash: terminated (Error), then restarted and Running again.
    h.fake.setPodStatus('shop', pod.metadata.name, status({ terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now } }, 0, false));
    await waitFor('the crash to be seen', () => h.checks.some((c) => c.problem === 'workload_failing' && !c.ok));
    h.fake.setPodStatus('shop', pod.metadata.name, status({ running: { startedAt: now } }, 1, true, { terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now } }));
    await waitFor('Running again', () => h.checks.filter((c) => c.problem === 'workload_failing').at(-1)?.ok === true);
    const crash = h.checks.find((c) => c.problem === 'workload_failing' && !c.ok)!;
    expect(crash.immediate).toBeFalsy();
    expect(h.runtime.store.incidents.problem(h.subject('shop', 'cart'), 'workload_failing')?.state).toBe('ok');
    expect(h.runtime.store.incidents.openIncidents()).toHaveLength(0);
    expect(h.incidents()).toEqual([]);
  });

  it('Init:Error (captured shape: init container exit 1 after 10 restarts) alerts as an init-container failure with its log lines', async () => {
    const h = await harness([{ namespace: 'shop', name: 'orders' }], (fake) => {
      fake.upsert(deployment('shop', 'orders', 'busybox', 0, 'myapp-container'));
      fake.upsert(podFixture('init-error', { name: 'orders-7d9f-x1', namespace: 'shop', labels: { app: 'orders' } }));
      fake.setLogs('shop', 'orders-7d9f-x1', 'init-myservice', 'waiting for myservice\nnslookup: can\'t resolve \'myservice\'\n');
    });
    await waitFor('the incident root', () => h.incidents().find((text) => text.includes('orders')));
    const root = await waitFor('the root edited with the log lines', () => h.incidents().find((text) => text.includes('orders') && text.includes("nslookup: can't resolve 'myservice'")));
    expect(root).toContain('init container init-myservice failed: exit code 1: Error, 10 restarts');
    expect(root).not.toContain('PodInitializing');
    expect(root).toContain("nslookup: can't resolve 'myservice'");
    const logRead = h.fake.requests().find((r) => r.path.endsWith('/log'));
    expect(logRead?.query).toMatchObject({ container: 'init-myservice', previous: 'false' });
  });

  it('an Evicted pod (captured status) alerts with the kubelet\'s reason even though its replacement runs', async () => {
    const h = await harness([{ namespace: 'storage', name: 'cstor-pool' }], (fake) => {
      fake.upsert(deployment('storage', 'cstor-pool', 'alpine:latest', 0));
      fake.upsert(podFixture('running-ready', { name: 'cstor-pool-7c9d-new', namespace: 'storage', labels: { app: 'cstor-pool' } }));
      fake.upsert(podFixture('evicted', { name: 'cstor-pool-7c9d-old', namespace: 'storage', labels: { app: 'cstor-pool' } }));
    });
    const root = await waitFor('the incident root', () => h.incidents().find((text) => text.includes('cstor-pool')));
    expect(root).toContain('Evicted: The node was low on resource: memory');
    expect(root).toContain('Pods: 1 of 2 failing, 1 Ready');
  });

  it('quiet pods stay quiet: a completed Job pod, a Terminating pod, a pod initializing and a running native sidecar', async () => {
    const h = await harness([{ namespace: 'shop', name: 'calm' }], (fake) => {
      fake.upsert(deployment('shop', 'calm', 'alpine:latest', 0));
      for (const file of ['completed-job', 'terminating', 'pod-initializing', 'native-sidecar']) fake.upsert(podFixture(file, { name: `calm-${file}`, namespace: 'shop', labels: { app: 'calm' } }));
    });
    await waitFor('a look at the pods', () => h.runtime.store.subjects.state(h.subject('shop', 'calm'), 'running'));
    // Give a wrong alert every chance to be posted before asserting there is none.
    await h.poster.drain(1_000);
    expect(h.checks.filter((c) => c.problem === 'workload_failing' && !c.ok)).toEqual([]);
    expect(h.incidents()).toEqual([]);
  });
});

describe('faults', () => {
  it('pods flapping between Running and CrashLoopBackOff every second: one incident, no message per flap, root edits at most once per 10 s', async () => {
    const h = await harness([{ namespace: 'shop', name: 'flappy' }], (fake) => void fake.upsert(deployment('shop', 'flappy', 'alpine:latest', 1)));
    const pod = await waitFor('the pod Ready', () => h.fake.list('Pod', 'shop').find((p) => p.status?.containerStatuses?.[0]?.ready === true));
    const flapStart = Date.now();
    for (let flap = 0; flap < 8; flap++) {
      const at = new Date().toISOString();
      const last = { terminated: { exitCode: 1, reason: 'Error', startedAt: at, finishedAt: at } };
      const restartCount = 3 + flap;
      const state = flap % 2 === 0 ? { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=main' } } : { running: { startedAt: at } };
      h.fake.setPodStatus('shop', pod.metadata.name, { phase: 'Running', containerStatuses: [{ name: 'main', image: 'alpine:latest', imageID: '', ready: false, restartCount, state, lastState: last }] });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    await waitFor('the incident root', () => h.incidents().find((text) => text.includes('flappy')));
    const flapMs = Date.now() - flapStart;
    expect(h.incidents()).toHaveLength(1);
    const root = h.service.roots().find((message) => message.text.startsWith('#1 '))!;
    // No reply per flap: the thread holds nothing the flapping wrote.
    expect(h.service.thread(root.ts)).toEqual([]);
    expect(root.updates.length).toBeLessThanOrEqual(Math.ceil(flapMs / 10_000));
    expect(h.runtime.store.incidents.openIncidents()).toHaveLength(1);
  });

  it('a workload deleted while its incident is open resolves it as "deleted", not "recovered", and opens no "missing" incident', async () => {
    const h = await harness([{ namespace: 'shop', name: 'legacy' }], (fake) => void fake.upsert(deployment('shop', 'legacy', 'alpine:latest', 1)));
    const pod = await waitFor('the pod Ready', () => h.fake.list('Pod', 'shop').find((p) => p.status?.containerStatuses?.[0]?.ready === true));
    h.fake.setPodStatus('shop', pod.metadata.name, capturedStatus('crashloop-backoff'));
    await waitFor('the incident root', () => h.incidents().find((text) => text.includes('legacy')));
    h.fake.remove('Deployment', 'shop', 'legacy');
    for (const p of h.fake.list('Pod', 'shop')) h.fake.remove('Pod', 'shop', p.metadata.name);
    const root = h.service.roots().find((message) => message.text.startsWith('#1 '))!;
    await waitFor('the root resolved', () => h.service.current(root).startsWith('Resolved: #1'));
    const said = h.service.thread(root.ts).map((reply) => reply.text).join('\n');
    expect(said).toMatch(/Resolved after .* — Deployment legacy deleted from shop/);
    expect(said).not.toContain('Recovered');
    expect(h.runtime.store.events.forIncident(1).find((e) => e.type === 'incident.resolved')?.summary).toContain('deleted');
    await h.poster.drain(1_000);
    expect(h.incidents().filter((text) => /not found/.test(text))).toEqual([]);
  });
});
