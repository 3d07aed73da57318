/**
 * What happens after a cluster-changing command acts: where its story is told (the thread of the
 * open incident about that subject, else notices in the channel), and following the rollout it
 * started until the new pods are Ready, the rollout fails, or time runs out. Also the small
 * checks every such command shares: GitOps markers and cluster errors turned into answers.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { formatDuration } from '../domain/duration.js';
import { KubeError, type KubeCluster, type Workload, type WorkloadKind } from '../clients/kube.js';
import type { IncidentRecord, NoticeKind } from '../domain/model.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime.js';
import { UsageError, type CommandContext } from './bus.js';

/** A workload a command changes: where it lives and how messages name it. */
export interface RolloutTarget {
  cluster: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  /** `worker:<name>` or `workload:<cluster>/<ns>/<kind>/<name>`. */
  subject: string;
  /** How people call it: `worker cost-optimizer-worker`, `DaemonSet relay/relay (cluster rackspace)`. */
  label: string;
}

/* ------------------------------------------------------------------------------------------ */
/* Judging a rollout (pure)                                                                    */

export type RolloutState = 'progressing' | 'done' | 'failed';

export interface RolloutProgress {
  state: RolloutState;
  desired: number;
  updated: number;
  ready: number;
  /** Pods of every revision still counted by the controller. */
  total: number;
  /** Why it is not done yet, or why it failed. */
  reason?: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** The subset of a workload object the judgement reads (typed models and plain JSON alike). */
export interface WorkloadLike {
  metadata?: { generation?: number; annotations?: Record<string, string> };
  spec?: { replicas?: number; updateStrategy?: { type?: string } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: Condition[];
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    numberReady?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

/** What `kubectl rollout status` decides, per kind, from the workload's status alone. */
export function judgeRollout(kind: WorkloadKind, workload: WorkloadLike): RolloutProgress {
  const status = workload.status ?? {};
  const generation = workload.metadata?.generation ?? 0;
  const observed = status.observedGeneration ?? 0;
  if (kind === 'DaemonSet') {
    const desired = status.desiredNumberScheduled ?? 0;
    const updated = status.updatedNumberScheduled ?? 0;
    const ready = status.numberAvailable ?? status.numberReady ?? 0;
    const base = { desired, updated, ready, total: desired };
    if (observed < generation) return { ...base, state: 'progressing', reason: 'waiting for the controller to see the change' };
    if (updated < desired) return { ...base, state: 'progressing', reason: `${updated} of ${desired} pods updated` };
    if (ready < desired) return { ...base, state: 'progressing', reason: `${ready} of ${desired} updated pods available` };
    return { ...base, state: 'done' };
  }
  const desired = workload.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  if (kind === 'StatefulSet') {
    const ready = status.readyReplicas ?? 0;
    const base = { desired, updated, ready, total };
    if (observed < generation) return { ...base, state: 'progressing', reason: 'waiting for the controller to see the change' };
    if (ready < desired) return { ...base, state: 'progressing', reason: `${ready} of ${desired} pods ready` };
    if (status.updateRevision && status.currentRevision !== status.updateRevision) return { ...base, state: 'progressing', reason: `${updated} of ${desired} pods updated` };
    return { ...base, state: 'done' };
  }
  const ready = status.availableReplicas ?? 0;
  const base = { desired, updated, ready, total };
  if (observed < generation) return { ...base, state: 'progressing', reason: 'waiting for the controller to see the change' };
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { ...base, state: 'failed', reason: `ProgressDeadlineExceeded: ${progressing.message ?? 'the rollout timed out'}` };
  if (updated < desired) return { ...base, state: 'progressing', reason: `${updated} of ${desired} pods updated` };
  if (total > updated) return { ...base, state: 'progressing', reason: `${total - updated} old pods still terminating` };
  if (ready < updated) return { ...base, state: 'progressing', reason: `${ready} of ${updated} updated pods available` };
  return { ...base, state: 'done' };
}

/** Waiting reasons that mean a pod will not become Ready without someone acting. */
const stuckReasons = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);

/** The first way one of `pods` is failing, in words, or undefined when none is. */
export function podProblem(pods: V1Pod[]): string | undefined {
  for (const pod of pods) {
    for (const container of pod.status?.containerStatuses ?? []) {
      const waiting = container.state?.waiting;
      if (waiting?.reason && stuckReasons.has(waiting.reason)) {
        return `pod ${pod.metadata?.name ?? '?'} container ${container.name}: ${waiting.reason}${waiting.message ? ` — ${waiting.message.slice(0, 200)}` : ''}`;
      }
      const terminated = container.lastState?.terminated;
      if (terminated?.reason === 'OOMKilled' && (container.restartCount ?? 0) > 0 && !container.ready) {
        return `pod ${pod.metadata?.name ?? '?'} container ${container.name}: OOMKilled (${container.restartCount} restarts)`;
      }
    }
  }
  return undefined;
}

/** `app=relay,tier=edge` from a workload's selector (matchLabels; the usual case). */
export function selectorOf(workload: Workload): string | undefined {
  const labels = workload.spec?.selector?.matchLabels ?? {};
  const text = Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(',');
  return text || undefined;
}

/* ------------------------------------------------------------------------------------------ */
/* GitOps and cluster errors                                                                   */

/**
 * Who else writes this workload: Argo CD, Flux or a ConfigHub unit. Their syncs may put the old
 * spec back, so the confirmation says where the lasting change belongs.
 */
export function gitopsManager(metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined): { tool: string; where: string } | undefined {
  const labels = metadata?.labels ?? {};
  const annotations = metadata?.annotations ?? {};
  const argo = labels['argocd.argoproj.io/instance'] ?? annotations['argocd.argoproj.io/tracking-id']?.split(':')[0];
  if (argo !== undefined) return { tool: 'Argo CD', where: `the Git source of Argo CD application "${argo}"` };
  const kustomization = labels['kustomize.toolkit.fluxcd.io/name'];
  if (kustomization !== undefined) {
    const namespace = labels['kustomize.toolkit.fluxcd.io/namespace'];
    return { tool: 'Flux', where: `the Git source of Flux Kustomization "${namespace ? `${namespace}/` : ''}${kustomization}"` };
  }
  const release = labels['helm.toolkit.fluxcd.io/name'];
  if (release !== undefined) return { tool: 'Flux', where: `the values of Flux HelmRelease "${release}"` };
  const unit = annotations['confighub.com/UnitSlug'] ?? labels['confighub.com/UnitSlug'];
  if (unit !== undefined) return { tool: 'ConfigHub', where: `ConfigHub unit "${unit}"` };
  if ([...Object.keys(labels), ...Object.keys(annotations)].some((key) => key.startsWith('confighub.com/'))) return { tool: 'ConfigHub', where: 'its ConfigHub unit' };
  return undefined;
}

export function gitopsWarning(metadata: Parameters<typeof gitopsManager>[0]): string | undefined {
  const manager = gitopsManager(metadata);
  return manager ? `⚠️ Managed by ${manager.tool}: a sync may revert this; the lasting change belongs in ${manager.where}.` : undefined;
}

/** A cluster problem met while planning becomes an answer that says nothing was changed. */
export function clusterUsageError(error: unknown, cluster: string): Error {
  if (error instanceof KubeError) {
    if (error.kind === 'unreachable') return new UsageError(`Cluster ${cluster} is unreachable (${error.message.replace(/^cluster \S+: /, '')}); nothing was changed. Try again when its API answers.`);
    if (error.kind === 'forbidden' || error.kind === 'unauthorized') return new UsageError(`Driftwatch may not read that in cluster ${cluster} (${error.message.replace(/^cluster \S+: /, '')}); nothing was changed.`);
    return new UsageError(`${error.message}; nothing was changed.`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** The cluster client, with a configuration problem (no kubeconfig context…) as a usage answer. */
export function clusterOf(runtime: Runtime, name: string): KubeCluster {
  try {
    return runtime.cluster(name);
  } catch (error) {
    throw new UsageError(`Cluster ${name} cannot be used: ${(error as Error).message}; nothing was changed.`);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Where the story goes                                                                        */

/**
 * The open incident a change to `subject` belongs to: the incident whose thread the button was
 * pressed in, else the oldest open incident whose primary subject is `subject` or linked to it.
 */
export function openIncidentFor(runtime: Runtime, subject: string, ctx?: CommandContext): IncidentRecord | undefined {
  const { store } = runtime;
  if (ctx?.threadTs) {
    const id = store.incidents.incidentByThread(ctx.channel, ctx.threadTs);
    const incident = id ? store.incidents.incident(id) : undefined;
    if (incident?.status === 'open') return incident;
  }
  const linked = store.subjects.linked(subject);
  return store.incidents.openIncidents().find((incident) => incident.primarySubject === subject || linked.has(incident.primarySubject));
}

/**
 * One step of a change: on the incident's timeline and thread; with no incident, as a message in
 * the channel whose thread the later steps reply in (`replyTo`). Returns that message's key.
 */
export function tell(runtime: Runtime, step: { subject: string; incidentId?: number; user: string; action: string; notice: NoticeKind; summary: string; data?: Record<string, unknown>; replyTo?: string }): string | undefined {
  if (step.incidentId !== undefined && runtime.store.incidents.incident(step.incidentId)) {
    runtime.engine.recordAction(step.incidentId, step.user, step.action, step.summary, step.data ?? {});
    return undefined;
  }
  return runtime.engine.notice({ subject: step.subject, kind: step.notice, summary: step.summary, actor: step.user, ...(step.data ? { data: step.data } : {}), ...(step.replyTo ? { replyTo: step.replyTo } : {}) });
}

/* ------------------------------------------------------------------------------------------ */
/* Following                                                                                   */

export interface FollowOptions {
  /** How often the workload and its pods are read. Default 2 s. */
  pollMs?: number;
  /** Give up after this long. Default: the Deployment's progressDeadlineSeconds + 1 min, else 10 min. */
  timeoutMs?: number;
  /** At most one progress reply per this long. Default 30 s. */
  progressEveryMs?: number;
  /** Consecutive failed reads before giving up. Default 5. */
  maxReadErrors?: number;
}

export interface FollowJob {
  target: RolloutTarget;
  /** Who asked; the replies name them. */
  user: string;
  /** The access rule of the change (`worker pin`), for the audit trail. */
  rule: string;
  /** What was done, for the outcome line: `pin to sha256:8b96908d`. */
  what: string;
  incidentId?: number;
  /** With no incident: the key of the command's own message, whose thread the outcome goes into. */
  threadKey?: string;
  /**
   * Pods that existed before the change; only newer pods can make it fail. Unknown (the list
   * failed): only the workload's own status and the deadline decide.
   */
  podsBefore: Set<string> | undefined;
}

export interface FollowOutcome {
  state: 'done' | 'failed' | 'stopped';
  summary: string;
}

const sleep = (ms: number, signal: { stopped: boolean; wake?: () => void }) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

/**
 * Follows rollouts in the background, one loop per change, and tells their outcome where the
 * change was told. Shared by every command of a runtime (see `rolloutFollower`).
 */
export class RolloutFollower {
  private readonly jobs = new Set<Promise<FollowOutcome>>();
  private readonly signals = new Set<{ stopped: boolean; wake?: () => void }>();
  private readonly log: Logger;

  constructor(
    private readonly runtime: Runtime,
    public options: FollowOptions = {},
  ) {
    this.log = runtime.log.child({ component: 'rollout-follow' });
  }

  /** Pod uids of the workload now, taken before a change so its new pods can be told apart. */
  async podsOf(cluster: KubeCluster, workload: Workload, namespace: string): Promise<Set<string>> {
    const pods = await cluster.listPods(namespace, selectorOf(workload));
    return new Set(pods.map((pod) => pod.metadata?.uid ?? pod.metadata?.name ?? ''));
  }

  /** Starts following; the promise settles when the outcome has been told. */
  follow(job: FollowJob, deadlineHintMs?: number): Promise<FollowOutcome> {
    const signal = { stopped: false } as { stopped: boolean; wake?: () => void };
    this.signals.add(signal);
    const run = this.run(job, signal, deadlineHintMs)
      .catch((error: unknown): FollowOutcome => {
        this.log.error({ err: error, subject: job.target.subject }, 'following a rollout crashed');
        return { state: 'failed', summary: `following the rollout crashed: ${(error as Error).message}` };
      })
      .finally(() => {
        this.signals.delete(signal);
        this.jobs.delete(run);
      });
    this.jobs.add(run);
    return run;
  }

  /** Rollouts being followed right now. */
  active(): number {
    return this.jobs.size;
  }

  /** Resolves when every rollout followed now has been told. */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  /** Stops following (shutdown); nothing more is posted. */
  async stopAll(): Promise<void> {
    for (const signal of this.signals) {
      signal.stopped = true;
      signal.wake?.();
    }
    await this.idle();
  }

  private async run(job: FollowJob, signal: { stopped: boolean; wake?: () => void }, deadlineHintMs?: number): Promise<FollowOutcome> {
    const { target } = job;
    const pollMs = this.options.pollMs ?? 2_000;
    const timeoutMs = this.options.timeoutMs ?? deadlineHintMs ?? 600_000;
    const progressEveryMs = this.options.progressEveryMs ?? 30_000;
    const maxReadErrors = this.options.maxReadErrors ?? 5;
    const cluster = this.runtime.cluster(target.cluster);
    const started = Date.now();
    let lastProgressAt = started;
    let lastProgressKey = '';
    let readErrors = 0;
    let last: RolloutProgress | undefined;
    while (!signal.stopped) {
      try {
        const workload = await cluster.getWorkload(target.kind, target.namespace, target.name);
        if (!workload) return this.finish(job, 'failed', `${target.kind} ${target.namespace}/${target.name} disappeared from cluster ${target.cluster}`, started);
        const progress = judgeRollout(target.kind, workload as WorkloadLike);
        last = progress;
        readErrors = 0;
        if (progress.state === 'done') return this.finish(job, 'done', `${progress.ready}/${progress.desired} new pods Ready`, started);
        const before = job.podsBefore;
        const problem = before ? podProblem((await cluster.listPods(target.namespace, selectorOf(workload))).filter((pod) => !before.has(pod.metadata?.uid ?? pod.metadata?.name ?? ''))) : undefined;
        if (progress.state === 'failed' || problem) return this.finish(job, 'failed', problem ?? progress.reason ?? 'the rollout failed', started);
        const key = `${progress.updated}/${progress.ready}`;
        if (key !== lastProgressKey && Date.now() - lastProgressAt >= progressEveryMs) {
          lastProgressKey = key;
          lastProgressAt = Date.now();
          if (job.incidentId !== undefined) {
            this.post(job, 'action.rollout_progress', 'rollout_started', `⏳ ${target.label}: ${progress.updated}/${progress.desired} pods updated, ${progress.ready} ready${progress.reason ? ` (${progress.reason})` : ''}`);
          }
        }
      } catch (error) {
        readErrors++;
        this.log.warn({ err: error, subject: target.subject, readErrors }, 'reading a rollout failed');
        if (readErrors >= maxReadErrors) return this.finish(job, 'failed', `lost track of it: ${(error as Error).message}`, started);
      }
      if (Date.now() - started >= timeoutMs) {
        const where = last ? `${last.updated}/${last.desired} pods updated, ${last.ready} ready${last.reason ? ` (${last.reason})` : ''}` : 'no status read';
        return this.finish(job, 'failed', `not finished after ${formatDuration(timeoutMs)}: ${where}`, started);
      }
      await sleep(pollMs, signal);
    }
    return { state: 'stopped', summary: 'stopped following' };
  }

  private finish(job: FollowJob, state: 'done' | 'failed', detail: string, started: number): FollowOutcome {
    const took = formatDuration(Date.now() - started);
    const { target } = job;
    const summary =
      state === 'done'
        ? `✅ Rollout finished: ${target.label} (${job.what}) — ${detail}, after ${took}`
        : `❌ Rollout failed: ${target.label} (${job.what}) — ${detail}. The pods that were Ready before keep running; see /rollout status ${target.subject}`;
    this.post(job, state === 'done' ? 'action.rollout_finished' : 'action.rollout_failed', state === 'done' ? 'rollout_finished' : 'rollout_failed', summary);
    try {
      this.runtime.store.audit.record({
        at: this.runtime.clock.now(),
        actor: job.user,
        action: `${job.rule} rollout`,
        target: `${target.subject} (${job.what})`,
        before: null,
        after: null,
        result: state === 'done' ? `finished: ${detail}` : `failed: ${detail}`,
        incidentId: job.incidentId ?? null,
      });
    } catch (error) {
      this.log.warn({ err: error }, 'could not audit the rollout outcome');
    }
    return { state, summary };
  }

  private post(job: FollowJob, action: string, notice: NoticeKind, summary: string): void {
    try {
      tell(this.runtime, { subject: job.target.subject, ...(job.incidentId !== undefined ? { incidentId: job.incidentId } : {}), ...(job.threadKey ? { replyTo: job.threadKey } : {}), user: job.user, action, notice, summary });
    } catch (error) {
      // The store may be closing (shutdown); the log keeps what the thread could not.
      this.log.warn({ err: error, summary }, 'could not post rollout progress');
    }
  }
}

const followers = new WeakMap<Runtime, RolloutFollower>();

/** The one follower of a runtime; `options` (tests: a short poll) apply from then on. */
export function rolloutFollower(runtime: Runtime, options?: FollowOptions): RolloutFollower {
  let follower = followers.get(runtime);
  if (!follower) {
    follower = new RolloutFollower(runtime, options);
    followers.set(runtime, follower);
  } else if (options) {
    follower.options = { ...follower.options, ...options };
  }
  return follower;
}

/** How long a Deployment may take by its own progress deadline, plus a minute of slack. */
export function deadlineOf(workload: Workload): number | undefined {
  const seconds = (workload.spec as { progressDeadlineSeconds?: number } | undefined)?.progressDeadlineSeconds;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 + 60_000 : undefined;
}
