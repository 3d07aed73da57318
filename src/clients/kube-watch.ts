/**
 * The shapes of a watch: objects as a LIST or WATCH delivers them (typed from client-node's V1
 * models), the states a watch goes through, and which resource a path names.
 */
import type { V1DaemonSet, V1Deployment, V1LabelSelector, V1ObjectMeta, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeError } from './kube-errors.js';

/* ------------------------------------------------------------------------------------------ */
/* Watch plumbing                                                                             */

export type WatchState = 'listing' | 'watching' | 'restarting' | 'unreachable';
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * A client-node model as it reaches us: from a typed read its timestamps are `Date`s, from a
 * watch (plain JSON) they are strings. Judgements take this so both kinds of object fit.
 */
export type Wire<T> = T extends Date ? Date | string : T extends ReadonlyArray<infer U> ? Array<Wire<U>> : T extends object ? { [K in keyof T]: Wire<T[K]> } : T;

/** An object as a LIST or WATCH delivers it: kind, apiVersion and a name are always filled in. */
export type Watched<T> = Wire<T> & { apiVersion: string; kind: string; metadata: Wire<V1ObjectMeta> & { name: string } };
export type WatchedPod = Watched<V1Pod>;
export type WatchedWorkload = Watched<V1Deployment> | Watched<V1DaemonSet> | Watched<V1StatefulSet>;
/** Objects as the apiserver sends them, the same shape whether they came from the LIST or from the WATCH. */
export type WatchedObject = WatchedPod | WatchedWorkload | Watched<V1ReplicaSet>;

export interface WatchHandlers<T extends WatchedObject = WatchedObject> {
  onEvent(type: WatchEventType, obj: T): void;
  /**
   * `listing` (re)lists, `watching` = the stream is open, `restarting` = it failed and will be
   * retried after a backoff, `unreachable` = the apiserver could not be reached. Once
   * unreachable, the state stays so until a watch is open again.
   */
  onState(state: WatchState, error?: KubeError): void;
}

export interface WatchOptions {
  fieldSelector?: string;
  /** A watch silent for this long is dropped and replaced. Default 5 min. */
  idleTimeoutMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface WatchHandle {
  stop(): void;
  state(): WatchState | undefined;
  /** How many times the watch failed and was retried (for metrics, and for tests to wait on). */
  restarts(): number;
}

export interface ResourceTarget {
  group: 'core' | 'apps';
  plural: 'pods' | 'deployments' | 'daemonsets' | 'statefulsets' | 'replicasets';
  kind: string;
  apiVersion: string;
  namespace?: string;
}

const kindOfPlural: Record<ResourceTarget['plural'], string> = {
  pods: 'Pod',
  deployments: 'Deployment',
  daemonsets: 'DaemonSet',
  statefulsets: 'StatefulSet',
  replicasets: 'ReplicaSet',
};

/** `/api/v1/namespaces/confighub/pods` → what to list and watch. Throws for paths it can't list. */
export function parseResourcePath(path: string): ResourceTarget {
  const m = /^\/(api\/v1|apis\/apps\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)\/?$/.exec(path);
  const group = m?.[1] === 'api/v1' ? 'core' : 'apps';
  const plural = m?.[3] as ResourceTarget['plural'] | undefined;
  if (!m || !plural || !(plural in kindOfPlural) || (group === 'core') !== (plural === 'pods')) {
    throw new Error(`kube: cannot watch ${path}: only pods, deployments, daemonsets, statefulsets and replicasets`);
  }
  return { group, plural, kind: kindOfPlural[plural], apiVersion: group === 'core' ? 'v1' : 'apps/v1', namespace: m[2] ? decodeURIComponent(m[2]) : undefined };
}

/** `in confighub`, or `in all namespaces`. */
export const where = (namespace: string | undefined) => (namespace ? `in ${namespace}` : 'in all namespaces');

/** Delay before retry number `failures` (1-based): min·2^(n-1), capped. */
export function backoffDelay(failures: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(30, failures - 1)));
}

/** A label selector as the `labelSelector` query parameter writes it. */
export function selectorString(selector: V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const expr of selector?.matchExpressions ?? []) {
    const values = (expr.values ?? []).join(',');
    if (expr.operator === 'In') parts.push(`${expr.key} in (${values})`);
    else if (expr.operator === 'NotIn') parts.push(`${expr.key} notin (${values})`);
    else if (expr.operator === 'Exists') parts.push(expr.key);
    else if (expr.operator === 'DoesNotExist') parts.push(`!${expr.key}`);
  }
  return parts.join(',');
}
