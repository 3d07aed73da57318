/**
 * The Kubernetes watcher: what really runs on each configured cluster. It watches the workers'
 * Deployments and pods (`cub worker install` layout: label `app=<worker>`) and each configured
 * workload with its pods, and reports per subject: pods failing (with the crash log and the digest
 * they run), the workload missing (and where it landed instead), rollouts (started, finished,
 * stuck), and the cluster's API being unreachable. The decisions are pure functions below; the
 * class only keeps watches alive, coalesces bursts and remembers what it already said.
 */
import type { Config } from '../config.js';
import { workloadSubject } from '../config.js';
import { PIN_ANNOTATIONS, classifyKubeError, selectorString, KubeError, type KubeCluster, type KubeErrorKind, type WatchHandle, type WatchState, type WatchedObject, type WorkloadKind } from '../clients/kube.js';
import { digestOfImageId, shortDigest } from '../domain/image-ref.js';
import { formatDuration } from '../domain/duration.js';
import type { RunningContainer } from '../incidents/engine.js';
import { describeSubject, subjectOf } from '../domain/subjects.js';
import type { CheckObservation, NoticeObservation, ProblemDetail, ProblemKind } from '../domain/model.js';
import { redact, type Logger } from '../log.js';
import type { ObservationSink, Watcher } from './types.js';

type Json = any;

/* ------------------------------------------------------------------------------------------ */
/* Pods: pure assessment                                                                      */

export interface PodAssessOptions {
  /** Only this container counts (a worker's `container`; the first one when no container has that name). Undefined: every container. */
  container?: string;
  now: number;
  /** A pod still starting after this long is a problem (Pending too long, running but never Ready). */
  pendingTooLongMs: number;
  /** Last lines of crashed containers, by `crashLogKey`. */
  logs?: ReadonlyMap<string, string[]>;
  /** The last informative pull error per `pod/container`: ImagePullBackOff itself only says "Back-off pulling image". */
  pullMessages?: ReadonlyMap<string, string>;
  /** Keep describing this pod while it still fails, so the summary doesn't hop between pods. */
  focusPod?: string;
}

export type PodVerdict = 'ready' | 'starting' | 'bad';

export interface PodFinding {
  pod: string;
  container: string;
  verdict: PodVerdict;
  /** CrashLoopBackOff, OOMKilled, ImagePullBackOff, ErrImagePull, CreateContainerConfigError, Pending, NotReady, Ready, Starting… */
  reason: string;
  summary: string;
  /** The image as the pod spec writes it. */
  image: string;
  /** The digest it really runs (from containerStatuses[].imageID). */
  digest?: string;
  ready: boolean;
  restarts: number;
  /** "code 1: Error" */
  lastExit?: string;
  /** The kubelet's or scheduler's own words. */
  message?: string;
  /** The container terminated before: its previous log explains why. */
  crashed: boolean;
  /** A starting pod becomes a problem at this time if nothing changes. */
  badAt?: number;
}

export interface PodsAssessment {
  ok: boolean;
  /** False while pods are still starting within their grace period: neither good nor bad yet. */
  settled: boolean;
  summary: string;
  detail: ProblemDetail;
  /** The failing pod the summary describes. */
  focus?: PodFinding;
  /** One finding per live pod (the worst of its containers). */
  findings: PodFinding[];
  /** Every counted container as it runs, for last-good digests. */
  running: RunningContainer[];
  /** Look again at this time if nothing changes (a starting pod's grace ends). */
  recheckAt?: number;
}

const PULL_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'ErrImageNeverPull', 'InvalidImageName', 'RegistryUnavailable', 'ImageInspectError']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'PreStartHookError', 'PostStartHookError', 'ContainerCannotRun']);
/** Which failing pod a summary describes first: what a responder can act on soonest. */
const REASON_RANK = ['CreateContainerConfigError', 'ErrImagePull', 'ImagePullBackOff', 'OOMKilled', 'CrashLoopBackOff', 'Pending', 'NotReady'];
const rank = (reason: string) => {
  const byPull = PULL_REASONS.has(reason) ? REASON_RANK.indexOf('ImagePullBackOff') : CONFIG_REASONS.has(reason) ? 0 : REASON_RANK.indexOf(reason);
  return byPull < 0 ? REASON_RANK.length : byPull;
};

