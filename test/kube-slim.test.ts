/**
 * kube/slim.ts: what the watcher keeps of a pod or workload. Every judgement made from the slim
 * object is the one made from the whole object (the captured pods of test/fixtures/pods, judged
 * at several moments and with every option the watcher passes), and what the judgements never
 * read is gone.
 */
import { describe, expect, it } from 'vitest';
import type { WatchedPod, WatchedWorkload, WorkloadKind } from '../src/clients/kube.js';
import { ownerWorkloadOf, selectorMatches } from '../src/kube/discovery.js';
import { assessPod, assessPods, podProblem, pullMessagesOf, type PodAssessOptions } from '../src/kube/pods.js';
import { rolloutEdges, rolloutOf, templateContainers } from '../src/kube/rollout.js';
import { slimPod, slimWorkload } from '../src/kube/slim.js';
import { PIN_ANNOTATIONS } from '../src/kube/annotations.js';
import { podFixture } from './support/pod-fixtures.js';

const FIXTURES = ['completed-job', 'crashloop-backoff', 'error-after-restarts', 'evicted', 'image-pull-backoff', 'init-error', 'liveness-crashloop', 'native-sidecar', 'pod-initializing', 'running-ready', 'terminating'];
const NOW = Date.parse('2026-11-24T03:00:00Z');
const GRACE = 5 * 60_000;

/** What the apiserver adds that no judgement reads, on top of a captured pod. */
function withClutter(pod: WatchedPod): WatchedPod {
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      uid: '63674389-f613-11e8-a057-fe5f49266390',
      resourceVersion: '151454',
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-24T02:00:00Z', 'prometheus.io/scrape': 'true' },
      managedFields: [{ manager: 'kubelet', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': {} } }],
      ownerReferences: pod.metadata.ownerReferences ?? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8b6c5d', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      ...pod.spec,
      containers: (pod.spec?.containers ?? []).map((c) => ({ ...c, env: [{ name: 'TOKEN', value: 'secret' }], resources: { limits: { memory: '128Mi' } } })),
      affinity: { nodeAffinity: {} },
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      volumes: [{ name: 'kube-api-access', projected: { sources: [] } }],
    },
    status: { ...pod.status, hostIP: '10.0.0.1', podIP: '10.1.2.3', podIPs: [{ ip: '10.1.2.3' }], qosClass: 'Burstable' },
  };
}

const captured = (file: string, name = file) => withClutter(podFixture(file, { now: NOW, name, namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '7d9f8b6c5d' } }));

type Status = NonNullable<NonNullable<WatchedPod['status']>['containerStatuses']>[number];
const restate = (pod: WatchedPod, which: 'containerStatuses' | 'initContainerStatuses', change: (status: Status) => Status): WatchedPod =>
  ({ ...pod, status: { ...pod.status, [which]: (pod.status?.[which] ?? []).map(change) } }) as WatchedPod;

/**
 * States the captures do not show, derived from them to reach the fields only they read: a
 * native sidecar that exited (its restartPolicy), a crash with the kubelet's termination message,
 * a container killed by a signal without an exit code.
 */
const derived = (): WatchedPod[] => [
  restate(captured('native-sidecar', 'sidecar-exited'), 'initContainerStatuses', (s) => ({ ...s, ready: false, state: { terminated: { exitCode: 1, reason: 'Error', startedAt: new Date(NOW - 30_000).toISOString(), finishedAt: new Date(NOW - 10_000).toISOString() } } })),
  restate(captured('error-after-restarts', 'termination-message'), 'containerStatuses', (s) => ({ ...s, state: { terminated: { ...s.state?.terminated, exitCode: 2, message: 'panic: assignment to entry in nil map\ngoroutine 1 [running]' } } })),
  restate(captured('error-after-restarts', 'killed-by-signal'), 'containerStatuses', (s) => ({ ...s, state: { terminated: { reason: 'Error', signal: 9, finishedAt: new Date(NOW - 10_000).toISOString() } as never } })),
];

const fixtures = () => [...FIXTURES.map((file) => captured(file)), ...derived()];

