/**
 * `/worker pin|unpin|status|list`: ConfigHub workers (the `cub worker install` layout: a
 * Deployment in `confighub`, container `worker`). A pin is a strategic merge patch of that one
 * container's image to `<repository>@sha256:…`, with annotations that say what it was pinned
 * from, by whom, when and why, so `unpin` can put the tag back and `/worker list` can show it.
 */
import type { V1Container, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { digestOfImageId, parseImageRef, repositoryOf, shortDigest, type ImageRef } from '../domain/image-ref.js';
import { RegistryError, type RegistryClient } from '../clients/registry.js';
import type { KubeCluster, Workload } from '../clients/kube.js';
import type { Clock } from '../domain/clock.js';
import type { Config, WorkerConfig } from '../config.js';
import type { IncidentEngine } from '../incidents/engine.js';
import type { RunningContainer } from '../domain/model.js';
import type { Correlation } from '../domain/model.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { Store } from '../store/index.js';
import { PIN_ANNOTATIONS, pinAnnotations, pinOf, type PinInfo } from '../kube/annotations.js';
import { gitopsWarning } from '../kube/gitops.js';
import { deadlineOf } from '../kube/rollout.js';
import { info, UsageError, type CommandContext, type CommandSpec, type Plan } from './types.js';
import { declareCommand, word } from './args.js';
import { AmbiguousTargetError, clusterOf, clusterUsageError, discoveredTargets, findPinSubject, findWorker, workerSubject, workerTarget, type ClusterAccess, type DiscoveredState, type PinSubject } from './targets.js';
import { openIncidentFor, tell, type RolloutFollower } from './follower.js';

/** What the /worker commands need: the workers, their clusters, the registry, the store, the follower. */
export interface WorkerCommandDeps extends ClusterAccess {
  config: Pick<Config, 'workers' | 'workloads'>;
  store: Pick<Store, 'subjects' | 'digests' | 'audit' | 'incidents'>;
  engine: Pick<IncidentEngine, 'lastGood' | 'recordAction' | 'notice'>;
  clock: Clock;
  registry(): Pick<RegistryClient, 'manifestExists'>;
  follower: Pick<RolloutFollower, 'podsOf' | 'follow'>;
}


/* ------------------------------------------------------------------------------------------ */
/* Pure helpers                                                                                */

const clip = (text: string, max = 60) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export type DigestArg = { kind: 'full'; digest: string } | { kind: 'prefix'; prefix: string } | { kind: 'previous' } | { kind: 'last-good' };

/** What the user wrote after the worker: nothing, `previous`, a digest, or a prefix of 8+ hex characters. */
export function parseDigestArg(text: string | undefined): DigestArg {
  if (text === undefined) return { kind: 'last-good' };
  if (text.toLowerCase() === 'previous') return { kind: 'previous' };
  const hex = text.toLowerCase().replace(/^sha256:/, '');
  if (/^[0-9a-f]{64}$/.test(hex)) return { kind: 'full', digest: `sha256:${hex}` };
  if (/^[0-9a-f]{8,63}$/.test(hex)) return { kind: 'prefix', prefix: hex };
  if (/^[0-9a-f]{1,7}$/.test(hex)) throw new UsageError(`"${clip(text)}" is too short to name a digest: give at least 8 hex characters, a full sha256:… digest, or previous.`);
  throw new UsageError(`"${clip(text)}" is not a digest: write sha256:<64 hex characters>, a unique prefix of 8+ hex characters, or previous.`);
}

/** The one known digest starting with `prefix`; none or several is a usage error listing candidates. */
export function resolvePrefix(prefix: string, known: string[], repository: string): string {
  const unique = [...new Set(known)];
  const matches = unique.filter((digest) => digest.slice('sha256:'.length).startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new UsageError(`"${prefix}" is ambiguous: it starts ${matches.length} digests of ${repository}: ${matches.map((digest) => digest.slice(0, 'sha256:'.length + 16)).join(', ')}. Give more characters.`);
  const list = unique.length ? `Known digests of ${repository}: ${unique.slice(0, 8).map(shortDigest).join(', ')}${unique.length > 8 ? ', …' : ''}.` : `No digests of ${repository} are known yet.`;
  throw new UsageError(`No known digest of ${repository} starts with "${prefix}". ${list} Give the full sha256:… digest to pin one Driftwatch has not seen.`);
}

/** `ghcr.io/org/app:latest@sha256:…` → `ghcr.io/org/app`, keeping the repository as written. */
export function repositoryAsWritten(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

export const hasDigest = (image: string) => image.includes('@sha256:');
export const digestOfImage = (image: string): string | undefined => (hasDigest(image) ? image.slice(image.indexOf('@') + 1) : undefined);

/** `8b96908d ×2 ✓, c4331a2f ×1 ✗` — short digests per readiness, for phones. */
export function summarizeRunning(containers: Array<{ digest?: string; ready: boolean }>): string {
  if (containers.length === 0) return 'no pods';
  const groups = new Map<string, { count: number; ready: number }>();
  for (const container of containers) {
    const key = container.digest ? container.digest.slice('sha256:'.length, 'sha256:'.length + 8) : '?';
    const group = groups.get(key) ?? { count: 0, ready: 0 };
    group.count++;
    if (container.ready) group.ready++;
    groups.set(key, group);
  }
  return [...groups].map(([digest, group]) => `${digest} ${group.ready}/${group.count}✓`).join(', ');
}

/* ------------------------------------------------------------------------------------------ */
/* Reading a worker                                                                            */

interface LiveWorker {
  worker: WorkerConfig;
  cluster: KubeCluster;
  deployment: V1Deployment;
  container: V1Container;
  image: string;
  pin: PinInfo | undefined;
}

/** A worker or workload as the cluster has it now, with the one container a pin changes. */
interface LiveTarget {
  subject: PinSubject;
  cluster: KubeCluster;
  workload: Workload;
  container: V1Container;
  image: string;
  pin: PinInfo | undefined;
}

/** `worker cost-optimizer-worker`, `Deployment traderx/reference-data`: how answers name what is pinned. */
export function pinLabel(subject: PinSubject): string {
  return subject.kind === 'worker' ? `worker ${subject.worker.name}` : `${subject.target.kind} ${subject.target.namespace}/${subject.target.name}`;
}
const capitalized = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

/**
 * The container a pin changes: a worker's configured one (else its first); for a workload the one
 * `--container` names, or its only one. Several without `--container` is a usage error naming them.
 */
export function containerOf(subject: PinSubject, workload: Workload, wanted: string | undefined): V1Container {
  const containers = workload.spec?.template?.spec?.containers ?? [];
  const { target } = subject;
  let container: V1Container | undefined;
  if (subject.kind === 'worker') container = containers.find((candidate) => candidate.name === (wanted ?? subject.worker.container)) ?? (wanted ? undefined : containers[0]);
  else if (wanted !== undefined) container = containers.find((candidate) => candidate.name === wanted);
  else if (containers.length > 1) throw new UsageError(`${capitalized(pinLabel(subject))} has ${containers.length} containers (${containers.map((candidate) => candidate.name).join(', ')}): add --container <name>.`);
  else container = containers[0];
  if (wanted !== undefined && !container) throw new UsageError(`${capitalized(pinLabel(subject))} has no container "${clip(wanted, 40)}"; its containers: ${containers.map((candidate) => candidate.name).join(', ') || 'none'}.`);
  if (!container?.image) throw new UsageError(`${target.kind} ${target.namespace}/${target.name} in cluster ${target.cluster} has no container with an image.`);
  return container;
}

async function readTarget(deps: WorkerCommandDeps, subject: PinSubject, wantedContainer: string | undefined): Promise<LiveTarget> {
  const { target } = subject;
  const cluster = clusterOf(deps, target.cluster);
  let workload: Workload | undefined;
  try {
    workload = await cluster.getWorkload(target.kind, target.namespace, target.name);
  } catch (error) {
    throw clusterUsageError(error, target.cluster);
  }
  if (!workload) {
    if (subject.kind === 'worker') throw new UsageError(`Worker ${subject.worker.name}: deployment ${target.namespace}/${target.name} is not in cluster ${target.cluster}; nothing was changed.`);
    throw new UsageError(`${target.kind} ${target.namespace}/${target.name} is not in cluster ${target.cluster}; nothing was changed.`);
  }
  const container = containerOf(subject, workload, wantedContainer);
  return { subject, cluster, workload, container, image: container.image!, pin: pinOf(workload.metadata?.annotations) };
}

async function readWorker(deps: WorkerCommandDeps, worker: WorkerConfig): Promise<LiveWorker> {
  const live = await readTarget(deps, { kind: 'worker', worker, target: workerTarget(worker) }, undefined);
  return { worker, cluster: live.cluster, deployment: live.workload as V1Deployment, container: live.container, image: live.image, pin: live.pin };
}

/** The tag the target follows when not pinned: the recorded pin source, else its image if it names a tag. */
function tagImageOf(deps: WorkerCommandDeps, live: LiveTarget): string | undefined {
  if (live.pin) return live.pin.from;
  if (!hasDigest(live.image)) return live.image;
  const spec = deps.store.subjects.state<{ containers?: Array<{ name: string; image: string }> }>(live.subject.target.subject, 'spec')?.value;
  const fromSpec = spec?.containers?.find((container) => container.name === live.container.name)?.image;
  return fromSpec && !hasDigest(fromSpec) ? fromSpec : undefined;
}

function safeParse(image: string): ImageRef | undefined {
  try {
    return parseImageRef(image);
  } catch {
    return undefined;
  }
}

/** Every digest Driftwatch has seen for `repository`: tag histories, healthy pods, running pods. */
function knownDigests(deps: WorkerCommandDeps, repository: string): string[] {
  const { store } = deps;
  const digests: string[] = [];
  for (const ref of store.digests.refs()) {
    const parsed = safeParse(ref);
    if (parsed && repositoryOf(parsed) === repository) digests.push(...store.digests.historyOf(ref).map((sighting) => sighting.digest));
  }
  digests.push(...store.digests.healthyOf(repository).map((row) => row.digest));
  for (const { value } of store.subjects.allStates<RunningContainer[]>('running')) {
    for (const container of value ?? []) {
      const parsed = safeParse(container.image);
      if (container.digest && parsed && repositoryOf(parsed) === repository) digests.push(container.digest);
    }
  }
  return [...new Set(digests)];
}

/** The tag's digest history, trying the ref as written first, then any ref naming the same tag. */
function tagHistory(deps: WorkerCommandDeps, tagImage: string): string[] {
  const direct = deps.store.digests.historyOf(tagImage);
  if (direct.length) return direct.map((sighting) => sighting.digest);
  const canonical = safeParse(tagImage)?.text;
  const ref = deps.store.digests.refs().find((candidate) => safeParse(candidate)?.text === canonical);
  return ref ? deps.store.digests.historyOf(ref).map((sighting) => sighting.digest) : [];
}

const sourceWords: Record<NonNullable<Correlation['lastGood']>['source'], string> = {
  'own pods': 'last good: its own pods ran it while Ready',
  'other workloads': 'last good: other healthy workloads run it',
  'registry history': "last good: the tag's previous digest",
};

/* ------------------------------------------------------------------------------------------ */
/* The commands                                                                                */

export function workerCommands(deps: WorkerCommandDeps): CommandSpec[] {
  const { config, store, engine, follower } = deps;
  const family = 'worker';

  async function pinPlan(pinned: PinSubject, wantedContainer: string | undefined, wanted: DigestArg, ctx: CommandContext): Promise<Plan | MessageModel> {
    const live = await readTarget(deps, pinned, wantedContainer);
    const target = pinned.target;
    const subject = target.subject;
    const what = pinLabel(pinned);
    const What = capitalized(what);
    const tagImage = tagImageOf(deps, live);
    const refImage = tagImage ?? live.image;
    const ref = safeParse(refImage);
    if (!ref) throw new UsageError(`${What} runs an image Driftwatch cannot parse (${clip(refImage, 120)}).`);
    const repository = repositoryOf(ref);
    const incident = openIncidentFor(deps, subject, ctx);

    let digest: string;
    let source: string;
    switch (wanted.kind) {
      case 'full': {
        digest = wanted.digest;
        // A button sends the full digest; say what it is, as the root message did.
        const lastGood = incident?.correlation?.lastGood;
        source = lastGood?.digest === digest ? sourceWords[lastGood.source] : tagImage && tagHistory(deps, tagImage)[1] === digest ? `the previous digest of ${tagImage}` : 'as given';
        break;
      }
      case 'prefix':
        digest = resolvePrefix(wanted.prefix, knownDigests(deps, repository), repository);
        source = `prefix ${wanted.prefix}`;
        break;
      case 'previous': {
        if (!tagImage) throw new UsageError(`${What} runs ${clip(live.image, 120)}, which names no tag, so it has no "previous" digest; give a digest.`);
        const history = tagHistory(deps, tagImage);
        if (!history[1]) throw new UsageError(`No previous digest of ${tagImage} is known (${history[0] ? `only ${shortDigest(history[0])} was seen` : 'the tag was never checked'}); give a digest.`);
        digest = history[1];
        source = `the previous digest of ${tagImage}`;
        break;
      }
      case 'last-good': {
        const running = store.subjects.state<RunningContainer[]>(subject, 'running')?.value ?? [];
        const failing = running.find((container) => !container.ready && container.digest)?.digest;
        const lastGood = incident?.correlation?.lastGood ?? engine.lastGood(subject, refImage, failing);
        if (!lastGood) throw new UsageError(`No last good digest is known for ${what} (no healthy pods seen for long enough, no previous digest of the tag). Give one: /worker pin ${pinned.kind === 'worker' ? pinned.worker.name : `${target.namespace}/${target.name}`} <digest>|previous.`);
        digest = lastGood.digest;
        source = sourceWords[lastGood.source];
        break;
      }
    }

    if (digestOfImage(live.image) === digest) return info(`${What} is already pinned to ${shortDigest(digest)} (${live.image}); nothing to do.`);
    let exists: boolean;
    try {
      exists = await deps.registry().manifestExists(ref, digest);
    } catch (error) {
      const why = error instanceof RegistryError || error instanceof Error ? error.message : String(error);
      throw new UsageError(`Could not check ${shortDigest(digest)} in ${repository}: ${why}; nothing was changed.`);
    }
    if (!exists) throw new UsageError(`${digest} is not in ${repository} (the registry answered 404); nothing was changed. Known digests: ${knownDigests(deps, repository).slice(0, 6).map(shortDigest).join(', ') || 'none'}.`);

    const after = `${repositoryAsWritten(refImage)}@${digest}`;
    const warning = gitopsWarning(live.workload.metadata);
    const preview: MessageModel = {
      tone: 'warning',
      title: [`Pin ${what} to ${shortDigest(digest)}?`],
      fields: [
        ['Before', [{ code: live.image }]],
        ['After', [{ code: after }]],
        ['Cluster', [target.cluster]],
        ['Namespace', [target.namespace]],
        [target.kind, [target.name]],
        ['Container', [live.container.name]],
        ['Digest', [source]],
        ...(incident ? ([['Incident', [`#${incident.id}`]]] as Array<[string, Line]>) : []),
      ],
      lines: [...(warning ? [[warning]] : []), [`Only `, { user: ctx.user }, ' can confirm, within 5 minutes.']],
    };
    const before = live.image;
    return {
      rule: 'worker pin',
      ...(incident ? { incidentId: incident.id } : {}),
      preview,
      async execute() {
        // Re-read: the preview is up to 5 minutes old, and a change since then must not be overwritten blindly.
        const now = await readTarget(deps, pinned, wantedContainer);
        if (now.image !== before) throw new Error(`the image of ${what} changed since the preview (now ${now.image}); nothing was changed — run the command again`);
        const current = openIncidentFor(deps, subject, ctx) ?? incident;
        const podsBefore = await follower.podsOf(target, now.workload).catch(() => undefined);
        const annotations = pinAnnotations({ from: now.pin?.from ?? tagImage ?? before, by: ctx.user, at: new Date(deps.clock.now()), reason: current ? `incident #${current.id}` : 'manual' });
        const audit = (result: string) =>
          store.audit.record({ at: deps.clock.now(), actor: ctx.user, action: 'worker pin', target: `${subject} (${target.cluster}/${target.namespace}/${target.kind}/${target.name} container ${now.container.name})`, before, after, result, incidentId: current?.id ?? null });
        try {
          await now.cluster.patchContainerImage(target.kind, target.namespace, target.name, now.container.name, after, annotations);
        } catch (error) {
          audit(`failed: ${(error as Error).message}`);
          if (current) engine.recordAction(current.id, ctx.user, 'action.pin_failed', `pin of ${what} to ${shortDigest(digest)} by <@${ctx.user}> failed: ${(error as Error).message}`);
          throw new Error(`the pin was not applied: ${(error as Error).message}`);
        }
        audit('patched');
        const summary = `📌 Pinned ${what} to ${shortDigest(digest)} by <@${ctx.user}> (was ${before}; ${source})`;
        const threadKey = tell(deps, { subject, ...(current ? { incidentId: current.id } : {}), user: ctx.user, action: 'action.pin', notice: 'pinned', summary, data: { before, after, digest, cluster: target.cluster, namespace: target.namespace } });
        void follower.follow({ target, user: ctx.user, rule: 'worker pin', what: `pin to ${shortDigest(digest)}`, ...(current ? { incidentId: current.id } : {}), podsBefore, ...(threadKey ? { threadKey } : {}) }, deadlineOf(now.workload));
        return {
          tone: 'ok',
          title: [`Pinned ${what} to ${shortDigest(digest)}.`],
          fields: [['Before', [{ code: before }]], ['After', [{ code: after }]]],
          lines: [[current ? `Following the rollout in the thread of incident #${current.id}.` : 'Following the rollout in the channel.']],
        };
      },
    };
  }

  async function unpinPlan(pinned: PinSubject, wantedContainer: string | undefined, ctx: CommandContext): Promise<Plan> {
    const live = await readTarget(deps, pinned, wantedContainer);
    const target = pinned.target;
    const subject = target.subject;
    const what = pinLabel(pinned);
    const What = capitalized(what);
    if (!live.pin) throw new UsageError(`${What} is not pinned by Driftwatch (no ${PIN_ANNOTATIONS.from} annotation on ${target.kind.toLowerCase()} ${target.namespace}/${target.name}); it runs ${live.image}.`);
    const before = live.image;
    const after = live.pin.from;
    const warning = gitopsWarning(live.workload.metadata);
    const incident = openIncidentFor(deps, subject, ctx);
    const pinnedBy: Line = [`by `, ...(live.pin.by ? [{ user: live.pin.by }] : ['?']), ...(live.pin.at ? [` at ${live.pin.at}`] : []), ...(live.pin.reason ? [` (${live.pin.reason})`] : [])];
    return {
      rule: 'worker unpin',
      ...(incident ? { incidentId: incident.id } : {}),
      preview: {
        tone: 'warning',
        title: [`Unpin ${what}?`],
        fields: [
          ['Before', [{ code: before }]],
          ['After', [{ code: after }]],
          ['Cluster', [target.cluster]],
          ['Namespace', [target.namespace]],
          [target.kind, [target.name]],
          ['Container', [live.container.name]],
          ['Pinned', pinnedBy],
        ],
        lines: [...(warning ? [[warning]] : []), ['Pods will pull the tag again, and with it whatever it points at now.'], [`Only `, { user: ctx.user }, ' can confirm, within 5 minutes.']],
      },
      async execute() {
        const now = await readTarget(deps, pinned, wantedContainer);
        if (now.image !== before || !now.pin) throw new Error(`${what} changed since the preview (now ${now.image}${now.pin ? '' : ', not pinned'}); nothing was changed — run the command again`);
        const current = openIncidentFor(deps, subject, ctx) ?? incident;
        const podsBefore = await follower.podsOf(target, now.workload).catch(() => undefined);
        // null deletes a key in a strategic merge patch: the pin annotations go with the pin.
        const removed = Object.fromEntries(Object.values(PIN_ANNOTATIONS).map((key) => [key, null])) as unknown as Record<string, string>;
        const audit = (result: string) =>
          store.audit.record({ at: deps.clock.now(), actor: ctx.user, action: 'worker unpin', target: `${subject} (${target.cluster}/${target.namespace}/${target.kind}/${target.name} container ${now.container.name})`, before, after, result, incidentId: current?.id ?? null });
        try {
          await now.cluster.patchContainerImage(target.kind, target.namespace, target.name, now.container.name, after, removed);
        } catch (error) {
          audit(`failed: ${(error as Error).message}`);
          throw new Error(`the unpin was not applied: ${(error as Error).message}`);
        }
        audit('patched');
        const threadKey = tell(deps, { subject, ...(current ? { incidentId: current.id } : {}), user: ctx.user, action: 'action.unpin', notice: 'unpinned', summary: `Unpinned ${what} by <@${ctx.user}>: back to ${after} (was ${before})`, data: { before, after } });
        void follower.follow({ target, user: ctx.user, rule: 'worker unpin', what: `unpin to ${after}`, ...(current ? { incidentId: current.id } : {}), podsBefore, ...(threadKey ? { threadKey } : {}) }, deadlineOf(now.workload));
        return { tone: 'ok', title: [`Unpinned ${what}: back to ${after}.`], lines: [[current ? `Following the rollout in the thread of incident #${current.id}.` : 'Following the rollout in the channel.']] };
      },
    };
  }

  /** One worker as it is now (live when the cluster answers, else as last seen). */
  async function snapshot(worker: WorkerConfig): Promise<WorkerRow> {
    const subject = workerSubject(worker);
    const hub = store.subjects.state<{ condition?: string }>(subject, 'confighub')?.value?.condition;
    try {
      const live = await readWorker(deps, worker);
      const pods: V1Pod[] = await live.cluster.listPods(worker.namespace, Object.entries(live.deployment.spec?.selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`).join(',') || undefined);
      const containers = pods.map((pod) => {
        const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === live.container.name);
        return { pod: pod.metadata?.name ?? '?', digest: digestOfImageId(status?.imageID), ready: status?.ready ?? false, waiting: status?.state?.waiting?.reason };
      });
      return { worker, image: live.image, pin: live.pin, containers, ...(hub ? { hub } : {}), source: 'live' };
    } catch (error) {
      const spec = store.subjects.state<{ containers?: Array<{ name: string; image: string }> }>(subject, 'spec');
      const running = store.subjects.state<RunningContainer[]>(subject, 'running');
      const image = spec?.value.containers?.find((container) => container.name === worker.container)?.image ?? spec?.value.containers?.[0]?.image;
      return {
        worker,
        ...(image ? { image } : {}),
        pin: undefined,
        containers: (running?.value ?? []).map((container) => ({ pod: container.pod, digest: container.digest, ready: container.ready })),
        ...(hub ? { hub } : {}),
        source: 'last seen',
        error: (error as Error).message,
        ...(running ? { seenAt: running.updatedAt } : {}),
      };
    }
  }

  async function listMessage(workers: WorkerConfig[]): Promise<MessageModel> {
    const rows = await Promise.all(workers.map(snapshot));
    const lines: Line[] = [];
    for (const row of rows) {
      if (row.pin) lines.push([`📌 ${row.worker.name}: pinned from ${row.pin.from}`, ...(row.pin.by ? [' by ', { user: row.pin.by }] : []), ...(row.pin.at ? [` at ${row.pin.at}`] : []), ...(row.pin.reason ? [` (${row.pin.reason})`] : [])]);
      if (row.error) lines.push([`⚠️ ${row.worker.name}: ${row.error.replace(/; nothing was changed.*$/, '')} — showing what was last seen`]);
    }
    const anyBad = rows.some((row) => row.error || row.containers.length === 0 || row.containers.some((container) => !container.ready) || (row.hub && row.hub !== 'Ready'));
    return {
      tone: anyBad ? 'warning' : 'ok',
      title: [`${rows.length} worker${rows.length === 1 ? '' : 's'}`],
      table: {
        columns: ['worker', 'image', 'pods', 'running', 'hub'],
        rows: rows.map((row) => [
          row.worker.name,
          row.image ? (row.pin || hasDigest(row.image) ? `pin ${shortDigest(digestOfImage(row.image) ?? '').slice('sha256:'.length) || '?'}` : `:${safeParse(row.image)?.tag ?? '?'}`) : '?',
          `${row.containers.filter((container) => container.ready).length}/${row.containers.length}`,
          summarizeRunning(row.containers),
          row.hub ?? '-',
        ]),
      },
      ...(lines.length ? { lines } : {}),
    };
  }

  async function statusMessage(worker: WorkerConfig): Promise<MessageModel> {
    const row = await snapshot(worker);
    const target = workerTarget(worker);
    const incident = openIncidentFor(deps, workerSubject(worker));
    const fields: Array<[string, Line]> = [
      ['Where', [`${worker.cluster} / ${target.namespace} / Deployment ${target.name} / container ${worker.container}`]],
      ['Image', row.image ? [{ code: row.image }] : ['unknown']],
      ['Pods ready', [`${row.containers.filter((container) => container.ready).length}/${row.containers.length}`]],
      ['ConfigHub', [row.hub ?? 'not watched']],
    ];
    if (row.pin) fields.push(['Pinned', [`from ${row.pin.from}`, ...(row.pin.by ? [' by ', { user: row.pin.by }] : []), ...(row.pin.at ? [` at ${row.pin.at}`] : []), ...(row.pin.reason ? [` (${row.pin.reason})`] : [])]]);
    if (incident) fields.push(['Incident', [`#${incident.id} open`]]);
    const lines: Line[] = row.containers.map((container) => [`${container.ready ? '✅' : '❌'} ${container.pod}: ${container.digest ? shortDigest(container.digest) : 'no digest yet'}${'waiting' in container && container.waiting ? ` (${container.waiting})` : ''}`]);
    if (row.error) lines.push([`⚠️ ${row.error.replace(/; nothing was changed.*$/, '')} — showing what was last seen`, ...(row.seenAt ? [' at ', { at: row.seenAt }] : [])]);
    const healthy = !row.error && row.containers.length > 0 && row.containers.every((container) => container.ready) && (!row.hub || row.hub === 'Ready');
    return { tone: healthy ? 'ok' : 'warning', title: [`Worker ${worker.name}${row.pin ? ' (pinned)' : ''}`], fields, ...(lines.length ? { lines } : {}) };
  }

  const tooMany = (after: string) => (words: string[], _usage: string, read: { worker?: string }) =>
    `Too many words after "${after} ${read.worker ?? ''}": ${words.map((extra) => `"${clip(extra, 20)}"`).join(' ')}.`;
  // The workloads `discover:` found, as the Kubernetes watcher last recorded them.
  const discovered = () => discoveredTargets(store.subjects.allStates<DiscoveredState | null>('discovered'));
  const pinFlags = {
    namespace: { names: ['-n', '--namespace'], value: 'namespace', schema: word((text) => text) },
    container: { names: ['--container', '-c'], value: 'container', schema: word((text) => text) },
  };
  const aTarget = word((text) => {
    if (text !== undefined && text.startsWith('-')) throw new UsageError('Put the worker or workload first, then flags: /worker pin <worker|workload> [<digest>|previous] [-n <namespace>] [--container <name>].');
    // Checked as soon as it is read, so a wrong name is the first thing the answer says; only a
    // name several workloads share waits for `-n`.
    try {
      findPinSubject(config, discovered(), text, undefined);
    } catch (error) {
      if (!(error instanceof AmbiguousTargetError)) throw error;
    }
    return text!;
  });
  return [
    declareCommand({
      family,
      name: 'pin',
      summary: "pin a worker's or workload's image to a digest (default: its last good digest)",
      guarded: true,
      args: { positionals: { worker: { usage: '<worker|workload>', schema: aTarget }, digest: { usage: '[<digest>|previous]', schema: word(parseDigestArg) } }, flags: pinFlags, extra: tooMany('pin') },
      run: ({ worker, digest, namespace, container }, ctx) => pinPlan(findPinSubject(config, discovered(), worker, namespace), container, digest, ctx),
    }),
    declareCommand({
      family,
      name: 'unpin',
      summary: 'put back the image a pin replaced',
      guarded: true,
      args: { positionals: { worker: { usage: '<worker|workload>', schema: aTarget } }, flags: pinFlags, extra: tooMany('unpin') },
      run: ({ worker, namespace, container }, ctx) => unpinPlan(findPinSubject(config, discovered(), worker, namespace), container, ctx),
    }),
    declareCommand({
      family,
      name: 'status',
      summary: "a worker's image, pin, pods and ConfigHub condition",
      args: { positionals: { worker: { usage: '[<worker>]', schema: word((text) => (text === undefined ? undefined : findWorker(config.workers, text))) } }, extra: () => 'Name one worker at most.' },
      run: async ({ worker }) => (worker ? statusMessage(worker) : listMessage(config.workers)),
    }),
    declareCommand({
      family,
      name: 'list',
      summary: 'every worker with its image, pin, pods and ConfigHub condition',
      args: { positionals: {}, extra: () => '/worker list takes no arguments; for one worker use /worker status <worker>.' },
      run: async () => (config.workers.length === 0 ? info('No workers are configured.') : listMessage(config.workers)),
    }),
  ];
}

interface WorkerRow {
  worker: WorkerConfig;
  image?: string;
  pin: PinInfo | undefined;
  containers: Array<{ pod: string; digest?: string | undefined; ready: boolean; waiting?: string | undefined }>;
  hub?: string;
  source: 'live' | 'last seen';
  error?: string;
  seenAt?: number;
}
