/**
 * Pods, judged: one list of the reasons a container will not become Ready without someone acting,
 * and one assessment of a pod and of a subject's pods. The watcher reports it, the rollout
 * follower stops on it, `/rollout status` shows it. Pure: no I/O, time comes in as `now`.
 */
import type { V1ContainerStateTerminated, V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import type { Wire } from '../clients/kube.js';
import { digestOfImageId, shortDigest } from '../domain/image-ref.js';
import { formatDuration } from '../domain/duration.js';
import type { ProblemDetail } from '../domain/model.js';
import type { RunningContainer } from '../domain/model.js';
import { redact, redactAndClip } from '../domain/redact.js';
import { neutralizeMentions } from '../domain/untrusted.js';

/** A pod from a typed read (Date timestamps) or from a watch (string timestamps). */
export type PodLike = Wire<V1Pod>;
type ContainerStatus = Wire<V1ContainerStatus>;

/* ------------------------------------------------------------------------------------------ */
/* The one list of failure reasons                                                            */

/** The image cannot be pulled: the kubelet's waiting reasons. */
export const PULL_REASONS: ReadonlySet<string> = new Set(['ImagePullBackOff', 'ErrImagePull', 'ErrImageNeverPull', 'InvalidImageName', 'RegistryUnavailable', 'ImageInspectError']);
/** The container cannot be created or started as configured. */
export const CONFIG_REASONS: ReadonlySet<string> = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'PreStartHookError', 'PostStartHookError', 'ContainerCannotRun']);
/** Every waiting reason that means a container will not become Ready without someone acting. */
export const FAILURE_REASONS: ReadonlySet<string> = new Set(['CrashLoopBackOff', ...PULL_REASONS, ...CONFIG_REASONS]);

/** An init container that exited non-zero (`Init:Error`): the pod never gets to its app containers. */
export const INIT_FAILED = 'InitContainerFailed';
/** The kubelet evicted the pod (node pressure): phase Failed, reason Evicted. */
export const EVICTED = 'Evicted';

/** Which failing pod a summary describes first: what a responder can act on soonest. */
const REASON_RANK = ['CreateContainerConfigError', 'ErrImagePull', 'ImagePullBackOff', INIT_FAILED, 'OOMKilled', 'CrashLoopBackOff', EVICTED, 'Pending', 'NotReady'];
const rank = (reason: string) => {
  const byPull = PULL_REASONS.has(reason) ? REASON_RANK.indexOf('ImagePullBackOff') : CONFIG_REASONS.has(reason) ? 0 : REASON_RANK.indexOf(reason);
  return byPull < 0 ? REASON_RANK.length : byPull;
};

/* ------------------------------------------------------------------------------------------ */
/* Words                                                                                      */

/** The key under which a crashed container's previous log is cached: a new crash, a new key. */
export const crashLogKey = (pod: string, container: string, restarts: number) => `${pod}/${container}#${restarts}`;

/** An image as written without its tag or digest: `traderx/reference-data:v1` → `traderx/reference-data`. */
export function imageName(image: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/**
 * Every text a pod carries (kubelet, scheduler and container messages) is untrusted: redacted
 * before the cut, so a cut cannot leave a token's head, and unable to mention anyone wherever it
 * is shown — a command's thread reply as much as a watcher's notice.
 */
const oneLine = (text: string, max = 300) => neutralizeMentions(redactAndClip(text.replace(/\s+/g, ' ').trim(), max));

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Milliseconds since the epoch of a timestamp as a typed read (Date) or a watch (string) gives it; NaN when missing. */
const timeOf = (value: Date | string | undefined): number => (value instanceof Date ? value.getTime() : Date.parse(value ?? ''));

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

/** The informative pull errors a pod shows now, by `pod/container`: ImagePullBackOff later only says "Back-off pulling image". */
export function pullMessagesOf(pod: PodLike): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const status of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && PULL_REASONS.has(waiting.reason) && isInformativePullMessage(waiting.message)) out.push([`${pod.metadata?.name ?? ''}/${status.name}`, waiting.message]);
  }
  return out;
}