/** The watcher's options at a moment: crash logs and pull messages as it remembers them, a focus pod. */
function optionsAt(now: number, pods: WatchedPod[], extra: Partial<PodAssessOptions> = {}): PodAssessOptions {
  const pullMessages = new Map(pods.flatMap((pod) => pullMessagesOf(pod)));
  const logs = new Map(pods.flatMap((pod) => [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].map((s) => [`${pod.metadata.name}/${s.name}#${s.restartCount}`, [`${s.name} crashed`]] as [string, string[]])));
  return { now, pendingTooLongMs: GRACE, logs, pullMessages, ...extra };
}

// Before any timestamp, within the grace, just after it, long after (old evictions stop counting).
const MOMENTS = [NOW - 60 * 60_000, NOW, NOW + 2 * 60_000, NOW + 6 * 60_000, NOW + 3 * 3_600_000];

describe('slimPod', () => {
  it('every captured pod is judged the same, alone and together, at every moment and with every option', () => {
    const whole = fixtures();
    const slim = whole.map(slimPod);
    for (const now of MOMENTS) {
      for (const extra of [{}, { container: 'main' }, { container: 'no-such-container' }, { focusPod: 'crashloop-backoff' }, { focusPod: 'image-pull-backoff' }]) {
        const opts = optionsAt(now, whole, extra);
        expect(assessPods(slim, opts)).toEqual(assessPods(whole, opts));
        for (let i = 0; i < whole.length; i++) {
          expect(assessPod(slim[i]!, opts), `${whole[i]!.metadata.name} at ${now - NOW} ms`).toEqual(assessPod(whole[i]!, opts));
          expect(assessPods([slim[i]!], opts)).toEqual(assessPods([whole[i]!], opts));
        }
      }
      expect(podProblem(slim, { now, pendingTooLongMs: GRACE })).toEqual(podProblem(whole, { now, pendingTooLongMs: GRACE }));
    }
    // The findings compared are not all alike: the fixtures cover failing, starting and Ready pods.
    const verdicts = new Set(assessPods(slim, optionsAt(NOW, whole)).findings.map((finding) => finding.reason));
    expect([...verdicts]).toEqual(expect.arrayContaining(['CrashLoopBackOff', 'ImagePullBackOff', 'Ready', 'InitContainerFailed', 'Evicted']));
  });

  it('keeps what discovery and the pull-message memory read: owner, labels, pull errors', () => {
    for (const pod of fixtures()) {
      const slim = slimPod(pod);
      expect(ownerWorkloadOf(slim)).toEqual(ownerWorkloadOf(pod));
      expect(selectorMatches({ matchLabels: { app: 'web' } }, slim.metadata.labels)).toBe(true);
      expect(pullMessagesOf(slim)).toEqual(pullMessagesOf(pod));
      expect(slim.metadata.namespace).toBe('shop');
      expect(slim.metadata.deletionTimestamp).toEqual(pod.metadata.deletionTimestamp);
    }
    // The captured ImagePullBackOff says only "Back-off pulling image"; the ErrImagePull before it says why.
    const backOff = fixtures()[FIXTURES.indexOf('image-pull-backoff')]!;
    const errImagePull = {
      ...backOff,
      status: { ...backOff.status, containerStatuses: backOff.status!.containerStatuses!.map((s) => ({ ...s, state: { waiting: { reason: 'ErrImagePull', message: 'rpc error: code = NotFound desc = failed to pull and unpack image: not found' } } })) },
    } as WatchedPod;
    expect(pullMessagesOf(slimPod(errImagePull))).toEqual(pullMessagesOf(errImagePull));
    expect(pullMessagesOf(slimPod(errImagePull))).toHaveLength(1);
    const opts = optionsAt(NOW, [errImagePull]);
    expect(assessPods([slimPod(errImagePull)], opts)).toEqual(assessPods([errImagePull], opts));
  });

  it('drops what no judgement reads', () => {
    for (const pod of fixtures()) {
      const slim = slimPod(pod);
      expect(Object.keys(slim.metadata).sort()).toEqual(expect.arrayContaining(['name']));
      for (const key of ['uid', 'resourceVersion', 'annotations', 'managedFields', 'selfLink', 'generateName']) expect(slim.metadata).not.toHaveProperty(key);
      for (const key of ['volumes', 'tolerations', 'affinity', 'nodeName', 'dnsPolicy', 'schedulerName', 'securityContext', 'serviceAccountName', 'terminationGracePeriodSeconds']) expect(slim.spec).not.toHaveProperty(key);
      for (const container of [...(slim.spec?.containers ?? []), ...(slim.spec?.initContainers ?? [])]) {
        expect(Object.keys(container).every((key) => ['name', 'image', 'restartPolicy'].includes(key))).toBe(true);
      }
      for (const key of ['hostIP', 'podIP', 'podIPs', 'qosClass', 'startTime']) expect(slim.status ?? {}).not.toHaveProperty(key);
      for (const status of [...(slim.status?.containerStatuses ?? []), ...(slim.status?.initContainerStatuses ?? [])]) {
        expect(status).not.toHaveProperty('containerID');
        expect(status.state?.terminated ?? {}).not.toHaveProperty('containerID');
        expect(status.lastState?.terminated ?? {}).not.toHaveProperty('containerID');
      }
      for (const condition of slim.status?.conditions ?? []) expect(condition).not.toHaveProperty('lastProbeTime');
      // Much smaller than what the apiserver sent.
      expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(pod).length * 0.7);
    }
  });

  it('is idempotent and leaves the pod it was given as it was', () => {
    for (const pod of fixtures()) {
      const before = JSON.stringify(pod);
      const slim = slimPod(pod);
      expect(slimPod(slim)).toEqual(slim);
      expect(JSON.stringify(pod)).toBe(before);
    }
  });
});

