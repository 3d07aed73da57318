/**
 * The real @kubernetes/client-node 1.4, through src/clients/kube.ts, against the fake apiserver
 * over HTTPS (the test CA in the kubeconfig; TLS verification on).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeCluster, KubeError, type WatchEventType, type WatchHandle, type WatchState, type Watched, type WatchedObject, type WatchedPod } from '../src/clients/kube.js';
import type { V1DaemonSet } from '@kubernetes/client-node';
import { makeCA } from './support/certs.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { waitUntil } from './support/wait-until.js';

const GOOD = 'sha256:8b96908dd57fd906ce9168aa9c283b3285029fc86adcf7a2079d622650ca02b5';
const BAD = 'sha256:c4338b51a0e4c7c4e1b3e0f5cf2fd4f0b8f1d7c6a3e2b1c0d9e8f7a6b5c4d3e2';
const IMAGE = 'ghcr.io/confighubai/confighub-worker:latest';
const SEED_000_LINE = 'failed to get bridge worker slug: server returned status 404: 404 Not Found';

let fake: FakeApiserver;
let cluster: KubeCluster;
const handles: WatchHandle[] = [];

const waitFor = <T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 5_000): Promise<T> => waitUntil(what, probe, timeoutMs, 10);

interface Recorder {
  events: Array<{ type: WatchEventType; obj: WatchedObject }>;
  states: Array<{ state: WatchState; error?: KubeError }>;
  handle: WatchHandle;
}

function watchPods(namespace: string, labelSelector: string, opts: { idleTimeoutMs?: number } = {}): Recorder {
  const rec = { events: [], states: [] } as unknown as Recorder;
  rec.handle = cluster.watchResource(
    `/api/v1/namespaces/${namespace}/pods`,
    labelSelector,
    {
      onEvent: (type, obj) => rec.events.push({ type, obj }),
      onState: (state, error) => rec.states.push({ state, error }),
    },
    { idleTimeoutMs: opts.idleTimeoutMs ?? 10_000, backoffMinMs: 20, backoffMaxMs: 200 },
  );
  handles.push(rec.handle);
  return rec;
}

const tempDirs: string[] = [];
/** A cluster whose kubeconfig is the fake's, edited by `edit`. */
function clusterWith(edit: (yaml: string) => string): KubeCluster {
  const dir = mkdtempSync(join(tmpdir(), 'kube-client-test-'));
  tempDirs.push(dir);
  writeFileSync(join(dir, 'config'), edit(fake.kubeconfig('prod-admin')));
  return new KubeCluster({ name: 'prod', context: 'prod-admin', kubeconfigPath: join(dir, 'config') });
}

const lists = (path: string) => fake.requests().filter((r) => r.method === 'GET' && r.path === path && r.query.watch !== 'true').length;
const watches = (path: string) => fake.requests().filter((r) => r.path === path && r.query.watch === 'true');
const waitingReason = (obj: WatchedObject | undefined) => (obj as WatchedPod | undefined)?.status?.containerStatuses?.[0]?.state?.waiting?.reason as string | undefined;
const podOf = (workload: string, ns = 'confighub') => fake.list('Pod', ns).find((p) => p.metadata.labels?.app === workload)!;
const sawReason = (rec: Recorder, pod: string, reason: string) => rec.events.some((e) => e.obj.metadata.name === pod && waitingReason(e.obj) === reason);

beforeAll(async () => {
  fake = await startFakeApiserver();
  cluster = new KubeCluster({ name: 'prod', context: 'prod-admin', kubeconfigPath: fake.kubeconfigFile('prod-admin'), requestTimeoutMs: 5_000 });
  fake.seedWorker({ name: 'cost-optimizer-worker', image: IMAGE, digest: GOOD });
});

afterEach(async () => {
  for (const h of handles.splice(0)) h.stop();
  await waitFor('watches to close', () => fake.openWatches() === 0);
});

