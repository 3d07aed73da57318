/**
 * `/rollout restart|undo|status <workload> [-n ns] [--cluster c]`: what `kubectl rollout` does,
 * for the workers and workloads the config names or `discover:` found (nothing else can be touched), confirmed first
 * and followed until the new pods are Ready or the rollout fails.
 */
import { policyDenial, policyDenialText } from './policy-denial.js';
import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Config } from '../config.js';
import type { Workload } from '../clients/kube.js';
import type { Clock } from '../domain/clock.js';
import type { Line, MessageModel } from '../domain/messages.js';
import { shortDigest } from '../domain/image-ref.js';
import type { RunningContainer } from '../domain/model.js';
import type { IncidentEngine } from '../incidents/engine.js';
import { gitopsWarning } from '../kube/gitops.js';
import { assessPods, PENDING_TOO_LONG_MS, type PodFinding, type PodVerdict } from '../kube/pods.js';
import { deadlineOf, judgeRollout } from '../kube/rollout.js';
import type { Store } from '../store/index.js';
import { UsageError, type CommandContext, type CommandSpec, type Plan } from './types.js';
import { clusterOf, clusterUsageError, discoveredTargets, matchWorkloads, narrowWorkload, type ClusterAccess, type DiscoveredState, type RolloutTarget, type WorkloadMatch } from './targets.js';
import { declareCommand, usageOf, word, type ArgsDecl, type ParsedArgs } from './args.js';
import { openIncidentFor, podSelectorOf, tell, type RolloutFollower } from './follower.js';

/** What the /rollout commands need: the configured targets, their clusters, the store, the follower. */
export interface RolloutCommandDeps extends ClusterAccess {
  config: Pick<Config, 'workers' | 'workloads' | 'clusters'>;
  store: Pick<Store, 'subjects' | 'audit' | 'incidents'>;
  engine: Pick<IncidentEngine, 'recordAction' | 'notice'>;
  clock: Clock;
  follower: Pick<RolloutFollower, 'podsOf' | 'follow'>;
}

/** `deployment.kubernetes.io/revision` of an object. */
const revisionOf = (annotations: Record<string, string> | undefined) => Number(annotations?.['deployment.kubernetes.io/revision'] ?? 0);

const imagesOf = (template: { spec?: { containers?: Array<{ name: string; image?: string }> } } | undefined): string =>
  (template?.spec?.containers ?? []).map((container) => `${container.name}=${container.image ?? '?'}`).join(', ') || 'no containers';

const VERDICT_MARK: Record<PodVerdict, string> = { ready: '✅', starting: '⏳', bad: '❌' };

/**
 * One pod of `/rollout status`, from its assessment: Ready, starting, or what is wrong and why
 * (`❌ web-1 — OOMKilled, 3 restarts (last exit code 137: OOMKilled): registry/web:2 (sha256:8b96908d)`).
 */
export function podStatusLine(finding: PodFinding, running: RunningContainer[]): string {
  const images = running.filter((container) => container.pod === finding.pod).map((container) => `${container.image}${container.digest ? ` (${shortDigest(container.digest)})` : ''}`);
  const crashed = finding.verdict === 'bad' && finding.lastExit && (finding.reason === 'CrashLoopBackOff' || finding.reason === 'OOMKilled');
  const state = finding.verdict === 'ready' ? '' : ` — ${finding.summary}${crashed ? ` (last exit ${finding.lastExit})` : ''}`;
  return `${VERDICT_MARK[finding.verdict]} ${finding.pod}${state}${images.length ? `: ${images.join(', ')}` : ''}`;
}

