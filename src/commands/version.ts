/**
 * `/version status [<service>]`: desired vs running for every worker and workload, expected vs
 * served for every service (or endpoint without one), each with a verdict — built only from what
 * the watchers last recorded, so it answers at once (and the daily digest can reuse it) even
 * when a cluster is unreachable, which is exactly when it matters (seed 004).
 */
import type { EndpointConfig } from '../config.js';
import type { RunningContainer } from '../domain/model.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { Config } from '../config.js';
import type { Store } from '../store/index.js';
import { UsageError, type CommandSpec } from './types.js';
import { declareCommand, word } from './args.js';
import { digestOfImage, summarizeRunning } from './worker.js';
import { subjectOf } from '../domain/subjects.js';
import { discoveredTargets, type DiscoveredState } from './targets.js';

/** What `/version status` reads: the configured subjects and what the watchers recorded about them. */
export interface VersionCommandDeps {
  config: Pick<Config, 'workers' | 'workloads' | 'endpoints'>;
  store: Pick<Store, 'subjects' | 'digests'>;
}

export type Verdict = 'current' | 'stale' | 'split' | 'down' | 'unknown';

const short = (digest: string | undefined) => (digest ? digest.replace(/^sha256:/, '').slice(0, 8) : '?');

/** A worker or workload: the digest it should run against what its pods run. */
export function workloadVerdict(desired: string | undefined, running: Array<{ digest?: string | undefined; ready: boolean }>): Verdict {
  if (running.length === 0 || running.every((container) => !container.ready)) return 'down';
  const digests = new Set(running.map((container) => container.digest).filter((digest): digest is string => Boolean(digest)));
  if (digests.size > 1) return 'split';
  if (desired === undefined || digests.size === 0) return 'unknown';
  return digests.has(desired) ? 'current' : 'stale';
}

export interface ServedView {
  name: string;
  up: boolean;
  seen: boolean;
  version: string | null;
}

/** A service (or lone endpoint): the version it should serve against what each endpoint serves. */
export function serviceVerdict(expected: string | undefined, endpoints: Array<ServedView | undefined>): Verdict {
  const known = endpoints.filter((endpoint): endpoint is ServedView => endpoint !== undefined);
  if (known.length === 0) return 'unknown';
  const up = known.filter((endpoint) => endpoint.up);
  if (up.length === 0) return 'down';
  const versions = new Set(up.filter((endpoint) => endpoint.seen).map((endpoint) => endpoint.version ?? '(none)'));
  if (versions.size > 1) return 'split';
  if (expected !== undefined && [...versions].some((version) => version !== expected)) return 'stale';
  if (up.length < known.length) return 'down';
  return expected === undefined || versions.size === 0 ? 'unknown' : 'current';
}

interface ServedStateLike {
  version: string | null;
  up: boolean;
  seen: boolean;
  expected?: string;
  expectedSource?: string;
  expectedUnknown?: string;
  error?: string;
}

interface SpecLike {
  containers?: Array<{ name: string; image: string }>;
}

const verdictRank: Record<Verdict, number> = { down: 4, split: 3, stale: 2, unknown: 1, current: 0 };

/** One row of the version matrix: what a worker/workload should run and runs, or what a service should serve and serves. */
export interface MatrixRow {
  kind: 'worker' | 'workload' | 'service' | 'endpoint';
  /** As `/version status` names it: `cost-optimizer-worker`, `relay/relay`, `svc relay`, `ep edge-ams1`. */
  label: string;
  /** What it should run (workers, workloads) or serve (services, endpoints); `?` when unknown. */
  desired: string;
  /** What its pods run (workers, workloads). */
  running?: string;
  /** What its endpoints serve (services, endpoints). */
  served?: string;
  verdict: Verdict;
  /** Why, in words (`relay-dfw1 down: …`, `expected 0.2.0 (config)`). */
  notes: string[];
}

/** The version matrix: every configured worker, workload and service with its verdict. */
export interface VersionMatrix {
  service?: string;
  rows: MatrixRow[];
}

