/**
 * Endpoint watcher: probes each configured public endpoint, compares the version it serves with
 * the version it should serve, and reports checks (stale, down, TLS, CORS, split fleet) and
 * served-version notices. The decisions are pure functions below; the class only does I/O.
 * Seed 004: only the public endpoint told the truth about a deploy that never landed.
 */
import type { Config, EndpointConfig } from '../config.js';
import type { Logger } from '../log.js';
import { formatDuration, formatTime } from '../domain/duration.js';
import { isDown, normaliseVersion, versionFromImageTag, type ProbeResult, type ProbeTarget, type Prober } from '../clients/probe.js';
import type { CheckObservation, NoticeObservation } from '../domain/model.js';
import { Scheduler } from './scheduler.js';
import type { ObservationSink, WatchLoop, Watcher } from './types.js';
import { subjectName, subjectOf } from '../domain/subjects.js';
import { clip, plural } from '../domain/text.js';
import type { ImageVersionState, WorkloadSpec } from './registry.js';

/** A certificate with fewer days left than this is a warning. */
export const TLS_EXPIRY_WARNING_DAYS = 14;

// ---------------------------------------------------------------------------------------------
// Expected version

/** The version an endpoint should serve and where that came from, or why it isn't known. */
export type Expectation = { version: string; source: string } | { version?: undefined; unknown: string };

/** Where expected versions come from, so `expectedVersion` stays pure. */
export interface ExpectationFacts {
  imageVersion(ref: string): ImageVersionState | undefined;
  workloadSpec(ref: string): WorkloadSpec | undefined;
}

export function expectedVersion(endpoint: Pick<EndpointConfig, 'expect' | 'expectFrom'>, facts: ExpectationFacts): Expectation {
  if (endpoint.expect !== undefined) return { version: comparable(endpoint.expect), source: 'config' };
  const from = endpoint.expectFrom;
  if (!from) return { unknown: 'no expect or expectFrom configured' };
  if ('image' in from) {
    const state = facts.imageVersion(from.image);
    if (!state) return { unknown: `no version label read yet for ${from.image}` };
    if (!state.version) return { unknown: `${from.image} has no org.opencontainers.image.version label` };
    return { version: comparable(state.version), source: `image label of ${from.image}` };
  }
  const spec = facts.workloadSpec(from.workload);
  if (!spec) return { unknown: `workload ${from.workload} not seen yet` };
  for (const container of spec.containers ?? []) {
    const version = versionFromImageTag(container.image);
    if (version) return { version, source: `image tag of ${from.workload}` };
  }
  const images = (spec.containers ?? []).map((container) => container.image).join(', ') || 'no containers';
  return { unknown: `the image tag of ${from.workload} carries no version (${images})` };
}

/** Versions compare without surrounding space or a leading `v`. */
function comparable(version: string): string {
  return normaliseVersion(version) ?? version.trim();
}

// ---------------------------------------------------------------------------------------------
// Served-version history

/** Last-known state of an endpoint, written under key 'served' on every probe. */
export interface ServedState {
  /** The version served; null when the answer had no readable version header. */
  version: string | null;
  /** A header value that isn't a version (kept so messages can quote it). */
  raw?: string;
  /** When this version (or its absence) was first served. */
  since: number;
  /** False until a probe got an answer whose header could be read (down and TLS failures can't tell). */
  seen: boolean;
  up: boolean;
  status?: number;
  latencyMs: number;
  error?: string;
  checkedAt: number;
  url: string;
  tls?: { validTo: string; daysLeft: number; authorized: boolean };
  expected?: string;
  expectedSource?: string;
  /** Why no stale verdict is given. */
  expectedUnknown?: string;
}

export interface ServedChange {
  from: ServedState;
  to: ServedState;
}


/**
 * The served state after `result`: a down or TLS-failed probe keeps the previous version (nothing
 * was read), a readable answer starts a new `since` only when the value differs. A change from a
 * previously seen value is returned so the caller can post the notice.
 */