/** The key under which a crashed container's previous log is cached: a new crash, a new key. */
export const crashLogKey = (pod: string, container: string, restarts: number) => `${pod}/${container}#${restarts}`;


/** An image as written without its tag or digest: `traderx/reference-data:v1` → `traderx/reference-data`. */
export function imageName(image: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

const oneLine = (text: string, max = 300) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** The gist of a pull error: `pull access denied for traderx/reference-data`, `… not found`, `unauthorized`. */
export function pullReason(message: string | undefined, image: string): string {
  const text = message ?? '';
  if (/pull access denied|repository does not exist|may require (authorization|'docker login')/i.test(text)) return `pull access denied for ${imageName(image)}`;
  if (/manifest unknown|not found/i.test(text)) return `${image} not found in the registry`;
  if (/unauthorized|authentication required|\b401\b/i.test(text)) return `registry refused our credentials for ${imageName(image)}`;
  if (/toomanyrequests|rate limit|\b429\b/i.test(text)) return `registry rate limit pulling ${imageName(image)}`;
  if (/no such host|i\/o timeout|connection refused|dial tcp/i.test(text)) return `registry unreachable pulling ${imageName(image)}`;
  if (/invalid reference format|InvalidImageName/i.test(text)) return `invalid image name ${image}`;
  return text ? oneLine(redact(text), 160) : `cannot pull ${image}`;
}

/** A pull message worth remembering (not the generic back-off line). */
export function isInformativePullMessage(message: string | undefined): message is string {
  return Boolean(message) && !/^Back-off pulling image/i.test(message!);
}

function describeExit(terminated: Json): string | undefined {
  if (!terminated || typeof terminated !== 'object') return undefined;
  const code = terminated.exitCode ?? (terminated.signal !== undefined ? `signal ${terminated.signal}` : '?');
  const why = typeof terminated.message === 'string' && terminated.message.trim() ? oneLine(redact(terminated.message), 200) : terminated.reason;
  return `code ${code}${why ? `: ${why}` : ''}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

interface ContainerView {
  name: string;
  image: string;
  status?: Json;
}

function containersOf(pod: WatchedObject, only: string | undefined): ContainerView[] {
  const specs: Json[] = pod.spec?.containers ?? [];
  const statuses: Json[] = pod.status?.containerStatuses ?? [];
  let chosen = specs;
  if (only !== undefined) {
    const named = specs.filter((c) => c.name === only);
    chosen = named.length > 0 ? named : specs.slice(0, 1);
  }
  return chosen.map((c) => ({ name: String(c.name), image: String(c.image ?? ''), status: statuses.find((s) => s.name === c.name) }));
}

/** Why a pod is not scheduled, from its PodScheduled condition: the FailedScheduling message. */
function schedulingProblem(pod: WatchedObject): string | undefined {
  const cond = (pod.status?.conditions ?? []).find((c: Json) => c.type === 'PodScheduled');
  if (!cond || cond.status !== 'False') return undefined;
  return oneLine(`${cond.reason === 'Unschedulable' ? 'FailedScheduling' : cond.reason ?? 'FailedScheduling'}: ${cond.message ?? ''}`.replace(/: $/, ''), 200);
}

function assessContainer(pod: WatchedObject, c: ContainerView, opts: PodAssessOptions): PodFinding {
  const s = c.status;
  const restarts: number = s?.restartCount ?? 0;
  const waiting = s?.state?.waiting;
  const running = s?.state?.running;
  const terminated = s?.state?.terminated;
  const last = s?.lastState?.terminated;
  const runningDigest = digestOfImageId(s?.imageID);
  const lastExit = describeExit(terminated ?? last);
  const base = {
    pod: pod.metadata.name,
    container: c.name,
    image: c.image,
    ...(runningDigest ? { digest: runningDigest } : {}),
    ready: s?.ready === true,
    restarts,
    ...(lastExit ? { lastExit } : {}),
    crashed: Boolean(terminated || last),
  };
  const bad = (reason: string, summary: string, message?: string): PodFinding => ({ ...base, verdict: 'bad', reason, summary, ...(message ? { message } : {}) });
  const starting = (badAt: number, reason = 'Starting'): PodFinding => ({ ...base, verdict: 'starting', reason, summary: reason, badAt });

  if (s?.ready === true) return { ...base, verdict: 'ready', reason: 'Ready', summary: 'Ready' };
  const waitingReason: string | undefined = waiting?.reason;
  if (waitingReason && PULL_REASONS.has(waitingReason)) {
    const remembered = opts.pullMessages?.get(`${pod.metadata.name}/${c.name}`);
    const message = isInformativePullMessage(waiting.message) ? waiting.message : remembered ?? waiting.message;
    return bad(waitingReason, `${waitingReason}: ${pullReason(message, c.image)}`, message ? oneLine(redact(message)) : undefined);
  }
  if (waitingReason && CONFIG_REASONS.has(waitingReason)) {
    const message = waiting.message ? oneLine(redact(String(waiting.message)), 200) : undefined;
    return bad(waitingReason, message ? `${waitingReason}: ${message}` : waitingReason, message);
  }
  const oom = terminated?.reason === 'OOMKilled' || (waitingReason === 'CrashLoopBackOff' && last?.reason === 'OOMKilled');
  const lastFinished = Date.parse(last?.finishedAt ?? '');
  // Between two crashes a container runs briefly (not Ready): still the same crash loop.
  const justCrashed = restarts > 0 && last && last.exitCode !== 0 && Number.isFinite(lastFinished) && opts.now - lastFinished < opts.pendingTooLongMs;
  if (waitingReason === 'CrashLoopBackOff' || (terminated && terminated.exitCode !== 0) || (running && justCrashed)) {
    const reason = oom || (!waitingReason && last?.reason === 'OOMKilled') ? 'OOMKilled' : 'CrashLoopBackOff';
    return bad(reason, `${reason}, ${plural(restarts, 'restart')}`, waiting?.message ? oneLine(redact(String(waiting.message)), 200) : undefined);
  }
  const grace = opts.pendingTooLongMs;
  if (running) {
    const since = Date.parse(running.startedAt ?? '') || Date.parse(pod.metadata.creationTimestamp ?? '') || opts.now;
    if (opts.now - since >= grace) {
      const cond = (pod.status?.conditions ?? []).find((x: Json) => x.type === 'Ready');
      return bad('NotReady', `running but never Ready after ${formatDuration(grace)}`, cond?.message ? oneLine(String(cond.message), 200) : undefined);
    }
    return starting(since + grace);
  }
  const created = Date.parse(pod.metadata.creationTimestamp ?? '') || opts.now;
  if (opts.now - created >= grace) {
    const why = schedulingProblem(pod) ?? (waitingReason ? `${waitingReason}${waiting.message ? ` (${oneLine(String(waiting.message), 160)})` : ''}` : undefined);
    return bad('Pending', `Pending for more than ${formatDuration(grace)}${why ? `: ${why}` : ''}`, why);
  }
  return starting(created + grace, waitingReason ?? 'Pending');
}

/** One pod's state: the worst of its counted containers (and any init container stuck in a failure). */
export function assessPod(pod: WatchedObject, opts: PodAssessOptions): { finding: PodFinding; containers: PodFinding[] } | undefined {
  const meta = pod.metadata as WatchedObject['metadata'] & { deletionTimestamp?: string };
  // Terminating and finished pods (evicted, completed) are not what the workload runs.
  if (meta.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return undefined;
  const containers = containersOf(pod, opts.container).map((c) => assessContainer(pod, c, opts));
  for (const init of (pod.status?.initContainerStatuses ?? []) as Json[]) {
    const reason = init?.state?.waiting?.reason;
    if (reason && (reason === 'CrashLoopBackOff' || PULL_REASONS.has(reason) || CONFIG_REASONS.has(reason))) {
      const spec = (pod.spec?.initContainers ?? []).find((c: Json) => c.name === init.name);
      const found = assessContainer(pod, { name: String(init.name), image: String(spec?.image ?? init.image ?? ''), status: init }, opts);
      containers.push({ ...found, summary: `init container ${init.name}: ${found.summary}` });
    }
  }
  if (containers.length === 0) {
    const created = Date.parse(pod.metadata.creationTimestamp ?? '') || opts.now;
    const finding: PodFinding = { pod: pod.metadata.name, container: '', image: '', ready: false, restarts: 0, crashed: false, verdict: 'starting', reason: 'Pending', summary: 'Pending', badAt: created + opts.pendingTooLongMs };
    return { finding, containers: [] };
  }
  const order: Record<PodVerdict, number> = { bad: 0, starting: 1, ready: 2 };
  const worst = [...containers].sort((a, b) => order[a.verdict] - order[b.verdict] || rank(a.reason) - rank(b.reason))[0]!;
  return { finding: worst, containers };
}

/**
 * The pods of one subject, judged together: ok when every live pod is Ready; bad as soon as one
 * pod fails (the summary describes one failing pod, the fields say how many); unsettled while pods
 * are only starting.
 */
export function assessPods(pods: Iterable<WatchedObject>, opts: PodAssessOptions): PodsAssessment {
  const findings: PodFinding[] = [];
  const running: RunningContainer[] = [];
  for (const pod of pods) {
    const assessed = assessPod(pod, opts);
    if (!assessed) continue;
    findings.push(assessed.finding);
    for (const c of assessed.containers) {
      if (!c.container) continue;
      running.push({ pod: c.pod, container: c.container, image: c.image, ...(c.digest ? { digest: c.digest } : {}), ready: c.ready });
    }
  }
  findings.sort((a, b) => a.pod.localeCompare(b.pod));
  running.sort((a, b) => a.pod.localeCompare(b.pod) || a.container.localeCompare(b.container));
  const total = findings.length;
  const bad = findings.filter((f) => f.verdict === 'bad');
  const startingPods = findings.filter((f) => f.verdict === 'starting');
  const readyCount = findings.filter((f) => f.verdict === 'ready').length;
  if (bad.length > 0) {
    const focus =
      bad.find((f) => f.pod === opts.focusPod) ?? [...bad].sort((a, b) => rank(a.reason) - rank(b.reason) || a.pod.localeCompare(b.pod))[0]!;
    const fields: Array<[string, string]> = [['Image', focus.image]];
    if (focus.digest) fields.push(['Runs', shortDigest(focus.digest)]);
    if (PULL_REASONS.has(focus.reason) && focus.message) fields.push(['Reason', focus.message]);
    else if (focus.lastExit && (focus.reason === 'CrashLoopBackOff' || focus.reason === 'OOMKilled')) fields.push(['Last exit', focus.lastExit]);
    else if (focus.message && focus.reason !== 'CrashLoopBackOff') fields.push(['Reason', focus.message]);
    fields.push(['Pods', `${bad.length} of ${total} failing${readyCount ? `, ${readyCount} Ready` : ''}`]);
    const quote = focus.crashed ? opts.logs?.get(crashLogKey(focus.pod, focus.container, focus.restarts)) : undefined;
    const detail: ProblemDetail = {
      fields,
      ...(quote && quote.length > 0 ? { quote } : {}),
      pod: focus.pod,
      container: focus.container,
      reason: focus.reason,
      restarts: focus.restarts,
      ...(focus.digest ? { digest: focus.digest } : {}),
    };
    return { ok: false, settled: true, summary: focus.summary, detail, focus, findings, running, ...recheck(startingPods) };
  }
  if (startingPods.length > 0) {
    return { ok: false, settled: false, summary: `${readyCount} of ${total} pods Ready, ${startingPods.length} starting`, detail: {}, findings, running, ...recheck(startingPods) };
  }
  // What runs now, so a resolved root shows the recovered digest rather than the crashing one.
  const now = findings.find((f) => f.digest) ?? findings[0];
  const fields: Array<[string, string]> = now ? [['Image', now.image], ...(now.digest ? [['Runs', shortDigest(now.digest)] as [string, string]] : []), ['Pods', `${readyCount} of ${total} Ready`]] : [];
  return { ok: true, settled: true, summary: total === 0 ? 'no pods' : `${plural(total, 'pod')} Ready`, detail: fields.length ? { fields } : {}, findings, running };
}

function recheck(starting: PodFinding[]): { recheckAt?: number } {
  const times = starting.map((f) => f.badAt).filter((t): t is number => typeof t === 'number');
  return times.length > 0 ? { recheckAt: Math.min(...times) } : {};
}

/** The last `max` non-empty lines of a log, each through `redact()`. */
export function lastLogLines(text: string, max = 8): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''))
    .filter((line) => line.trim() !== '')
    .slice(-max)
    .map((line) => redact(line.length > 400 ? `${line.slice(0, 399)}…` : line));
}

/* ------------------------------------------------------------------------------------------ */
/* Workloads and rollouts: pure                                                               */

export interface RolloutState {
  desired: number;
  updated: number;
  ready: number;
  available: number;
  /** All pods, old revisions included. */
  total: number;
  generation: number;
  observedGeneration: number;
  /** The Progressing condition's reason (Deployments). */
  progressing?: string;
  message?: string;
}

export type RolloutPhase = 'complete' | 'progressing' | 'failed';

/** Where a workload's rollout stands, from its status as the controller wrote it. */
export function rolloutOf(workload: WatchedObject): { state: RolloutState; phase: RolloutPhase } {
  const spec = workload.spec ?? {};
  const status = workload.status ?? {};
  const generation = Number(workload.metadata.generation ?? 1);
  const observedGeneration = Number(status.observedGeneration ?? 0);
  let state: RolloutState;
  let settledRevision = true;
  if (workload.kind === 'DaemonSet') {
    state = {
      desired: status.desiredNumberScheduled ?? 0,
      updated: status.updatedNumberScheduled ?? 0,
      ready: status.numberReady ?? 0,
      available: status.numberAvailable ?? 0,
      total: status.currentNumberScheduled ?? 0,
      generation,
      observedGeneration,
    };
  } else {
    state = {
      desired: spec.replicas ?? 1,
      updated: status.updatedReplicas ?? 0,
      ready: status.readyReplicas ?? 0,
      available: status.availableReplicas ?? status.readyReplicas ?? 0,
      total: status.replicas ?? 0,
      generation,
      observedGeneration,
    };
    if (workload.kind === 'StatefulSet' && status.updateRevision) settledRevision = status.currentRevision === status.updateRevision;
  }
  const progressing = (status.conditions ?? []).find((c: Json) => c.type === 'Progressing');
  if (progressing?.reason) state.progressing = String(progressing.reason);
  if (progressing?.message) state.message = String(progressing.message);
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { state, phase: 'failed' };
  const complete =
    observedGeneration >= generation &&
    state.updated >= state.desired &&
    state.ready >= state.desired &&
    state.available >= state.desired &&
    state.total <= state.updated &&
    settledRevision;
  return { state, phase: complete ? 'complete' : 'progressing' };
}

/** The containers of a workload's pod template, as written. */
export function templateContainers(workload: WatchedObject): Array<{ name: string; image: string; imagePullPolicy?: string }> {
  return ((workload.spec?.template?.spec?.containers ?? []) as Json[]).map((c) => ({
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
export function rolloutEdges(
  previous: RolloutMemory | undefined,
  workload: WatchedObject,
  subject: string,
  now: number,
): { memory: RolloutMemory; edges: RolloutEdge[] } {
  const { state, phase } = rolloutOf(workload);
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
    edges.push({ kind: 'rollout_finished', summary: `Rollout finished: ${who} — ${counts}${took}`, lines: [], data: { ...state } });
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

/** `Deployment reference-data not found in traderx; found in default`. */
export function describeMissing(kind: WorkloadKind, namespace: string, name: string, elsewhere: string[] | undefined): string {
  const head = `${kind} ${name} not found in ${namespace}`;
  if (elsewhere === undefined) return head;
  if (elsewhere.length === 0) return `${head} (nor in any other namespace)`;
  return `${head}; found in ${elsewhere.join(', ')}`;
}

const DOWN_KINDS = new Set<KubeErrorKind>(['unreachable', 'unauthorized', 'forbidden']);

/** The apiserver's or the network's own words, without our "cluster x: … doing …:" prefix. */
export function errorReason(error: KubeError | undefined): string {
  if (!error) return 'no answer';
  if (error.cause !== undefined) return classifyKubeError(error.cause).detail;
  return error.message.replace(/^cluster [^:]+: /, '');
}

/** `cluster prod: API unreachable for 1m 5s: connect ECONNREFUSED 10.0.0.1:6443`. */
export function describeUnreachable(cluster: string, forMs: number, error: KubeError | undefined): string {
  const reason = errorReason(error);
  const duration = formatDuration(forMs);
  if (error?.kind === 'unauthorized') return `cluster ${cluster}: API rejects our credentials (401) for ${duration}: ${reason}`;
  if (error?.kind === 'forbidden') return `cluster ${cluster}: API forbids every watch (403) for ${duration}: ${reason}`;
  return `cluster ${cluster}: API unreachable for ${duration}: ${reason}`;
}

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

interface WatchEntry {
  cluster: ClusterWatch;
  handle?: WatchHandle;
  state?: WatchState;
  /** The last failure, kept until the watch is open again. */
  failure?: KubeError;
  restartsSeen: number;
}

interface ClusterWatch {
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
}

interface Target {
  subject: string;
  problem: Extract<ProblemKind, 'worker_pods_failing' | 'workload_failing'>;
  cluster: ClusterWatch;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  container?: string;
  /** Workers: `app=<worker>`; workloads take theirs from the workload's selector. */
  fixedSelector?: string;
  workload?: WatchedObject;
  workloadListed: boolean;
  workloadBlind?: string;
  workloadWatch?: WatchEntry;
  pods: Map<string, WatchedObject>;
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
  reported: Map<string, { ok: boolean; summary: string }>;
  lastState: Map<string, string>;
  timer?: NodeJS.Timeout;
  graceTimer?: NodeJS.Timeout;
  assessing: boolean;
  again: boolean;
  forceNext: boolean;
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
      this.addTarget({ subject: workloadSubject(workload), problem: 'workload_failing', cluster: clusterOf(workload.cluster), namespace: workload.namespace, kind: workload.kind, name: workload.name });
    }
  }

  private addTarget(base: Pick<Target, 'subject' | 'problem' | 'cluster' | 'namespace' | 'kind' | 'name' | 'container' | 'fixedSelector'>): void {
    const target: Target = {
      ...base,
      workloadListed: false,
      pods: new Map(),
      podsListed: false,
      logs: new Map(),
      pullMessages: new Map(),
      elsewhereLooked: false,
      reported: new Map(),
      lastState: new Map(),
      assessing: false,
      again: false,
      forceNext: false,
    };
    this.targets.push(target);
    base.cluster.targets.push(target);
  }

  start(): void {
    this.stopped = false;
    for (const cluster of this.clusters.values()) {
      if (cluster.targets.length === 0) continue;
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
    }
    this.ticker = setInterval(() => this.tick(), this.recheckEveryMs);
    this.ticker.unref?.();
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
      if (cluster.targets.length === 0) continue;
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
    return { ok: true, detail: `watching (${open} of ${entries.length} watches open)${blind.length ? `; cannot see ${blind.join('; ')}` : ''}` };
  }

  /* ---------------- watches ---------------- */

  private watch(cluster: ClusterWatch, path: string, labelSelector: string | undefined, fieldSelector: string | undefined, onEvent: (type: string, obj: WatchedObject) => void, onState: (entry: WatchEntry, state: WatchState, error?: KubeError) => void): WatchEntry {
    const entry: WatchEntry = { cluster, restartsSeen: 0 };
    cluster.watches.add(entry);
    entry.handle = cluster.client!.watchResource(
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
    target.workloadWatch = this.watch(
      target.cluster,
      path,
      undefined,
      `metadata.name=${target.name}`,
      (type, obj) => {
        if (obj.metadata.name !== target.name) return;
        if (type === 'DELETED') target.workload = undefined;
        else {
          target.workload = obj;
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
    target.podWatch = this.watch(
      target.cluster,
      `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods`,
      selector,
      undefined,
      (type, pod) => {
        const name = pod.metadata.name;
        if (type === 'DELETED') {
          target.pods.delete(name);
          for (const key of [...target.logs.keys()]) if (key.startsWith(`${name}/`)) target.logs.delete(key);
          for (const key of [...target.pullMessages.keys()]) if (key.startsWith(`${name}/`)) target.pullMessages.delete(key);
        } else {
          target.pods.set(name, pod);
          for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])] as Json[]) {
            const waiting = s?.state?.waiting;
            if (waiting && PULL_REASONS.has(waiting.reason) && isInformativePullMessage(waiting.message)) target.pullMessages.set(`${name}/${s.name}`, waiting.message);
          }
        }
        this.schedule(target);
      },
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
      if (cluster.setupError || cluster.targets.length === 0) continue;
      if (cluster.downSince !== undefined) this.reportDown(cluster);
      else if ([...cluster.watches].some((e) => e.state === 'watching')) {
        this.deps.sink.check({ subject: cluster.subject, problem: 'cluster_unreachable', ok: true, summary: `cluster ${cluster.name}: API answers` });
      }
    }
    for (const target of this.targets) this.schedule(target, true);
  }

  /* ---------------- judging a subject ---------------- */

  /** Coalesces a burst of events into one look, `settleMs` after the first. */
  private schedule(target: Target, force = false): void {
    if (this.stopped) return;
    if (force) target.forceNext = true;
    if (target.timer) return;
    target.timer = setTimeout(() => {
      target.timer = undefined;
      void this.assess(target);
    }, force ? 0 : this.settleMs);
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
   * Reports a check when its verdict changed, or on the periodic look (`force`). A summary that
   * changes without the verdict (a restart count going up) waits for the periodic look, so a
   * crash-looping fleet updates its incident at most once per `recheckEveryMs`.
   */
  private report(target: Target, observation: CheckObservation, force: boolean): void {
    if (this.stopped) return;
    const previous = target.reported.get(observation.problem);
    if (!force && previous && previous.ok === observation.ok) return;
    target.reported.set(observation.problem, { ok: observation.ok, summary: observation.summary });
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
    const { sink } = this.deps;
    const cluster = target.cluster;
    // While the API is unreachable, what runs there is unknown, not bad.
    if (this.stopped || !cluster.client || cluster.downSince !== undefined) return;

    const workload = target.workload;
    if (target.workloadListed && !target.workloadBlind) {
      if (!workload) {
        if (!target.elsewhereLooked) {
          target.elsewhere = await this.lookElsewhere(target);
          target.elsewhereLooked = true;
          if (this.stopped || target.workload) return this.schedule(target);
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

    if (target.podsListed && !target.podsBlind && (workload || target.fixedSelector)) {
      const opts = { ...(target.container !== undefined ? { container: target.container } : {}), now: this.now(), pendingTooLongMs: this.pendingTooLongMs, logs: target.logs, pullMessages: target.pullMessages, ...(target.focusPod ? { focusPod: target.focusPod } : {}) };
      let pods = assessPods(target.pods.values(), opts);
      const focus = pods.focus;
      if (focus?.crashed && (focus.reason === 'CrashLoopBackOff' || focus.reason === 'OOMKilled')) {
        const key = crashLogKey(focus.pod, focus.container, focus.restarts);
        if (!target.logs.has(key)) {
          target.logs.set(key, await this.crashLog(target, focus));
          if (this.stopped || target.cluster.downSince !== undefined) return;
          pods = assessPods(target.pods.values(), { ...opts, now: this.now() });
        }
      }
      target.focusPod = pods.focus?.pod;
      if (pods.settled) {
        this.report(target, { subject: target.subject, problem: target.problem, ok: pods.ok, summary: pods.summary, detail: pods.detail }, force);
      }
      this.setState(target, 'running', pods.running, force, () => sink.running(target.subject, pods.running));
      clearTimeout(target.graceTimer);
      if (pods.recheckAt !== undefined) {
        target.graceTimer = setTimeout(() => this.schedule(target), Math.max(0, pods.recheckAt - this.now()) + 50);
        target.graceTimer.unref?.();
      }
    }

    // After the pods, so an incident opens as "pods failing" and a stuck rollout joins it.
    if (workload) this.judgeRollout(target, workload, force);
  }

  private judgeRollout(target: Target, workload: WatchedObject, force: boolean): void {
    const { sink } = this.deps;
    const template = workload.spec?.template ?? {};
    const containers = templateContainers(workload);
    const pinnedFrom = workload.metadata?.annotations?.[PIN_ANNOTATIONS.from];
    const spec = { containers, labels: template.metadata?.labels ?? {}, annotations: template.metadata?.annotations ?? {}, ...(pinnedFrom ? { pinnedFrom } : {}) };
    this.setState(target, 'spec', spec, false, () => {
      sink.state(target.subject, 'spec', spec);
      sink.links(target.subject, 'spec', [...new Set(containers.map((c) => subjectOf.image(c.image)))]);
    });
    const { state, phase } = rolloutOf(workload);
    this.setState(target, 'rollout', state, false, () => sink.state(target.subject, 'rollout', state));
    const { memory, edges } = rolloutEdges(target.rollout, workload, target.subject, this.now());
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
      const text = await target.cluster.client!.podLogs(target.namespace, focus.pod, focus.container, { previous: true, tailLines: 20 });
      return lastLogLines(typeof text === 'string' ? text : String(text ?? ''), 8);
    } catch (error) {
      this.deps.log.debug({ err: (error as Error).message, subject: target.subject, pod: focus.pod }, 'kube: could not read the crashed container log');
      return [];
    }
  }
}
