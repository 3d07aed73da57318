/**
 * The Kubernetes watcher: what really runs on each configured cluster. It watches the workers'
 * Deployments and pods (`cub worker install` layout: label `app=<worker>`) and each configured
 * workload with its pods, and reports per subject: pods failing (with the crash log and the digest
 * they run), the workload missing (and where it landed instead), rollouts (started, finished,
 * stuck), and the cluster's API being unreachable. The decisions are pure and live in `kube/`
 * (pods, rollout); this class only keeps watches alive, coalesces bursts and remembers what it
 * already said.
 */
import type { Config } from '../config.js';
import { selectorString, KubeError, type KubeCluster, type KubeErrorKind, type WatchedObject, type WatchedPod, type WatchedWorkload, type WatchState, type WorkloadKind } from '../clients/kube.js';
import { formatDuration } from '../domain/duration.js';
import { subjectOf } from '../domain/subjects.js';
import { plural } from '../domain/text.js';
import type { CheckObservation, NoticeObservation } from '../domain/model.js';
import type { Logger } from '../log.js';
import { PIN_ANNOTATIONS } from '../kube/annotations.js';
import { assessPods, crashLogKey, INIT_FAILED, lastLogLines, pullMessagesOf, type PodFinding } from '../kube/pods.js';
import { rolloutEdges, rolloutOf, templateContainers } from '../kube/rollout.js';
import { workloadKey } from '../kube/discovery.js';
import { slimPod, slimWorkload } from '../kube/slim.js';
import { describeMissing, describeUnreachable, errorReason } from '../kube/cluster.js';
import { WorkloadDiscovery, type DiscoveryHost } from './discovery.js';
import type { ObservationSink, WatchLoop, Watcher } from './types.js';
import { rememberCrashLog, type ClusterWatch, type Target, type WatchEntry } from './kube-state.js';

const DOWN_KINDS = new Set<KubeErrorKind>(['unreachable', 'unauthorized', 'forbidden']);

/* ------------------------------------------------------------------------------------------ */
/* The watcher                                                                                */

export interface KubeWatcherOptions {
  config: Config;
  sink: ObservationSink;
  cluster: (name: string) => KubeCluster;
  log: Logger;
  /** Called each time a watch fails and is restarted (metrics). */
  onWatchRestart?: (cluster: string) => void;
  /** A watch silent this long is replaced. Default 5 min. */
  idleTimeoutMs?: number;
  /** Pods still starting after this long are a problem. Default 5 min. */
  pendingTooLongMs?: number;
  /** Every subject is looked at again this often (hysteresis needs repeated looks; last-good needs time). Default 30 s. */
  recheckEveryMs?: number;
  /** A burst of events for one subject is judged once, at most this often. Default 250 ms. */
  settleMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
}

const pluralOf: Record<WorkloadKind, string> = { Deployment: 'deployments', DaemonSet: 'daemonsets', StatefulSet: 'statefulsets' };


/**
 * Watches every configured cluster. Reports through the sink only: checks on verdict changes
 * (and again every `recheckEveryMs`, which hysteresis and last-good bookkeeping need), notices on
 * rollout edges, state for `/version status` and the other watchers.
 */
