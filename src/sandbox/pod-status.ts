/**
 * What the kubelet and the workload controllers would report, as pure functions: a pod's status
 * for its template (starting, running, or failing on purpose), the imageID a container reports,
 * and a workload's status computed from its pods. No I/O; generated ids come from `ids`.
 */
import { createHash } from 'node:crypto';
import { digestOfImage, hasDigest, imageWithoutTag } from '../domain/image-ref.js';
import type { Json, KubeObject, WorkloadKind } from './kube-objects.js';

/** Images that fail on purpose: the waiting reason and message their containers report. */
export type ImageFailures = ReadonlyMap<string, { reason: string; message: string }>;

/** Where generated ids come from (the object store): container ids, and the pod IP's last octet. */
export interface IdSource {
  suffix(length: number): string;
  readonly namesGenerated: number;
}

/** The imageID pods report and which images fail: set by the tests, read by the kubelet's stand-in. */
export interface ImageWorld {
  /** What the registry serves for an image ref (tag or repo). */
  digests: ReadonlyMap<string, string>;
  failing: ImageFailures;
}

/** Splits an image reference into the repository (no tag, no digest) kubelet puts before `@` in imageID. */
export function imageRepository(image: string): string {
  const repo = imageWithoutTag(image);
  const first = repo.split('/')[0]!;
  const hasRegistry = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return repo;
  return repo.includes('/') ? `docker.io/${repo}` : `docker.io/library/${repo}`;
}

/** The imageID the kubelet reports for `image`: `repo@digest`, the digest the registry serves (or a stable made-up one). */
export function imageIdFor(image: string, digests: ReadonlyMap<string, string>): string {
  if (hasDigest(image)) return image.includes('/') || image.includes('.') ? `${imageRepository(image)}@${digestOfImage(image)}` : image;
  const digest = digests.get(image) ?? digests.get(imageRepository(image)) ?? `sha256:${createHash('sha256').update(image).digest('hex')}`;
  return `${imageRepository(image)}@${digest}`;
}

export type PodPhase = 'starting' | 'running';

export function containerStatus(container: Json, phase: PodPhase, startedAt: string, world: ImageWorld, ids: IdSource): Json {
  const failure = world.failing.get(container.image);
  const base = { name: container.name, image: container.image, restartCount: 0 };
  if (phase === 'starting') {
    return { ...base, imageID: '', ready: false, started: false, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} };
  }
  if (failure) {
    const pulled = failure.reason === 'CrashLoopBackOff';
    return {
      ...base,
      imageID: pulled ? imageIdFor(container.image, world.digests) : '',
      ready: false,
      started: false,
      restartCount: pulled ? 5 : 0,
      state: { waiting: { reason: failure.reason, message: failure.message } },
      lastState: pulled
        ? { terminated: { exitCode: 1, reason: 'Error', startedAt, finishedAt: startedAt, containerID: `containerd://${ids.suffix(12)}` } }
        : {},
    };
  }
  return {
    ...base,
    imageID: imageIdFor(container.image, world.digests),
    containerID: `containerd://${createHash('sha256').update(`${container.name}-${ids.suffix(8)}`).digest('hex')}`,
    ready: true,
    started: true,
    state: { running: { startedAt } },
    lastState: {},
  };
}

export function podStatus(template: Json, phase: PodPhase, startedAt: string, world: ImageWorld, ids: IdSource): Json {
  const statuses = (template.spec?.containers ?? []).map((c: Json) => containerStatus(c, phase, startedAt, world, ids));
  const ready = phase === 'running' && statuses.every((s: Json) => s.ready);
  const notReady = statuses.filter((s: Json) => !s.ready).map((s: Json) => s.name);
  return {
    phase: phase === 'starting' || statuses.some((s: Json) => s.state.waiting?.reason === 'ImagePullBackOff' || s.state.waiting?.reason === 'ErrImagePull') ? 'Pending' : 'Running',
    conditions: [
      { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        lastTransitionTime: startedAt,
        ...(ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${notReady.join(' ')}]` }),
      },
      {
        type: 'ContainersReady',
        status: ready ? 'True' : 'False',
        lastTransitionTime: startedAt,
        ...(ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${notReady.join(' ')}]` }),
      },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: startedAt },
    ],
    hostIP: '10.0.0.10',
    podIP: `10.244.0.${(ids.namesGenerated % 250) + 2}`,
    startTime: startedAt,
    containerStatuses: statuses,
    qosClass: 'BestEffort',
  };
}

export interface RolloutState {
  progressing: boolean;
  failed?: boolean;
}

/**
 * A workload's status as its controller reports it, from the pods it owns: `hash` is the current
 * template's hash, `desired` the replicas it wants, `t` the time conditions carry.
 */
export function workloadStatus(kind: WorkloadKind, workload: KubeObject, pods: KubeObject[], hash: string, desired: number, state: RolloutState, t: string): Json {
  const name = workload.metadata.name;
  const isUpdated = (p: KubeObject) =>
    p.metadata.labels?.['pod-template-hash'] === hash ||
    p.metadata.labels?.['controller-revision-hash'] === hash ||
    p.metadata.labels?.['controller-revision-hash'] === `${name}-${hash}`;
  const isReady = (p: KubeObject) => p.status?.conditions?.some((c: Json) => c.type === 'Ready' && c.status === 'True');
  const total = pods.length;
  const updated = pods.filter(isUpdated).length;
  const ready = pods.filter(isReady).length;
  const generation = workload.metadata.generation ?? 1;
  if (kind === 'Deployment') {
    const rsName = `${name}-${hash}`;
    const progressing = state.failed
      ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` }
      : state.progressing
        ? { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` }
        : { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` };
    return {
      observedGeneration: generation,
      replicas: total,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(total - ready > 0 ? { unavailableReplicas: total - ready } : {}),
      conditions: [
        ready >= desired
          ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: t, lastTransitionTime: t }
          : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: t, lastTransitionTime: t },
        { ...progressing, lastUpdateTime: t, lastTransitionTime: t },
      ],
    };
  }
  if (kind === 'DaemonSet') {
    return {
      observedGeneration: generation,
      desiredNumberScheduled: desired,
      currentNumberScheduled: total,
      updatedNumberScheduled: updated,
      numberReady: ready,
      numberAvailable: ready,
      ...(total - ready > 0 ? { numberUnavailable: total - ready } : {}),
      numberMisscheduled: 0,
    };
  }
  return {
    observedGeneration: generation,
    replicas: total,
    readyReplicas: ready,
    availableReplicas: ready,
    currentReplicas: state.progressing || state.failed ? total - updated : total,
    updatedReplicas: updated,
    currentRevision: state.progressing || state.failed ? workload.status?.currentRevision ?? `${name}-${hash}` : `${name}-${hash}`,
    updateRevision: `${name}-${hash}`,
  };
}
