/**
 * The sandbox's rollout controller and what it reports, in memory (an ObjectStore, no server):
 * first revisions settle at once, later ones wait for `advance()`, failing images keep the old
 * pods, deletes cascade. Plus the pure pieces: pod and workload status, imageIDs, watch events.
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../src/sandbox/kube-objects.js';
import { ObjectStore, type HistoryEntry } from '../src/sandbox/object-store.js';
import { imageIdFor, imageRepository, podStatus, workloadStatus } from '../src/sandbox/pod-status.js';
import { RolloutController } from '../src/sandbox/rollout-controller.js';
import { parseLabelSelector } from '../src/sandbox/selectors.js';
import { resourceOf } from '../src/sandbox/kube-objects.js';
import { watchEvent } from '../src/sandbox/watch-streams.js';

const NS = 'confighub';

function workload(kind: 'Deployment' | 'DaemonSet' | 'StatefulSet', name: string, image: string, replicas = 2): KubeObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace: NS, labels },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'worker', image }] } } },
  };
}

function world(options: { nodes?: number } = {}) {
  const objects = new ObjectStore('test');
  const controller = new RolloutController(objects, options);
  const pods = () => objects.list('Pod', NS);
  const ready = (pod: KubeObject) => pod.status.conditions.find((c: { type: string }) => c.type === 'Ready')?.status === 'True';
  return { objects, controller, pods, ready };
}

const condition = (obj: KubeObject | undefined, type: string) => obj?.status?.conditions?.find((c: { type: string }) => c.type === type);

describe('RolloutController', () => {
  it('settles a Deployment\'s first revision at once: one ReplicaSet at revision 1, every pod Ready', () => {
    const { objects, controller, pods, ready } = world();
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:1'));
    expect(controller.pendingCount).toBe(0);
    const [rs] = objects.list('ReplicaSet', NS);
    expect(rs?.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    expect(pods()).toHaveLength(2);
    expect(pods().every(ready)).toBe(true);
    expect(pods().every((p) => p.metadata.name.startsWith(`${rs!.metadata.name}-`))).toBe(true);
    const deploy = objects.get('Deployment', NS, 'w');
    expect(deploy?.status).toMatchObject({ replicas: 2, readyReplicas: 2, updatedReplicas: 2 });
    expect(condition(deploy, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
    expect(objects.get('Namespace', undefined, NS)?.status.phase).toBe('Active');
  });

  it('holds a new revision pending (new pods starting, old ones kept) until advance() finishes it', () => {
    const { objects, controller, pods, ready } = world();
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:1'));
    const oldPods = pods().map((p) => p.metadata.name);
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:2'));

    expect(controller.pendingCount).toBe(1);
    const starting = pods().filter((p) => !oldPods.includes(p.metadata.name));
    expect(starting).toHaveLength(2);
    expect(starting.every((p) => !ready(p) && p.status.containerStatuses[0].state.waiting.reason === 'ContainerCreating')).toBe(true);
    expect(pods().filter((p) => oldPods.includes(p.metadata.name))).toHaveLength(2);
    const deploy = objects.get('Deployment', NS, 'w');
    expect(deploy?.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect(deploy?.metadata.generation).toBe(2);
    expect(condition(deploy, 'Progressing')?.reason).toBe('ReplicaSetUpdated');

    expect(controller.advance()).toBe(1);
    expect(controller.pendingCount).toBe(0);
    expect(pods().map((p) => p.metadata.name).sort()).toEqual(starting.map((p) => p.metadata.name).sort());
    expect(pods().every(ready)).toBe(true);
    expect(pods().every((p) => p.spec.containers[0].image === 'ghcr.io/x/worker:2')).toBe(true);
    const replicas = objects.list('ReplicaSet', NS).map((rs) => [rs.metadata.annotations?.['deployment.kubernetes.io/revision'], rs.spec.replicas]);
    expect(replicas.sort()).toEqual([
      ['1', 0],
      ['2', 2],
    ]);
    expect(condition(objects.get('Deployment', NS, 'w'), 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
  });

  it('keeps the old pods when the new image fails, and reports the rollout as stuck', () => {
    const { objects, controller, pods, ready } = world();
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:1'));
    controller.failing.set('ghcr.io/x/worker:bad', { reason: 'CrashLoopBackOff', message: 'back-off restarting failed container' });
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:bad'));
    controller.advance();

    const failing = pods().filter((p) => p.spec.containers[0].image === 'ghcr.io/x/worker:bad');
    expect(failing).toHaveLength(2);
    expect(failing.every((p) => p.status.containerStatuses[0].state.waiting.reason === 'CrashLoopBackOff')).toBe(true);
    expect(pods().filter(ready)).toHaveLength(2); // the old revision still serves
    const deploy = objects.get('Deployment', NS, 'w');
    expect(condition(deploy, 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
  });

  it('gives StatefulSet pods stable names and a DaemonSet one pod per node', () => {
    const { objects, controller, pods } = world({ nodes: 3 });
    controller.upsert(workload('StatefulSet', 'db', 'postgres:15', 2));
    expect(pods().map((p) => p.metadata.name).sort()).toEqual(['db-0', 'db-1']);
    controller.upsert(workload('StatefulSet', 'db', 'postgres:16', 2));
    controller.advance();
    expect(pods().map((p) => p.metadata.name).sort()).toEqual(['db-0', 'db-1']);
    expect(objects.get('StatefulSet', NS, 'db')?.status.currentRevision).toBe(objects.get('StatefulSet', NS, 'db')?.status.updateRevision);

    controller.upsert(workload('DaemonSet', 'agent', 'agent:1'));
    expect(pods().filter((p) => p.metadata.labels?.app === 'agent')).toHaveLength(3);
    expect(objects.get('DaemonSet', NS, 'agent')?.status).toMatchObject({ desiredNumberScheduled: 3, numberReady: 3 });
  });

  it('deletes a Deployment with its ReplicaSets and pods, and forgets its pending rollout', () => {
    const { objects, controller, pods } = world();
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:1'));
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:2'));
    controller.remove('Deployment', NS, 'w');
    expect(objects.get('Deployment', NS, 'w')).toBeUndefined();
    expect(objects.list('ReplicaSet', NS)).toEqual([]);
    expect(pods()).toEqual([]);
    expect(controller.pendingCount).toBe(0);
  });

  it('starts no rollout when a stored workload\'s pod template did not change', () => {
    const { controller, pods } = world();
    controller.upsert(workload('Deployment', 'w', 'ghcr.io/x/worker:1'));
    const before = pods().map((p) => p.metadata.name);
    controller.afterPatch('Deployment', NS, 'w', false);
    controller.upsert({ ...workload('Deployment', 'w', 'ghcr.io/x/worker:1'), metadata: { name: 'w', namespace: NS, labels: { app: 'w', extra: 'label' } } });
    expect(controller.pendingCount).toBe(0);
    expect(pods().map((p) => p.metadata.name)).toEqual(before);
  });
});

describe('pod and workload status (pure)', () => {
  const ids = { suffix: (n: number) => 'x'.repeat(n), namesGenerated: 7 };
  const template = { spec: { containers: [{ name: 'worker', image: 'ghcr.io/x/worker:1' }] } };

  it('reports a pulled image as repo@digest, from what the registry serves', () => {
    expect(imageRepository('nginx:1.27')).toBe('docker.io/library/nginx');
    expect(imageRepository('confighubai/worker:latest')).toBe('docker.io/confighubai/worker');
    expect(imageRepository('localhost:5000/w@sha256:abc')).toBe('localhost:5000/w');
    const digests = new Map([['ghcr.io/x/worker:1', 'sha256:1111']]);
    expect(imageIdFor('ghcr.io/x/worker:1', digests)).toBe('ghcr.io/x/worker@sha256:1111');
    expect(imageIdFor('ghcr.io/x/worker@sha256:2222', digests)).toBe('ghcr.io/x/worker@sha256:2222');
    expect(imageIdFor('ghcr.io/x/other:1', digests)).toMatch(/^ghcr\.io\/x\/other@sha256:[0-9a-f]{64}$/);
  });

  it('leaves a pod that cannot pull its image Pending with no imageID', () => {
    const failing = new Map([['ghcr.io/x/worker:1', { reason: 'ImagePullBackOff', message: 'pull access denied' }]]);
    const status = podStatus(template, 'running', '2026-01-01T00:00:00Z', { digests: new Map(), failing }, ids);
    expect(status.phase).toBe('Pending');
    expect(status.containerStatuses[0]).toMatchObject({ ready: false, imageID: '', state: { waiting: { reason: 'ImagePullBackOff', message: 'pull access denied' } } });
    expect(status.conditions.find((c: { type: string }) => c.type === 'Ready')).toMatchObject({ status: 'False', message: 'containers with unready status: [worker]' });
    expect(status.podIP).toBe('10.244.0.9');
  });

  it('counts ready and updated pods into a Deployment\'s status', () => {
    const pod = (hash: string, ready: boolean): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `w-${hash}`, labels: { 'pod-template-hash': hash } },
      status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    });
    const deploy = workload('Deployment', 'w', 'i', 2);
    const status = workloadStatus('Deployment', deploy, [pod('new', false), pod('old', true), pod('old', true)], 'new', 2, { progressing: true }, 't');
    expect(status).toMatchObject({ replicas: 3, updatedReplicas: 1, readyReplicas: 2, unavailableReplicas: 1 });
    expect(status.conditions[0]).toMatchObject({ type: 'Available', status: 'True' });
    expect(status.conditions[1]).toMatchObject({ type: 'Progressing', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "w-new" is progressing.' });
  });
});

describe('watchEvent (pure)', () => {
  const filter = { resource: resourceOf('Pod'), namespace: NS, labels: parseLabelSelector('app=w') };
  const pod = (labels: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: NS, labels } });
  const entry = (type: HistoryEntry['type'], object: KubeObject, previous?: KubeObject): HistoryEntry => ({ rv: 2, type, object, previous });

  it('shows an object entering a filtered watch as ADDED and one leaving it as DELETED', () => {
    expect(watchEvent(filter, entry('MODIFIED', pod({ app: 'w' }), pod({ app: 'other' })))?.type).toBe('ADDED');
    expect(watchEvent(filter, entry('MODIFIED', pod({ app: 'other' }), pod({ app: 'w' })))?.type).toBe('DELETED');
    expect(watchEvent(filter, entry('MODIFIED', pod({ app: 'w' }), pod({ app: 'w' })))?.type).toBe('MODIFIED');
    expect(watchEvent(filter, entry('MODIFIED', pod({ app: 'other' }), pod({ app: 'other' })))).toBeUndefined();
    expect(watchEvent(filter, entry('DELETED', pod({ app: 'w' })))?.type).toBe('DELETED');
    expect(watchEvent({ ...filter, namespace: 'elsewhere' }, entry('ADDED', pod({ app: 'w' })))).toBeUndefined();
  });
});
