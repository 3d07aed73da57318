/**
 * The object model of the fake apiserver: what a Kubernetes object looks like to it, which
 * resources it serves, and the deep copy every read and write goes through (so no caller ever
 * holds a reference into the store).
 */

// The fake serves arbitrary JSON bodies, as the real apiserver does for fields it does not know.
export type Json = any;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
    [key: string]: Json;
  };
  spec?: Json;
  status?: Json;
  [key: string]: Json;
}

export type WorkloadKind = 'Deployment' | 'DaemonSet' | 'StatefulSet';
export type Kind = WorkloadKind | 'ReplicaSet' | 'Pod' | 'Namespace' | 'Lease';

export const isWorkloadKind = (kind: string): kind is WorkloadKind => kind === 'Deployment' || kind === 'DaemonSet' || kind === 'StatefulSet';

export interface ResourceInfo {
  kind: Kind;
  plural: string;
  group: '' | 'apps' | 'coordination.k8s.io';
  version: 'v1';
  namespaced: boolean;
  shortNames?: string[];
}

export const resources: ResourceInfo[] = [
  { kind: 'Namespace', plural: 'namespaces', group: '', version: 'v1', namespaced: false, shortNames: ['ns'] },
  { kind: 'Pod', plural: 'pods', group: '', version: 'v1', namespaced: true, shortNames: ['po'] },
  { kind: 'Deployment', plural: 'deployments', group: 'apps', version: 'v1', namespaced: true, shortNames: ['deploy'] },
  { kind: 'DaemonSet', plural: 'daemonsets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['ds'] },
  { kind: 'StatefulSet', plural: 'statefulsets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['sts'] },
  { kind: 'ReplicaSet', plural: 'replicasets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['rs'] },
  { kind: 'Lease', plural: 'leases', group: 'coordination.k8s.io', version: 'v1', namespaced: true },
];

const byKind = new Map(resources.map((r) => [r.kind, r]));

export const apiVersionOf = (r: ResourceInfo): string => (r.group ? `${r.group}/${r.version}` : r.version);

/** `deployments.apps`, `leases.coordination.k8s.io`, `pods`: how the apiserver names a resource in messages. */
export const qualifiedPlural = (r: ResourceInfo): string => `${r.plural}${r.group ? `.${r.group}` : ''}`;

export function resourceOf(kind: string): ResourceInfo {
  const info = byKind.get(kind as Kind);
  if (!info) throw new Error(`fake apiserver: unsupported kind ${kind}`);
  return info;
}

export const isNamespaced = (kind: string): boolean => byKind.get(kind as Kind)?.namespaced ?? false;

export const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

export const isPlainObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
