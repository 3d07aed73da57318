/**
 * Pure decisions for discovered workloads: which workload a pod belongs to (its controller owner,
 * else the workload's label selector), and where the discovery watches go. No I/O.
 */
import type { V1LabelSelector } from '@kubernetes/client-node';
import type { WorkloadKind } from '../clients/kube.js';

/** What the watcher records under `'discovered'` for each workload `discover:` found (read by /worker pin, /rollout and /version status). */
export interface DiscoveredRecord {
  cluster: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  present: boolean;
  containers: string[];
}

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'DaemonSet', 'StatefulSet'];

/** `prod/traderx/Deployment/reference-data`: how the catalog keys a workload (the subject without `workload:`). */
export const workloadKey = (cluster: string, namespace: string, kind: string, name: string) => `${cluster}/${namespace}/${kind}/${name}`;

interface PodLike {
  metadata: { namespace?: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> };
}

/**
 * The workload that controls a pod, from its owner reference: a DaemonSet or StatefulSet owns its
 * pods directly; a Deployment's pods belong to a ReplicaSet named `<deployment>-<pod-template-hash>`.
 * Undefined for pods without a controller (or one we don't watch, like a Job).
 */
export function ownerWorkloadOf(pod: PodLike): { kind: WorkloadKind; name: string } | undefined {
  const owners = pod.metadata.ownerReferences ?? [];
  const owner = owners.find((reference) => reference.controller) ?? owners[0];
  if (!owner) return undefined;
  if (owner.kind === 'DaemonSet' || owner.kind === 'StatefulSet') return { kind: owner.kind, name: owner.name };
  if (owner.kind !== 'ReplicaSet') return undefined;
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (hash && owner.name.endsWith(`-${hash}`)) return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
  const dash = owner.name.lastIndexOf('-');
  return dash > 0 ? { kind: 'Deployment', name: owner.name.slice(0, dash) } : undefined;
}

/** True when `labels` satisfy a workload's selector; an empty selector selects nothing (as the apps API requires one). */
export function selectorMatches(selector: V1LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  const matchLabels = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  if (matchLabels.length === 0 && expressions.length === 0) return false;
  for (const [key, value] of matchLabels) if (have[key] !== value) return false;
  for (const expression of expressions) {
    const value = have[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export interface DiscoverScope {
  cluster: string;
  namespaces: 'all' | string[];
  labelSelector?: string | undefined;
}

/** One list+watch: `namespace` undefined means all namespaces. */
export interface DiscoveryWatchPlan {
  cluster: string;
  namespace: string | undefined;
  labelSelector: string | undefined;
}

/**
 * The watches discovery needs. Workloads: one per kind per (namespace or whole cluster) and
 * selector; a cluster with an unfiltered `namespaces: all` scope sees everything through that one,
 * so its other scopes add nothing. Pods: one per namespace, or a single one for the whole cluster
 * when some scope there covers all namespaces, so pods are never watched twice.
 */
export function discoveryWatches(scopes: DiscoverScope[]): { workloads: DiscoveryWatchPlan[]; pods: DiscoveryWatchPlan[] } {
  const workloads = new Map<string, DiscoveryWatchPlan>();
  const podNamespaces = new Map<string, Set<string> | 'all'>();
  const seesAll = (scope: DiscoverScope) => scope.namespaces === 'all' && !scope.labelSelector;
  const everything = new Set(scopes.filter(seesAll).map((scope) => scope.cluster));
  for (const scope of scopes) {
    if (everything.has(scope.cluster) && !seesAll(scope)) continue;
    const namespaces = scope.namespaces === 'all' ? [undefined] : scope.namespaces;
    for (const namespace of namespaces) {
      const plan = { cluster: scope.cluster, namespace, labelSelector: scope.labelSelector || undefined };
      workloads.set(JSON.stringify(plan), plan);
    }
    const pods = podNamespaces.get(scope.cluster);
    if (scope.namespaces === 'all' || pods === 'all') podNamespaces.set(scope.cluster, 'all');
    else podNamespaces.set(scope.cluster, new Set([...(pods ?? []), ...scope.namespaces]));
  }
  const pods: DiscoveryWatchPlan[] = [];
  for (const [cluster, namespaces] of podNamespaces) {
    if (namespaces === 'all') pods.push({ cluster, namespace: undefined, labelSelector: undefined });
    else for (const namespace of namespaces) pods.push({ cluster, namespace, labelSelector: undefined });
  }
  return { workloads: [...workloads.values()], pods };
}
