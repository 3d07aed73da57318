/**
 * The Kubernetes watcher end to end: the real client-node against the fake apiserver over HTTPS,
 * the real incident engine and outbox, delivered into a recording channel. Assertions are on what
 * the channel shows. The pure decisions are tested without I/O at the bottom.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeCluster, KubeError, type WatchedPod, type WatchedWorkload } from '../src/clients/kube.js';
import { parseConfig } from '../src/config.js';
import { createLogger, setLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { KubeWatcher } from '../src/watchers/kube.js';
import { describeMissing, describeUnreachable } from '../src/kube/cluster.js';
import { assessPods, crashLogKey, pullReason } from '../src/kube/pods.js';
import { rolloutEdges, rolloutOf } from '../src/kube/rollout.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { RecordingService, type Posted } from './support/recording-service.js';
import { rememberCrashLog } from '../src/watchers/kube-state.js';
import type { CheckObservation } from '../src/domain/model.js';
import { shortDigest } from '../src/domain/image-ref.js';
import { waitUntil } from './support/wait-until.js';

const quiet = createLogger({ level: 'silent' });
const GOOD = 'sha256:8b96908dd57fd906ce9168aa9c283b3285029fc86adcf7a2079d622650ca02b5';
const BAD = 'sha256:c4338b51eaa8896207b02c28dca18bb280e548dc58e82190da453881994d46dc';
const WORKER_IMAGE = 'ghcr.io/confighubai/confighub-worker:latest';
const SEED_000_LOG = [
  '2025-10-01T17:50:31Z\tINFO\tRegistered function worker\t{"workerType": "kubernetes", "toolchainType": "Kubernetes/YAML"}',
  '2025/10/01 17:50:31 Starting worker with ID: 82bde808-ce33-4e54-9646-0ff2d0ddf97c',
  '2025/10/01 17:50:31 Starting worker with Token: ch_cjvr7a8b9c0d1e2f',
  '2025/10/01 17:50:32 [ERROR] Failed to get bridge worker slug: server returned status 404: 404 Not Found',
  '2025/10/01 17:50:32 Error starting worker: failed to get bridge worker slug: server returned status 404: 404 Not Found',
  '2025-10-01T17:50:32Z\tERROR\tfailed to execute command\t{"error": "failed to get bridge worker slug: server returned status 404: 404 Not Found"}',
].join('\n');

const waitFor = <T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 8_000): Promise<T> => waitUntil(what, probe, timeoutMs);

interface Harness {
  fake: FakeApiserver;
  runtime: Runtime;
  service: RecordingService;
  watcher: KubeWatcher;
  restarts: string[];
  /** Every check the watcher reported, in order. */
  checks: CheckObservation[];
  cluster: KubeCluster;
  /** Incident roots as the channel shows them now. */
  incidents(): string[];
  /** Everything the channel shows: roots (current text) and replies. */
  everything(): string;
}