export function nextServed(previous: ServedState | undefined, result: ProbeResult, now: number, expectation: Expectation): { served: ServedState; change?: ServedChange } {
  // An answer we can read a version from: up, and not a TLS failure.
  const up = !isDown(result);
  const base = {
    up,
    latencyMs: result.latencyMs,
    checkedAt: now,
    url: result.url,
    ...(result.status !== undefined ? { status: result.status } : {}),
    ...(result.error ? { error: stripName(result.error.message) } : {}),
    ...(result.tls ? { tls: { validTo: result.tls.validTo, daysLeft: result.tls.daysLeft, authorized: result.tls.authorized } } : {}),
    ...(expectation.version !== undefined ? { expected: expectation.version, expectedSource: expectation.source } : { expectedUnknown: expectation.unknown }),
  };
  if (!up) {
    const kept = previous ? { version: previous.version, ...(previous.raw !== undefined ? { raw: previous.raw } : {}), since: previous.since, seen: previous.seen } : { version: null, since: now, seen: false };
    return { served: { ...kept, ...base } };
  }
  const version = result.version ?? null;
  const raw = result.versionProblem === 'garbage' ? result.versionRaw : undefined;
  const same = previous?.seen === true && previous.version === version && (version !== null || previous.raw === raw);
  const served: ServedState = { version, ...(raw !== undefined ? { raw } : {}), since: same ? previous.since : now, seen: true, ...base };
  if (previous?.seen && !same) return { served, change: { from: previous, to: served } };
  return { served };
}

/** 'relay-dfw1 now serves 0.2.0; it served no version for 3h 12m'. */
export function versionChangedNotice(name: string, change: ServedChange, now: number): NoticeObservation {
  return {
    subject: subjectOf.endpoint(name),
    kind: 'version_changed',
    summary: `${name} now serves ${describeServed(change.to)}; it served ${describeServed(change.from)} for ${formatDuration(now - change.from.since)}`,
    data: { from: change.from.version, to: change.to.version, servedForMs: now - change.from.since },
  };
}

/** '0.2.0', 'no version', 'an unreadable version "<html>"'. */
export function describeServed(served: Pick<ServedState, 'version' | 'raw'>): string {
  if (served.version !== null) return served.version;
  if (served.raw !== undefined) return `an unreadable version ${quoteShort(served.raw)}`;
  return 'no version';
}

// ---------------------------------------------------------------------------------------------
// Checks of one probe

export interface ProbeJudgement {
  endpoint: Pick<EndpointConfig, 'name' | 'versionHeader' | 'cors'>;
  result: ProbeResult;
  served: ServedState;
  expectation: Expectation;
}

/**
 * The checks one probe reports. Down (no answer, 5xx, redirect not followed) reports only that;
 * a TLS failure reports only the certificate; neither says anything about staleness, because
 * nothing was read. Unknown expected versions give no stale verdict.
 */
export function endpointChecks({ endpoint, result, served, expectation }: ProbeJudgement): CheckObservation[] {
  const subject = subjectOf.endpoint(endpoint.name);
  const checks: CheckObservation[] = [];
  if (result.error?.kind === 'tls') {
    checks.push({ subject, problem: 'tls_invalid', ok: false, summary: stripName(result.error.message), detail: { fields: [['URL', result.url]] } });
    // It answered the handshake, so it isn't down; nothing was read, so nothing about staleness.
    checks.push({ subject, problem: 'endpoint_down', ok: true, summary: 'answers, but its TLS certificate is refused' });
    return checks;
  }
  if (result.tls) {
    checks.push({ subject, problem: 'tls_invalid', ok: true, summary: 'TLS certificate valid' });
    checks.push(expiryCheck(subject, result.tls.daysLeft, result.tls.validTo));
  }
  if (isDown(result)) {
    checks.push({ subject, problem: 'endpoint_down', ok: false, summary: downReason(result), detail: { fields: [['URL', result.url]] } });
    return checks;
  }
  checks.push({ subject, problem: 'endpoint_down', ok: true, summary: `answers HTTP ${result.status}` });
  const stale = staleCheck(subject, endpoint.versionHeader, served, expectation);
  if (stale) checks.push(stale);
  if (endpoint.cors && result.cors) {
    const { origin } = endpoint.cors;
    checks.push(
      result.cors.ok
        ? { subject, problem: 'cors_failing', ok: true, summary: `preflight allows ${origin}` }
        : { subject, problem: 'cors_failing', ok: false, summary: `${result.cors.reason ?? 'preflight refused'} (Origin ${origin})`, detail: { fields: [['Preflight', `OPTIONS ${result.url} from ${origin}`]] } },
    );
  }
  return checks;
}

