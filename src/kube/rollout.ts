/**
 * The one rollout judge, for Deployments, DaemonSets and StatefulSets: where a rollout stands from
 * the workload's own status, as `kubectl rollout status` decides it. The watcher's rollout notices
 * and stuck check, `/rollout status` and the rollout follower all read this verdict, so they
 * cannot disagree. Pure.
 *
 * Two choices the old copies made differently, decided once here:
 * - A missing `metadata.generation` counts as 1 (the apiserver's first generation) and a missing
 *   `status.observedGeneration` as 0, so an object whose status has observed nothing yet is
 *   "waiting for the controller", whatever else its status says.
 * - Pods of an old revision still counted by the controller (`status.replicas` above the updated
 *   count; for a DaemonSet, nodes still running an old pod) keep every kind in progress, the
 *   StatefulSet included; a StatefulSet is done only when its current revision is the update one.
 *
 * And two cases kubectl decides apart, decided as it does:
 * - A StatefulSet with `rollingUpdate.partition` P > 0 updates only the pods ordinal ≥ P on
 *   purpose: it is done when `replicas - P` pods are updated and all are ready; the old pods and
 *   the revision left behind are what was asked for.
 * - `updateStrategy.type: OnDelete` (StatefulSet or DaemonSet): the controller replaces no pod
 *   by itself, so there is nothing to follow. kubectl refuses to watch it; here the verdict is
 *   "done" (once the controller saw the change) with a reason saying so, so that the follower
 *   stops instead of timing out and `/rollout status` says why.
 */
import type { V1DaemonSet, V1Deployment, V1DeploymentCondition, V1StatefulSet } from '@kubernetes/client-node';
import type { Wire, WorkloadKind } from '../clients/kube.js';
import { describeSubject } from '../domain/subjects.js';
import { formatDuration } from '../domain/duration.js';
import { neutralizeMentions } from '../domain/untrusted.js';

/** A workload from a typed read or from a watch; `kind` is read when the caller does not know it. */
export type WorkloadLike = Wire<V1Deployment> | Wire<V1DaemonSet> | Wire<V1StatefulSet>;

/**
 * The fields the judge reads, typed from the client-node models (a full workload fits, and so
 * does a hand-written object in a test).
 */
export interface RolloutInput {
  kind?: string;
  metadata?: { generation?: number; annotations?: Record<string, string> };
  spec?: {
    replicas?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
    /** StatefulSet and DaemonSet (Deployments call theirs `strategy`, which the judge does not need). */
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number; maxUnavailable?: unknown } };
  };
  status?: Partial<Pick<Wire<V1Deployment>['status'] & object, 'observedGeneration' | 'replicas' | 'updatedReplicas' | 'readyReplicas' | 'availableReplicas'>> &
    Partial<Pick<Wire<V1DaemonSet>['status'] & object, 'desiredNumberScheduled' | 'updatedNumberScheduled' | 'currentNumberScheduled' | 'numberReady' | 'numberAvailable'>> &
    Partial<Pick<Wire<V1StatefulSet>['status'] & object, 'currentRevision' | 'updateRevision'>> & { conditions?: Array<Pick<V1DeploymentCondition, 'type' | 'status' | 'reason' | 'message'>> };
}

export type RolloutState = 'progressing' | 'done' | 'failed';

/** The verdict, with the counts it was made from. */
export interface RolloutProgress {
  state: RolloutState;
  desired: number;
  updated: number;
  /** Pods Ready. */
  ready: number;
  /** Pods available (Ready for minReadySeconds). */
  available: number;
  /** Pods of every revision still counted by the controller. */
  total: number;
  generation: number;
  observedGeneration: number;
  /** The Progressing condition's reason and message (Deployments). */
  condition?: { reason?: string; message?: string };
  /** Why it is not done yet, or why it failed; when done, what it could not follow (OnDelete). */
  reason?: string;
}

/** The reason of an OnDelete workload's verdict: done as far as following goes, and why. */
export const ON_DELETE_REASON = 'OnDelete: pods are replaced only when deleted';

/** How a change to an OnDelete workload stands once "done": its template changed, its pods did not yet. */
export const ON_DELETE_WAITING = 'Rollout waits for pod deletions';
export const onDeleteChange = (progress: Pick<RolloutProgress, 'updated' | 'desired'>): string => `template changed; ${ON_DELETE_REASON} (${progress.updated}/${progress.desired} pods updated)`;