/** The last `max` non-empty lines of a log, each through `redact()`. */
export function lastLogLines(text: string, max = 8): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''))
    .filter((line) => line.trim() !== '')
    .slice(-max)
    .map((line) => redactAndClip(line, 400));
}

function describeExit(terminated: Wire<V1ContainerStateTerminated> | undefined): string | undefined {
  if (!terminated) return undefined;
  const code = terminated.exitCode ?? (terminated.signal !== undefined ? `signal ${terminated.signal}` : '?');
  const why = typeof terminated.message === 'string' && terminated.message.trim() ? oneLine(redact(terminated.message), 200) : terminated.reason;
  return `code ${code}${why ? `: ${why}` : ''}`;
}

/* ------------------------------------------------------------------------------------------ */
/* One pod                                                                                    */

/** How long a pod may stay Pending or not Ready before it is a problem, unless told otherwise (the watcher's default). */
export const PENDING_TOO_LONG_MS = 5 * 60_000;

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
  /**
   * The state already carries repetition — the kubelet retried and gave up for now
   * (CrashLoopBackOff, a pull or create error, a second crash, an init container that failed
   * again, an eviction) — so one look is enough to alert. False for states that need looking
   * again (a first crash, Pending too long, never Ready): those count `failuresBeforeAlert` looks.
   */
  repeated: boolean;
  /** Which log explains it: the crashed instance is `previous` while the container was restarted, the `current` one while it stays terminated. */
  logFrom?: 'previous' | 'current';
  /** A bad finding that stops counting at this time if nothing changes (an old eviction). */
  badUntil?: number;
}

interface ContainerView {
  name: string;
  image: string;
  status?: ContainerStatus;
}

const podName = (pod: PodLike) => pod.metadata?.name ?? '?';

function containersOf(pod: PodLike, only: string | undefined): ContainerView[] {
  const specs = pod.spec?.containers ?? [];
  const statuses = pod.status?.containerStatuses ?? [];
  let chosen = specs;
  if (only !== undefined) {
    const named = specs.filter((c) => c.name === only);
    chosen = named.length > 0 ? named : specs.slice(0, 1);
  }
  return chosen.map((c) => {
    const status = statuses.find((s) => s.name === c.name);
    return { name: String(c.name), image: String(c.image ?? ''), ...(status ? { status } : {}) };
  });
}

const conditionOf = (pod: PodLike, type: string): Wire<V1PodCondition> | undefined => (pod.status?.conditions ?? []).find((c) => c.type === type);

/** Why a pod is not scheduled, from its PodScheduled condition: the FailedScheduling message. */
function schedulingProblem(pod: PodLike): string | undefined {
  const cond = conditionOf(pod, 'PodScheduled');
  if (!cond || cond.status !== 'False') return undefined;
  return oneLine(`${cond.reason === 'Unschedulable' ? 'FailedScheduling' : cond.reason ?? 'FailedScheduling'}: ${cond.message ?? ''}`.replace(/: $/, ''), 200);
}

