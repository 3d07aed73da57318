/**
 * The fake apiserver's controllers in one place: what the Deployment, DaemonSet and StatefulSet
 * controllers and the kubelet would do when a workload's pod template changes. A first revision
 * settles at once (pods Ready); a later one is a pending rollout whose new pods start not-ready,
 * until `advance()` (or `autoAdvanceMs`) finishes it: new pods Ready — or failing, for images set
 * to fail — and, when they are all Ready, old pods gone. In memory over an ObjectStore, no I/O.
 */
import { clone, isWorkloadKind, resourceOf, type Json, type Kind, type KubeObject, type WorkloadKind } from './kube-objects.js';
import { ObjectStore, templateHash, timestamp } from './object-store.js';
import { podStatus, workloadStatus, type ImageWorld, type PodPhase, type RolloutState } from './pod-status.js';

export interface RolloutControllerOptions {
  /** When set, pending rollouts advance by themselves this many ms after they start. */
  autoAdvanceMs?: number;
  /** Nodes a DaemonSet schedules onto (one pod each). Default 1. */
  nodes?: number;
}

interface PendingRollout {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** Pods of the new revision, created not-ready. */
  newPods: string[];
  /** Pods of older revisions, deleted when the rollout succeeds. */
  oldPods: string[];
  timer?: NodeJS.Timeout;
}

export class RolloutController {
  private readonly pending = new Map<string, PendingRollout>();
  readonly digests = new Map<string, string>();
  readonly failing = new Map<string, { reason: string; message: string }>();
  private readonly world: ImageWorld = { digests: this.digests, failing: this.failing };
  private readonly nodeCount: number;

  constructor(
    private readonly objects: ObjectStore,
    private readonly options: RolloutControllerOptions = {},
  ) {
    this.nodeCount = options.nodes ?? 1;
  }

  /** Stores `obj`; a workload whose pod template changed gets its rollout (settled at once when new). */
  upsert(obj: KubeObject): KubeObject {
    const info = resourceOf(obj.kind);
    const ns = info.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const existed = this.objects.has(info.kind, ns, obj.metadata.name);
    const stored = this.objects.store(obj);
    if (obj.kind === 'Deployment' || obj.kind === 'DaemonSet' || obj.kind === 'StatefulSet') {
      this.reconcile(obj.kind, ns!, obj.metadata.name, !existed);
      return this.objects.get(obj.kind, ns, obj.metadata.name)!;
    }
    return stored;
  }

  /** Deletes an object; a workload takes its ReplicaSets and pods with it. */
  remove(kind: Kind, ns: string | undefined, name: string): void {
    const k = ObjectStore.key(kind, ns, name);
    const existing = this.objects.peek(kind, ns, name);
    if (!existing) return;
    this.objects.write('DELETED', clone(existing));
    if (kind === 'Deployment' || kind === 'DaemonSet' || kind === 'StatefulSet') {
      this.pending.delete(k);
      const owned = kind === 'Deployment' ? this.replicaSetsOf(existing) : [];
      for (const rs of owned) {
        for (const pod of this.podsOwnedBy(rs.metadata.namespace!, rs.metadata.uid!)) this.remove('Pod', pod.metadata.namespace, pod.metadata.name);
        this.remove('ReplicaSet', rs.metadata.namespace, rs.metadata.name);
      }
      for (const pod of this.podsOwnedBy(ns!, existing.metadata.uid!)) this.remove('Pod', pod.metadata.namespace, pod.metadata.name);
    }
  }

  /** After a PATCH stored a workload: a changed pod template starts a pending rollout. */
  afterPatch(kind: Kind, ns: string, name: string, templateChanged: boolean): void {
    if (isWorkloadKind(kind) && templateChanged) this.reconcile(kind, ns, name, false);
  }

  /** Finishes every pending rollout (new pods Ready or failing, old pods gone). Returns how many. */
  advance(): number {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const rollout of all) {
      clearTimeout(rollout.timer);
      this.finishRollout(rollout);
    }
    return all.length;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Forgets pending rollouts and their timers. */
  stop(): void {
    for (const rollout of this.pending.values()) clearTimeout(rollout.timer);
    this.pending.clear();
  }