/** Stale or current, against the expectation; undefined when the expected version is unknown. */
export function staleCheck(subject: string, versionHeader: string, served: ServedState, expectation: Expectation): CheckObservation | undefined {
  if (expectation.version === undefined) return undefined;
  const expected = `${expectation.version} (${expectation.source})`;
  if (served.version === expectation.version) {
    // The fields of a good look too: a resolved root shows what is served now, not the first bad answer.
    const fields: Array<[string, string]> = [['Expected', expected], ['Served', served.version], ['Since', formatTime(served.since, 'UTC')]];
    return { subject, problem: 'endpoint_stale', ok: true, summary: `serves ${served.version} as expected`, detail: { fields } };
  }
  const what =
    served.version !== null
      ? `serves ${served.version}`
      : served.raw !== undefined
        ? `serves an unreadable ${versionHeader} header ${quoteShort(served.raw)}`
        : `serves no ${versionHeader} header`;
  return {
    subject,
    problem: 'endpoint_stale',
    ok: false,
    summary: `${what}; expected ${expected}`,
    detail: {
      fields: [
        ['Expected', expected],
        ['Served', served.version ?? (served.raw !== undefined ? `unreadable ${quoteShort(served.raw)}` : 'none')],
        ['Since', formatTime(served.since, 'UTC')],
      ],
    },
  };
}

export function expiryCheck(subject: string, daysLeft: number, validTo: string): CheckObservation {
  const day = validTo.slice(0, 10);
  if (daysLeft < TLS_EXPIRY_WARNING_DAYS) {
    return { subject, problem: 'tls_expiring', ok: false, summary: `TLS certificate expires in ${plural(daysLeft, 'day')} (${day})` };
  }
  return { subject, problem: 'tls_expiring', ok: true, summary: `TLS certificate valid until ${day}` };
}

/** The one line that says why an endpoint is down: DNS, refused, timeout, 503, redirect… */
export function downReason(result: ProbeResult): string {
  if (result.error) return stripName(result.error.message);
  return `HTTP ${result.status}`;
}

// ---------------------------------------------------------------------------------------------
// Fleets

/**
 * Endpoints of one service that are up and serve different versions: a split fleet. Fewer than
 * two endpoints up (with a version read) give no verdict, so a fleet isn't "whole" just because
 * its other members are down.
 */