// The kube client logs through the root logger; keep test output readable.
beforeAll(() => setLogger(quiet));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(
  config: { workers?: unknown[]; workloads?: unknown[]; unreachableAfter?: string },
  options: { idleTimeoutMs?: number; before?: (fake: FakeApiserver) => void | Promise<void>; pendingTooLongMs?: number; requestTimeoutMs?: number } = {},
): Promise<Harness> {
  const fake = await startFakeApiserver();
  cleanups.push(() => fake.close());
  await options.before?.(fake);
  const dir = mkdtempSync(join(tmpdir(), 'kube-watcher-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfigPath = fake.kubeconfigFile('prod-admin');
  const parsed = parseConfig({
    slack: { channel: 'C0ALERTS' },
    store: { path: join(dir, 'db.sqlite') },
    clusters: [{ name: 'prod', context: 'prod-admin', unreachableAfter: config.unreachableAfter ?? '60s' }],
    workers: config.workers ?? [],
    workloads: config.workloads ?? [],
    alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 },
  });
  const runtime = new Runtime(parsed, { log: quiet });
  const service = new RecordingService();
  runtime.startDelivery(service);
  cleanups.push(() => runtime.stop(2_000));
  const restarts: string[] = [];
  const checks: CheckObservation[] = [];
  const sink = runtime.sink();
  const watcher = new KubeWatcher({
    config: parsed,
    sink: { ...sink, check: (observation) => (checks.push(observation), sink.check(observation)) },
    cluster: (name) => new KubeCluster({ name, context: 'prod-admin', kubeconfigPath, requestTimeoutMs: options.requestTimeoutMs ?? 3_000 }),
    log: quiet,
    onWatchRestart: (name) => restarts.push(name),
    idleTimeoutMs: options.idleTimeoutMs ?? 20_000,
    recheckEveryMs: 400,
    backoffMinMs: 50,
    backoffMaxMs: 300,
    ...(options.pendingTooLongMs !== undefined ? { pendingTooLongMs: options.pendingTooLongMs } : {}),
  });
  watcher.start();
  cleanups.push(() => watcher.stop());
  const cluster = new KubeCluster({ name: 'prod', context: 'prod-admin', kubeconfigPath });
  const incidentRoots = () => service.roots().filter((root) => /^#\d+ /.test(root.text));
  const current = (root: Posted) => service.current(root);
  return {
    fake,
    runtime,
    service,
    watcher,
    restarts,
    checks,
    cluster,
    incidents: () => incidentRoots().map(current),
    everything: () => service.posted.map((message) => (message.threadTs ? message.text : current(message))).join('\n---\n'),
  };
}

/** Waits until the watcher has reported on `subject` (its `problem`) `n` more times: its periodic looks. */
async function morePeriodicLooks(h: Harness, subject: string, n = 2, problem?: string): Promise<void> {
  const count = () => h.checks.filter((c) => c.subject === subject && (!problem || c.problem === problem)).length;
  const before = count();
  await waitFor(`${n} more looks at ${subject}`, () => count() >= before + n);
}

const podsOf = (fake: FakeApiserver, ns: string, app: string) => fake.list('Pod', ns).filter((pod) => pod.metadata.labels?.app === app);

describe('KubeWatcher against the fake apiserver', () => {
  it('seed 000: a worker crash-looping after the tag moved → one incident naming the worker, the 404 line and the digest it runs', async () => {
    const h = await harness(
      { workers: [{ name: 'cost-optimizer-worker', cluster: 'prod' }] },
      { before: (fake) => void fake.seedWorker({ name: 'cost-optimizer-worker', image: WORKER_IMAGE, digest: GOOD }) },
    );
    // Healthy first: the watcher records the digest the Ready pod runs.
    await waitFor('the running digest to be recorded', () => {
      const running = h.runtime.store.subjects.state<Array<{ digest?: string; ready: boolean }>>('worker:cost-optimizer-worker', 'running')?.value;
      return running?.some((c) => c.digest === GOOD && c.ready);
    });
    expect(h.watcher.health()['cluster:prod']?.ok).toBe(true);
    expect(h.runtime.store.subjects.state<{ containers: Array<{ image: string }> }>('worker:cost-optimizer-worker', 'spec')?.value.containers[0]?.image).toBe(WORKER_IMAGE);

    // The tag moves; the next pods pull the broken image and crash with seed 000's line.
    h.fake.setImageDigest(WORKER_IMAGE, BAD);
    h.fake.failImage(WORKER_IMAGE, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=worker');
    await h.cluster.restartRollout('Deployment', 'confighub', 'cost-optimizer-worker', new Date());
    // The rollout is announced on its own; its new pod is only starting, which is not a problem yet.
    await waitFor('rollout started', () => h.service.roots().find((message) => message.text.startsWith('Rollout started: worker cost-optimizer-worker (generation 2)')));
    const fresh = await waitFor('the new pod', () => podsOf(h.fake, 'confighub', 'cost-optimizer-worker').find((pod) => pod.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ContainerCreating'));
    h.fake.setLogs('confighub', fresh.metadata.name, 'worker', `${SEED_000_LOG}\n`, { previous: true });
    h.fake.advanceRollouts();

    const root = await waitFor('the incident with the crash log', () => h.incidents().find((text) => text.includes('failed to get bridge worker slug')));
    expect(root).toContain('#1 worker cost-optimizer-worker');
    expect(root).toContain('CrashLoopBackOff, 5 restarts');
    expect(root).toContain('Runs: sha256:c4338b51');
    expect(root).toContain(`Image: ${WORKER_IMAGE}`);
    expect(root).toContain('Last exit: code 1: Error');
    expect(root).toContain('server returned status 404: 404 Not Found');
    // The worker token in the log line is redacted.
    expect(root).not.toContain('ch_cjvr7a8b9c0d1e2f');
    expect(root).toContain('Token: [redacted]');
    // The rollout's failure lands in the incident's thread.
    await waitFor('the rollout_failed notice', () => h.everything().includes('Rollout failed: worker cost-optimizer-worker'));
    const incidentRoot = h.service.roots().find((message) => message.text.startsWith('#1 '))!;
    expect(h.service.thread(incidentRoot.ts).some((reply) => reply.text.includes('Rollout failed'))).toBe(true);
    // Several periodic looks later, still exactly one incident and a single log fetch for this crash.
    await morePeriodicLooks(h, 'worker:cost-optimizer-worker', 3, 'worker_pods_failing');
    expect(h.incidents()).toHaveLength(1);
    const logReads = h.fake.requests().filter((r) => r.path.endsWith('/log'));
    expect(logReads).toHaveLength(1);
    expect(logReads[0]!.query).toMatchObject({ container: 'worker', previous: 'true', tailLines: '20' });
  });

  it('seed 003: ImagePullBackOff with pull access denied → an incident with the image and the reason', async () => {
    const image = 'traderx/reference-data:v1';
    const h = await harness(
      { workloads: [{ cluster: 'prod', namespace: 'traderx', name: 'reference-data' }] },
      {
        before: (fake) => {
          fake.failImage(image, 'ErrImagePull', `failed to pull and unpack image "docker.io/${image}": failed to resolve reference "docker.io/${image}": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`);
          fake.upsert(deployment('traderx', 'reference-data', image));
        },
      },
    );
    // The kubelet then backs off: the status only says "Back-off pulling image"; the reason is remembered.
    const pod = await waitFor('the pod', () => h.fake.list('Pod', 'traderx')[0]);
    await waitFor('the first observation', () => h.runtime.store.incidents.problem('workload:prod/traderx/Deployment/reference-data', 'workload_failing'));
    h.fake.setPodStatus('traderx', pod.metadata.name, {
      containerStatuses: [{ name: 'app', image, imageID: '', ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } }, lastState: {} }],
    });
    const root = await waitFor('the incident', () => h.incidents().find((text) => text.includes('reference-data')));
    expect(root).toContain('#1 Deployment traderx/reference-data (cluster prod): workload failing');
    expect(root).toMatch(/Err?ImagePull(BackOff)?: pull access denied for traderx\/reference-data/);
    expect(root).toContain(`Image: ${image}`);
    expect(root).toContain('Reason: failed to pull and unpack image');
    await waitFor('the back-off status to be judged', () => h.runtime.store.incidents.problem('workload:prod/traderx/Deployment/reference-data', 'workload_failing')?.summary.startsWith('ImagePullBackOff: pull access denied for traderx/reference-data'));
    expect(h.incidents()).toHaveLength(1);
    // /version status can show not-ready.
    expect(h.runtime.store.subjects.state<{ ready: number; desired: number }>('workload:prod/traderx/Deployment/reference-data', 'rollout')?.value).toMatchObject({ desired: 1, ready: 0 });
  });

  it('seed 004: the apiserver gone past unreachableAfter → the unreachable incident opens; it resolves when the API answers again; pod problems stay quiet meanwhile', async () => {
    const h = await harness(
      { workers: [{ name: 'cost-optimizer-worker', cluster: 'prod' }], unreachableAfter: '1s' },
      { before: (fake) => void fake.seedWorker({ name: 'cost-optimizer-worker', image: WORKER_IMAGE, digest: GOOD }) },
    );
    await waitFor('the cluster to be watched', () => h.watcher.health()['cluster:prod']?.ok);
    const stoppedAt = Date.now();
    await h.fake.stop();
    const root = await waitFor('the unreachable incident', () => h.incidents().find((text) => text.includes('cluster API unreachable')), 10_000);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1_000);
    expect(root).toContain('#1 cluster prod: cluster API unreachable');
    expect(root).toMatch(/cluster prod: API unreachable for \d+s: .*ECONNREFUSED/);
    expect(h.watcher.health()['cluster:prod']?.ok).toBe(false);
    expect(h.restarts.length).toBeGreaterThan(0);
    expect(h.restarts.every((name) => name === 'prod')).toBe(true);

    await h.fake.restart();
    await waitFor('the incident to resolve', () => h.incidents().find((text) => text.startsWith('Resolved: #1 cluster prod')), 10_000);
    expect(h.everything()).toMatch(/Resolved after \d+s/);
    expect(h.watcher.health()['cluster:prod']?.ok).toBe(true);
    // The worker's pods were never reported as failing while the API was away.
    expect(h.runtime.store.incidents.problem('worker:cost-optimizer-worker', 'worker_pods_failing')?.state ?? 'ok').toBe('ok');
    expect(h.incidents()).toHaveLength(1);
  });

  it('a silent watch is noticed and replaced, and changes after that still arrive', async () => {
    const h = await harness(
      { workers: [{ name: 'cost-optimizer-worker', cluster: 'prod' }] },
      { idleTimeoutMs: 1_000, before: (fake) => void fake.seedWorker({ name: 'cost-optimizer-worker', image: WORKER_IMAGE, digest: GOOD }) },
    );
    await waitFor('the cluster to be watched', () => h.watcher.health()['cluster:prod']?.ok);
    const restartsBefore = h.restarts.length;
    h.fake.silenceWatches();
    const pod = podsOf(h.fake, 'confighub', 'cost-optimizer-worker')[0]!;
    // Said into the silenced streams: only a replacement watch can bring it.
    h.fake.setPodStatus('confighub', pod.metadata.name, {
      containerStatuses: [{ name: 'worker', image: WORKER_IMAGE, imageID: `ghcr.io/confighubai/confighub-worker@${GOOD}`, ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { exitCode: 2, reason: 'Error', finishedAt: new Date().toISOString() } } }],
    });
    const root = await waitFor('the change to arrive', () => h.incidents().find((text) => text.includes('CrashLoopBackOff, 3 restarts')), 10_000);
    expect(root).toContain('Last exit: code 2: Error');
    expect(h.restarts.length).toBeGreaterThan(restartsBefore);
    // A stall is not an outage.
    expect(h.runtime.store.incidents.problem('cluster:prod', 'cluster_unreachable')?.state ?? 'ok').toBe('ok');
  });

  it('seed 003: a workload configured in traderx but present in default → workload missing, naming default; ok once it appears', async () => {
    const h = await harness(
      { workloads: [{ cluster: 'prod', namespace: 'traderx', name: 'reference-data' }] },
      { before: (fake) => void fake.upsert(deployment('default', 'reference-data', 'ghcr.io/finos/traderx/reference-data:latest')) },
    );
    const root = await waitFor('the missing incident', () => h.incidents().find((text) => text.includes('workload not found')));
    expect(root).toContain('#1 Deployment traderx/reference-data (cluster prod): workload not found');
    expect(root).toContain('Deployment reference-data not found in traderx; found in default');

    h.fake.upsert(deployment('traderx', 'reference-data', 'ghcr.io/finos/traderx/reference-data:latest'));
    await waitFor('the incident to resolve', () => h.incidents().find((text) => text.startsWith('Resolved: #1')));
    expect(h.incidents()).toHaveLength(1);
  });

  it('RBAC: a forbidden pod watch is a clear state, not a crash; 403 on every watch is the cluster being unreachable', async () => {
    const h = await harness(
      { workloads: [{ cluster: 'prod', namespace: 'shop', name: 'web' }], unreachableAfter: '1s' },
      {
        before: (fake) => {
          fake.upsert(deployment('shop', 'web', 'registry.example.com/shop/web:1.0'));
          fake.forbid('pods');
        },
      },
    );
    const subject = 'workload:prod/shop/Deployment/web';
    await waitFor('the blind spot in health', () => h.watcher.health()['cluster:prod']?.detail?.includes(`cannot see ${subject}: cluster prod: 403`));
    expect(h.watcher.health()['cluster:prod']?.ok).toBe(true);
    await morePeriodicLooks(h, subject, 2);
    // What the workload itself says is still reported; its pods, unseen, are not judged.
    expect(h.checks.filter((c) => c.subject === subject).map((c) => c.problem)).not.toContain('workload_failing');
    expect(h.service.posted).toHaveLength(0);

    h.fake.forbid('deployments');
    h.fake.endWatches();
    const root = await waitFor('the cluster incident', () => h.incidents().find((text) => text.includes('cluster API unreachable')), 10_000);
    expect(root).toMatch(/cluster prod: API forbids every watch \(403\) for \d+s: .*forbidden/);
    h.fake.allow('deployments');
    h.fake.allow('pods');
    await waitFor('the incident to resolve', () => h.incidents().find((text) => text.startsWith('Resolved: #1 cluster prod')), 10_000);
  });

  it('a crash loop alerts while its crash log cannot be read yet: the log read (hanging here) never holds the root back', async () => {
    const image = 'registry.example.com/shop/api:2';
    let logReads = 0;
    const h = await harness(
      { workloads: [{ cluster: 'prod', namespace: 'shop', name: 'api' }] },
      {
        // The product's request timeout: a hung log read would hold a root back this long.
        requestTimeoutMs: 30_000,
        before: (fake) => {
          fake.setFault((request) => (request.path.endsWith('/log') && ++logReads ? 'hang' : undefined));
          fake.failImage(image, 'CrashLoopBackOff', 'back-off 10s restarting failed container=app');
          fake.upsert(deployment('shop', 'api', image));
        },
      },
    );
    // The fake marks the rollout stuck at once, so the root may open on that and the crash loop join it.
    const root = await waitFor('the incident root with the crash loop', () => h.incidents().find((text) => text.includes('shop/api') && text.includes('CrashLoopBackOff')));
    expect(root).toContain('#1 Deployment shop/api (cluster prod)');
    expect(root).toContain('CrashLoopBackOff, 5 restarts');
    expect(root).toContain('Last exit: code 1: Error');
    await waitFor('the crash log read (which hangs)', () => logReads > 0);
    // The partition heals: the hung read is cut (so stopping need not wait for its timeout).
    h.fake.setFault(undefined);
    h.fake.setUnreachable(true);
    h.fake.setUnreachable(false);
  });

  it('rollouts: started and finished notices on their edges; a failing rollout → rollout stuck', async () => {
    const h = await harness(
      { workloads: [{ cluster: 'prod', namespace: 'shop', name: 'web' }] },
      { before: (fake) => void fake.upsert(deployment('shop', 'web', 'registry.example.com/shop/web:1.0', 2)) },
    );
    const subject = 'workload:prod/shop/Deployment/web';
    await waitFor('the first look', () => h.runtime.store.subjects.state(subject, 'rollout'));
    await h.cluster.patchContainerImage('Deployment', 'shop', 'web', 'app', 'registry.example.com/shop/web:1.1');
    await waitFor('rollout started', () => h.service.roots().find((m) => m.text.startsWith('Rollout started: Deployment shop/web (cluster prod) (generation 2)')));
    expect(h.everything()).toContain('app: registry.example.com/shop/web:1.0 → registry.example.com/shop/web:1.1');
    h.fake.advanceRollouts();
    await waitFor('rollout finished', () => h.service.roots().find((m) => m.text.startsWith('Rollout finished: Deployment shop/web (cluster prod) — 2/2 updated, 2 Ready, 2 available')));
    // Edges only: more periodic looks say nothing more.
    await morePeriodicLooks(h, subject, 3, 'rollout_stuck');
    expect(h.service.roots().filter((m) => m.text.startsWith('Rollout'))).toHaveLength(2);
    expect(h.incidents()).toHaveLength(0);

    h.fake.failImage('registry.example.com/shop/web:1.2', 'CrashLoopBackOff', 'back-off 10s restarting failed container=app');
    await h.cluster.patchContainerImage('Deployment', 'shop', 'web', 'app', 'registry.example.com/shop/web:1.2');
    await waitFor('rollout started again', () => h.service.roots().find((m) => m.text.includes('(generation 3)')));
    h.fake.advanceRollouts();
    const root = await waitFor('the incident', () => h.incidents().find((text) => text.includes('rollout stuck')));
    expect(root).toContain('#1 Deployment shop/web (cluster prod)');
    expect(root).toContain('ProgressDeadlineExceeded: ReplicaSet');
    expect(root).toContain('CrashLoopBackOff, 5 restarts');
    await waitFor('the failed notice in the thread', () => h.everything().includes('Rollout failed: Deployment shop/web (cluster prod) — ProgressDeadlineExceeded'));
    expect(h.incidents()).toHaveLength(1);
    expect(h.service.roots().filter((m) => m.text.startsWith('Rollout failed'))).toHaveLength(0);
  });

  it('a garbage watch stream and an apiserver restart leave a clear state: no crash, no flood', async () => {
    const h = await harness(
      { workers: [{ name: 'cost-optimizer-worker', cluster: 'prod' }], unreachableAfter: '30s' },
      { before: (fake) => void fake.seedWorker({ name: 'cost-optimizer-worker', image: WORKER_IMAGE, digest: GOOD }) },
    );
    await waitFor('the cluster to be watched', () => h.watcher.health()['cluster:prod']?.ok);
    const restartsBefore = h.restarts.length;
    h.fake.garbageWatch();
    // The garbage itself makes the watch restart, before the apiserver goes anywhere.
    await waitFor('a restart caused by the garbage', () => h.restarts.length > restartsBefore);
    await h.fake.stop();
    await h.fake.restart();
    await waitFor('the watches to be back', () => h.fake.openWatches() >= 2 && h.watcher.health()['cluster:prod']?.ok, 10_000);
    await morePeriodicLooks(h, 'worker:cost-optimizer-worker', 3);
    expect(h.restarts.length).toBeGreaterThan(0);
    expect(h.service.posted).toHaveLength(0);
    expect(h.runtime.store.incidents.problem('worker:cost-optimizer-worker', 'worker_pods_failing')?.state).toBe('ok');
  });
});

function deployment(namespace: string, name: string, image: string, replicas = 1) {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      progressDeadlineSeconds: 600,
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image, imagePullPolicy: 'IfNotPresent' }] } },
    },
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Pure decisions                                                                             */

