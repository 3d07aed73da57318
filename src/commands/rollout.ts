/**
 * `/rollout restart|undo|status <workload> [-n ns] [--cluster c]`: what `kubectl rollout` does,
 * for the workers and workloads the config names (nothing else can be touched), confirmed first
 * and followed until the new pods are Ready or the rollout fails.
 */
import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { workloadSubject, type Config } from '../config.js';
import type { Workload } from '../clients/kube.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { Runtime } from '../runtime.js';
import { UsageError, type CommandContext, type CommandSpec, type Plan } from './bus.js';
import { clusterOf, clusterUsageError, deadlineOf, gitopsWarning, judgeRollout, openIncidentFor, rolloutFollower, selectorOf, tell, type FollowOptions, type RolloutTarget, type WorkloadLike } from './follow.js';
import { findWorker, workerTarget } from './worker.js';

const clip = (text: string, max = 60) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Every worker and workload the config names, as things a rollout command can act on. */
export function configuredTargets(config: Pick<Config, 'workers' | 'workloads'>): RolloutTarget[] {
  return [
    ...config.workers.map(workerTarget),
    ...config.workloads.map((workload) => ({
      cluster: workload.cluster,
      namespace: workload.namespace,
      kind: workload.kind,
      name: workload.name,
      subject: workloadSubject(workload),
      label: `${workload.kind} ${workload.namespace}/${workload.name} (cluster ${workload.cluster})`,
    })),
  ];
}

const asWorkloadSubject = (target: RolloutTarget) => `workload:${target.cluster}/${target.namespace}/${target.kind}/${target.name}`;

export interface WorkloadArgs {
  target: RolloutTarget;
}

/**
 * `<workload> [-n ns] [--cluster c]`: the workload first (a name, `worker:<name>`, or a full
 * `workload:<cluster>/<ns>/<kind>/<name>`), then flags; only what the config names is accepted.
 */
export function resolveWorkload(config: Pick<Config, 'workers' | 'workloads' | 'clusters'>, args: string[], usage: string): RolloutTarget {
  const [word, ...rest] = args;
  const targets = configuredTargets(config);
  const choices = () => targets.map((target) => (target.subject.startsWith('worker:') ? target.subject : `${target.namespace}/${target.name}${config.clusters.length > 1 ? ` (${target.cluster})` : ''}`)).join(', ') || 'none configured';
  if (!word) throw new UsageError(`Name a workload: ${choices()}.`);
  if (word.startsWith('-')) throw new UsageError(`Put the workload first, then flags: ${usage}.`);
  let matches: RolloutTarget[];
  if (word.startsWith('worker:')) {
    matches = [workerTarget(findWorker(config.workers, word.slice('worker:'.length)))];
  } else if (word.startsWith('workload:')) {
    matches = targets.filter((target) => target.subject === word || asWorkloadSubject(target) === word);
    if (matches.length === 0) throw new UsageError(`Unknown workload "${clip(word, 80)}". Workloads: ${choices()}.`);
  } else {
    const slash = word.indexOf('/');
    const [wantedNs, wantedName] = slash > 0 ? [word.slice(0, slash), word.slice(slash + 1)] : [undefined, word];
    matches = targets.filter((target) => (target.name === wantedName || target.subject === `worker:${wantedName}`) && (wantedNs === undefined || target.namespace === wantedNs));
    if (matches.length === 0) throw new UsageError(`Unknown workload "${clip(word)}". Workloads: ${choices()}.`);
  }
  let namespace: string | undefined;
  let cluster: string | undefined;
  for (let index = 0; index < rest.length; index++) {
    const flag = rest[index]!;
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    if (name === '-n' || name === '--namespace' || name === '--cluster') {
      const value = inline ?? rest[++index];
      if (!value || value.startsWith('-')) throw new UsageError(`${name} needs a value: ${usage}.`);
      if (name === '--cluster') cluster = value;
      else namespace = value;
      continue;
    }
    if (flag.startsWith('-')) throw new UsageError(`Unknown flag "${clip(flag, 30)}"; the flags are -n <namespace> and --cluster <name>.`);
    throw new UsageError(`Only one workload at a time; "${clip(flag, 30)}" is extra. ${usage}.`);
  }
  if (cluster !== undefined && !config.clusters.some((candidate) => candidate.name === cluster)) {
    throw new UsageError(`Cluster "${clip(cluster, 40)}" is not in the config. Clusters: ${config.clusters.map((candidate) => candidate.name).join(', ') || 'none'}.`);
  }
  const namespaces = [...new Set(targets.map((target) => target.namespace))];
  if (namespace !== undefined && !namespaces.includes(namespace)) {
    throw new UsageError(`Namespace "${clip(namespace, 40)}" is not one the config names. Namespaces: ${namespaces.join(', ') || 'none'}.`);
  }

  const filtered = matches.filter((target) => (namespace === undefined || target.namespace === namespace) && (cluster === undefined || target.cluster === cluster));
  if (filtered.length === 0) {
    throw new UsageError(`"${clip(word)}" is not in ${[namespace && `namespace ${namespace}`, cluster && `cluster ${cluster}`].filter(Boolean).join(' / ')}. It is: ${matches.map((target) => target.label).join('; ')}.`);
  }
  if (filtered.length > 1) {
    throw new UsageError(`"${clip(word)}" names ${filtered.length} workloads: ${filtered.map((target) => `${target.label} → ${asWorkloadSubject(target)}`).join('; ')}. Add -n <namespace> or --cluster <name>, or give the full workload:… name.`);
  }
  return filtered[0]!;
}