afterAll(async () => {
  await fake?.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('reads over verified TLS', () => {
  it('pings the apiserver and lists the worker pods by label', async () => {
    const version = await cluster.ping();
    expect(version.gitVersion).toMatch(/^v1\./);
    const pods = await cluster.listPods('confighub', 'app=cost-optimizer-worker');
    expect(pods).toHaveLength(1);
    expect(pods[0]!.status?.containerStatuses?.[0]?.imageID).toBe(`ghcr.io/confighubai/confighub-worker@${GOOD}`);
    expect(pods[0]!.status?.containerStatuses?.[0]?.ready).toBe(true);
  });

  it('refuses an apiserver whose certificate is not signed by the kubeconfig CA', async () => {
    const otherCa = Buffer.from(makeCA().cert).toString('base64');
    const untrusting = clusterWith((yaml) => yaml.replace(/certificate-authority-data: .*/, `certificate-authority-data: ${otherCa}`));
    const err = await untrusting.listPods('confighub').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).kind).toBe('unreachable');
    expect((err as KubeError).message).toMatch(/^cluster prod: unreachable listing pods in confighub: .*certificate/);
  });

  it('reports a rejected token as unauthorized', async () => {
    const wrongToken = clusterWith((yaml) => yaml.replace(fake.token, 'fake-token-revoked'));
    const err = await wrongToken.listPods('confighub').catch((e: unknown) => e);
    expect((err as KubeError).kind).toBe('unauthorized');
    expect((err as KubeError).message).toBe('cluster prod: 401 listing pods in confighub: Unauthorized');
  });

  it('names the missing context', () => {
    expect(() => new KubeCluster({ name: 'prod', context: 'nope', kubeconfigPath: fake.kubeconfigFile('prod-admin') })).toThrow(
      /cluster prod: context "nope" not found in kubeconfig/,
    );
  });

  it('getWorkload answers undefined for a missing one, and findWorkloadElsewhere finds it in default', async () => {
    fake.upsert({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'reference-data', namespace: 'default', labels: { app: 'reference-data' } },
      spec: { replicas: 1, selector: { matchLabels: { app: 'reference-data' } }, template: { metadata: { labels: { app: 'reference-data' } }, spec: { containers: [{ name: 'app', image: 'traderx/reference-data:1.0' }] } } },
    });
    expect(await cluster.getWorkload('Deployment', 'traderx', 'reference-data')).toBeUndefined();
    const found = await cluster.findWorkloadElsewhere('Deployment', 'reference-data');
    expect(found.map((w) => `${w.metadata?.namespace}/${w.metadata?.name}`)).toEqual(['default/reference-data']);
    const dep = await cluster.getWorkload('Deployment', 'default', 'reference-data');
    expect(dep?.status?.readyReplicas).toBe(1);
  });

  it("reads the previous container's log: seed 000's 404", async () => {
    const pod = podOf('cost-optimizer-worker').metadata.name;
    fake.setLogs('confighub', pod, 'worker', [
      '2025/10/01 17:50:31 Starting worker with ID: 82bde808-ce33-4e54-9646-0ff2d0ddf97c',
      '2025/10/01 17:50:32 [ERROR] Failed to get bridge worker slug: server returned status 404: 404 Not Found',
      `2025/10/01 17:50:32 Error starting worker: ${SEED_000_LINE}`,
      '',
    ].join('\n'), { previous: true });
    const text = await cluster.podLogs('confighub', pod, 'worker', { previous: true, tailLines: 1 });
    expect(text).toBe(`2025/10/01 17:50:32 Error starting worker: ${SEED_000_LINE}\n`);
    const current = await cluster.podLogs('confighub', pod, 'worker');
    expect(current).toBe('');
    const last = fake.requests().at(-2)!;
    expect(last.path).toBe(`/api/v1/namespaces/confighub/pods/${pod}/log`);
    expect(last.query).toMatchObject({ container: 'worker', previous: 'true', tailLines: '1' });
  });

  it('reports 403 with the cluster, the action and the apiserver’s reason', async () => {
    fake.forbid('pods');
    try {
      const err = await cluster.listPods('confighub', 'app=cost-optimizer-worker').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeError);
      expect((err as KubeError).kind).toBe('forbidden');
      expect((err as KubeError).message).toBe(
        'cluster prod: 403 listing pods in confighub: pods is forbidden: User "system:serviceaccount:driftwatch:driftwatch" cannot list resource "pods" in API group "" in the namespace "confighub"',
      );
      const rec = watchPods('confighub', 'app=cost-optimizer-worker');
      const restarting = await waitFor('a forbidden watch to report', () => rec.states.find((s) => s.state === 'restarting'));
      expect(restarting.error?.kind).toBe('forbidden');
      expect(restarting.error?.message).toMatch(/^cluster prod: 403 listing pods in confighub: pods is forbidden/);
    } finally {
      fake.allow('pods');
    }
  });
});