function assessContainer(pod: PodLike, c: ContainerView, opts: PodAssessOptions): PodFinding {
  const s = c.status;
  const restarts = s?.restartCount ?? 0;
  const waiting = s?.state?.waiting;
  const running = s?.state?.running;
  const terminated = s?.state?.terminated;
  const last = s?.lastState?.terminated;
  const runningDigest = digestOfImageId(s?.imageID);
  const lastExit = describeExit(terminated ?? last);
  const base = {
    pod: podName(pod),
    container: c.name,
    image: c.image,
    ...(runningDigest ? { digest: runningDigest } : {}),
    ready: s?.ready === true,
    restarts,
    ...(lastExit ? { lastExit } : {}),
    crashed: Boolean(terminated || last),
    repeated: false,
  };
  const bad = (reason: string, summary: string, message?: string, repeated = true): PodFinding => ({ ...base, verdict: 'bad', reason, summary, ...(message ? { message } : {}), repeated });
  const starting = (badAt: number, reason = 'Starting'): PodFinding => ({ ...base, verdict: 'starting', reason, summary: reason, badAt });

  if (s?.ready === true) return { ...base, verdict: 'ready', reason: 'Ready', summary: 'Ready' };
  const waitingReason = waiting?.reason;
  if (waitingReason && PULL_REASONS.has(waitingReason)) {
    const remembered = opts.pullMessages?.get(`${podName(pod)}/${c.name}`);
    const message = isInformativePullMessage(waiting?.message) ? waiting?.message : remembered ?? waiting?.message;
    return bad(waitingReason, `${waitingReason}: ${pullReason(message, c.image)}`, message ? oneLine(redact(message)) : undefined);
  }
  if (waitingReason && CONFIG_REASONS.has(waitingReason)) {
    const message = waiting?.message ? oneLine(redact(String(waiting.message)), 200) : undefined;
    return bad(waitingReason, message ? `${waitingReason}: ${message}` : waitingReason, message);
  }
  const oom = terminated?.reason === 'OOMKilled' || (waitingReason === 'CrashLoopBackOff' && last?.reason === 'OOMKilled');
  const lastFinished = timeOf(last?.finishedAt);
  // Between two crashes a container runs briefly (not Ready): still the same crash loop.
  const justCrashed = restarts > 0 && last && last.exitCode !== 0 && Number.isFinite(lastFinished) && opts.now - lastFinished < opts.pendingTooLongMs;
  if (waitingReason === 'CrashLoopBackOff' || (terminated && terminated.exitCode !== 0) || (running && justCrashed)) {
    const reason = oom || (!waitingReason && last?.reason === 'OOMKilled') ? 'OOMKilled' : 'CrashLoopBackOff';
    // CrashLoopBackOff, or a crash after an earlier restart, is a repeated failure; a first crash,
    // or a container running again after one, is not yet (it may stay up).
    const repeated = waitingReason === 'CrashLoopBackOff' || (Boolean(terminated) && restarts >= 1);
    return bad(reason, `${reason}, ${plural(restarts, 'restart')}`, waiting?.message ? oneLine(redact(String(waiting.message)), 200) : undefined, repeated);
  }
  const grace = opts.pendingTooLongMs;
  const created = timeOf(pod.metadata?.creationTimestamp);
  if (running) {
    const since = timeOf(running.startedAt) || created || opts.now;
    if (opts.now - since >= grace) {
      const cond = conditionOf(pod, 'Ready');
      return bad('NotReady', `running but never Ready after ${formatDuration(grace)}`, cond?.message ? oneLine(String(cond.message), 200) : undefined, false);
    }
    return starting(since + grace);
  }
  const createdAt = created || opts.now;
  if (opts.now - createdAt >= grace) {
    const why = schedulingProblem(pod) ?? (waitingReason ? `${waitingReason}${waiting?.message ? ` (${oneLine(String(waiting.message), 160)})` : ''}` : undefined);
    return bad('Pending', `Pending for more than ${formatDuration(grace)}${why ? `: ${why}` : ''}`, why, false);
  }
  return starting(createdAt + grace, waitingReason ?? 'Pending');
}

/** A native sidecar: an init container with `restartPolicy: Always` that keeps running beside the app. */
const isSidecar = (pod: PodLike, name: string) => (pod.spec?.initContainers ?? []).some((c) => c.name === name && c.restartPolicy === 'Always');

