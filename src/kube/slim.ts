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

/**
 * The slim objects are written as literals of one fixed shape each (a field that is absent stays
 * `undefined`): V8 then lays them out compactly, where copying only the present keys one by one
 * made objects as large as the ones they replaced. `same` hands back the first copy of an equal
 * string within one pod, so its timestamps (creation, start, every condition's transition: often
 * the same second) and the image its spec and status both name are held once.
 */
type Same = <V>(value: V) => V;

function sameStrings(): Same {
  const seen = new Map<string, string>();
  return <V>(value: V): V => {
    if (typeof value !== 'string') return value;
    const first = seen.get(value);
    if (first !== undefined) return first as V;
    seen.set(value, value);
    return value;
  };
}

/**
 * The API's own words, which every pod repeats (a parsed watch event carries its own copy of
 * each): held once for all pods. A fixed list, so nothing accumulates as pods come and go.
 */
const VOCABULARY = new Map(
  ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled', 'PodReadyToStartContainers', 'DisruptionTarget', 'True', 'False', 'Unknown', 'Running', 'Pending', 'Succeeded', 'Failed', 'Always', 'OnFailure', 'Never', 'v1', 'Pod', 'apps/v1', 'ReplicaSet', 'DaemonSet', 'StatefulSet', 'Job']
    .map((word) => [word, word]),
);
const word = <V>(value: V): V => (typeof value === 'string' ? ((VOCABULARY.get(value) as V | undefined) ?? value) : value);

/** waiting: reason and message; running: startedAt; terminated: exit, why and when (no container id). */
function slimState(state: ContainerState | undefined, same: Same): ContainerState | undefined {
  if (!state) return undefined;
  const { waiting, running, terminated } = state;
  return {
    waiting: waiting && { reason: waiting.reason, message: waiting.message },
    running: running && { startedAt: same(running.startedAt) },
    terminated: terminated && {
      exitCode: terminated.exitCode,
      signal: terminated.signal,
      reason: terminated.reason,
      message: terminated.message,
      startedAt: same(terminated.startedAt),
      finishedAt: same(terminated.finishedAt),
    },
  };
}

const slimContainerStatus = (status: ContainerStatus, same: Same): ContainerStatus => ({
  name: same(status.name),
  image: same(status.image),
  imageID: status.imageID,
  ready: status.ready,
  started: status.started,
  restartCount: status.restartCount,
  state: slimState(status.state, same),
  lastState: slimState(status.lastState, same),
});

const slimCondition = (condition: PodCondition, same: Same): PodCondition => ({
  type: word(condition.type),
  status: word(condition.status),
  reason: condition.reason,
  message: condition.message,
  lastTransitionTime: same(condition.lastTransitionTime),
});

/**
 * A pod as the watcher keeps it. metadata: name, namespace, labels (selectors, the ReplicaSet's
 * template hash), ownerReferences (which workload owns it), creation and deletion times. spec:
 * container names and images, init containers' restartPolicy (native sidecars), the pod's
 * restartPolicy. status: phase, reason and message (evictions), conditions (scheduling, Ready,
 * when an eviction happened), container statuses without their ids and resources.
 */
export function slimPod(pod: WatchedPod): WatchedPod {
  const { metadata, spec, status } = pod;
  const same = sameStrings();
  return {
    apiVersion: word(pod.apiVersion),
    kind: word(pod.kind),
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      labels: metadata.labels,
      ownerReferences: metadata.ownerReferences,
      creationTimestamp: same(metadata.creationTimestamp),
      deletionTimestamp: metadata.deletionTimestamp,
    },
    spec: spec && {
      containers: (spec.containers ?? []).map((c) => ({ name: same(c.name), image: same(c.image) })),
      initContainers: spec.initContainers?.map((c) => ({ name: same(c.name), image: same(c.image), restartPolicy: word(c.restartPolicy) })),
      restartPolicy: word(spec.restartPolicy),
    },
    status: status && {
      phase: word(status.phase),
      reason: status.reason,
      message: status.message,
      conditions: status.conditions?.map((c) => slimCondition(c, same)),
      containerStatuses: status.containerStatuses?.map((c) => slimContainerStatus(c, same)),
      initContainerStatuses: status.initContainerStatuses?.map((c) => slimContainerStatus(c, same)),
    },
  };
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