export function rolloutCommands(deps: RolloutCommandDeps): CommandSpec[] {
  const { config, store, follower } = deps;
  const family = 'rollout';
  /** The workloads `discover:` found, as `/worker pin` reads them: the "Restart rollout" button of their incidents lands here. */
  const discovered = () => discoveredTargets(store.subjects.allStates<DiscoveredState | null>('discovered'));

  async function readTarget(target: RolloutTarget): Promise<{ workload: Workload }> {
    const cluster = clusterOf(deps, target.cluster);
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
    store.audit.record({ at: deps.clock.now(), actor: ctx.user, action: rule, target: `${target.subject} (${target.cluster}/${target.namespace}/${target.kind}/${target.name})`, before, after, result, incidentId: incidentId ?? null });
  }

  /** `<workload> [-n <namespace>] [--cluster <name>]`: only what the config names is accepted. */
  type WorkloadArgs = ArgsDecl<{ workload: WorkloadMatch }, { namespace: string | undefined; cluster: string | undefined }>;
  const workloadArgs = (name: string): WorkloadArgs => {
    const args: WorkloadArgs = {
      positionals: { workload: { usage: '<workload>', schema: word((text) => matchWorkloads(config, text, usage, discovered())) } },
      flags: {
        namespace: { names: ['-n', '--namespace'], value: 'namespace', schema: word((text) => text) },
        cluster: { names: ['--cluster'], value: 'name', schema: word((text) => text) },
      },
      extra: (words, usage) => `Only one workload at a time; "${words[0]!.length > 30 ? `${words[0]!.slice(0, 29)}…` : words[0]}" is extra. ${usage}.`,
    };
    const usage = usageOf(family, name, args);
    return args;
  };
  const targetOf = (args: ParsedArgs<{ workload: WorkloadMatch }, { namespace: string | undefined; cluster: string | undefined }>): RolloutTarget =>
    narrowWorkload(config, args.workload, { namespace: args.namespace, cluster: args.cluster }, discovered());

  async function restartPlan(target: RolloutTarget, ctx: CommandContext): Promise<Plan> {
    const { workload } = await readTarget(target);
    const warning = gitopsWarning(workload.metadata);
    const incident = openIncidentFor(deps, target.subject, ctx);
    const images = imagesOf(workload.spec?.template);
    const byTag = (workload.spec?.template?.spec?.containers ?? []).some((container) => !container.image?.includes('@sha256:'));
    return {
      rule: 'rollout restart',
      ...(incident ? { incidentId: incident.id } : {}),
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
        const cluster = clusterOf(deps, target.cluster);
        const { workload: now } = await readTarget(target);
        const current = openIncidentFor(deps, target.subject, ctx) ?? incident;
        const podsBefore = await follower.podsOf(target, now).catch(() => undefined);
        const at = new Date(deps.clock.now());
        try {
          await cluster.restartRollout(target.kind, target.namespace, target.name, at);
        } catch (error) {
          audit(ctx, 'rollout restart', target, images, images, `failed: ${(error as Error).message}`, current?.id);
          throw new Error(`the restart was not applied: ${(error as Error).message}`);
        }
        audit(ctx, 'rollout restart', target, images, `${images} (restartedAt ${at.toISOString()})`, 'patched', current?.id);
        const threadKey = tell(deps, { subject: target.subject, ...(current ? { incidentId: current.id } : {}), user: ctx.user, action: 'action.restart', notice: 'rollout_started', summary: `🔄 Restarting ${target.label} (asked by <@${ctx.user}>)` });
        void follower.follow({ target, user: ctx.user, rule: 'rollout restart', what: 'restart', ...(current ? { incidentId: current.id } : {}), podsBefore, ...(threadKey ? { threadKey } : {}) }, deadlineOf(now));
        return { tone: 'ok', title: [`Restarting ${target.label}.`], lines: [[current ? `Following the rollout in the thread of incident #${current.id}.` : 'Following the rollout in the channel.']] };
      },
    };
  }

  /** The ReplicaSet `kubectl rollout undo` would go back to, for the preview. */
  async function previousRevision(target: RolloutTarget, workload: Workload): Promise<{ current: number; previous: V1ReplicaSet | undefined }> {
    const cluster = clusterOf(deps, target.cluster);
    const current = revisionOf(workload.metadata?.annotations);
    let sets: V1ReplicaSet[];
    try {
      sets = (await cluster.apps.listNamespacedReplicaSet({ namespace: target.namespace, labelSelector: podSelectorOf(workload) })).items;
    } catch (error) {
      throw clusterUsageError(cluster.error(error, `listing replicasets of ${target.namespace}/${target.name}`), target.cluster);
    }
    const owned = sets.filter((set) => set.metadata?.ownerReferences?.some((owner) => owner.uid === workload.metadata?.uid));
    const previous = owned
      .filter((set) => revisionOf(set.metadata?.annotations) > 0 && revisionOf(set.metadata?.annotations) < current)
      .sort((a, b) => revisionOf(b.metadata?.annotations) - revisionOf(a.metadata?.annotations))[0];
    return { current, previous };
  }

  async function undoPlan(target: RolloutTarget, ctx: CommandContext): Promise<Plan> {
    if (target.kind !== 'Deployment') throw new UsageError(`/rollout undo works on Deployments; ${target.label} is a ${target.kind}. Use /rollout restart, or change its spec where it is managed.`);
    const { workload } = await readTarget(target);
    const { current, previous } = await previousRevision(target, workload);
    if (!previous) throw new UsageError(`${target.label} has no earlier revision to go back to (current revision ${current}); nothing was changed.`);
    const before = imagesOf(workload.spec?.template);
    const after = imagesOf(previous.spec?.template);
    const toRevision = revisionOf(previous.metadata?.annotations);
    const warning = gitopsWarning(workload.metadata);
    const incident = openIncidentFor(deps, target.subject, ctx);
    return {
      rule: 'rollout undo',
      ...(incident ? { incidentId: incident.id } : {}),
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
        const cluster = clusterOf(deps, target.cluster);
        const { workload: now } = await readTarget(target);
        if (revisionOf(now.metadata?.annotations) !== current) throw new Error(`${target.label} moved to revision ${revisionOf(now.metadata?.annotations)} since the preview; nothing was changed — run the command again`);
        const active = openIncidentFor(deps, target.subject, ctx) ?? incident;
        const podsBefore = await follower.podsOf(target, now).catch(() => undefined);
        let result: { fromRevision: number; toRevision: number };
        try {
          result = await cluster.undoDeployment(target.namespace, target.name);
        } catch (error) {
          audit(ctx, 'rollout undo', target, `rev ${current}: ${before}`, `rev ${toRevision}: ${after}`, `failed: ${(error as Error).message}`, active?.id);
          const denial = policyDenial((error as Error).message);
          if (denial) throw new Error(policyDenialText(`the undo of ${target.label}`, denial));
          throw new Error(`the undo was not applied: ${(error as Error).message}`);
        }
        audit(ctx, 'rollout undo', target, `rev ${result.fromRevision}: ${before}`, `rev ${result.toRevision}: ${after}`, 'patched', active?.id);
        const threadKey = tell(deps, { subject: target.subject, ...(active ? { incidentId: active.id } : {}), user: ctx.user, action: 'action.undo', notice: 'rollout_started', summary: `↩️ Undoing ${target.label}: revision ${result.fromRevision} → ${result.toRevision} (${after}) (asked by <@${ctx.user}>)` });
        void follower.follow({ target, user: ctx.user, rule: 'rollout undo', what: `undo to revision ${result.toRevision}`, ...(active ? { incidentId: active.id } : {}), podsBefore, ...(threadKey ? { threadKey } : {}) }, deadlineOf(now));
        return { tone: 'ok', title: [`Undoing ${target.label}: revision ${result.fromRevision} → ${result.toRevision}.`], lines: [[active ? `Following the rollout in the thread of incident #${active.id}.` : 'Following the rollout in the channel.']] };
      },
    };
  }

  async function status(target: RolloutTarget): Promise<MessageModel> {
    const cluster = clusterOf(deps, target.cluster);
    try {
      const workload = await cluster.getWorkload(target.kind, target.namespace, target.name);
      if (!workload) return { tone: 'critical', title: [`${target.label}: not found in the cluster`] };
      const progress = judgeRollout(target.kind, workload);
      const pods: V1Pod[] = await cluster.listPods(target.namespace, podSelectorOf(workload));
      // The watcher's own pod assessment: the same pods count (no Terminating or finished ones), in the same words.
      const health = assessPods(pods, { now: deps.clock.now(), pendingTooLongMs: PENDING_TOO_LONG_MS });
      const lines: Line[] = health.findings.map((finding) => [podStatusLine(finding, health.running)]);
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
    declareCommand({ family, name: 'restart', summary: 'replace every pod of a workload (kubectl rollout restart), then follow it', guarded: true, args: workloadArgs('restart'), run: (args, ctx) => restartPlan(targetOf(args), ctx) }),
    declareCommand({ family, name: 'undo', summary: 'go back to the previous revision of a Deployment, then follow it', guarded: true, args: workloadArgs('undo'), run: (args, ctx) => undoPlan(targetOf(args), ctx) }),
    declareCommand({ family, name: 'status', summary: 'where a rollout stands: updated and ready pods, why not done', args: workloadArgs('status'), run: (args) => status(targetOf(args)) }),
  ];
}
