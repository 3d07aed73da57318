/**
 * What a command acts on: the configured worker or workload a user named (nothing else can be
 * touched), the cluster client for it, and cluster errors turned into answers that say nothing
 * was changed.
 */
import type { Config, WorkerConfig } from '../config.js';
import { KubeError, type KubeCluster, type WorkloadKind } from '../clients/kube.js';
import { subjectOf } from '../domain/subjects.js';
import { UsageError } from './types.js';

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

/** The clusters a command may reach: the configured ones, by name. */
export interface ClusterAccess {
  cluster(name: string): KubeCluster;
}

const clip = (text: string, max = 60) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/* ------------------------------------------------------------------------------------------ */
/* Workers                                                                                     */

/** The configured worker called `name`, or a usage error listing the workers there are. */
export function findWorker(workers: WorkerConfig[], name: string | undefined): WorkerConfig {
  const names = workers.map((worker) => worker.name);
  if (workers.length === 0) throw new UsageError('No workers are configured (add them under `workers:` in the config).');
  if (!name) throw new UsageError(`Name a worker: ${names.join(', ')}.`);
  const worker = workers.find((candidate) => candidate.name === name);
  if (!worker) throw new UsageError(`Unknown worker "${clip(name)}". Workers: ${names.join(', ')}.`);
  return worker;
}

export const workerSubject = (worker: WorkerConfig) => subjectOf.worker(worker.name);

export function workerTarget(worker: WorkerConfig): RolloutTarget {
  return { cluster: worker.cluster, namespace: worker.namespace, kind: 'Deployment', name: worker.deployment ?? worker.name, subject: workerSubject(worker), label: `worker ${worker.name}` };
}

/* ------------------------------------------------------------------------------------------ */
/* Workloads                                                                                   */

/** Every worker and workload the config names, as things a rollout command can act on. */
export function configuredTargets(config: Pick<Config, 'workers' | 'workloads'>): RolloutTarget[] {
  return [
    ...config.workers.map(workerTarget),
    ...config.workloads.map((workload) => ({
      cluster: workload.cluster,
      namespace: workload.namespace,
      kind: workload.kind,
      name: workload.name,
      subject: subjectOf.workload(workload),
      label: `${workload.kind} ${workload.namespace}/${workload.name} (cluster ${workload.cluster})`,
    })),
  ];
}

/**
 * Everything a command can act on: the configured workers and workloads, then the workloads
 * `discover:` found (see `discoveredTargets`) that the config does not name already. `/worker pin`
 * and `/rollout` both read this.
 */
export function commandTargets(config: Pick<Config, 'workers' | 'workloads'>, discovered: readonly RolloutTarget[] = []): RolloutTarget[] {
  const configured = configuredTargets(config);
  return [...configured, ...discovered.filter((target) => !configured.some((known) => known.subject === target.subject))];
}

const asWorkloadSubject = (target: RolloutTarget) => `workload:${target.cluster}/${target.namespace}/${target.kind}/${target.name}`;

/** The targets (configured or discovered) a `<workload>` word names (a name, `ns/name`, `worker:<name>`, or a full `workload:<cluster>/<ns>/<kind>/<name>`). */
export interface WorkloadMatch {
  word: string;
  matches: RolloutTarget[];
}

/** Reads the `<workload>` word among the configured and `discovered` targets; none, a flag in its place, or a name none has is a usage error listing the choices. */
export function matchWorkloads(config: Pick<Config, 'workers' | 'workloads' | 'clusters'>, word: string | undefined, usage: string, discovered: readonly RolloutTarget[] = []): WorkloadMatch {
  const targets = commandTargets(config, discovered);
  const named = targets.map((target) => (target.subject.startsWith('worker:') ? target.subject : `${target.namespace}/${target.name}${config.clusters.length > 1 ? ` (${target.cluster})` : ''}`));
  const choices = () => (named.length > 12 ? `${named.slice(0, 12).join(', ')}, … (${named.length} in all)` : named.join(', ')) || 'none configured';
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
  return { word, matches };
}