/** `deployment.kubernetes.io/revision` of an object. */
const revisionOf = (annotations: Record<string, string> | undefined) => Number(annotations?.['deployment.kubernetes.io/revision'] ?? 0);

const imagesOf = (template: { spec?: { containers?: Array<{ name: string; image?: string }> } } | undefined): string =>
  (template?.spec?.containers ?? []).map((container) => `${container.name}=${container.image ?? '?'}`).join(', ') || 'no containers';

export interface RolloutCommandOptions {
  follow?: FollowOptions;
}

export function rolloutCommands(runtime: Runtime, options: RolloutCommandOptions = {}): CommandSpec[] {
  const { config, store } = runtime;
  const follower = () => rolloutFollower(runtime, options.follow);
  const family = 'rollout';

  async function readTarget(target: RolloutTarget): Promise<{ workload: Workload }> {
    const cluster = clusterOf(runtime, target.cluster);
    let workload: Workload | undefined;
    try {
      workload = await cluster.getWorkload(target.kind, target.namespace, target.name);
    } catch (error) {
      throw clusterUsageError(error, target.cluster);
    }
    if (!workload) throw new UsageError(`${target.kind} ${target.namespace}/${target.name} is not in cluster ${target.cluster}; nothing was changed.`);
    return { workload };
  }

  function audit(ctx: CommandContext, rule: string, target: RolloutTarget, before: string, after: string, result: string, incidentId: number | undefined): void {
    store.audit.record({ at: runtime.clock.now(), actor: ctx.user, action: rule, target: `${target.subject} (${target.cluster}/${target.namespace}/${target.kind}/${target.name})`, before, after, result, incidentId: incidentId ?? null });
  }

  const usageOf = (name: string) => `/rollout ${name} <workload> [-n <namespace>] [--cluster <name>]`;

  async function restartPlan(args: string[], ctx: CommandContext): Promise<Plan> {
    const target = resolveWorkload(config, args, usageOf('restart'));
    const { workload } = await readTarget(target);
    const warning = gitopsWarning(workload.metadata);
    const incident = openIncidentFor(runtime, target.subject, ctx);
    const images = imagesOf(workload.spec?.template);
    const byTag = (workload.spec?.template?.spec?.containers ?? []).some((container) => !container.image?.includes('@sha256:'));
    return {
      rule: 'rollout restart',
      preview: {
        tone: 'warning',
        title: [`Restart ${target.label}?`],
        fields: [
          ['Workload', [`${target.kind} ${target.name}`]],
          ['Cluster', [target.cluster]],
          ['Namespace', [target.namespace]],
          ['Images', [images]],
          ['Change', ['every pod is replaced (pod template annotation kubectl.kubernetes.io/restartedAt); images stay as they are']],
          ...(incident ? ([['Incident', [`#${incident.id}`]]] as Array<[string, Line]>) : []),
        ],
        lines: [
          ...(warning ? [[warning]] : []),
          ...(byTag ? [['Images named by tag may pull whatever the tag points at now (always with imagePullPolicy Always).']] : []),
          [`Only `, { user: ctx.user }, ' can confirm, within 5 minutes.'],
        ],
      },
      async execute() {
        const cluster = clusterOf(runtime, target.cluster);
        const { workload: now } = await readTarget(target);
        const current = openIncidentFor(runtime, target.subject, ctx) ?? incident;
        const podsBefore = await follower().podsOf(cluster, now, target.namespace).catch(() => undefined);
        const at = new Date(runtime.clock.now());
        try {
          await cluster.restartRollout(target.kind, target.namespace, target.name, at);
        } catch (error) {
          audit(ctx, 'rollout restart', target, images, images, `failed: ${(error as Error).message}`, current?.id);
          throw new Error(`the restart was not applied: ${(error as Error).message}`);
        }
        audit(ctx, 'rollout restart', target, images, `${images} (restartedAt ${at.toISOString()})`, 'patched', current?.id);
        const threadKey = tell(runtime, { subject: target.subject, ...(current ? { incidentId: current.id } : {}), user: ctx.user, action: 'action.restart', notice: 'rollout_started', summary: `🔄 Restarting ${target.label} (asked by <@${ctx.user}>)` });
        void follower().follow({ target, user: ctx.user, rule: 'rollout restart', what: 'restart', ...(current ? { incidentId: current.id } : {}), podsBefore, ...(threadKey ? { threadKey } : {}) }, deadlineOf(now));
        return { tone: 'ok', title: [`Restarting ${target.label}.`], lines: [[current ? `Following the rollout in the thread of incident #${current.id}.` : 'Following the rollout in the channel.']] };
      },
    };
  }

  /** The ReplicaSet `kubectl rollout undo` would go back to, for the preview. */
  async function previousRevision(target: RolloutTarget, workload: Workload): Promise<{ current: number; previous: V1ReplicaSet | undefined }> {
    const cluster = clusterOf(runtime, target.cluster);
    const current = revisionOf(workload.metadata?.annotations);
    let sets: V1ReplicaSet[];
    try {
      sets = (await cluster.apps.listNamespacedReplicaSet({ namespace: target.namespace, labelSelector: selectorOf(workload) })).items;
    } catch (error) {
      throw clusterUsageError(cluster.error(error, `listing replicasets of ${target.namespace}/${target.name}`), target.cluster);
    }
    const owned = sets.filter((set) => set.metadata?.ownerReferences?.some((owner) => owner.uid === workload.metadata?.uid));
    const previous = owned
      .filter((set) => revisionOf(set.metadata?.annotations) > 0 && revisionOf(set.metadata?.annotations) < current)
      .sort((a, b) => revisionOf(b.metadata?.annotations) - revisionOf(a.metadata?.annotations))[0];
    return { current, previous };
  }

  async function undoPlan(args: string[], ctx: CommandContext): Promise<Plan> {
    const target = resolveWorkload(config, args, usageOf('undo'));
    if (target.kind !== 'Deployment') throw new UsageError(`/rollout undo works on Deployments; ${target.label} is a ${target.kind}. Use /rollout restart, or change its spec where it is managed.`);
    const { workload } = await readTarget(target);
    const { current, previous } = await previousRevision(target, workload);
    if (!previous) throw new UsageError(`${target.label} has no earlier revision to go back to (current revision ${current}); nothing was changed.`);
    const before = imagesOf(workload.spec?.template);
    const after = imagesOf(previous.spec?.template);
    const toRevision = revisionOf(previous.metadata?.annotations);
    const warning = gitopsWarning(workload.metadata);
    const incident = openIncidentFor(runtime, target.subject, ctx);
    return {
      rule: 'rollout undo',
      preview: {
        tone: 'warning',
        title: [`Undo ${target.label}: revision ${current} → ${toRevision}?`],
        fields: [
          ['Before', [`rev ${current}: `, { code: before }]],
          ['After', [`rev ${toRevision}: `, { code: after }]],
          ['Cluster', [target.cluster]],
          ['Namespace', [target.namespace]],
          ['Deployment', [target.name]],
          ...(incident ? ([['Incident', [`#${incident.id}`]]] as Array<[string, Line]>) : []),
        ],
        lines: [...(warning ? [[warning]] : []), [`Only `, { user: ctx.user }, ' can confirm, within 5 minutes.']],
      },
      async execute() {
        const cluster = clusterOf(runtime, target.cluster);
        const { workload: now } = await readTarget(target);
        if (revisionOf(now.metadata?.annotations) !== current) throw new Error(`${target.label} moved to revision ${revisionOf(now.metadata?.annotations)} since the preview; nothing was changed — run the command again`);
        const active = openIncidentFor(runtime, target.subject, ctx) ?? incident;
        const podsBefore = await follower().podsOf(cluster, now, target.namespace).catch(() => undefined);
        let result: { fromRevision: number; toRevision: number };
        try {
          result = await cluster.undoDeployment(target.namespace, target.name);
        } catch (error) {
          audit(ctx, 'rollout undo', target, `rev ${current}: ${before}`, `rev ${toRevision}: ${after}`, `failed: ${(error as Error).message}`, active?.id);
          throw new Error(`the undo was not applied: ${(error as Error).message}`);
        }
        audit(ctx, 'rollout undo', target, `rev ${result.fromRevision}: ${before}`, `rev ${result.toRevision}: ${after}`, 'patched', active?.id);
        const threadKey = tell(runtime, { subject: target.subject, ...(active ? { incidentId: active.id } : {}), user: ctx.user, action: 'action.undo', notice: 'rollout_started', summary: `↩️ Undoing ${target.label}: revision ${result.fromRevision} → ${result.toRevision} (${after}) (asked by <@${ctx.user}>)` });
        void follower().follow({ target, user: ctx.user, rule: 'rollout undo', what: `undo to revision ${result.toRevision}`, ...(active ? { incidentId: active.id } : {}), podsBefore, ...(threadKey ? { threadKey } : {}) }, deadlineOf(now));
        return { tone: 'ok', title: [`Undoing ${target.label}: revision ${result.fromRevision} → ${result.toRevision}.`], lines: [[active ? `Following the rollout in the thread of incident #${active.id}.` : 'Following the rollout in the channel.']] };
      },
    };
  }

  async function status(args: string[]): Promise<MessageModel> {
    const target = resolveWorkload(config, args, usageOf('status'));
    const cluster = clusterOf(runtime, target.cluster);
    try {
      const workload = await cluster.getWorkload(target.kind, target.namespace, target.name);
      if (!workload) return { tone: 'critical', title: [`${target.label}: not found in the cluster`] };
      const progress = judgeRollout(target.kind, workload as WorkloadLike);
      const pods: V1Pod[] = await cluster.listPods(target.namespace, selectorOf(workload));
      const lines: Line[] = pods.map((pod) => {
        const statuses = pod.status?.containerStatuses ?? [];
        const ready = statuses.length > 0 && statuses.every((container) => container.ready);
        const waiting = statuses.map((container) => container.state?.waiting?.reason).find(Boolean);
        return [`${ready ? '✅' : '❌'} ${pod.metadata?.name ?? '?'}${waiting ? ` (${waiting})` : ''}: ${statuses.map((container) => container.image).join(', ')}`];
      });
      const state = progress.state === 'done' ? 'complete' : progress.state === 'failed' ? 'failed' : 'in progress';
      return {
        tone: progress.state === 'done' ? 'ok' : progress.state === 'failed' ? 'critical' : 'warning',
        title: [`${target.label}: rollout ${state}`],
        fields: [
          ['Pods', [`${progress.updated}/${progress.desired} updated, ${progress.ready} ready`]],
          ...(target.kind === 'Deployment' ? ([['Revision', [String(revisionOf(workload.metadata?.annotations) || '?')]]] as Array<[string, Line]>) : []),
          ['Images', [imagesOf(workload.spec?.template)]],
          ...(progress.reason ? ([['Why', [progress.reason]]] as Array<[string, Line]>) : []),
        ],
        ...(lines.length ? { lines } : {}),
      };
    } catch (error) {
      const last = store.subjects.state<{ desired?: number; updated?: number; ready?: number; available?: number }>(target.subject, 'rollout');
      const why = clusterUsageError(error, target.cluster).message.replace(/; nothing was changed.*$/, '');
      if (!last) throw new UsageError(`${why}. Nothing was seen of ${target.label} before.`);
      return {
        tone: 'warning',
        title: [`${target.label}: as last seen `, { at: last.updatedAt }],
        fields: [['Pods', [`${last.value.updated ?? '?'}/${last.value.desired ?? '?'} updated, ${last.value.ready ?? '?'} ready`]]],
        lines: [[`⚠️ ${why}`]],
      };
    }
  }

  return [
    { family, name: 'restart', usage: usageOf('restart'), summary: 'replace every pod of a workload (kubectl rollout restart), then follow it', guarded: true, handle: restartPlan },
    { family, name: 'undo', usage: usageOf('undo'), summary: 'go back to the previous revision of a Deployment, then follow it', guarded: true, handle: undoPlan },
    { family, name: 'status', usage: '/rollout status <workload> [-n <namespace>] [--cluster <name>]', summary: 'where a rollout stands: updated and ready pods, why not done', async handle(args) { return status(args); } },
  ];
}
