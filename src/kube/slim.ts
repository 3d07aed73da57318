/**
 * What the Kubernetes watcher keeps of each pod and workload it watches: only the fields its
 * judgements read (kube/pods.ts, kube/rollout.ts, kube/discovery.ts, the spec it records), so a
 * namespace with 20000 pods costs the watcher what it needs, not what the apiserver sends
 * (managedFields, volumes, env, affinity, tolerations, container ids…). Pure, and idempotent:
 * slimming a slim object gives an equal one.
 *
 * A field read somewhere new must be kept here too; test/kube-slim.test.ts plays the captured
 * pods through `assessPods` before and after slimming to catch a field that went missing.
 */
import type { WatchedPod, WatchedWorkload, Wire } from '../clients/kube.js';
import type { V1ContainerState, V1ContainerStatus, V1PodCondition } from '@kubernetes/client-node';
import { PIN_ANNOTATIONS } from './annotations.js';

type Dict = Record<string, string>;

/** Copies the keys of `from` that are set, and only those (so a slim object has no `undefined` holes). */
function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) if (from[key] !== undefined) out[key] = from[key];
  return out;
}

const nonEmpty = <T extends object>(value: T): T | undefined => (Object.keys(value).length > 0 ? value : undefined);

/* ------------------------------------------------------------------------------------------ */
/* Pods                                                                                       */

type ContainerState = Wire<V1ContainerState>;
type ContainerStatus = Wire<V1ContainerStatus>;
type PodCondition = Wire<V1PodCondition>;

/** waiting: reason and message; running: startedAt; terminated: exit, why and when (no container id). */
function slimState(state: ContainerState | undefined): ContainerState | undefined {
  if (!state) return undefined;
  const out: ContainerState = {};
  if (state.waiting) out.waiting = pick(state.waiting, ['reason', 'message']);
  if (state.running) out.running = pick(state.running, ['startedAt']);
  if (state.terminated) out.terminated = pick(state.terminated, ['exitCode', 'signal', 'reason', 'message', 'startedAt', 'finishedAt']);
  return out;
}

function slimContainerStatus(status: ContainerStatus): ContainerStatus {
  const out = pick(status, ['name', 'image', 'imageID', 'ready', 'started', 'restartCount']) as ContainerStatus;
  const state = slimState(status.state);
  const lastState = slimState(status.lastState);
  if (state) out.state = state;
  if (lastState) out.lastState = lastState;
  return out;
}

const slimCondition = (condition: PodCondition): PodCondition => pick(condition, ['type', 'status', 'reason', 'message', 'lastTransitionTime']) as PodCondition;

/**
 * A pod as the watcher keeps it. metadata: name, namespace, labels (selectors, the ReplicaSet's
 * template hash), ownerReferences (which workload owns it), creation and deletion times. spec:
 * container names and images, init containers' restartPolicy (native sidecars), the pod's
 * restartPolicy. status: phase, reason and message (evictions), conditions (scheduling, Ready,
 * when an eviction happened), container statuses without their ids and resources.
 */
export function slimPod(pod: WatchedPod): WatchedPod {
  const { metadata, spec, status } = pod;
  const slim: WatchedPod = {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: { name: metadata.name, ...pick(metadata, ['namespace', 'labels', 'ownerReferences', 'creationTimestamp', 'deletionTimestamp']) },
  };
  if (spec) {
    slim.spec = {
      containers: (spec.containers ?? []).map((c) => pick(c, ['name', 'image'])),
      ...(spec.initContainers ? { initContainers: spec.initContainers.map((c) => pick(c, ['name', 'image', 'restartPolicy'])) } : {}),
      ...pick(spec, ['restartPolicy']),
    };
  }
  if (status) {
    slim.status = {
      ...pick(status, ['phase', 'reason', 'message']),
      ...(status.conditions ? { conditions: status.conditions.map(slimCondition) } : {}),
      ...(status.containerStatuses ? { containerStatuses: status.containerStatuses.map(slimContainerStatus) } : {}),
      ...(status.initContainerStatuses ? { initContainerStatuses: status.initContainerStatuses.map(slimContainerStatus) } : {}),
    };
  }
  return slim;
}

/* ------------------------------------------------------------------------------------------ */
/* Workloads                                                                                  */

const PIN_KEYS: readonly string[] = Object.values(PIN_ANNOTATIONS);

/** Only Driftwatch's own pin annotations: the watcher reads `pinned-from`; the rest say who and why. */
function pinAnnotationsOf(annotations: Dict | undefined): Dict | undefined {
  if (!annotations) return undefined;
  const out: Dict = {};
  for (const key of PIN_KEYS) if (annotations[key] !== undefined) out[key] = annotations[key];
  return nonEmpty(out);
}

/**
 * A Deployment, DaemonSet or StatefulSet as the watcher keeps it. metadata: name, namespace,
 * generation, the pin annotations. spec: what the rollout judge reads (replicas, paused, progress
 * deadline, update strategy), the selector its pods are found by, and the pod template's labels,
 * annotations and containers (name, image, pull policy) that the recorded spec shows. status: the
 * counts and revisions the judge reads, conditions without their timestamps.
 */
export function slimWorkload(workload: WatchedWorkload): WatchedWorkload {
  const { metadata, spec, status } = workload;
  const annotations = pinAnnotationsOf(metadata.annotations);
  // One shape for the three kinds: each field copied is one of the three models' own.
  const slim = {
    apiVersion: workload.apiVersion,
    kind: workload.kind,
    metadata: { name: metadata.name, ...pick(metadata, ['namespace', 'generation']), ...(annotations ? { annotations } : {}) },
  } as WatchedWorkload;
  if (spec) {
    const template = spec.template;
    const templateMetadata = template?.metadata ? pick(template.metadata, ['labels', 'annotations']) : undefined;
    slim.spec = {
      ...pick(spec as { replicas?: number; paused?: boolean; progressDeadlineSeconds?: number; updateStrategy?: unknown }, ['replicas', 'paused', 'progressDeadlineSeconds', 'updateStrategy']),
      selector: spec.selector,
      template: {
        ...(templateMetadata ? { metadata: templateMetadata } : {}),
        ...(template?.spec ? { spec: { containers: (template.spec.containers ?? []).map((c) => pick(c, ['name', 'image', 'imagePullPolicy'])) } } : {}),
      },
    } as WatchedWorkload['spec'];
  }
  if (status) {
    const counts = pick(status as Record<string, unknown>, [
      'observedGeneration',
      'replicas',
      'updatedReplicas',
      'readyReplicas',
      'availableReplicas',
      'desiredNumberScheduled',
      'updatedNumberScheduled',
      'currentNumberScheduled',
      'numberReady',
      'numberAvailable',
      'currentRevision',
      'updateRevision',
    ]);
    const conditions = (status.conditions as Array<{ type: string; status: string; reason?: string; message?: string }> | undefined)?.map((c) => pick(c, ['type', 'status', 'reason', 'message']));
    slim.status = { ...counts, ...(conditions ? { conditions } : {}) } as WatchedWorkload['status'];
  }
  return slim;
}