describe('watch', () => {
  const path = '/api/v1/namespaces/confighub/pods';

  it('lists, then watches: a pod going into CrashLoopBackOff arrives as MODIFIED', async () => {
    const pod = podOf('cost-optimizer-worker').metadata.name;
    const rec = watchPods('confighub', 'app=cost-optimizer-worker');
    await waitFor('watching', () => rec.states.at(-1)?.state === 'watching');
    expect(rec.states.map((s) => s.state)).toEqual(['listing', 'watching']);
    expect(rec.events[0]).toMatchObject({ type: 'ADDED', obj: { kind: 'Pod', apiVersion: 'v1', metadata: { name: pod } } });
    fake.setPodStatus('confighub', pod, {
      containerStatuses: [{ name: 'worker', image: IMAGE, imageID: `ghcr.io/confighubai/confighub-worker@${BAD}`, ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } } }],
    });
    const ev = await waitFor('the CrashLoopBackOff event', () => rec.events.find((e) => waitingReason(e.obj) === 'CrashLoopBackOff'));
    expect(ev.type).toBe('MODIFIED');
    expect(ev.obj.metadata.name).toBe(pod);
  });

  it('relists after ERROR 410 Gone and after HTTP 410', async () => {
    const pod = podOf('cost-optimizer-worker').metadata.name;
    const rec = watchPods('confighub', 'app=cost-optimizer-worker');
    await waitFor('watching', () => rec.states.at(-1)?.state === 'watching');
    const listsBefore = lists(path);
    fake.expireWatches();
    await waitFor('a relist', () => lists(path) === listsBefore + 1);
    await waitFor('watching again', () => fake.openWatches() === 1);
    fake.setPodStatus('confighub', pod, { containerStatuses: [{ name: 'worker', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull' } } }] });
    await waitFor('the change after the relist', () => sawReason(rec, pod, 'ErrImagePull'));

    fake.expireWatches({ http: true });
    await waitFor('a second relist', () => lists(path) === listsBefore + 2);
    fake.setPodStatus('confighub', pod, { containerStatuses: [{ name: 'worker', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } } }] });
    await waitFor('the change after the second relist', () => sawReason(rec, pod, 'ImagePullBackOff'));
    expect(rec.states.some((s) => s.state === 'unreachable')).toBe(false);
  });

  it('re-watches from the last resourceVersion, without a relist, when the stream ends cleanly', async () => {
    const pod = podOf('cost-optimizer-worker').metadata.name;
    const rec = watchPods('confighub', 'app=cost-optimizer-worker');
    await waitFor('watching', () => rec.states.at(-1)?.state === 'watching');
    const listsBefore = lists(path);
    const watchesBefore = watches(path).length;
    const restarts = rec.handle.restarts();
    fake.endWatches();
    // A change while no watch is open must still arrive: the new watch starts from the last RV.
    fake.setPodStatus('confighub', pod, { containerStatuses: [{ name: 'worker', ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] });
    const rvSeen = rec.events.at(-1)!.obj.metadata.resourceVersion;
    await waitFor('a new watch', () => watches(path).length === watchesBefore + 1);
    expect(watches(path).at(-1)!.query.resourceVersion).toBe(rvSeen);
    await waitFor('the change made between the streams', () => rec.events.at(-1)?.obj.metadata.resourceVersion !== rvSeen && sawReason(rec, pod, 'CrashLoopBackOff'));
    expect(lists(path)).toBe(listsBefore);
    expect(rec.states.at(-1)?.state).toBe('watching');
    expect(rec.states.filter((s) => s.state === 'restarting')).toEqual([]);
    expect(rec.handle.restarts()).toBeLessThanOrEqual(restarts + 1);
  });

  it('notices a silent stream and replaces it, even one that never sends headers', async () => {
    const pod = podOf('cost-optimizer-worker').metadata.name;
    const rec = watchPods('confighub', 'app=cost-optimizer-worker', { idleTimeoutMs: 300 });
    await waitFor('watching', () => rec.states.at(-1)?.state === 'watching');
    fake.silenceWatches();
    fake.setPodStatus('confighub', pod, { containerStatuses: [{ name: 'worker', ready: false, restartCount: 2, state: { waiting: { reason: 'CreateContainerError' } } }] });
    const stalled = await waitFor('the stall to be noticed', () => rec.states.find((s) => s.state === 'restarting'));
    expect(stalled.error?.kind).toBe('stalled');
    expect(stalled.error?.message).toBe('cluster prod: watch of pods in confighub silent for 300ms; replacing it');
    await waitFor('the change through the replacement watch', () => sawReason(rec, pod, 'CreateContainerError'));

    // Now the apiserver accepts watches but never answers them.
    const restartsBefore = rec.handle.restarts();
    const watchesBefore = watches(path).length;
    fake.silenceWatches({ alsoNew: true });
    fake.setPodStatus('confighub', pod, { containerStatuses: [{ name: 'worker', ready: false, restartCount: 3, state: { waiting: { reason: 'RunContainerError' } } }] });
    // The open stream stalls, then the unanswered one stalls too and is abandoned for a third.
    await waitFor('two more stalls', () => rec.handle.restarts() >= restartsBefore + 2 && watches(path).length >= watchesBefore + 2, 5_000);
    expect(sawReason(rec, pod, 'RunContainerError')).toBe(false);
    fake.resumeWatches();
    await waitFor('the change once the apiserver answers again', () => sawReason(rec, pod, 'RunContainerError'));
  });

  it('restarts with a relist when the stream carries garbage', async () => {
    const pod = podOf('cost-optimizer-worker').metadata.name;
    const rec = watchPods('confighub', 'app=cost-optimizer-worker');
    await waitFor('watching', () => rec.states.at(-1)?.state === 'watching');
    const listsBefore = lists(path);
    fake.garbageWatch();
    const restarting = await waitFor('a restart', () => rec.states.find((s) => s.state === 'restarting'));
    expect(restarting.error?.kind).toBe('protocol');
    expect(restarting.error?.message).toMatch(/^cluster prod: watch of pods in confighub sent garbage/);
    await waitFor('a relist', () => lists(path) === listsBefore + 1);
    await waitFor('watching again', () => rec.states.at(-1)?.state === 'watching');
    fake.setPodStatus('confighub', pod, { containerStatuses: [{ name: 'worker', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] });
    await waitFor('the next change', () => sawReason(rec, pod, 'ContainerCreating'));
  });

  it('reports unreachable while the apiserver is gone and recovers when it is back', async () => {
    const pod = podOf('cost-optimizer-worker').metadata.name;
    const rec = watchPods('confighub', 'app=cost-optimizer-worker');
    await waitFor('watching', () => rec.states.at(-1)?.state === 'watching');
    await fake.stop();
    try {
      const down = await waitFor('unreachable', () => rec.states.find((s) => s.state === 'unreachable'));
      expect(down.error?.kind).toBe('unreachable');
      expect(down.error?.message).toMatch(/^cluster prod: unreachable (listing|watching) pods in confighub: .*ECONNREFUSED/);
      const ping = await cluster.ping().catch((e: unknown) => e);
      expect((ping as KubeError).message).toMatch(/^cluster prod: unreachable reading \/version: .*ECONNREFUSED/);
      // Several retries fail while it is down; the state stays unreachable through them.
      const restarts = rec.handle.restarts();
      await waitFor('three more refused retries', () => rec.handle.restarts() >= restarts + 3);
      expect(rec.states.at(-1)?.state).toBe('unreachable');
      fake.setPodStatus('confighub', pod, { containerStatuses: [{ name: 'worker', ready: false, restartCount: 9, state: { waiting: { reason: 'OOMKilled' } } }] });
    } finally {
      await fake.restart();
    }
    await waitFor('watching again', () => rec.states.at(-1)?.state === 'watching');
    await waitFor('the change made while it was down', () => sawReason(rec, pod, 'OOMKilled'));
    const sequence = rec.states.map((s) => s.state);
    expect(sequence.slice(sequence.indexOf('unreachable'))).toEqual(['unreachable', 'watching']);
  });
});

describe('changes', () => {
  it('pins an image with a strategic merge patch touching only that container', async () => {
    fake.seedWorker({ name: 'pin-worker', image: IMAGE, digest: BAD });
    const pinned = `ghcr.io/confighubai/confighub-worker@${GOOD}`;
    const result = await cluster.patchContainerImage('Deployment', 'confighub', 'pin-worker', 'worker', pinned, { 'driftwatch.io/pinned-by': 'U0ONCALL' });
    const sent = fake.patches().at(-1)!;
    expect(sent).toEqual({
      path: '/apis/apps/v1/namespaces/confighub/deployments/pin-worker',
      contentType: 'application/strategic-merge-patch+json',
      body: {
        metadata: { annotations: { 'driftwatch.io/pinned-by': 'U0ONCALL' } },
        spec: { template: { spec: { containers: [{ name: 'worker', image: pinned }] } } },
      },
    });
    expect(result.metadata?.generation).toBe(2);
    const container = fake.get('Deployment', 'confighub', 'pin-worker')!.spec.template.spec.containers[0];
    expect(container.image).toBe(pinned);
    expect(container.env).toHaveLength(2); // strategic merge kept the rest of the container

    // The rollout: a new pod that is not ready yet, then Ready on the pinned digest.
    const starting = (await cluster.listPods('confighub', 'app=pin-worker')).filter((p) => p.spec?.containers[0]?.image === pinned);
    expect(starting.map((p) => p.status?.containerStatuses?.[0]?.ready)).toEqual([false]);
    expect(fake.advanceRollouts()).toBe(1);
    const pods = await cluster.listPods('confighub', 'app=pin-worker');
    expect(pods.map((p) => p.status?.containerStatuses?.[0]?.imageID)).toEqual([pinned]);
    const dep = await cluster.getWorkload('Deployment', 'confighub', 'pin-worker');
    expect(dep?.status).toMatchObject({ observedGeneration: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 });
    expect(dep?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
  });

  it('restarts a rollout by stamping restartedAt on the pod template', async () => {
    fake.seedWorker({ name: 'restart-worker', image: IMAGE, digest: GOOD });
    const podBefore = podOf('restart-worker').metadata.name;
    const at = new Date('2025-10-01T18:02:03.456Z');
    await cluster.restartRollout('Deployment', 'confighub', 'restart-worker', at);
    expect(fake.patches().at(-1)).toEqual({
      path: '/apis/apps/v1/namespaces/confighub/deployments/restart-worker',
      contentType: 'application/strategic-merge-patch+json',
      body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-10-01T18:02:03Z' } } } } },
    });
    fake.advanceRollouts();
    const pods = await cluster.listPods('confighub', 'app=restart-worker');
    expect(pods).toHaveLength(1);
    expect(pods[0]!.metadata?.name).not.toBe(podBefore);
    expect(pods[0]!.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe('2025-10-01T18:02:03Z');
  });

  it('undoes a deployment to the previous revision, and says so when there is none', async () => {
    fake.seedWorker({ name: 'undo-worker', image: IMAGE, digest: GOOD });
    const none = await cluster.undoDeployment('confighub', 'undo-worker').catch((e: unknown) => e);
    expect((none as KubeError).message).toBe('cluster prod: no previous revision of deployment confighub/undo-worker to undo to (current revision 1)');

    await cluster.patchContainerImage('Deployment', 'confighub', 'undo-worker', 'worker', 'ghcr.io/confighubai/confighub-worker:broken');
    fake.advanceRollouts();
    const undone = await cluster.undoDeployment('confighub', 'undo-worker');
    expect(undone).toMatchObject({ fromRevision: 2, toRevision: 1 });
    const sent = fake.patches().at(-1)!;
    expect(sent.contentType).toBe('application/json-patch+json');
    expect(sent.body).toHaveLength(2);
    // A precondition first: nobody changed the Deployment between our read and this patch.
    expect(sent.body[0]).toMatchObject({ op: 'test', path: '/metadata/resourceVersion' });
    expect(sent.body[1]).toMatchObject({ op: 'replace', path: '/spec/template' });
    expect(sent.body[1].value.spec.containers[0].image).toBe(IMAGE);
    expect(sent.body[1].value.metadata.labels).toEqual({ app: 'undo-worker' }); // no pod-template-hash
    fake.advanceRollouts();
    const dep = await cluster.getWorkload('Deployment', 'confighub', 'undo-worker');
    expect(dep?.spec?.template.spec?.containers[0]?.image).toBe(IMAGE);
    expect(dep?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
    const pods = await cluster.listPods('confighub', 'app=undo-worker');
    expect(pods.map((p) => p.spec?.containers[0]?.image)).toEqual([IMAGE]);
  });

  it('leaves a failing rollout waiting with its reason and ProgressDeadlineExceeded', async () => {
    fake.seedWorker({ name: 'fail-worker', image: IMAGE, digest: GOOD });
    const broken = 'ghcr.io/confighubai/confighub-worker:c4338b51';
    fake.failImage(broken, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=worker');
    await cluster.patchContainerImage('Deployment', 'confighub', 'fail-worker', 'worker', broken);
    fake.advanceRollouts();
    const pods = await cluster.listPods('confighub', 'app=fail-worker');
    const reasons = pods.map((p) => `${p.spec?.containers[0]?.image} ${p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? 'running'}`).sort();
    expect(reasons).toEqual([`${broken} CrashLoopBackOff`, `${IMAGE} running`]);
    const dep = await cluster.getWorkload('Deployment', 'confighub', 'fail-worker');
    expect(dep?.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
  });

  it('answers 415 Status to a patch type the apiserver does not take', async () => {
    const reply = await new Promise<{ status: number; type: string; body: { kind: string; code: number } }>((resolve, reject) => {
      const req = request(
        `${fake.url}/apis/apps/v1/namespaces/confighub/deployments/cost-optimizer-worker`,
        { method: 'PATCH', ca: fake.ca, headers: { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/yaml' } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end('spec: {}');
    });
    expect(reply).toMatchObject({ status: 415, type: 'application/json', body: { kind: 'Status', code: 415 } });
  });
});

describe('the fake apiserver as other watchers see it', () => {
  it('rolls a DaemonSet by itself (autoAdvanceMs) and a watch on apps/v1 follows it', async () => {
    const auto = await startFakeApiserver({ autoAdvanceMs: 20, nodes: 2 });
    try {
      const rackspace = new KubeCluster({ name: 'rackspace', context: 'rackspace', kubeconfigPath: auto.kubeconfigFile('rackspace') });
      const relay = (image: string) => ({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'relay', namespace: 'relay', labels: { app: 'relay' } },
        spec: { selector: { matchLabels: { app: 'relay' } }, template: { metadata: { labels: { app: 'relay' } }, spec: { containers: [{ name: 'relay', image }] } } },
      });
      auto.upsert(relay('ghcr.io/clevertree/relay:sha-1111111'));
      const seen: Array<Watched<V1DaemonSet>> = [];
      const states: WatchState[] = [];
      const handle = rackspace.watchResource<Watched<V1DaemonSet>>('/apis/apps/v1/namespaces/relay/daemonsets', undefined, {
        onEvent: (_type, obj) => seen.push(obj),
        onState: (state) => states.push(state),
      });
      try {
        await waitFor('watching', () => states.at(-1) === 'watching');
        expect(seen[0]).toMatchObject({ kind: 'DaemonSet', apiVersion: 'apps/v1', status: { numberReady: 2, updatedNumberScheduled: 2 } });
        await rackspace.patchContainerImage('DaemonSet', 'relay', 'relay', 'relay', 'ghcr.io/clevertree/relay:sha-39a4e17');
        const done = await waitFor('the rollout to finish by itself', () =>
          seen.find((d) => d.metadata.generation === 2 && d.status?.observedGeneration === 2 && d.status?.numberReady === 2 && d.status?.updatedNumberScheduled === 2),
        );
        expect(done.spec?.template.spec?.containers[0]?.image).toBe('ghcr.io/clevertree/relay:sha-39a4e17');
        const pods = await rackspace.listPods('relay', 'app=relay');
        expect(pods.map((p) => p.spec?.containers[0]?.image)).toEqual(['ghcr.io/clevertree/relay:sha-39a4e17', 'ghcr.io/clevertree/relay:sha-39a4e17']);
      } finally {
        handle.stop();
      }
    } finally {
      await auto.close();
    }
  });

  it('starts a workload whose image cannot be pulled in ImagePullBackOff, in the namespace it landed in', async () => {
    const image = 'ghcr.io/finos/traderx/reference-data:latest';
    fake.failImage(image, 'ImagePullBackOff', `Back-off pulling image "${image}": pull access denied, repository does not exist or may require authorization`);
    fake.upsert({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'trade-store', namespace: 'default', labels: { app: 'trade-store' } },
      spec: { replicas: 2, serviceName: 'trade-store', selector: { matchLabels: { app: 'trade-store' } }, template: { metadata: { labels: { app: 'trade-store' } }, spec: { containers: [{ name: 'db', image }] } } },
    });
    const pods = await cluster.listPods('default', 'app=trade-store');
    expect(pods.map((p) => p.metadata?.name)).toEqual(['trade-store-0', 'trade-store-1']);
    expect(pods.map((p) => [p.status?.phase, p.status?.containerStatuses?.[0]?.state?.waiting?.reason])).toEqual([
      ['Pending', 'ImagePullBackOff'],
      ['Pending', 'ImagePullBackOff'],
    ]);
    expect(pods[0]!.status?.containerStatuses?.[0]?.state?.waiting?.message).toMatch(/pull access denied/);
    const sts = await cluster.getWorkload('StatefulSet', 'default', 'trade-store');
    expect(sts?.status).toMatchObject({ replicas: 2, readyReplicas: 0 });
  });
});