export function fleetCheck(service: string, members: Array<{ name: string; served: ServedState | undefined }>): CheckObservation | undefined {
  const live = members.filter((member): member is { name: string; served: ServedState } => member.served?.up === true && member.served.seen);
  if (live.length < 2) return undefined;
  const groups = new Map<string, string[]>();
  for (const member of live) {
    const key = describeServed(member.served);
    groups.set(key, [...(groups.get(key) ?? []), member.name]);
  }
  const subject = subjectOf.service(service);
  const listed = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([version, names]) => `${version} (${names.join(', ')})`);
  if (groups.size === 1) return { subject, problem: 'split_fleet', ok: true, summary: `${service} serves ${listed[0]}` };
  return {
    subject,
    problem: 'split_fleet',
    ok: false,
    summary: `${service} serves ${listed.join(', ')}`,
    detail: { fields: live.map((member) => [member.name, describeServed(member.served)] as [string, string]) },
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** The prober prefixes messages with the endpoint name; the incident already names it. */
function stripName(message: string): string {
  const colon = message.indexOf(': ');
  return colon > 0 && !message.slice(0, colon).includes(' ') ? message.slice(colon + 2) : message;
}

/** A header value quoted for a message: at most 40 characters of it, then `…`. */
function quoteShort(text: string): string {
  return JSON.stringify(clip(text, 41));
}

export function probeTarget(endpoint: EndpointConfig): ProbeTarget {
  return {
    url: endpoint.url,
    name: endpoint.name,
    headers: endpoint.headers,
    versionHeader: endpoint.versionHeader,
    followRedirects: endpoint.followRedirects,
    ...(endpoint.cors ? { cors: { origin: endpoint.cors.origin, method: endpoint.cors.method } } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The watcher

export interface EndpointWatcherOptions {
  config: Config;
  sink: ObservationSink;
  prober: Prober;
  log: Logger;
  /** Shared with other watchers, or one of its own when absent. */
  scheduler?: Scheduler;
}

export interface EndpointWatcherStats {
  probes: number;
  /** Probes of endpoints that were down or failed TLS. */
  failedProbes: number;
  cycles: number;
  lastCycleMs?: number;
  maxCycleMs?: number;
}

export class EndpointWatcher implements Watcher {
  private readonly config: Config;
  private readonly sink: ObservationSink;
  private readonly prober: Prober;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly ownScheduler: boolean;
  private readonly byName = new Map<string, EndpointConfig>();
  private readonly served = new Map<string, ServedState>();
  private prepared = false;
  private stopped = false;
  /** Image labels and workload specs read once per cycle instead of once per probe. */
  private cycleFacts: ExpectationFacts | undefined;
  private readonly counters: EndpointWatcherStats = { probes: 0, failedProbes: 0, cycles: 0 };

  constructor(options: EndpointWatcherOptions) {
    this.config = options.config;
    this.sink = options.sink;
    this.prober = options.prober;
    this.log = options.log.child({ component: 'endpoints' });
    this.ownScheduler = options.scheduler === undefined;
    this.scheduler = options.scheduler ?? new Scheduler();
    for (const endpoint of this.config.endpoints) this.byName.set(endpoint.name, endpoint);
  }

  start(): void {
    this.prepare();
    this.stopped = false;
    const leaders = fleetLeaders(this.config.endpoints);
    for (const endpoint of this.config.endpoints) {
      this.scheduler.every(
        endpoint.every,
        async () => {
          if (this.stopped) return;
          await this.probeEndpoint(endpoint.name);
          // One fleet observation per period: the service's first endpoint checks it, from the
          // last-known states of the others.
          if (endpoint.service && leaders.has(endpoint.name)) this.checkFleet(endpoint.service);
        },
        (error) => this.log.warn({ endpoint: endpoint.name, err: error }, `endpoint ${endpoint.name}: probe cycle failed`),
        `endpoint ${endpoint.name}`,
      );
    }
    this.log.info({ endpoints: this.config.endpoints.length }, 'endpoint watcher started');
  }

  loops(): WatchLoop[] {
    return this.scheduler.loops();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // A shared scheduler belongs to its owner; our tasks just become no-ops.
    if (this.ownScheduler) await this.scheduler.stop();
  }

  stats(): EndpointWatcherStats {
    return { ...this.counters };
  }

  /** Last-known served state of an endpoint (for tests and `/version status`). */
  servedState(name: string): ServedState | undefined {
    return this.served.get(name);
  }

  /** Every endpoint once, then the fleet checks. */
  async runCycle(): Promise<void> {
    this.prepare();
    const started = performance.now();
    this.cycleFacts = this.readFacts();
    try {
      const outcomes = await Promise.allSettled(this.config.endpoints.map((endpoint) => this.probeEndpoint(endpoint.name)));
      outcomes.forEach((outcome, index) => {
        if (outcome.status === 'rejected') this.log.warn({ err: outcome.reason }, `endpoint ${this.config.endpoints[index]!.name}: probe failed`);
      });
    } finally {
      this.cycleFacts = undefined;
    }
    for (const service of services(this.config.endpoints)) this.checkFleet(service);
    const elapsed = Math.round(performance.now() - started);
    this.counters.cycles++;
    this.counters.lastCycleMs = elapsed;
    this.counters.maxCycleMs = Math.max(this.counters.maxCycleMs ?? 0, elapsed);
  }

  /** Probes one endpoint and reports what it found. */
  async probeEndpoint(name: string): Promise<void> {
    const endpoint = this.byName.get(name);
    if (!endpoint) throw new Error(`endpoint watcher: no endpoint named "${name}" (endpoints: ${[...this.byName.keys()].join(', ') || 'none configured'})`);
    this.prepare();
    const result = await this.prober.probe(probeTarget(endpoint));
    const now = this.sink.now();
    const expectation = expectedVersion(endpoint, this.cycleFacts ?? this.readFacts());
    const { served, change } = nextServed(this.served.get(name), result, now, expectation);
    this.served.set(name, served);
    this.counters.probes++;
    if (isDown(result)) this.counters.failedProbes++;
    const subject = subjectOf.endpoint(name);
    this.sink.state(subject, 'served', served);
    for (const check of endpointChecks({ endpoint, result, served, expectation })) this.sink.check(check);
    // After the checks: a change that starts a stale streak finds the problem pending, and the
    // engine holds the notice for the incident's thread instead of posting a second root.
    if (change) this.sink.notice(versionChangedNotice(name, change, now));
  }

  /** Reports the split-fleet check of one service from the last-known served states. */
  checkFleet(service: string): void {
    const members = this.config.endpoints.filter((endpoint) => endpoint.service === service).map((endpoint) => ({ name: endpoint.name, served: this.served.get(endpoint.name) }));
    const check = fleetCheck(service, members);
    if (check) this.sink.check(check);
  }

  /** Static links, and the served history from before a restart (so no change is missed or invented). */
  private prepare(): void {
    if (this.prepared) return;
    this.prepared = true;
    for (const endpoint of this.config.endpoints) {
      const links = [...(endpoint.workload ? [subjectOf.workload(endpoint.workload)] : []), ...(endpoint.service ? [subjectOf.service(endpoint.service)] : [])];
      this.sink.links(subjectOf.endpoint(endpoint.name), 'config', links);
    }
    for (const { subject, value } of this.sink.statesOf<ServedState>('served')) {
      const name = subjectName(subject, 'endpoint');
      if (name !== undefined && this.byName.has(name) && value && typeof value.since === 'number') this.served.set(name, value);
    }
  }

  /** Lookups over the states other watchers wrote; each table is read only when needed. */
  private readFacts(): ExpectationFacts {
    let images: Map<string, ImageVersionState> | undefined;
    let specs: Map<string, WorkloadSpec> | undefined;
    return {
      imageVersion: (ref) => {
        images ??= new Map(this.sink.statesOf<ImageVersionState>('version').map((entry) => [entry.subject, entry.value]));
        return images.get(subjectOf.image(ref));
      },
      workloadSpec: (ref) => {
        specs ??= new Map(this.sink.statesOf<WorkloadSpec>('spec').map((entry) => [entry.subject, entry.value]));
        return specs.get(subjectOf.workload(ref));
      },
    };
  }
}

function services(endpoints: EndpointConfig[]): string[] {
  return [...new Set(endpoints.flatMap((endpoint) => (endpoint.service ? [endpoint.service] : [])))];
}

/** The first endpoint of each service, in config order. */
function fleetLeaders(endpoints: EndpointConfig[]): Set<string> {
  const seen = new Set<string>();
  const leaders = new Set<string>();
  for (const endpoint of endpoints) {
    if (!endpoint.service || seen.has(endpoint.service)) continue;
    seen.add(endpoint.service);
    leaders.add(endpoint.name);
  }
  return leaders;
}