/* ------------------------------------------------------------------------------------------ */

function workload(kind: WorkloadKind, extra: { status: Record<string, unknown>; spec?: Record<string, unknown>; generation?: number; image?: string }): WatchedWorkload {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'uid-1',
      resourceVersion: '42',
      generation: extra.generation ?? 3,
      labels: { app: 'web', team: 'payments' },
      annotations: { 'deployment.kubernetes.io/revision': '3', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"blob"}', [PIN_ANNOTATIONS.from]: 'registry.test/web:1', [PIN_ANNOTATIONS.by]: 'U1', [PIN_ANNOTATIONS.at]: '2026-11-24T02:00:00Z', [PIN_ANNOTATIONS.reason]: 'incident #4' },
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': {} } }],
    },
    spec: {
      selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['batch'] }] },
      revisionHistoryLimit: 10,
      minReadySeconds: 5,
      template: {
        metadata: { labels: { app: 'web', tier: 'front' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-24T01:00:00Z' } },
        spec: {
          containers: [
            { name: 'app', image: extra.image ?? 'registry.test/web@sha256:aaaa', imagePullPolicy: 'IfNotPresent', env: [{ name: 'TOKEN', value: 'secret' }], ports: [{ containerPort: 8080 }] },
            { name: 'proxy', image: 'registry.test/proxy:2' },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
          tolerations: [{ key: 'x', operator: 'Exists' }],
        },
      },
      ...extra.spec,
    },
    status: extra.status,
  } as unknown as WatchedWorkload;
}

const conditions = (reason: string, message: string) => [
  { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'ok', lastUpdateTime: '2026-11-24T02:00:00Z', lastTransitionTime: '2026-11-24T02:00:00Z' },
  { type: 'Progressing', status: reason === 'ProgressDeadlineExceeded' ? 'False' : 'True', reason, message, lastUpdateTime: '2026-11-24T02:00:00Z', lastTransitionTime: '2026-11-24T02:00:00Z' },
];

const WORKLOADS: Array<[string, WorkloadKind, WatchedWorkload]> = [
  ['Deployment done', 'Deployment', workload('Deployment', { spec: { replicas: 3, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate' } }, status: { observedGeneration: 3, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, conditions: conditions('NewReplicaSetAvailable', 'done') } })],
  ['Deployment stuck', 'Deployment', workload('Deployment', { spec: { replicas: 3, progressDeadlineSeconds: 600 }, status: { observedGeneration: 3, replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 1, conditions: conditions('ProgressDeadlineExceeded', 'ReplicaSet "web-1" has timed out progressing.') } })],
  ['Deployment paused, unobserved', 'Deployment', workload('Deployment', { generation: 4, spec: { replicas: 2, paused: true }, status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2 } })],
  ['DaemonSet rolling', 'DaemonSet', workload('DaemonSet', { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } } }, status: { observedGeneration: 3, desiredNumberScheduled: 5, updatedNumberScheduled: 3, currentNumberScheduled: 5, numberReady: 4, numberAvailable: 4, numberMisscheduled: 0 } })],
  ['DaemonSet OnDelete', 'DaemonSet', workload('DaemonSet', { spec: { updateStrategy: { type: 'OnDelete' } }, status: { observedGeneration: 3, desiredNumberScheduled: 2, updatedNumberScheduled: 0, currentNumberScheduled: 2, numberReady: 2 } })],
  ['StatefulSet partition', 'StatefulSet', workload('StatefulSet', { spec: { replicas: 4, serviceName: 'web', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }, status: { observedGeneration: 3, replicas: 4, updatedReplicas: 2, readyReplicas: 4, availableReplicas: 4, currentRevision: 'web-1', updateRevision: 'web-2', collisionCount: 0 } })],
  ['StatefulSet revision not current', 'StatefulSet', workload('StatefulSet', { spec: { replicas: 2 }, status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, currentRevision: 'web-1', updateRevision: 'web-2' } })],
];