/** `-n <namespace>` and `--cluster <name>`: narrow the matches to one, or a usage error that says why not. */
export function narrowWorkload(config: Pick<Config, 'workers' | 'workloads' | 'clusters'>, match: WorkloadMatch, filter: { namespace?: string | undefined; cluster?: string | undefined }, discovered: readonly RolloutTarget[] = []): RolloutTarget {
  const { word, matches } = match;
  const { namespace, cluster } = filter;
  if (cluster !== undefined && !config.clusters.some((candidate) => candidate.name === cluster)) {
    throw new UsageError(`Cluster "${clip(cluster, 40)}" is not in the config. Clusters: ${config.clusters.map((candidate) => candidate.name).join(', ') || 'none'}.`);
  }
  const namespaces = [...new Set(commandTargets(config, discovered).map((target) => target.namespace))];
  if (namespace !== undefined && !namespaces.includes(namespace)) {
    throw new UsageError(`Namespace "${clip(namespace, 40)}" is not one the config names${discovered.length ? ' or discovery found' : ''}. Namespaces: ${namespaces.join(', ') || 'none'}.`);
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

/* ------------------------------------------------------------------------------------------ */
/* Discovered workloads and pin targets                                                        */

/** What the Kubernetes watcher records under `'discovered'` for each workload `discover:` found. */
export interface DiscoveredState {
  cluster: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  present: boolean;
  containers: string[];
}

/** The workloads `discover:` found and that are still there, as the watcher last recorded them. */
export function discoveredTargets(states: Array<{ subject: string; value: DiscoveredState | null }>): RolloutTarget[] {
  return states
    .filter((state) => state.value?.present)
    .map(({ value }) => ({ cluster: value!.cluster, namespace: value!.namespace, kind: value!.kind, name: value!.name, subject: subjectOf.workload(value!), label: `${value!.kind} ${value!.namespace}/${value!.name} (cluster ${value!.cluster})` }))
    .sort((a, b) => a.subject.localeCompare(b.subject));
}

const KIND_WORDS: Record<string, WorkloadKind> = {
  deployment: 'Deployment', deployments: 'Deployment', deploy: 'Deployment',
  daemonset: 'DaemonSet', daemonsets: 'DaemonSet', ds: 'DaemonSet',
  statefulset: 'StatefulSet', statefulsets: 'StatefulSet', sts: 'StatefulSet',
};

/** `deploy`, `Deployment`, `daemonsets`… as kubectl writes kinds; undefined for anything else. */
export const kindOfWord = (text: string): WorkloadKind | undefined => KIND_WORDS[text.toLowerCase()];

/** A name several workloads share: `-n` (or the full name) may still pick one. */
export class AmbiguousTargetError extends UsageError {}

/** What `/worker pin|unpin` acts on: a configured worker, or a workload (configured or discovered). */
export type PinSubject = { kind: 'worker'; worker: WorkerConfig; target: RolloutTarget } | { kind: 'workload'; target: RolloutTarget };

/**
 * Reads the `<worker|workload>` word of `/worker pin`: a worker's name, `worker:<name>`,
 * `<namespace>/<name>`, `<kind>/<name>` (with `-n <namespace>`), `<cluster>/<namespace>/<kind>/<name>`
 * or `workload:<cluster>/<namespace>/<kind>/<name>`, among the workers, the configured workloads
 * and the discovered ones. None is a usage error naming what there is; several list the candidates.
 */
export function findPinSubject(config: Pick<Config, 'workers' | 'workloads'>, discovered: RolloutTarget[], word: string | undefined, namespace: string | undefined): PinSubject {
  const workloads = commandTargets({ workers: [], workloads: config.workloads }, discovered);
  const fullName = (target: RolloutTarget) => `${target.cluster}/${target.namespace}/${target.kind}/${target.name}`;
  const choices = () => {
    const workerNames = config.workers.map((worker) => worker.name).join(', ') || 'none';
    const workloadNames = `${workloads.slice(0, 12).map((target) => `${target.namespace}/${target.name}`).join(', ') || 'none'}${workloads.length > 12 ? `, … (${workloads.length} in all)` : ''}`;
    return `Workers: ${workerNames}. Workloads: ${workloadNames}`;
  };
  if (!word) throw new UsageError(`Name a worker or a workload. ${choices()}.`);
  if (word.startsWith('-')) throw new UsageError('Put the worker or workload first, then flags: /worker pin <worker|workload> [<digest>|previous] [-n <namespace>] [--container <name>].');
  const worker = config.workers.find((candidate) => candidate.name === word || `worker:${candidate.name}` === word);
  if (worker && namespace === undefined) return { kind: 'worker', worker, target: workerTarget(worker) };
  if (word.startsWith('worker:')) return { kind: 'worker', worker: findWorker(config.workers, word.slice('worker:'.length)), target: workerTarget(findWorker(config.workers, word.slice('worker:'.length))) };

  const parts = (word.startsWith('workload:') ? word.slice('workload:'.length) : word).split('/');
  let matches: RolloutTarget[];
  if (parts.length === 4) {
    const [cluster, ns, kindText, name] = parts as [string, string, string, string];
    const kind = kindOfWord(kindText);
    matches = workloads.filter((target) => target.cluster === cluster && target.namespace === ns && target.kind === kind && target.name === name);
  } else if (parts.length === 2 && kindOfWord(parts[0]!) && !workloads.some((target) => target.namespace === parts[0])) {
    // `deploy/reference-data -n traderx`, as kubectl writes it.
    const kind = kindOfWord(parts[0]!);
    matches = workloads.filter((target) => target.kind === kind && target.name === parts[1] && (namespace === undefined || target.namespace === namespace));
  } else if (parts.length === 2) {
    matches = workloads.filter((target) => target.namespace === parts[0] && target.name === parts[1]);
    if (namespace !== undefined && namespace !== parts[0]) throw new UsageError(`"${clip(word)}" names namespace ${parts[0]}, but -n says ${clip(namespace, 40)}.`);
  } else if (parts.length === 1) {
    matches = workloads.filter((target) => target.name === parts[0] && (namespace === undefined || target.namespace === namespace));
  } else {
    throw new UsageError(`"${clip(word)}" is not a worker or workload name: write <namespace>/<name>, <kind>/<name> -n <namespace> or <cluster>/<namespace>/<kind>/<name>.`);
  }
  if (matches.length === 0) throw new UsageError(`Unknown ${parts.length === 1 ? 'worker' : 'workload'} "${clip(word)}"${namespace ? ` in namespace ${clip(namespace, 40)}` : ''}. ${choices()}.`);
  if (matches.length > 1) {
    throw new AmbiguousTargetError(`"${clip(word)}" names ${matches.length} workloads: ${matches.map(fullName).join(', ')}. Give one as <cluster>/<namespace>/<kind>/<name>.`);
  }
  return { kind: 'workload', target: matches[0]! };
}

/* ------------------------------------------------------------------------------------------ */
/* Clusters                                                                                    */

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
export function clusterOf(clusters: ClusterAccess, name: string): KubeCluster {
  try {
    return clusters.cluster(name);
  } catch (error) {
    throw new UsageError(`Cluster ${name} cannot be used: ${(error as Error).message}; nothing was changed.`);
  }
}