/**
 * The matrix `/version status`, the daily digest and the status page all show: one copy of the
 * verdicts. `service` narrows it to one service or endpoint (and the workloads behind it).
 */
export function versionMatrix(deps: VersionCommandDeps, service?: string): VersionMatrix {
  const { config, store } = deps;
  const groups = new Map<string, EndpointConfig[]>();
  for (const endpoint of config.endpoints) {
    const key = endpoint.service ?? endpoint.name;
    groups.set(key, [...(groups.get(key) ?? []), endpoint]);
  }
  if (service !== undefined && !groups.has(service)) {
    const names = [...groups.keys()];
    throw new UsageError(`Unknown service "${service.slice(0, 60)}". ${names.length ? `Services and endpoints: ${names.join(', ')}.` : 'No endpoints are configured.'}`);
  }
  const wantedWorkloads = service !== undefined ? new Set(groups.get(service)!.flatMap((endpoint) => (endpoint.workload ? [`workload:${endpoint.workload}`] : []))) : undefined;

  const rows: MatrixRow[] = [];

  const addWorkload = (kind: 'worker' | 'workload', label: string, subject: string, containerName: string | undefined) => {
    const spec = store.subjects.state<SpecLike>(subject, 'spec')?.value;
    const runningState = store.subjects.state<RunningContainer[]>(subject, 'running');
    const container = spec?.containers?.find((candidate) => candidate.name === containerName) ?? spec?.containers?.[0];
    const image = container?.image;
    const running = (runningState?.value ?? []).filter((candidate) => !container || candidate.container === container.name);
    let desired: string | undefined;
    let desiredText = '?';
    if (image) {
      const pinned = digestOfImage(image);
      if (pinned) {
        desired = pinned;
        desiredText = `pin ${short(pinned)}`;
      } else {
        desired = store.digests.historyOf(image)[0]?.digest;
        // The image's version label, when the registry watcher read it for this digest.
        const label = store.subjects.state<{ version: string | null; digest: string }>(subjectOf.image(image), 'version')?.value;
        desiredText = desired ? `${short(desired)}${label?.version && label.digest === desired ? ` (${label.version})` : ''}` : '?';
      }
    }
    const verdict = !spec && !runningState ? 'unknown' : workloadVerdict(desired, running);
    const notes: string[] = [];
    if (!spec && !runningState) notes.push(`${label}: not seen yet`);
    else if (verdict === 'stale') notes.push(`${label}: runs ${short(running[0]?.digest)}, should run ${short(desired)}${image ? ` (${image})` : ''}`);
    else if (verdict === 'down') notes.push(`${label}: no Ready pods${running.length ? ` (${running.length} not ready)` : ''}`);
    else if (verdict === 'split') notes.push(`${label}: pods run different digests: ${summarizeRunning(running)}`);
    rows.push({ kind, label, desired: desiredText, running: running.length ? summarizeRunning(running) : 'no pods', verdict, notes });
  };

  if (!wantedWorkloads) for (const worker of config.workers) addWorkload('worker', worker.name, subjectOf.worker(worker.name), worker.container);
  for (const workload of config.workloads) {
    const subject = subjectOf.workload(workload);
    if (wantedWorkloads && !wantedWorkloads.has(subject)) continue;
    addWorkload('workload', `${workload.namespace}/${workload.name}`, subject, undefined);
  }
  // What `discover:` found (and is still there), after what the config lists.
  const listed = new Set(config.workloads.map((workload) => subjectOf.workload(workload)));
  for (const target of discoveredTargets(store.subjects.allStates<DiscoveredState | null>('discovered'))) {
    if (listed.has(target.subject) || (wantedWorkloads && !wantedWorkloads.has(target.subject))) continue;
    addWorkload('workload', `${target.namespace}/${target.name}`, target.subject, undefined);
  }

  for (const [name, endpoints] of groups) {
    if (service !== undefined && name !== service) continue;
    const states = endpoints.map((endpoint) => store.subjects.state<ServedStateLike>(subjectOf.endpoint(endpoint.name), 'served')?.value);
    const withExpectation = states.find((state) => state?.expected !== undefined);
    const expected = withExpectation?.expected ?? endpoints.find((endpoint) => endpoint.expect)?.expect;
    const source = withExpectation?.expectedSource ?? (expected !== undefined ? 'config' : states.find((state) => state?.expectedUnknown)?.expectedUnknown ?? 'unknown');
    const views = endpoints.map((endpoint, index) => {
      const state = states[index];
      return state ? { name: endpoint.name, up: state.up, seen: state.seen, version: state.version } : undefined;
    });
    const verdict = serviceVerdict(expected, views);
    const nick = (endpoint: EndpointConfig) => (endpoint.service && endpoint.name.startsWith(`${endpoint.service}-`) ? endpoint.name.slice(endpoint.service.length + 1) : endpoint.name);
    const served = endpoints
      .map((endpoint, index) => {
        const state = states[index];
        const value = !state ? '?' : !state.up ? 'down' : !state.seen ? '?' : (state.version ?? 'none');
        return endpoints.length === 1 ? value : `${nick(endpoint)} ${value}`;
      })
      .join(', ');
    const label = endpoints[0]!.service ? `svc ${name}` : `ep ${name}`;
    const notes = [`${label}: expected ${expected ?? 'unknown'} (${source})`];
    for (const [index, endpoint] of endpoints.entries()) {
      const state = states[index];
      if (state && !state.up) notes.push(`  ${endpoint.name} down${state.error ? `: ${state.error}` : ''}`);
      else if (state?.seen && state.version === null) notes.push(`  ${endpoint.name} sends no version header`);
    }
    rows.push({ kind: endpoints[0]!.service ? 'service' : 'endpoint', label, desired: expected ?? '?', served, verdict, notes });
  }
  return { ...(service !== undefined ? { service } : {}), rows };
}