export class KubeWatcher implements Watcher {
  private readonly clusters = new Map<string, ClusterWatch>();
  private readonly targets: Target[] = [];
  private readonly pendingTooLongMs: number;
  private readonly recheckEveryMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;
  private ticker: NodeJS.Timeout | undefined;
  /** When the recheck loop last ran with every cluster's API answering (the heartbeat's cycle). */
  private lastCycleAt: number | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: KubeWatcherOptions) {
    this.pendingTooLongMs = deps.pendingTooLongMs ?? 5 * 60_000;
    this.recheckEveryMs = deps.recheckEveryMs ?? 30_000;
    this.settleMs = deps.settleMs ?? 250;
    this.now = deps.now ?? Date.now;
    const { config } = deps;
    for (const c of config.clusters) {
      this.clusters.set(c.name, { name: c.name, subject: subjectOf.cluster(c.name), unreachableAfterMs: c.unreachableAfter, watches: new Set(), targets: [], reportedDown: false });
    }
    const clusterOf = (name: string): ClusterWatch => {
      let cluster = this.clusters.get(name);
      if (!cluster) {
        // Config validation names unknown clusters; be safe anyway.
        cluster = { name, subject: subjectOf.cluster(name), unreachableAfterMs: 60_000, watches: new Set(), targets: [], reportedDown: false };
        this.clusters.set(name, cluster);
      }
      return cluster;
    };
    for (const worker of config.workers) {
      this.addTarget({
        subject: subjectOf.worker(worker.name),
        problem: 'worker_pods_failing',
        cluster: clusterOf(worker.cluster),
        namespace: worker.namespace,
        kind: 'Deployment',
        name: worker.deployment ?? worker.name,
        container: worker.container,
        fixedSelector: `app=${worker.name}`,
      });
    }
    for (const workload of config.workloads) {
      this.addTarget({ subject: subjectOf.workload(workload), problem: 'workload_failing', cluster: clusterOf(workload.cluster), namespace: workload.namespace, kind: workload.kind, name: workload.name });
    }
    for (const name of new Set(config.discover.map((scope) => scope.cluster))) {
      const cluster = clusterOf(name);
      const configured = cluster.targets.map((target) => workloadKey(name, target.namespace, target.kind, target.name));
      cluster.discovery = new WorkloadDiscovery<Target>(name, config.discover, new Set(configured), this.discoveryHost(cluster));
    }
  }

  private addTarget(base: Pick<Target, 'subject' | 'problem' | 'cluster' | 'namespace' | 'kind' | 'name' | 'container' | 'fixedSelector'>): Target {
    const target: Target = {
      ...base,
      workloadListed: false,
      pods: new Map(),
      podsListed: false,
      logs: new Map(),
      pullMessages: new Map(),
      elsewhereLooked: false,
      reported: new Map(),
      deleted: false,
      lastState: new Map(),
      lastLookAt: Number.NEGATIVE_INFINITY,
      assessing: false,
      again: false,
      forceNext: false,
    };
    this.targets.push(target);
    base.cluster.targets.push(target);
    return target;
  }

  start(): void {
    this.stopped = false;
    for (const cluster of this.clusters.values()) {
      if (cluster.targets.length === 0 && !cluster.discovery) continue;
      try {
        cluster.client = this.deps.cluster(cluster.name);
      } catch (error) {
        cluster.setupError = (error as Error).message;
        this.deps.log.error({ cluster: cluster.name, err: cluster.setupError }, `kube: cannot watch cluster ${cluster.name}`);
        this.deps.sink.check({ subject: cluster.subject, problem: 'cluster_unreachable', ok: false, immediate: true, summary: `cluster ${cluster.name}: cannot connect: ${cluster.setupError.replace(/^cluster [^:]+: /, '')}` });
        continue;
      }
      for (const target of cluster.targets) {
        this.startWorkloadWatch(target);
        if (target.fixedSelector) this.startPodWatch(target, target.fixedSelector);
      }
      cluster.discovery?.start();
    }
    this.ticker = setInterval(() => this.tick(), this.recheckEveryMs);
    this.ticker.unref?.();
    // The watches are up: that counts as the first cycle, so the heartbeat need not wait a recheck
    // period (discovery has listed nothing yet: its cluster cycles on a later tick).
    if (this.targets.length > 0 && !this.discovering()) this.lastCycleAt = Date.now();
  }

  /** Some cluster has `discover:` (its subjects come and go: the loop exists even while it has none). */
  private discovering(): boolean {
    return [...this.clusters.values()].some((cluster) => cluster.discovery);
  }

  loops(): WatchLoop[] {
    return this.targets.length > 0 || this.discovering() ? [{ name: 'kube watches', everyMs: this.recheckEveryMs, lastCycleAt: this.lastCycleAt }] : [];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const cluster of this.clusters.values()) {
      clearTimeout(cluster.downTimer);
      for (const entry of cluster.watches) entry.handle?.stop();
      cluster.watches.clear();
    }
    for (const target of this.targets) {
      clearTimeout(target.timer);
      clearTimeout(target.graceTimer);
    }
    await Promise.allSettled([...this.inFlight]);
  }

  health(): Record<string, { ok: boolean; detail?: string }> {
    const out: Record<string, { ok: boolean; detail?: string }> = {};
    for (const cluster of this.clusters.values()) {
      if (cluster.targets.length === 0 && !cluster.discovery) continue;
      out[cluster.subject] = this.clusterHealth(cluster);
    }
    return out;
  }

  private clusterHealth(cluster: ClusterWatch): { ok: boolean; detail: string } {
    if (cluster.setupError) return { ok: false, detail: cluster.setupError };
    const entries = [...cluster.watches];
    if (cluster.downSince !== undefined) return { ok: false, detail: describeUnreachable(cluster.name, this.now() - cluster.downSince, cluster.lastError) };
    const open = entries.filter((e) => e.state === 'watching').length;
    const failing = entries.filter((e) => e.failure);
    if (open === 0) return { ok: false, detail: failing[0]?.failure ? `starting; ${failing[0].failure.message}` : 'starting' };
    const blind = this.targets.filter((t) => t.cluster === cluster && (t.podsBlind || t.workloadBlind)).map((t) => `${t.subject}: ${t.podsBlind ?? t.workloadBlind}`);
    const found = cluster.discovery ? `; ${plural(cluster.discovery.size, 'discovered workload')}` : '';
    return { ok: true, detail: `watching (${open} of ${entries.length} watches open${found})${blind.length ? `; cannot see ${blind.join('; ')}` : ''}` };
  }

  /* ---------------- watches ---------------- */

  private watch<T extends WatchedObject>(cluster: ClusterWatch, path: string, labelSelector: string | undefined, fieldSelector: string | undefined, onEvent: (type: string, obj: T) => void, onState: (entry: WatchEntry, state: WatchState, error?: KubeError) => void): WatchEntry {
    const entry: WatchEntry = { cluster, restartsSeen: 0 };
    cluster.watches.add(entry);
    entry.handle = cluster.client!.watchResource<T>(
      path,
      labelSelector,
      {
        onEvent: (type, obj) => {
          if (!this.stopped) onEvent(type, obj);
        },
        onState: (state, error) => {
          if (this.stopped) return;
          entry.state = state;
          if (state === 'watching') entry.failure = undefined;
          else if (error) entry.failure = error;
          // The client counts the restart right after reporting the state.
          queueMicrotask(() => this.syncRestarts(entry));
          onState(entry, state, error);
          this.updateCluster(cluster, error);
        },
      },
      {
        ...(fieldSelector ? { fieldSelector } : {}),
        ...(this.deps.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.deps.idleTimeoutMs } : {}),
        ...(this.deps.backoffMinMs !== undefined ? { backoffMinMs: this.deps.backoffMinMs } : {}),
        ...(this.deps.backoffMaxMs !== undefined ? { backoffMaxMs: this.deps.backoffMaxMs } : {}),
      },
    );
    return entry;
  }

  private dropWatch(entry: WatchEntry | undefined): void {
    if (!entry) return;
    entry.handle?.stop();
    entry.cluster.watches.delete(entry);
  }

  private syncRestarts(entry: WatchEntry): void {
    const restarts = entry.handle?.restarts() ?? 0;
    for (; entry.restartsSeen < restarts; entry.restartsSeen++) this.deps.onWatchRestart?.(entry.cluster.name);
  }

  private startWorkloadWatch(target: Target): void {
    const path = `/apis/apps/v1/namespaces/${encodeURIComponent(target.namespace)}/${pluralOf[target.kind]}`;
    target.workloadWatch = this.watch<WatchedWorkload>(
      target.cluster,
      path,
      undefined,
      `metadata.name=${target.name}`,
      (type, obj) => {
        if (obj.metadata.name !== target.name) return;
        if (type === 'DELETED') {
          target.workload = undefined;
          target.deleted = true;
        } else {
          target.workload = slimWorkload(obj);
          target.deleted = false;
          if (!target.fixedSelector) {
            const selector = selectorString(obj.spec?.selector);
            if (selector && selector !== target.podSelector) this.startPodWatch(target, selector);
          }
        }
        this.schedule(target);
      },
      (_entry, state, error) => {
        if (state === 'watching') {
          target.workloadListed = true;
          target.workloadBlind = undefined;
        } else if (error && (error.kind === 'forbidden' || error.kind === 'unauthorized')) {
          target.workloadBlind = error.message;
        }
        this.schedule(target);
      },
    );
  }

  private startPodWatch(target: Target, selector: string): void {
    this.dropWatch(target.podWatch);
    target.podSelector = selector;
    target.pods.clear();
    target.podsListed = false;
    target.podWatch = this.watch<WatchedPod>(
      target.cluster,
      `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods`,
      selector,
      undefined,
      (type, pod) => this.applyPod(target, type, slimPod(pod)),
      (_entry, state, error) => {
        if (state === 'watching') {
          target.podsListed = true;
          target.podsBlind = undefined;
        } else if (error && (error.kind === 'forbidden' || error.kind === 'unauthorized')) {
          if (!target.podsBlind) this.deps.log.warn({ subject: target.subject, err: error.message }, `kube: cannot watch pods of ${target.subject}`);
          target.podsBlind = error.message;
        }
        this.schedule(target);
      },
    );
  }

  /** One pod event for a subject: its pod map, the crash logs and pull messages it keeps. */
  private applyPod(target: Target, type: string, pod: WatchedPod): void {
    const name = pod.metadata.name;
    if (type === 'DELETED') {
      target.pods.delete(name);
      for (const key of [...target.logs.keys()]) if (key.startsWith(`${name}/`)) target.logs.delete(key);
      for (const key of [...target.pullMessages.keys()]) if (key.startsWith(`${name}/`)) target.pullMessages.delete(key);
    } else {
      target.pods.set(name, pod);
      for (const [key, message] of pullMessagesOf(pod)) target.pullMessages.set(key, message);
    }
    this.schedule(target);
  }

  /** `discover:` (watches/discovery.ts): how a cluster's discovery opens watches and makes, feeds and drops this watcher's subjects. */
  private discoveryHost(cluster: ClusterWatch): DiscoveryHost<Target> {
    const without = (list: Target[], target: Target) => list.includes(target) && list.splice(list.indexOf(target), 1);
    return {
      ...{ sink: this.deps.sink, log: this.deps.log },
      watch: (path, selector, onEvent, onListed) => void this.watch(cluster, path, selector, undefined, onEvent, (_entry, state) => state === 'watching' && onListed()),
      create: (namespace, kind, name) => this.addTarget({ subject: subjectOf.workload({ cluster: cluster.name, namespace, kind, name }), problem: 'workload_failing', cluster, namespace, kind, name }),
      remove: (target) => ((target.removed = true), clearTimeout(target.timer), clearTimeout(target.graceTimer), without(this.targets, target), without(cluster.targets, target)),
      pod: (target, type, pod) => this.applyPod(target, type, pod),
      changed: (target, workload) => (this.recordSpec(target, workload), this.schedule(target)), // spec first: a new incident names its image and last good digest
      podsListed: (target) => this.schedule(target),
    };
  }

  /* ---------------- cluster reachability ---------------- */

  private isDown(cluster: ClusterWatch): boolean {
    const entries = [...cluster.watches];
    return entries.length > 0 && entries.every((e) => e.state !== 'watching' && e.failure !== undefined && DOWN_KINDS.has(e.failure.kind));
  }

  private updateCluster(cluster: ClusterWatch, error: KubeError | undefined): void {
    if (error && DOWN_KINDS.has(error.kind)) cluster.lastError = error;
    const down = this.isDown(cluster);
    if (down && cluster.downSince === undefined) {
      cluster.downSince = this.now();
      clearTimeout(cluster.downTimer);
      cluster.downTimer = setTimeout(() => this.reportDown(cluster), cluster.unreachableAfterMs);
      cluster.downTimer.unref?.();
      this.deps.log.warn({ cluster: cluster.name, err: errorReason(cluster.lastError) }, `kube: cluster ${cluster.name} API not answering`);
    } else if (!down && cluster.downSince !== undefined && [...cluster.watches].some((e) => e.state === 'watching')) {
      clearTimeout(cluster.downTimer);
      const downFor = this.now() - cluster.downSince;
      cluster.downSince = undefined;
      this.deps.log.info({ cluster: cluster.name }, `kube: cluster ${cluster.name} API answers again after ${formatDuration(downFor)}`);
      if (cluster.reportedDown) {
        cluster.reportedDown = false;
        this.deps.sink.check({ subject: cluster.subject, problem: 'cluster_unreachable', ok: true, summary: `cluster ${cluster.name}: API answers again after ${formatDuration(downFor)}` });
      }
      // What we knew about its subjects may be stale: judge them all afresh.
      for (const target of cluster.targets) this.schedule(target, true);
    }
  }

  private reportDown(cluster: ClusterWatch): void {
    if (this.stopped || cluster.downSince === undefined) return;
    const forMs = this.now() - cluster.downSince;
    if (forMs < cluster.unreachableAfterMs) return;
    cluster.reportedDown = true;
    this.deps.sink.check({ subject: cluster.subject, problem: 'cluster_unreachable', ok: false, immediate: true, summary: describeUnreachable(cluster.name, forMs, cluster.lastError) });
  }

  private tick(): void {
    if (this.stopped) return;
    for (const cluster of this.clusters.values()) {
      for (const entry of cluster.watches) this.syncRestarts(entry);
      if (cluster.setupError || (cluster.targets.length === 0 && !cluster.discovery)) continue;
      if (cluster.downSince !== undefined) this.reportDown(cluster);
      else if ([...cluster.watches].some((e) => e.state === 'watching')) {
        this.deps.sink.check({ subject: cluster.subject, problem: 'cluster_unreachable', ok: true, summary: `cluster ${cluster.name}: API answers` });
      }
    }
    for (const target of this.targets) this.schedule(target, true);
    // A cluster whose API is down (or never connected), or whose discovery has not listed, keeps the loop from counting as cycled.
    const cycled = (cluster: ClusterWatch) => (cluster.targets.length === 0 && !cluster.discovery) || (!cluster.setupError && cluster.downSince === undefined && (cluster.discovery?.listed ?? true));
    if ([...this.clusters.values()].every(cycled)) this.lastCycleAt = Date.now();
  }

  /* ---------------- judging a subject ---------------- */

  /**
   * Coalesces a burst of events: the first event after a quiet spell is judged at once (the
   * status change that shows a crash loop is the alert), the ones that follow it within
   * `settleMs` are judged together once, `settleMs` after that look.
   */
  private schedule(target: Target, force = false): void {
    if (this.stopped || target.removed) return;
    if (force) target.forceNext = true;
    if (target.timer) return;
    const now = this.now();
    const quiet = now - target.lastLookAt >= this.settleMs;
    const delay = force || quiet ? 0 : this.settleMs - (now - target.lastLookAt);
    target.lastLookAt = now + delay;
    target.timer = setTimeout(() => {
      target.timer = undefined;
      void this.assess(target);
    }, delay);
    target.timer.unref?.();
  }

  private async assess(target: Target): Promise<void> {
    if (target.assessing) {
      target.again = true;
      return;
    }
    target.assessing = true;
    const force = target.forceNext;
    target.forceNext = false;
    const run = this.assessOnce(target, force).catch((error: unknown) => this.deps.log.error({ err: error, subject: target.subject }, 'kube: judging a subject failed'));
    this.inFlight.add(run);
    try {
      await run;
    } finally {
      this.inFlight.delete(run);
      target.assessing = false;
      if (target.again) {
        target.again = false;
        this.schedule(target);
      }
    }
  }

  /**
   * Reports a check when its verdict changed, when a failure became one that alerts at once (a
   * first crash turning into CrashLoopBackOff), or on the periodic look (`force`). A summary that
   * changes without the verdict (a restart count going up) waits for the periodic look, so a
   * crash-looping fleet updates its incident at most once per `recheckEveryMs`.
   */
  private report(target: Target, observation: CheckObservation, force: boolean): void {
    if (this.stopped || target.removed) return;
    const previous = target.reported.get(observation.problem);
    const immediate = observation.immediate === true;
    const nowAlerts = !observation.ok && immediate && !previous?.immediate;
    if (!force && previous && previous.ok === observation.ok && !nowAlerts) return;
    target.reported.set(observation.problem, { ok: observation.ok, summary: observation.summary, immediate });
    this.deps.sink.check(observation);
  }

  /** Records state only when it changed (or on the periodic look, to keep timestamps fresh). */
  private setState(target: Target, key: string, value: unknown, force: boolean, write: () => void): void {
    const text = JSON.stringify(value);
    if (!force && target.lastState.get(key) === text) return;
    target.lastState.set(key, text);
    write();
  }

  private async assessOnce(target: Target, force: boolean): Promise<void> {
    const cluster = target.cluster;
    // While the API is unreachable, what runs there is unknown, not bad.
    if (this.stopped || target.removed || !cluster.client || cluster.downSince !== undefined) return;

    const workload = target.workload;
    if (target.workloadListed && !target.workloadBlind && !workload && target.deleted) {
      // Deleted on purpose while we watched: what was failing is gone, not recovered and not missing.
      const summary = `${target.kind} ${target.name} deleted from ${target.namespace}`;
      for (const problem of [target.problem, 'rollout_stuck'] as const) {
        if (target.reported.get(problem)?.ok === false) this.report(target, { subject: target.subject, problem, ok: true, summary, ended: 'deleted' }, true);
      }
      return;
    }
    if (target.workloadListed && !target.workloadBlind) {
      if (!workload) {
        if (!target.elsewhereLooked) {
          target.elsewhere = await this.lookElsewhere(target);
          target.elsewhereLooked = true;
          if (this.stopped || target.removed || target.workload) return this.schedule(target);
        }
        const summary = describeMissing(target.kind, target.namespace, target.name, target.elsewhere ?? undefined);
        const fields: Array<[string, string]> = [['Expected in', `${target.namespace} (cluster ${cluster.name})`]];
        if (target.elsewhere?.length) fields.push(['Found in', target.elsewhere.join(', ')]);
        this.report(target, { subject: target.subject, problem: 'workload_missing', ok: false, summary, detail: { fields, ...(target.elsewhere ? { elsewhere: target.elsewhere } : {}) } }, force);
        return;
      }
      target.elsewhereLooked = false;
      target.elsewhere = undefined;
      this.report(target, { subject: target.subject, problem: 'workload_missing', ok: true, summary: `${target.kind} ${target.name} found in ${target.namespace}` }, force);
    }

    const crashed = target.podsListed && !target.podsBlind && (workload || target.fixedSelector) ? this.judgePods(target, force) : undefined;
    // After the pods, so an incident opens as "pods failing" and a stuck rollout joins it.
    if (workload) this.judgeRollout(target, workload, force);

    // The alert went out with what the status says; the crash log (a request that may take up to its
    // timeout) follows as an edit of the root, so it never delays the alert.
    if (crashed) {
      const lines = await this.crashLog(target, crashed);
      if (this.stopped || target.removed || target.cluster.downSince !== undefined) return;
      rememberCrashLog(target.logs, crashed.pod, crashed.container, crashed.restarts, lines);
      if (lines.length > 0) this.judgePods(target, true);
    }
  }

  /** Judges the subject's pods; returns the crashed container whose log is still to be read, if any. */
  private judgePods(target: Target, force: boolean): PodFinding | undefined {
    const opts = { ...(target.container !== undefined ? { container: target.container } : {}), now: this.now(), pendingTooLongMs: this.pendingTooLongMs, logs: target.logs, pullMessages: target.pullMessages, ...(target.focusPod ? { focusPod: target.focusPod } : {}) };
    const pods = assessPods(target.pods.values(), opts);
    const focus = pods.focus;
    target.focusPod = focus?.pod;
    if (pods.settled) {
      // The listed event states (CrashLoopBackOff, pull and create errors, evictions…) already
      // carry the kubelet's retries: they alert on the watch event that shows them.
      this.report(target, { subject: target.subject, problem: target.problem, ok: pods.ok, summary: pods.summary, detail: pods.detail, ...(pods.immediate ? { immediate: true } : {}) }, force);
    }
    this.setState(target, 'running', pods.running, force, () => this.deps.sink.running(target.subject, pods.running));
    clearTimeout(target.graceTimer);
    if (pods.recheckAt !== undefined) {
      target.graceTimer = setTimeout(() => this.schedule(target), Math.max(0, pods.recheckAt - this.now()) + 50);
      target.graceTimer.unref?.();
    }
    const wantsLog = focus?.crashed && (focus.reason === 'CrashLoopBackOff' || focus.reason === 'OOMKilled' || focus.reason === INIT_FAILED);
    return wantsLog && !target.logs.has(crashLogKey(focus.pod, focus.container, focus.restarts)) ? focus : undefined;
  }

  /** The workload's template (images, labels, pin) under `'spec'`, and its links to its images: once per change. */
  private recordSpec(target: Target, workload: WatchedWorkload): void {
    const template = workload.spec?.template;
    const containers = templateContainers(workload);
    const pinnedFrom = workload.metadata?.annotations?.[PIN_ANNOTATIONS.from];
    const spec = { containers, labels: template?.metadata?.labels ?? {}, annotations: template?.metadata?.annotations ?? {}, ...(pinnedFrom ? { pinnedFrom } : {}) };
    this.setState(target, 'spec', spec, false, () => {
      this.deps.sink.state(target.subject, 'spec', spec);
      this.deps.sink.links(target.subject, 'spec', [...new Set(containers.map((c) => subjectOf.image(c.image)))]);
    });
  }

  private judgeRollout(target: Target, workload: WatchedWorkload, force: boolean): void {
    const { sink } = this.deps;
    this.recordSpec(target, workload);
    const { state, phase } = rolloutOf(workload, target.kind);
    this.setState(target, 'rollout', state, false, () => sink.state(target.subject, 'rollout', state));
    const { memory, edges } = rolloutEdges(target.rollout, workload, target.subject, this.now(), target.kind);
    target.rollout = memory;
    // The stuck check goes before the notices, so a failed-rollout notice lands in its incident's thread.
    const stuck = phase === 'failed';
    this.report(
      target,
      {
        subject: target.subject,
        problem: 'rollout_stuck',
        ok: !stuck,
        // ProgressDeadlineExceeded already waited out the workload's own deadline.
        ...(stuck ? { immediate: true } : {}),
        summary: stuck ? `${state.progressing}${state.message ? `: ${state.message}` : ''} (${state.updated}/${state.desired} updated)` : `rollout ${phase}`,
        ...(stuck ? { detail: { fields: [['Rollout', `generation ${state.generation}: ${state.updated}/${state.desired} updated, ${state.ready} Ready, ${state.available} available`]] } } : {}),
      },
      force,
    );
    for (const edge of edges) {
      if (this.stopped) return;
      const notice: NoticeObservation = { subject: target.subject, kind: edge.kind, summary: edge.summary, ...(edge.lines.length ? { lines: edge.lines } : {}), data: edge.data };
      sink.notice(notice);
    }
  }

  /** Where else a missing workload is, if we may list other namespaces; undefined when we may not. */
  private async lookElsewhere(target: Target): Promise<string[] | undefined> {
    try {
      const found = await target.cluster.client!.findWorkloadElsewhere(target.kind, target.name);
      return found.map((w) => w.metadata?.namespace ?? '').filter((ns) => ns && ns !== target.namespace).sort();
    } catch (error) {
      const kind = error instanceof KubeError ? error.kind : 'unknown';
      if (kind !== 'forbidden') this.deps.log.debug({ err: (error as Error).message, subject: target.subject }, 'kube: could not look for the workload elsewhere');
      return undefined;
    }
  }

  /** The crashed container's last log lines (previous=true), redacted; empty when they can't be read. */
  private async crashLog(target: Target, focus: PodFinding): Promise<string[]> {
    try {
      const text = await target.cluster.client!.podLogs(target.namespace, focus.pod, focus.container, { previous: focus.logFrom !== 'current', tailLines: 20 });
      return lastLogLines(typeof text === 'string' ? text : String(text ?? ''), 8);
    } catch (error) {
      this.deps.log.debug({ err: (error as Error).message, subject: target.subject, pod: focus.pod }, 'kube: could not read the crashed container log');
      return [];
    }
  }
}