describe('slimWorkload', () => {
  it.each(WORKLOADS)('%s: the rollout verdict, its edges, the containers, selector and pin are the same', (_label, kind, whole) => {
    const slim = slimWorkload(whole);
    expect(rolloutOf(slim, kind)).toEqual(rolloutOf(whole, kind));
    expect(templateContainers(slim)).toEqual(templateContainers(whole));
    expect(slim.spec?.selector).toEqual(whole.spec?.selector);
    expect(slim.spec?.template?.metadata).toEqual({ labels: whole.spec?.template?.metadata?.labels, annotations: whole.spec?.template?.metadata?.annotations });
    expect(slim.metadata.annotations?.[PIN_ANNOTATIONS.from]).toBe('registry.test/web:1');
    expect(slim.metadata).toMatchObject({ name: 'web', namespace: 'shop', generation: whole.metadata.generation });
    // Edges from a previous look at an older generation, and from the same one: the notices match.
    const older = rolloutEdges(undefined, workload(kind, { generation: 2, image: 'registry.test/web@sha256:bbbb', status: { observedGeneration: 2 } }), 'workload:prod/shop/x/web', NOW - 60_000, kind).memory;
    expect(rolloutEdges(older, slim, 'workload:prod/shop/x/web', NOW, kind)).toEqual(rolloutEdges(older, whole, 'workload:prod/shop/x/web', NOW, kind));
    const same = rolloutEdges(undefined, whole, 'workload:prod/shop/x/web', NOW - 60_000, kind).memory;
    expect(rolloutEdges(same, slim, 'workload:prod/shop/x/web', NOW, kind)).toEqual(rolloutEdges(same, whole, 'workload:prod/shop/x/web', NOW, kind));
  });

  it('drops what the watcher never reads, and is idempotent', () => {
    for (const [, , whole] of WORKLOADS) {
      const slim = slimWorkload(whole);
      for (const key of ['uid', 'resourceVersion', 'labels', 'managedFields']) expect(slim.metadata).not.toHaveProperty(key);
      expect(Object.keys(slim.metadata.annotations ?? {}).sort()).toEqual(Object.values(PIN_ANNOTATIONS).sort());
      for (const key of ['revisionHistoryLimit', 'minReadySeconds', 'strategy', 'serviceName']) expect(slim.spec).not.toHaveProperty(key);
      expect(Object.keys(slim.spec?.template?.spec ?? {})).toEqual(['containers']);
      for (const container of slim.spec?.template?.spec?.containers ?? []) expect(Object.keys(container).every((key) => ['name', 'image', 'imagePullPolicy'].includes(key))).toBe(true);
      for (const condition of (slim.status?.conditions ?? []) as Array<Record<string, unknown>>) {
        expect(condition).not.toHaveProperty('lastUpdateTime');
        expect(condition).not.toHaveProperty('lastTransitionTime');
      }
      for (const key of ['unavailableReplicas', 'numberMisscheduled', 'collisionCount']) expect(slim.status).not.toHaveProperty(key);
      expect(slimWorkload(slim)).toEqual(slim);
    }
  });

  it('a workload without pin annotations keeps none', () => {
    const [, , whole] = WORKLOADS[0]!;
    const unpinned = { ...whole, metadata: { ...whole.metadata, annotations: { 'deployment.kubernetes.io/revision': '3' } } } as WatchedWorkload;
    expect(slimWorkload(unpinned).metadata).not.toHaveProperty('annotations');
  });
});
