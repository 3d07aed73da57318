/**
 * `discover:` on one cluster: the catalog of Deployments, DaemonSets and StatefulSets found in
 * the scoped namespaces, kept current by one list+watch per kind per scope (cluster-wide for
 * `namespaces: all`) and one pod watch per namespace (or one for the cluster). Each workload found
 * becomes a subject of the Kubernetes watcher, judged exactly like a listed one; one that goes is
 * dropped (its open problems resolve, its tags stop being watched, it leaves `/version status`).
 * The pure parts (which pod belongs to which workload, which watches) are in kube/discovery.ts.
 */
import type { WatchedPod, WatchedWorkload, WorkloadKind } from '../clients/kube.js';
import type { CheckObservation } from '../domain/model.js';
import type { Logger } from '../log.js';
import { discoveryWatches, ownerWorkloadOf, selectorMatches, workloadKey, WORKLOAD_KINDS, type DiscoverScope, type DiscoveryWatchPlan } from '../kube/discovery.js';
import { templateContainers } from '../kube/rollout.js';
import { slimPod, slimWorkload } from '../kube/slim.js';
import type { ObservationSink } from './types.js';
import type { DiscoveredRecord } from '../kube/discovery.js';

export type { DiscoveredRecord };


/** The part of the Kubernetes watcher's subject that discovery feeds. */
export interface DiscoveredTarget {
  subject: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  workload?: WatchedWorkload;
  workloadListed: boolean;
  podsListed: boolean;
  /** Last verdict reported per problem. */
  reported: Map<string, { ok: boolean }>;
}

/** What discovery asks of the Kubernetes watcher: watches on the cluster, and its subjects' lifecycle. */
export interface DiscoveryHost<T extends DiscoveredTarget> {
  sink: ObservationSink;
  log: Logger;
  /** A list+watch of `path`; `onListed` after each successful list. */
  watch<O extends WatchedWorkload | WatchedPod>(path: string, labelSelector: string | undefined, onEvent: (type: string, obj: O) => void, onListed: () => void): void;
  /** A new subject for a workload found (not yet judged). */
  create(namespace: string, kind: WorkloadKind, name: string): T;
  /** The subject is no longer watched: timers cleared, out of the watcher's lists. */
  remove(target: T): void;
  /** One pod event for the subject. */
  pod(target: T, type: string, pod: WatchedPod): void;
  /** The workload object changed (or was first seen): record its spec, judge it soon. */
  changed(target: T, workload: WatchedWorkload): void;
  /** Its pods are listed now: judge it soon. */
  podsListed(target: T): void;
}

/** Every problem the Kubernetes watcher reports for a discovered workload. */
const DISCOVERED_PROBLEMS: ReadonlyArray<CheckObservation['problem']> = ['workload_failing', 'rollout_stuck', 'workload_missing'];

const pluralOf: Record<WorkloadKind, string> = { Deployment: 'deployments', DaemonSet: 'daemonsets', StatefulSet: 'statefulsets' };

export class WorkloadDiscovery<T extends DiscoveredTarget> {
  private readonly workloadWatches: DiscoveryWatchPlan[];
  private readonly podWatches: DiscoveryWatchPlan[];
  /** By `workloadKey`: the subject, and which workload watches see it (several scopes may). */
  private readonly catalog = new Map<string, { target: T; seenBy: Set<string> }>();
  /** Subjects by namespace, for pods without an owner reference. */
  private readonly byNamespace = new Map<string, Set<T>>();
  /** Every pod the pod watches see, by namespace: a workload that appears later finds its pods here. */
  private readonly pods = new Map<string, Map<string, WatchedPod>>();
  /** Namespaces whose pods are listed (`*`: all of them). */
  private readonly podsListedIn = new Set<string>();
  /** Workload watches that have listed at least once. */
  private readonly listedWatches = new Set<string>();