/** An init container that failed: stuck in a failure state, or terminated with a non-zero exit (`Init:Error`). */
function assessInitContainer(pod: PodLike, init: ContainerStatus, opts: PodAssessOptions): PodFinding | undefined {
  const spec = (pod.spec?.initContainers ?? []).find((c) => c.name === init.name);
  const view = { name: String(init.name), image: String(spec?.image ?? init.image ?? ''), status: init };
  const waitingReason = init.state?.waiting?.reason;
  if (waitingReason && FAILURE_REASONS.has(waitingReason)) {
    const found = assessContainer(pod, view, opts);
    return { ...found, summary: `init container ${init.name}: ${found.summary}` };
  }
  const terminated = init.state?.terminated;
  // A running sidecar, a running or finished (exit 0) init container: nothing wrong.
  if (!terminated || terminated.exitCode === 0 || isSidecar(pod, String(init.name))) return undefined;
  const restarts = init.restartCount ?? 0;
  const exit = describeExit(terminated)!;
  const runningDigest = digestOfImageId(init.imageID);
  return {
    pod: podName(pod),
    container: view.name,
    image: view.image,
    ...(runningDigest ? { digest: runningDigest } : {}),
    ready: false,
    restarts,
    lastExit: exit,
    crashed: true,
    // The kubelet retried it already (restarts), or the pod will not retry it at all (restartPolicy Never).
    repeated: restarts >= 1 || pod.spec?.restartPolicy === 'Never',
    logFrom: 'current',
    verdict: 'bad',
    reason: INIT_FAILED,
    summary: `init container ${init.name} failed: exit ${exit}${restarts ? `, ${plural(restarts, 'restart')}` : ''}`,
  };
}

/** When a pod was evicted: the latest transition it records; NaN when it records none. */
function evictedAt(pod: PodLike): number {
  const times = [
    ...(pod.status?.conditions ?? []).map((c) => timeOf(c.lastTransitionTime)),
    ...[...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].map((c) => timeOf(c.state?.terminated?.finishedAt)),
  ].filter((t) => Number.isFinite(t));
  return times.length ? Math.max(...times) : Number.NaN;
}

/**
 * An Evicted pod is a problem of its workload even when a replacement runs: for
 * `pendingTooLongMs` after the eviction (evicted pods stay listed until garbage-collected, so an
 * old eviction must stop counting); undefined once it is older than that.
 */
function assessEviction(pod: PodLike, opts: PodAssessOptions): PodFinding | undefined {
  const at = evictedAt(pod);
  const until = Number.isFinite(at) ? at + opts.pendingTooLongMs : undefined;
  if (until !== undefined && opts.now >= until) return undefined;
  const first = (pod.spec?.containers ?? [])[0];
  const message = typeof pod.status?.message === 'string' && pod.status.message.trim() ? oneLine(redact(pod.status.message), 200) : undefined;
  return {
    pod: podName(pod),
    container: '',
    image: String(first?.image ?? ''),
    ready: false,
    restarts: 0,
    crashed: false,
    repeated: true,
    verdict: 'bad',
    reason: EVICTED,
    summary: `Evicted${message ? `: ${message}` : ''}`,
    ...(message ? { message } : {}),
    ...(until !== undefined ? { badUntil: until } : {}),
  };
}

/** One pod's state: the worst of its counted containers (and any init container that failed). */
export function assessPod(pod: PodLike, opts: PodAssessOptions): { finding: PodFinding; containers: PodFinding[] } | undefined {
  // Terminating pods (a rollout replacing them) are not what the workload runs.
  if (pod.metadata?.deletionTimestamp) return undefined;
  if (pod.status?.phase === 'Failed' && pod.status.reason === EVICTED) {
    const evicted = assessEviction(pod, opts);
    return evicted ? { finding: evicted, containers: [] } : undefined;
  }
  // Finished pods (a completed Job, a pod that ran to its end) are not failing replicas.
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return undefined;
  const containers = containersOf(pod, opts.container).map((c) => assessContainer(pod, c, opts));
  for (const init of pod.status?.initContainerStatuses ?? []) {
    const found = assessInitContainer(pod, init, opts);
    if (found) containers.push(found);
  }
  if (containers.length === 0) {
    const created = timeOf(pod.metadata?.creationTimestamp) || opts.now;
    const finding: PodFinding = { pod: podName(pod), container: '', image: '', ready: false, restarts: 0, crashed: false, repeated: false, verdict: 'starting', reason: 'Pending', summary: 'Pending', badAt: created + opts.pendingTooLongMs };
    return { finding, containers: [] };
  }
  const order: Record<PodVerdict, number> = { bad: 0, starting: 1, ready: 2 };
  const worst = [...containers].sort((a, b) => order[a.verdict] - order[b.verdict] || rank(a.reason) - rank(b.reason))[0]!;
  return { finding: worst, containers };
}

