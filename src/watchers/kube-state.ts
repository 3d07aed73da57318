/**
 * What the Kubernetes watcher keeps per watch, per cluster and per subject: its memory between
 * events (the watch loop is in kube.ts, the decisions in kube/).
 */
import type { KubeCluster, KubeError, WatchedPod, WatchedWorkload, WatchHandle, WatchState, WorkloadKind } from '../clients/kube.js';
import type { ProblemKind } from '../domain/model.js';
import { crashLogKey } from '../kube/pods.js';
import type { RolloutMemory } from '../kube/rollout.js';
import type { WorkloadDiscovery } from './discovery.js';

export interface WatchEntry {
  cluster: ClusterWatch;
  handle?: WatchHandle;
  state?: WatchState;
  /** The last failure, kept until the watch is open again. */
  failure?: KubeError;
  restartsSeen: number;
}

export interface ClusterWatch {
  name: string;
  subject: string;
  client?: KubeCluster;
  unreachableAfterMs: number;
  watches: Set<WatchEntry>;
  targets: Target[];
  downSince?: number;
  lastError?: KubeError;
  reportedDown: boolean;
  downTimer?: NodeJS.Timeout;
  /** The client could not be made (context missing from the kubeconfig…). */
  setupError?: string;
  discovery?: WorkloadDiscovery<Target>; // what `discover:` found on this cluster (watches/discovery.ts)
}


export interface Target {
  subject: string;
  problem: Extract<ProblemKind, 'worker_pods_failing' | 'workload_failing'>;
  cluster: ClusterWatch;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  container?: string;
  /** Workers: `app=<worker>`; workloads take theirs from the workload's selector. */
  fixedSelector?: string;
  workload?: WatchedWorkload;
  workloadListed: boolean;
  workloadBlind?: string;
  workloadWatch?: WatchEntry;
  pods: Map<string, WatchedPod>;
  podSelector?: string;
  podWatch?: WatchEntry;
  podsListed: boolean;
  podsBlind?: string;
  logs: Map<string, string[]>;
  pullMessages: Map<string, string>;
  focusPod?: string;
  elsewhere?: string[] | null;
  elsewhereLooked: boolean;
  rollout?: RolloutMemory;
  reported: Map<string, { ok: boolean; summary: string; immediate: boolean }>;
  /** The workload was seen and then deleted: its open problems end as "deleted", it is not "missing". */
  deleted: boolean;
  lastState: Map<string, string>;
  /** When the last look at this subject was scheduled: a quiet subject is judged at once, a busy one per `settleMs`. */
  lastLookAt: number;
  timer?: NodeJS.Timeout;
  graceTimer?: NodeJS.Timeout;
  assessing: boolean;
  again: boolean;
  /** Dropped by discovery: a judgement still in flight says nothing more, and none is scheduled. */
  removed?: boolean;
  forceNext: boolean;
}

/**
 * Keeps the log of a container's newest crash only: a pod stuck in CrashLoopBackOff restarts for
 * days, and one entry per restart would grow without bound.
 */
export function rememberCrashLog(logs: Map<string, string[]>, pod: string, container: string, restarts: number, lines: string[]): void {
  const older = `${pod}/${container}#`;
  for (const key of logs.keys()) if (key.startsWith(older)) logs.delete(key);
  logs.set(crashLogKey(pod, container, restarts), lines);
}