const NOW = Date.parse('2026-11-24T03:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();

function pod(name: string, status: Record<string, unknown>, extra: { created?: number; containers?: Array<{ name: string; image: string }> } = {}): WatchedPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'confighub', creationTimestamp: iso(extra.created ?? 60_000) },
    spec: { containers: extra.containers ?? [{ name: 'worker', image: WORKER_IMAGE }] },
    status,
  };
}
const readyPod = (name: string) =>
  pod(name, { phase: 'Running', containerStatuses: [{ name: 'worker', ready: true, restartCount: 0, imageID: `ghcr.io/confighubai/confighub-worker@${GOOD}`, state: { running: { startedAt: iso(50_000) } } }] });
const opts = { container: 'worker', now: NOW, pendingTooLongMs: 5 * 60_000 };

describe('assessPods', () => {
  it('all Ready is ok; one crash-looping pod is bad, quoted from its previous log, with the digest it runs', () => {
    expect(assessPods([readyPod('a'), readyPod('b')], opts)).toMatchObject({ ok: true, settled: true });
    // A good look names what runs now, so a resolved root shows the recovered digest.
    expect(assessPods([readyPod('a'), readyPod('b')], opts).detail.fields).toEqual([['Image', expect.any(String)], ['Runs', shortDigest(GOOD)], ['Pods', '2 of 2 Ready']]);
    const crashing = pod('c', {
      phase: 'Running',
      containerStatuses: [{ name: 'worker', ready: false, restartCount: 4, imageID: `ghcr.io/confighubai/confighub-worker@${BAD}`, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: iso(5_000) } } }],
    });
    const logs = new Map([[crashLogKey('c', 'worker', 4), ['failed to get bridge worker slug: server returned status 404']]]);
    const result = assessPods([readyPod('a'), crashing], { ...opts, logs });
    expect(result).toMatchObject({ ok: false, settled: true, summary: 'CrashLoopBackOff, 4 restarts' });
    expect(result.detail.fields).toEqual([
      ['Image', WORKER_IMAGE],
      ['Runs', 'sha256:c4338b51'],
      ['Last exit', 'code 1: Error'],
      ['Pods', '1 of 2 failing, 1 Ready'],
    ]);
    expect(result.detail.quote).toEqual(['failed to get bridge worker slug: server returned status 404']);
    expect(result.running.map((c) => [c.pod, c.digest, c.ready])).toEqual([
      ['a', GOOD, true],
      ['c', BAD, false],
    ]);
  });

  it('keeps the crash log of each container\'s newest crash only, however often it restarts', () => {
    const logs = new Map<string, string[]>();
    for (let restarts = 1; restarts <= 50; restarts++) rememberCrashLog(logs, 'web-1', 'app', restarts, [`crash ${restarts}`]);
    rememberCrashLog(logs, 'web-1', 'sidecar', 3, ['sidecar crash']);
    rememberCrashLog(logs, 'web-2', 'app', 7, ['other pod']);
    expect([...logs]).toEqual([
      [crashLogKey('web-1', 'app', 50), ['crash 50']],
      [crashLogKey('web-1', 'sidecar', 3), ['sidecar crash']],
      [crashLogKey('web-2', 'app', 7), ['other pod']],
    ]);
  });

  it('names OOMKilled, config errors and pull errors with the registry words', () => {
    const oom = pod('o', { containerStatuses: [{ name: 'worker', ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] });
    expect(assessPods([oom], opts).summary).toBe('OOMKilled, 2 restarts');
    const config = pod('k', { containerStatuses: [{ name: 'worker', ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "w-secret" not found' } } }] });
    expect(assessPods([config], opts).summary).toBe('CreateContainerConfigError: secret "w-secret" not found');
    const pull = pod('p', { containerStatuses: [{ name: 'worker', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "traderx/reference-data:v1"' } } }] }, { containers: [{ name: 'worker', image: 'traderx/reference-data:v1' }] });
    const remembered = new Map([['p/worker', 'failed to pull and unpack image "docker.io/traderx/reference-data:v1": pull access denied, repository does not exist or may require authorization']]);
    expect(assessPods([pull], { ...opts, pullMessages: remembered }).summary).toBe('ImagePullBackOff: pull access denied for traderx/reference-data');
    expect(pullReason('manifest unknown', 'a/b:1')).toBe('a/b:1 not found in the registry');
  });

  it('starting pods are neither good nor bad until pendingTooLong; then Pending (with FailedScheduling) or never Ready', () => {
    const unscheduled = pod('u', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }] }, { created: 60_000 });
    const young = assessPods([unscheduled], opts);
    expect(young).toMatchObject({ ok: false, settled: false });
    expect(young.recheckAt).toBe(NOW - 60_000 + 5 * 60_000);
    const old = assessPods([{ ...unscheduled, metadata: { ...unscheduled.metadata, creationTimestamp: iso(6 * 60_000) } }], opts);
    expect(old).toMatchObject({ ok: false, settled: true, summary: 'Pending for more than 5m: FailedScheduling: 0/3 nodes are available: 3 Insufficient memory.' });
    const notReady = pod('n', { phase: 'Running', containerStatuses: [{ name: 'worker', ready: false, restartCount: 0, state: { running: { startedAt: iso(10 * 60_000) } } }] });
    expect(assessPods([notReady], opts).summary).toBe('running but never Ready after 5m');
  });

  it('only the configured container counts for a worker; terminating pods do not count', () => {
    const sidecarCrash = pod('s', {
      containerStatuses: [
        { name: 'worker', ready: true, restartCount: 0, state: { running: {} } },
        { name: 'proxy', ready: false, restartCount: 9, state: { waiting: { reason: 'CrashLoopBackOff' } } },
      ],
    }, { containers: [{ name: 'worker', image: WORKER_IMAGE }, { name: 'proxy', image: 'envoy:1' }] });
    expect(assessPods([sidecarCrash], opts).ok).toBe(true);
    expect(assessPods([sidecarCrash], { ...opts, container: undefined }).summary).toBe('CrashLoopBackOff, 9 restarts');
    const terminating = { ...sidecarCrash, metadata: { ...sidecarCrash.metadata, deletionTimestamp: iso(0) } } as WatchedPod;
    expect(assessPods([terminating], { ...opts, container: undefined })).toMatchObject({ ok: true, summary: 'no pods' });
  });
});

describe('rollouts and reachability, pure', () => {
  const deploymentAt = (generation: number, status: Record<string, unknown>, image = 'web:1') =>
    ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', generation }, spec: { replicas: 2, template: { spec: { containers: [{ name: 'app', image }] } } }, status }) as WatchedWorkload;
  const done = (generation: number) => ({ observedGeneration: generation, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });

  it('notices go out on edges only, once per generation', () => {
    const subject = 'workload:prod/shop/Deployment/web';
    const first = rolloutEdges(undefined, deploymentAt(1, done(1)), subject, NOW, 'Deployment');
    expect(first.edges).toEqual([]);
    const started = rolloutEdges(first.memory, deploymentAt(2, { ...done(1), updatedReplicas: 0 }, 'web:2'), subject, NOW, 'Deployment');
    expect(started.edges.map((e) => e.kind)).toEqual(['rollout_started']);
    expect(started.edges[0]!.lines).toEqual(['app: web:1 → web:2']);
    const again = rolloutEdges(started.memory, deploymentAt(2, { ...done(2), replicas: 3 }, 'web:2'), subject, NOW + 1_000, 'Deployment');
    expect(again.edges).toEqual([]);
    const finished = rolloutEdges(again.memory, deploymentAt(2, done(2), 'web:2'), subject, NOW + 12_000, 'Deployment');
    expect(finished.edges.map((e) => e.summary)).toEqual(['Rollout finished: Deployment shop/web (cluster prod) — 2/2 updated, 2 Ready, 2 available in 12s']);
    expect(rolloutEdges(finished.memory, deploymentAt(2, done(2), 'web:2'), subject, NOW + 20_000, 'Deployment').edges).toEqual([]);
    const stuck = deploymentAt(3, { ...done(3), updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-x" has timed out progressing.' }] }, 'web:3');
    expect(rolloutOf(stuck).phase).toBe('failed');
    expect(rolloutEdges(finished.memory, stuck, subject, NOW, 'Deployment').edges.map((e) => e.kind)).toEqual(['rollout_started', 'rollout_failed']);
  });

  it('says where a missing workload is, and why a cluster is unreachable', () => {
    expect(describeMissing('Deployment', 'traderx', 'reference-data', ['default'])).toBe('Deployment reference-data not found in traderx; found in default');
    expect(describeMissing('Deployment', 'traderx', 'reference-data', undefined)).toBe('Deployment reference-data not found in traderx');
    const refused = new KubeError('prod', 'unreachable', undefined, 'cluster prod: unreachable listing pods in confighub: connect ECONNREFUSED 10.0.0.1:6443', {
      cause: Object.assign(new Error('request to https://10.0.0.1:6443/api/v1/namespaces/confighub/pods failed, reason: connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }),
    });
    expect(describeUnreachable('prod', 65_000, refused)).toBe('cluster prod: API unreachable for 1m 5s: connect ECONNREFUSED 10.0.0.1:6443');
  });
});