/* ------------------------------------------------------------------------------------------ */
/* A subject's pods                                                                           */

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
  /** Look again at this time if nothing changes (a starting pod's grace ends, an eviction gets old). */
  recheckAt?: number;
  /** A failing pod's state already carries repetition (see `PodFinding.repeated`): alert on this look. */
  immediate: boolean;
}

/**
 * The pods of one subject, judged together: ok when every live pod is Ready; bad as soon as one
 * pod fails (the summary describes one failing pod, the fields say how many); unsettled while pods
 * are only starting.
 */
export function assessPods(pods: Iterable<PodLike>, opts: PodAssessOptions): PodsAssessment {
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
    const focus = bad.find((f) => f.pod === opts.focusPod) ?? [...bad].sort((a, b) => rank(a.reason) - rank(b.reason) || a.pod.localeCompare(b.pod))[0]!;
    const fields: Array<[string, string]> = [['Image', focus.image]];
    if (focus.digest) fields.push(['Runs', shortDigest(focus.digest)]);
    if (PULL_REASONS.has(focus.reason) && focus.message) fields.push(['Reason', focus.message]);
    else if (focus.lastExit && (focus.reason === 'CrashLoopBackOff' || focus.reason === 'OOMKilled' || focus.reason === INIT_FAILED)) fields.push(['Last exit', focus.lastExit]);
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
    return { ok: false, settled: true, summary: focus.summary, detail, focus, findings, running, immediate: bad.some((f) => f.repeated), ...recheck([...startingPods, ...bad]) };
  }
  if (startingPods.length > 0) {
    return { ok: false, settled: false, summary: `${readyCount} of ${total} pods Ready, ${startingPods.length} starting`, detail: {}, findings, running, immediate: false, ...recheck(startingPods) };
  }
  // What runs now, so a resolved root shows the recovered digest rather than the crashing one.
  const current = findings.find((f) => f.digest) ?? findings[0];
  const fields: Array<[string, string]> = current ? [['Image', current.image], ...(current.digest ? [['Runs', shortDigest(current.digest)] as [string, string]] : []), ['Pods', `${readyCount} of ${total} Ready`]] : [];
  return { ok: true, settled: true, summary: total === 0 ? 'no pods' : `${plural(total, 'pod')} Ready`, detail: fields.length ? { fields } : {}, findings, running, immediate: false };
}

function recheck(findings: PodFinding[]): { recheckAt?: number } {
  const times = findings.map((f) => f.badAt ?? f.badUntil).filter((t): t is number => typeof t === 'number');
  return times.length > 0 ? { recheckAt: Math.min(...times) } : {};
}

/**
 * The way `pods` are failing, in words (`pod web-1 container app: ImagePullBackOff — pull access
 * denied…`, `pod web-2: Pending for more than 5m: FailedScheduling: 0/3 nodes are available…`),
 * or undefined when none is. The watcher's own assessment and focus, so a rollout follower stops
 * on exactly the failures the watcher alerts on — a pod Pending or never Ready past
 * `pendingTooLongMs` included, rather than waiting out the rollout's deadline.
 */
export function podProblem(pods: Iterable<PodLike>, opts: Pick<PodAssessOptions, 'now' | 'pendingTooLongMs'>): string | undefined {
  const failing = assessPods(pods, opts).focus;
  if (!failing) return undefined;
  const head = `pod ${failing.pod} container ${failing.container}`;
  if (failing.reason === 'OOMKilled') return `${head}: OOMKilled (${failing.restarts} restarts)`;
  // The summary says it all and the container does not matter: the pod is not placed, failed to initialise, or was evicted.
  if (failing.reason === INIT_FAILED || failing.reason === 'Pending' || failing.reason === EVICTED || !failing.container) return `pod ${failing.pod}: ${failing.summary}`;
  if (failing.reason === 'NotReady') return `${head}: ${failing.summary}${failing.message ? ` — ${failing.message}` : ''}`;
  return `${head}: ${failing.reason}${failing.message ? ` — ${redactAndClip(failing.message, 200)}` : ''}`;
}