/** Where a rollout stands, per kind, from the workload's status alone. */
export function judgeRollout(kind: WorkloadKind, workload: RolloutInput): RolloutProgress {
  const status = workload.status ?? {};
  const generation = workload.metadata?.generation ?? 1;
  const observedGeneration = status.observedGeneration ?? 0;
  const counts =
    kind === 'DaemonSet'
      ? { desired: status.desiredNumberScheduled ?? 0, updated: status.updatedNumberScheduled ?? 0, ready: status.numberReady ?? 0, available: status.numberAvailable ?? status.numberReady ?? 0, total: status.currentNumberScheduled ?? 0 }
      : {
          desired: workload.spec?.replicas ?? 1,
          updated: status.updatedReplicas ?? 0,
          ready: status.readyReplicas ?? 0,
          available: status.availableReplicas ?? status.readyReplicas ?? 0,
          total: status.replicas ?? 0,
        };
  const found = status.conditions?.find((condition) => condition.type === 'Progressing');
  // The controller's message quotes what it read from the cluster (names, quota and webhook
  // texts): untrusted, so it can mention no one wherever the verdict is shown.
  const message = found?.message ? neutralizeMentions(found.message) : undefined;
  const condition = found?.reason || message ? { ...(found?.reason ? { reason: found.reason } : {}), ...(message ? { message } : {}) } : undefined;
  const base = { ...counts, generation, observedGeneration, ...(condition ? { condition } : {}) };
  const progressing = (reason: string): RolloutProgress => ({ ...base, state: 'progressing', reason: kind === 'Deployment' && workload.spec?.paused ? `paused; ${reason}` : reason });
  const { desired, updated, ready, available, total } = counts;

  if (observedGeneration < generation) return progressing('waiting for the controller to see the change');
  if (found?.reason === 'ProgressDeadlineExceeded') return { ...base, state: 'failed', reason: `ProgressDeadlineExceeded: ${message ?? 'the rollout timed out'}` };
  const strategy = kind === 'Deployment' ? undefined : workload.spec?.updateStrategy;
  if (strategy?.type === 'OnDelete') return { ...base, state: 'done', reason: ON_DELETE_REASON };
  const partition = kind === 'StatefulSet' ? (strategy?.rollingUpdate?.partition ?? 0) : 0;
  if (partition > 0) {
    // kubectl: updated ≥ replicas - partition, and every pod ready; the pods below the partition stay as they are.
    const wanted = Math.max(0, desired - partition);
    if (updated < wanted) return progressing(`${updated} of ${wanted} pods updated (partition ${partition})`);
    if (available < desired) return progressing(ready < desired ? `${ready} of ${desired} pods ready` : `${available} of ${desired} pods available`);
    return { ...base, state: 'done', reason: `partition ${partition}: ${updated} of ${desired} pods updated, as asked` };
  }
  if (updated < desired) return progressing(`${updated} of ${desired} pods updated`);
  if (total > updated) return progressing(kind === 'Deployment' ? `${total - updated} old pods still terminating` : `${total - updated} pods still on the old revision`);
  // Available pods are Ready ones that stayed Ready for minReadySeconds: enough of them is the
  // Ready check too (kubectl reads availability; a status without it falls back to readiness).
  if (available < desired) return progressing(ready < desired ? `${ready} of ${desired} pods ready` : `${available} of ${desired} pods available`);
  if (kind === 'StatefulSet' && status.updateRevision && status.currentRevision !== status.updateRevision) return progressing(`revision ${status.updateRevision} not current yet`);
  return { ...base, state: 'done' };
}

/** The kind a workload object says it is (watch events carry it); Deployment when it says nothing we know. */
export function kindOf(workload: { kind?: string }): WorkloadKind {
  return workload.kind === 'DaemonSet' || workload.kind === 'StatefulSet' ? workload.kind : 'Deployment';
}

/** How long a Deployment may take by its own progress deadline, plus a minute of slack. */
export function deadlineOf(workload: RolloutInput): number | undefined {
  const seconds = workload.spec?.progressDeadlineSeconds;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 + 60_000 : undefined;
}

/* ------------------------------------------------------------------------------------------ */
/* The watcher's view: counts it records, and notices on edges                                */

/** What the watcher records per subject (`rollout` state) and writes in its notices: the judge's counts. */
export type RolloutCounts = Pick<RolloutProgress, 'desired' | 'updated' | 'ready' | 'available' | 'total' | 'generation' | 'observedGeneration'> & {
  /** The Progressing condition's reason (Deployments). */
  progressing?: string;
  message?: string;
};