  constructor(
    readonly cluster: string,
    scopes: DiscoverScope[],
    /** `workloadKey`s of the configured workers and workloads: left to their own subjects. */
    private readonly configured: Set<string>,
    private readonly host: DiscoveryHost<T>,
  ) {
    const plans = discoveryWatches(scopes.filter((scope) => scope.cluster === cluster));
    this.workloadWatches = plans.workloads;
    this.podWatches = plans.pods;
  }

  /** True once every workload watch has listed: until then discovery sees nothing (the heartbeat must not count it as cycled). */
  get listed(): boolean {
    return this.listedWatches.size === this.workloadWatches.length * WORKLOAD_KINDS.length;
  }

  /** How many workloads are discovered now. */
  get size(): number {
    return this.catalog.size;
  }

  start(): void {
    for (const plan of this.workloadWatches) {
      for (const kind of WORKLOAD_KINDS) {
        const watchKey = `${kind} ${plan.namespace ?? '*'} ${plan.labelSelector ?? ''}`;
        const path = plan.namespace === undefined ? `/apis/apps/v1/${pluralOf[kind]}` : `/apis/apps/v1/namespaces/${encodeURIComponent(plan.namespace)}/${pluralOf[kind]}`;
        this.host.watch<WatchedWorkload>(
          path,
          plan.labelSelector,
          (type, workload) => (type === 'DELETED' ? this.gone(kind, workload, watchKey) : this.seen(kind, slimWorkload(workload), watchKey)),
          () => {
            if (this.listedWatches.has(watchKey)) return;
            this.listedWatches.add(watchKey);
            if (this.listed) this.forgetVanished();
          },
        );
      }
    }
    for (const plan of this.podWatches) {
      const path = plan.namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(plan.namespace)}/pods`;
      this.host.watch<WatchedPod>(path, undefined, (type, pod) => this.podEvent(type, slimPod(pod)), () => this.podsListed(plan.namespace ?? '*'));
    }
  }

  private podsListed(listed: string): void {
    if (this.podsListedIn.has(listed)) return;
    this.podsListedIn.add(listed);
    for (const { target } of this.catalog.values()) {
      if (listed !== '*' && target.namespace !== listed) continue;
      target.podsListed = true;
      this.host.podsListed(target);
    }
  }

  private seen(kind: WorkloadKind, workload: WatchedWorkload, watchKey: string): void {
    const namespace = workload.metadata.namespace ?? '';
    const name = workload.metadata.name;
    const key = workloadKey(this.cluster, namespace, kind, name);
    if (this.configured.has(key)) return;
    let entry = this.catalog.get(key);
    if (!entry) {
      const target = this.host.create(namespace, kind, name);
      target.workload = workload;
      target.workloadListed = true;
      target.podsListed = this.podsListedIn.has('*') || this.podsListedIn.has(namespace);
      entry = { target, seenBy: new Set() };
      this.catalog.set(key, entry);
      let inNamespace = this.byNamespace.get(namespace);
      if (!inNamespace) this.byNamespace.set(namespace, (inNamespace = new Set()));
      inNamespace.add(target);
      for (const pod of this.pods.get(namespace)?.values() ?? []) if (this.owns(target, pod)) this.host.pod(target, 'ADDED', pod);
      const record: DiscoveredRecord = { cluster: this.cluster, namespace, kind, name, present: true, containers: templateContainers(workload).map((container) => container.name) };
      this.host.sink.state(target.subject, 'discovered', record);
      // Per object: debug, never info (a namespace may hold thousands).
      this.host.log.debug({ subject: target.subject }, 'kube: discovered a workload');
    }
    entry.seenBy.add(watchKey);
    entry.target.workload = workload;
    this.host.changed(entry.target, workload);
  }

  private gone(kind: WorkloadKind, workload: WatchedWorkload, watchKey: string): void {
    const namespace = workload.metadata.namespace ?? '';
    const key = workloadKey(this.cluster, namespace, kind, workload.metadata.name);
    const entry = this.catalog.get(key);
    if (!entry) return;
    entry.seenBy.delete(watchKey);
    if (entry.seenBy.size > 0) return; // another scope still sees it
    this.catalog.delete(key);
    this.byNamespace.get(namespace)?.delete(entry.target);
    this.drop(entry.target, `${kind} ${namespace}/${workload.metadata.name} was deleted`);
  }

  /** A discovered workload is gone: its open problems resolve, its tags stop being watched, it leaves `/version status`. */
  private drop(target: T, why: string): void {
    const { sink } = this.host;
    this.host.remove(target);
    for (const [problem, last] of target.reported) {
      // `ended`: the problem is over at once (one look, no recovery hysteresis): nobody watches it any more.
      if (!last.ok) sink.check({ subject: target.subject, problem: problem as CheckObservation['problem'], ok: true, summary: why, ended: 'deleted' });
    }
    this.forget(target.subject, { cluster: this.cluster, namespace: target.namespace, kind: target.kind, name: target.name });
    this.host.log.debug({ subject: target.subject }, `kube: ${why}; no longer watched`);
  }

  private forget(subject: string, where: Pick<DiscoveredRecord, 'cluster' | 'namespace' | 'kind' | 'name'>): void {
    const { sink } = this.host;
    const record: DiscoveredRecord = { ...where, present: false, containers: [] };
    sink.state(subject, 'discovered', record);
    sink.state(subject, 'spec', { containers: [], labels: {}, annotations: {} });
    sink.running(subject, []);
  }

  /**
   * Once every workload watch has listed: workloads the store still remembers as discovered here
   * (from before a restart) that no watch returned were deleted meanwhile; drop them too.
   */
  private forgetVanished(): void {
    for (const { subject, value } of this.host.sink.statesOf<Partial<DiscoveredRecord> | null>('discovered')) {
      if (!value?.present || value.cluster !== this.cluster) continue;
      const where = { cluster: this.cluster, namespace: value.namespace ?? '', kind: value.kind ?? 'Deployment', name: value.name ?? '' };
      if (this.catalog.has(workloadKey(where.cluster, where.namespace, where.kind, where.name))) continue;
      // Whatever was open for it (we cannot know which: we did not watch it in this run) ends as deleted.
      const why = `${where.kind} ${where.namespace}/${where.name} was deleted`;
      for (const problem of DISCOVERED_PROBLEMS) this.host.sink.check({ subject, problem, ok: true, summary: why, ended: 'deleted' });
      this.forget(subject, where);
    }
  }

  /** Every pod is kept by namespace and handed to the workload that owns it. */
  private podEvent(type: string, pod: WatchedPod): void {
    const namespace = pod.metadata.namespace ?? '';
    let inNamespace = this.pods.get(namespace);
    if (type === 'DELETED') inNamespace?.delete(pod.metadata.name);
    else {
      if (!inNamespace) this.pods.set(namespace, (inNamespace = new Map()));
      inNamespace.set(pod.metadata.name, pod);
    }
    const owner = ownerWorkloadOf(pod);
    if (owner) {
      // Owned by something else (a Job, a configured workload) when no discovered subject has its owner's name.
      const target = this.catalog.get(workloadKey(this.cluster, namespace, owner.kind, owner.name))?.target;
      if (target) this.host.pod(target, type, pod);
      return;
    }
    for (const target of this.byNamespace.get(namespace) ?? []) if (this.owns(target, pod)) this.host.pod(target, type, pod);
  }

  /** The pod belongs to the workload: its owner is that workload, or (without an owner) its selector matches. */
  private owns(target: T, pod: WatchedPod): boolean {
    if (pod.metadata.namespace !== target.namespace) return false;
    const owner = ownerWorkloadOf(pod);
    if (owner) return owner.kind === target.kind && owner.name === target.name;
    return selectorMatches(target.workload?.spec?.selector, pod.metadata.labels);
  }
}