/** Verdicts in the order the summary counts them. */
export const verdictOrder: Verdict[] = ['current', 'stale', 'split', 'down', 'unknown'];

/** `3 current, 1 stale`: the matrix in a few words. */
export function matrixCounts(matrix: VersionMatrix): string {
  const counts = new Map<Verdict, number>();
  for (const row of matrix.rows) counts.set(row.verdict, (counts.get(row.verdict) ?? 0) + 1);
  return verdictOrder.filter((verdict) => counts.has(verdict)).map((verdict) => `${counts.get(verdict)} ${verdict}`).join(', ');
}

/** The worst verdict's tone: split or down is critical, stale a warning. */
export function matrixTone(matrix: VersionMatrix): 'critical' | 'warning' | 'ok' {
  const worst = matrix.rows.reduce((acc, row) => Math.max(acc, verdictRank[row.verdict]), 0);
  return worst >= verdictRank.split ? 'critical' : worst >= verdictRank.stale ? 'warning' : 'ok';
}

/** The `/version status` message (also the daily digest's table). `service` narrows it to one service or endpoint. */
export function versionStatusMessage(deps: VersionCommandDeps, service?: string): MessageModel {
  const matrix = versionMatrix(deps, service);
  if (matrix.rows.length === 0) return { tone: 'info', title: ['Nothing to show: no workers, workloads or endpoints are configured or discovered.'] };
  const lines: Line[] = matrix.rows.flatMap((row) => row.notes.map((note): Line => [note]));
  return {
    tone: matrixTone(matrix),
    title: [`Version status${service ? ` of ${service}` : ''}: ${matrixCounts(matrix)}`],
    table: { columns: ['what', 'desired', 'actual', 'verdict'], rows: matrix.rows.map((row) => [row.label, row.desired, row.running ?? row.served ?? '', row.verdict]) },
    ...(lines.length ? { lines } : {}),
  };
}

export function versionCommands(deps: VersionCommandDeps): CommandSpec[] {
  return [
    declareCommand({
      family: 'version',
      name: 'status',
      summary: 'desired vs running vs served, with a verdict per worker, workload and service',
      args: { positionals: { service: { usage: '[<service>]', schema: word((text) => text) } }, extra: () => 'Name one service at most.' },
      run: async ({ service }) => versionStatusMessage(deps, service),
    }),
  ];
}