export type RolloutPhase = 'complete' | 'progressing' | 'failed';

/** `judgeRollout` in the watcher's words: the counts it records and the phase. */
export function rolloutOf(workload: RolloutInput, kind: WorkloadKind = kindOf(workload)): { state: RolloutCounts; phase: RolloutPhase; progress: RolloutProgress } {
  const progress = judgeRollout(kind, workload);
  const { desired, updated, ready, available, total, generation, observedGeneration, condition } = progress;
  const state: RolloutCounts = {
    desired,
    updated,
    ready,
    available,
    total,
    generation,
    observedGeneration,
    ...(condition?.reason ? { progressing: condition.reason } : {}),
    ...(condition?.message ? { message: condition.message } : {}),
  };
  return { state, phase: progress.state === 'done' ? 'complete' : progress.state, progress };
}

/** The containers of a workload's pod template, as written. */
export function templateContainers(workload: WorkloadLike): Array<{ name: string; image: string; imagePullPolicy?: string }> {
  return (workload.spec?.template?.spec?.containers ?? []).map((c) => ({
    name: String(c.name),
    image: String(c.image ?? ''),
    ...(c.imagePullPolicy ? { imagePullPolicy: String(c.imagePullPolicy) } : {}),
  }));
}

/** What is remembered per subject so notices go out on edges only. */
export interface RolloutMemory {
  generation: number;
  finished: boolean;
  failed: boolean;
  images: Array<{ name: string; image: string }>;
  startedAt?: number;
}

export interface RolloutEdge {
  kind: 'rollout_started' | 'rollout_finished' | 'rollout_failed';
  summary: string;
  lines: string[];
  data: Record<string, unknown>;
}

/**
 * The rollout notices one look at a workload calls for, given what was said before. The first
 * look only sets the baseline: a rollout we didn't see start is not announced as started.
 */
export function rolloutEdges(previous: RolloutMemory | undefined, workload: WorkloadLike, subject: string, now: number, kind: WorkloadKind): { memory: RolloutMemory; edges: RolloutEdge[] } {
  // The target's kind, never the object's: a typed read carries no `kind`, and a StatefulSet
  // judged as a Deployment would be done with its old pods still running.
  const { state, phase, progress } = rolloutOf(workload, kind);
  const images = templateContainers(workload).map(({ name, image }) => ({ name, image }));
  const who = describeSubject(subject);
  const edges: RolloutEdge[] = [];
  if (!previous) return { memory: { generation: state.generation, finished: phase === 'complete', failed: phase === 'failed', images }, edges };
  // An older copy of the workload (a relist racing a watch event) says nothing new.
  if (state.generation < previous.generation) return { memory: previous, edges };
  let memory = previous;
  if (state.generation > previous.generation) {
    const lines = images.flatMap(({ name, image }) => {
      const before = previous.images.find((p) => p.name === name)?.image;
      return before !== image ? [`${name}: ${before ?? '(new container)'} → ${image}`] : [];
    });
    edges.push({ kind: 'rollout_started', summary: `Rollout started: ${who} (generation ${state.generation})`, lines, data: { generation: state.generation, images } });
    memory = { generation: state.generation, finished: false, failed: false, images, startedAt: now };
  } else {
    memory = { ...previous, images };
  }
  const counts = `${state.updated}/${state.desired} updated, ${state.ready} Ready, ${state.available} available`;
  if (phase === 'complete' && !memory.finished) {
    const took = memory.startedAt !== undefined ? ` in ${formatDuration(now - memory.startedAt)}` : '';
    // OnDelete is "done" as soon as the controller saw the template: no pod was replaced, so it is not "finished".
    const summary = progress.reason === ON_DELETE_REASON ? `${ON_DELETE_WAITING}: ${who} — ${onDeleteChange(state)}` : `Rollout finished: ${who} — ${counts}${took}`;
    edges.push({ kind: 'rollout_finished', summary, lines: [], data: { ...state } });
    memory = { ...memory, finished: true, failed: false };
  }
  if (phase === 'failed' && !memory.failed) {
    edges.push({
      kind: 'rollout_failed',
      summary: `Rollout failed: ${who} — ${state.progressing}${state.message ? `: ${state.message}` : ''}`,
      lines: [counts],
      data: { ...state },
    });
    memory = { ...memory, failed: true };
  }
  return { memory, edges };
}