  private podsOwnedBy(ns: string, ownerUid: string): KubeObject[] {
    return this.objects.all().filter(
      (o) => o.kind === 'Pod' && o.metadata.namespace === ns && o.metadata.ownerReferences?.some((r) => r.uid === ownerUid),
    );
  }

  private replicaSetsOf(deploy: KubeObject): KubeObject[] {
    return this.objects.all().filter(
      (o) =>
        o.kind === 'ReplicaSet' &&
        o.metadata.namespace === deploy.metadata.namespace &&
        o.metadata.ownerReferences?.some((r) => r.uid === deploy.metadata.uid),
    );
  }

  private createPod(ns: string, name: string, template: Json, owner: KubeObject, extraLabels: Record<string, string>, phase: PodPhase): string {
    const startedAt = timestamp();
    this.objects.store({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        labels: { ...(template.metadata?.labels ?? {}), ...extraLabels },
        annotations: { ...(template.metadata?.annotations ?? {}) },
        ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid!, controller: true }],
      },
      spec: { ...clone(template.spec ?? {}), nodeName: 'fake-node-1', restartPolicy: 'Always' },
      status: podStatus(template, phase, startedAt, this.world, this.objects),
    });
    return name;
  }

  private desiredReplicas(workload: KubeObject): number {
    if (workload.kind === 'DaemonSet') return this.nodeCount;
    return workload.spec?.replicas ?? 1;
  }

  /**
   * Called after a workload is stored: when its pod template differs from what its pods run,
   * start a rollout — immediately settled for a workload's first revision, pending otherwise.
   */
  private reconcile(kind: WorkloadKind, ns: string, name: string, firstRevision: boolean) {
    const workload = this.objects.peek(kind, ns, name);
    if (!workload) return;
    const template = workload.spec?.template ?? {};
    const hash = templateHash(template);
    const replicas = this.desiredReplicas(workload);
    const existingPending = this.pending.get(ObjectStore.key(kind, ns, name));
    if (existingPending) {
      clearTimeout(existingPending.timer);
      this.pending.delete(ObjectStore.key(kind, ns, name));
    }

    let owner: KubeObject = workload;
    let podLabels: Record<string, string> = {};
    let podName: (i: number) => string = () => `${name}-${this.objects.suffix(5)}`;
    const allPods = () => {
      if (kind !== 'Deployment') return this.podsOwnedBy(ns, workload.metadata.uid!);
      return this.replicaSetsOf(workload).flatMap((rs) => this.podsOwnedBy(ns, rs.metadata.uid!));
    };
    const current = allPods().filter((p) => p.metadata.labels?.['pod-template-hash'] === hash || p.metadata.labels?.['controller-revision-hash'] === `${name}-${hash}`);
    if (current.length >= replicas && !existingPending) return; // nothing changed for the pods

    if (kind === 'Deployment') {
      const sets = this.replicaSetsOf(workload);
      const maxRevision = Math.max(0, ...sets.map((rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0)));
      let rs = sets.find((s) => s.metadata.labels?.['pod-template-hash'] === hash);
      const revision = rs && Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision']) === maxRevision ? maxRevision : maxRevision + 1;
      const rsTemplate = clone(template);
      rsTemplate.metadata = { ...(rsTemplate.metadata ?? {}), labels: { ...(rsTemplate.metadata?.labels ?? {}), 'pod-template-hash': hash } };
      rs = this.objects.store({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace: ns,
          labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash },
          annotations: {
            'deployment.kubernetes.io/desired-replicas': String(replicas),
            'deployment.kubernetes.io/max-replicas': String(replicas + 1),
            'deployment.kubernetes.io/revision': String(revision),
          },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: workload.metadata.uid!, controller: true }],
        },
        spec: {
          replicas,
          selector: { matchLabels: { ...(workload.spec?.selector?.matchLabels ?? {}), 'pod-template-hash': hash } },
          template: rsTemplate,
        },
        status: { replicas: 0, observedGeneration: 1 },
      });
      owner = rs;
      podLabels = { 'pod-template-hash': hash };
      podName = () => `${rs!.metadata.name}-${this.objects.suffix(5)}`;
      // The deployment carries the revision of its newest ReplicaSet.
      const fresh = this.objects.peek(kind, ns, name)!;
      const before = clone(fresh);
      fresh.metadata.annotations = { ...(fresh.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(revision) };
      this.objects.write('MODIFIED', fresh, before);
    } else if (kind === 'StatefulSet') {
      podLabels = { 'controller-revision-hash': `${name}-${hash}` };
      podName = (i) => `${name}-${i}`;
    } else {
      podLabels = { 'controller-revision-hash': hash, 'pod-template-generation': String(workload.metadata.generation ?? 1) };
    }

    const oldPods = allPods()
      .filter((p) => !current.includes(p))
      .map((p) => p.metadata.name);
    const newPods: string[] = current.map((p) => p.metadata.name);
    const phase = firstRevision ? 'running' : 'starting';
    if (kind === 'DaemonSet') {
      // One pod per node and no surge: the old pod goes before its replacement starts.
      for (const podName of oldPods.splice(0)) this.remove('Pod', ns, podName);
    }
    for (let i = current.length; i < replicas; i++) {
      const podNameI = podName(i);
      if (kind === 'StatefulSet' && this.objects.has('Pod', ns, podNameI)) {
        // StatefulSet pods keep their names: the old pod goes, the new one takes its place.
        this.remove('Pod', ns, podNameI);
        const j = oldPods.indexOf(podNameI);
        if (j >= 0) oldPods.splice(j, 1);
      }
      newPods.push(this.createPod(ns, podNameI, template, owner, podLabels, phase));
    }
    const rollout: PendingRollout = { kind, namespace: ns, name, newPods, oldPods };
    if (firstRevision) {
      this.finishRollout(rollout);
      return;
    }
    this.pending.set(ObjectStore.key(kind, ns, name), rollout);
    this.updateWorkloadStatus(kind, ns, name, { progressing: true });
    if (this.options.autoAdvanceMs !== undefined) {
      rollout.timer = setTimeout(() => {
        if (this.pending.get(ObjectStore.key(kind, ns, name)) === rollout) {
          this.pending.delete(ObjectStore.key(kind, ns, name));
          this.finishRollout(rollout);
        }
      }, this.options.autoAdvanceMs);
    }
  }

  private finishRollout(rollout: PendingRollout) {
    const { kind, namespace: ns, name } = rollout;
    const workload = this.objects.peek(kind, ns, name);
    if (!workload) return;
    const template = workload.spec?.template ?? {};
    let failed = false;
    for (const podName of rollout.newPods) {
      const pod = this.objects.peek('Pod', ns, podName);
      if (!pod) continue;
      const before = clone(pod);
      pod.status = podStatus(template, 'running', timestamp(), this.world, this.objects);
      if (pod.status.conditions.find((c: Json) => c.type === 'Ready')?.status !== 'True') failed = true;
      this.objects.write('MODIFIED', pod, before);
    }
    // Old pods go only when the new ones are Ready (maxUnavailable 0: a failing rollout keeps them).
    if (!failed) for (const podName of rollout.oldPods) this.remove('Pod', ns, podName);
    if (kind === 'Deployment' && !failed) {
      for (const rs of this.replicaSetsOf(workload)) {
        const isNew = rs.metadata.labels?.['pod-template-hash'] === templateHash(template);
        const replicas = isNew ? this.desiredReplicas(workload) : 0;
        if (rs.spec.replicas !== replicas || rs.status?.replicas !== replicas) {
          const prev = clone(rs);
          rs.spec.replicas = replicas;
          rs.status = { replicas, readyReplicas: replicas, availableReplicas: replicas, fullyLabeledReplicas: replicas, observedGeneration: 1 };
          this.objects.write('MODIFIED', rs, prev);
        }
      }
    }
    this.updateWorkloadStatus(kind, ns, name, { progressing: false, failed });
  }

  private updateWorkloadStatus(kind: WorkloadKind, ns: string, name: string, state: RolloutState) {
    const workload = this.objects.peek(kind, ns, name);
    if (!workload) return;
    const previous = clone(workload);
    const hash = templateHash(workload.spec?.template ?? {});
    const pods =
      kind === 'Deployment'
        ? this.replicaSetsOf(workload).flatMap((rs) => this.podsOwnedBy(ns, rs.metadata.uid!))
        : this.podsOwnedBy(ns, workload.metadata.uid!);
    workload.status = workloadStatus(kind, workload, pods, hash, this.desiredReplicas(workload), state, timestamp());
    this.objects.write('MODIFIED', workload, previous);
  }
}
