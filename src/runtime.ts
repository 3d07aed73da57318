import { systemClock, type Clock } from './domain/clock.js';
import type { Config } from './config.js';
import { logger as rootLogger, type Logger } from './log.js';
import { configuredSecrets, registerSecret } from './domain/redact.js';
import type { MessageModel, MessageService } from './domain/messages.js';
import { passwordIn, Store } from './store/index.js';
import { IncidentEngine } from './incidents/engine.js';
import { routeFor } from './incidents/routing.js';
import { Poster, type PosterOptions } from './delivery/poster.js';
import { CommandBus } from './commands/bus.js';
import { AccessPolicy, type GroupMembers } from './commands/access.js';
import { Confirmations } from './commands/confirm.js';
import type { AuditNote } from './commands/audit.js';
import { incidentCommands } from './commands/incident.js';
import { idsAsNames, type PeopleDirectory } from './commands/people.js';
import { workerCommands } from './commands/worker.js';
import { rolloutCommands } from './commands/rollout.js';
import { versionCommands, versionStatusMessage } from './commands/version.js';
import { RolloutFollower, type FollowOptions } from './commands/follower.js';
import { formatTime } from './domain/duration.js';
import type { ObservationSink, Watcher } from './watchers/types.js';
import { createWatchers } from './watchers/index.js';
import { KubeCluster } from './clients/kube.js';
import { RegistryClient } from './clients/registry.js';
import { RegistryWatcher } from './watchers/registry.js';
import { registrySettings } from './clients/registry-auth.js';
import { Metrics } from './metrics.js';
import { createWebApp, listen } from './web/server.js';
import { registerHealth, type ReadinessCheck } from './web/health.js';
import { registerHooks } from './web/hooks/index.js';
import { registerStatusPage, type StatusPage } from './web/status/index.js';
import { incidentPageUrl } from './incidents/render.js';
import { versionMatrix } from './commands/version.js';
import { ConfigError } from './config.js';
import type { FastifyInstance } from 'fastify';
import { createTask, type ScheduledTask } from 'node-cron';
import { dueCronMinute, renderDigest } from './incidents/digest.js';
import { clusterOf as clusterNamedIn, subjectName, subjectOf } from './domain/subjects.js';
import { electorFor, heartbeatBlocker, heartbeatFor, leaderCheck, type Heartbeat, type LeaseElector } from './ha/index.js';
import { CheckRequests } from './ha/check-requests.js';
import { beginFencingTerm } from './ha/fencing-term.js';
import { watchList } from './watchers/registry.js';
import type { TagChecker } from './web/hooks/index.js';

/*
 * The narrow interfaces the commands take. Each family declares what it needs beside its
 * handlers (so a command file never imports this one, and there is no cycle); they are listed
 * here because the Runtime is what satisfies them all.
 */
export type { WorkerCommandDeps } from './commands/worker.js';
export type { RolloutCommandDeps } from './commands/rollout.js';
export type { VersionCommandDeps } from './commands/version.js';
export type { IncidentCommandDeps } from './commands/incident.js';
export type { RolloutFollowerDeps, StoryDeps } from './commands/follower.js';
export type { ClusterAccess } from './commands/targets.js';

/** What a face (Slack, the console) needs: the bus, where alerts go, and the incident a thread belongs to. */
export interface CommandFace {
  readonly bus: Pick<CommandBus, 'families' | 'dispatch' | 'decide' | 'help'>;
  readonly defaultChannel: string;
  readonly log: Logger;
  readonly config: { readonly timezone: string; readonly console: { readonly user: string } };
  readonly store: { readonly incidents: Pick<Store['incidents'], 'incidentByThread' | 'incident'> };
  readonly engine: Pick<IncidentEngine, 'note'>;
  /** Refusals and presses by others, for the audit trail (and the incident's timeline). */
  audit(note: AuditNote): void;
  /** The Slack face fills in display names (users.info); the console keeps ids. */
  people: PeopleDirectory;
  /** The bot joined `channel`: messages Slack refused there go out now, in order. */
  channelJoined(channel: string): void;
}

/** A store fault in a word /readyz may show (the error text itself may name paths or hosts). */
function storeFaultState(problem: string | undefined): string {
  if (problem === undefined) return 'unavailable';
  if (/full|SQLITE_FULL/i.test(problem)) return 'full';
  if (/read-?only|SQLITE_READONLY/i.test(problem)) return 'read-only';
  return 'failing';
}

/** What a face does when this replica starts or stops leading (Slack: open or close Socket Mode). */
export interface LeadershipHooks {
  /** Called once the leader's work runs; must not wait for long (Socket Mode opens in the background). */
  startedLeading(): void;
  /** Called first thing when leading stops, before the leader's work is wound down: stop at once. */
  stoppedLeading(): void | Promise<void>;
}

/** The channel used when no Slack channel is configured (console, demo). */
const CONSOLE_CHANNEL = 'C0CONSOLE';

export interface RuntimeOptions {
  clock?: Clock;
  log?: Logger;
  groupMembers?: GroupMembers;
  poster?: PosterOptions;
  /** How often the Kubernetes watcher looks at every subject again (default 30 s; the demo is faster). */
  kubeRecheckMs?: number;
  /** How the rollout follower polls and when it gives up (tests: a short poll). */
  follow?: FollowOptions;
}

/** Everything between the watchers and a face: store, engine, commands, delivery. */
export class Runtime {
  readonly store: Store;
  readonly engine: IncidentEngine;
  readonly bus: CommandBus;
  /** Follows the rollouts commands start; stopped before the store closes. */
  readonly follower: RolloutFollower;
  readonly clock: Clock;
  readonly log: Logger;
  readonly defaultChannel: string;
  readonly metrics = new Metrics();
  /** Names for postmortems; the Slack face puts its users.info directory here. */
  people: PeopleDirectory = idsAsNames;
  private poster: Poster | undefined;
  private watchers: Watcher[] = [];
  /** With `ha`: the Lease elector; without it this replica always leads. */
  private elector: LeaseElector | undefined;
  private heartbeat: Heartbeat | undefined;
  /** The fencing term of the current leadership (see ha/fencing-term.ts), for the Lease term it began with. */
  private fencing: { leaseTerm: number; term: number } | undefined;
  /** Whether the leader's work (watchers, delivery, scheduler) runs in this process. */
  private leaderWork = false;
  /** Leadership changes, one at a time: a stop waits for the start before it. */
  private transitions: Promise<void> = Promise.resolve();
  private shuttingDown = false;
  private service: MessageService | undefined;
  private leadership: LeadershipHooks | undefined;
  private readonly checkRequests: CheckRequests;
  private web: FastifyInstance | undefined;
  /** The port the web server listens on (health, metrics, webhooks); undefined when it isn't. */
  webPort: number | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly kubeClusters = new Map<string, KubeCluster>();
  private registryClient: RegistryClient | undefined;
  private readonly digestCron: ScheduledTask;

  constructor(
    readonly config: Config,
    options: RuntimeOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? rootLogger();
    for (const secret of configuredSecrets(config, process.env)) registerSecret(secret);
    if (config.store.url) for (const secret of [passwordIn(config.store.url), process.env.PGPASSWORD]) registerSecret(secret);
    const statusAuth = config.statusPage?.basicAuth;
    if (statusAuth && !process.env[statusAuth.passwordEnv]) throw new ConfigError('environment', [`${statusAuth.passwordEnv}: required by statusPage.basicAuth (the status page's password)`]);
    if (statusAuth) registerSecret(process.env[statusAuth.passwordEnv]);
    this.store = Store.open(config.store.url ?? config.store.path);
    this.defaultChannel = config.slack.channel ?? CONSOLE_CHANNEL;
    // Workers and endpoints name their cluster only in the config (an endpoint through its workload).
    const workerClusters = new Map([
      ...config.workers.map((worker): [string, string] => [subjectOf.worker(worker.name), worker.cluster]),
      ...config.endpoints.filter((endpoint) => endpoint.workload).map((endpoint): [string, string] => [subjectOf.endpoint(endpoint.name), clusterNamedIn(subjectOf.workload(endpoint.workload!))!]),
    ]);
    const clusterOf = (subject: string) => clusterNamedIn(subject) ?? workerClusters.get(subject);
    const labelsOf = (subject: string) => this.store.subjects.state<{ labels?: Record<string, string> }>(subject, 'spec')?.value.labels ?? {};
    const pageUrl = (id: number) => incidentPageUrl(config.statusPage?.publicUrl, id);
    this.engine = new IncidentEngine(this.store, this.clock, config.alerting, (subject) => routeFor(config.routes, this.defaultChannel, subject, clusterOf, labelsOf), clusterOf, pageUrl);
    this.follower = new RolloutFollower(this, options.follow);
    const accessLog = this.log.child({ component: 'access' });
    const access = new AccessPolicy(config.access, options.groupMembers, {
      now: () => this.clock.now(),
      onLookupFailure: (group, error) => accessLog.warn({ group }, error.message),
    });
    this.confirmations = new Confirmations(
      (requester, plan) => this.audit({ actor: requester, action: plan.rule, target: 'confirmation', result: 'expired unpressed', ...(plan.incidentId !== undefined ? { incidentId: plan.incidentId } : {}) }),
      // In the store, so a Confirm pressed after a failover still acts (once).
      this.store.confirmations,
    );
    const audit = (note: AuditNote) => this.audit(note);
    this.bus = new CommandBus(access, this.confirmations, this.clock, audit);
    this.bus.register(
      ...incidentCommands({ store: this.store, engine: this.engine, clock: this.clock, formatTime: (at) => formatTime(at, config.timezone), people: () => this.people, access, audit, pageUrl }),
    );
    this.bus.register(...workerCommands(this), ...rolloutCommands(this), ...versionCommands(this));
    this.versionStatus = () => versionStatusMessage(this);
    this.posterOptions = options.poster ?? {};
    this.kubeRecheckMs = options.kubeRecheckMs;
    // node-cron parses and matches the expression; our clock decides when, so tests can drive it.
    this.digestCron = createTask(config.digest.cron, () => undefined, { timezone: config.timezone });
    this.checkRequests = new CheckRequests(this.store.subjects, () => this.clock.now(), this.log.child({ component: 'check-requests' }));
  }

  /**
   * Whether this replica may act (watch, decide, deliver) now: always without `ha`; with it,
   * while the elector says it leads — false the moment renewDeadline passes without a renew.
   */
  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : true;
  }

  /** The client of a configured cluster, shared by the watcher and the commands. */
  cluster(name: string): KubeCluster {
    let cluster = this.kubeClusters.get(name);
    if (!cluster) {
      const configured = this.config.clusters.find((candidate) => candidate.name === name);
      if (!configured) throw new Error(`unknown cluster "${name}" (clusters: ${this.config.clusters.map((candidate) => candidate.name).join(', ') || 'none configured'})`);
      cluster = new KubeCluster({ name, ...(configured.context ? { context: configured.context } : {}) });
      this.kubeClusters.set(name, cluster);
    }
    return cluster;
  }

  /** One registry client (token cache, rate limits) for the watcher and the commands. */
  registry(): RegistryClient {
    this.registryClient ??= new RegistryClient({ registries: registrySettings(this.config) });
    return this.registryClient;
  }

  /** Time-driven work: reminders, mute expiry, the daily digest. Runs every 30 s in production. */
  tick(): void {
    if (!this.isLeader()) return;
    this.engine.tick();
    const now = this.clock.now();
    this.confirmations.expire(now);
    const lastRun = this.store.subjects.state<number>('digest', 'lastRun')?.value ?? now - 60_000;
    const due = dueCronMinute(lastRun, now, (date) => this.digestCron.match(date));
    this.store.subjects.setState('digest', 'lastRun', now, now);
    if (due === undefined) return;
    const message = renderDigest(this.store.incidents.openIncidents(), now, this.versionStatus());
    this.store.outbox.enqueue({ key: `digest-${due}`, channel: this.defaultChannel, kind: 'post', incidentId: null, role: 'message', message, at: now });
  }

  private readonly confirmations: Confirmations;

  /**
   * One audit entry (PRODUCTION.md "Access"): a row in the audit table and, when it is about an
   * incident, a line on that incident's timeline (no actor, so it never counts as a mitigation).
   */
  audit(note: AuditNote): void {
    const at = this.clock.now();
    this.store.transaction(() => {
      const incident = note.incidentId !== undefined ? this.store.incidents.incident(note.incidentId) : undefined;
      this.store.audit.record({ at, actor: note.actor, action: note.action, target: note.target, before: null, after: null, result: note.result, incidentId: incident?.id ?? null });
      if (incident) {
        this.store.events.append({ at, subject: incident.primarySubject, type: 'audit', incidentId: incident.id, actor: null, summary: `<@${note.actor}> ${note.action}: ${note.result}`, data: { target: note.target } });
      }
    });
  }

  /** The `/version status` table, for the daily digest. */
  readonly versionStatus: () => MessageModel;

  private readonly posterOptions: PosterOptions;
  private readonly kubeRecheckMs: number | undefined;

  /** What watchers report into: the engine for decisions, the store for state and links. */
  sink(): ObservationSink {
    const { engine, store, clock } = this;
    // A leader that lost the Lease stops deciding at once, even before its watchers have stopped.
    const acting = () => this.isLeader();
    return {
      check: (observation) => {
        if (!acting()) return;
        this.metrics.observations.inc({ kind: observation.problem });
        const edge = engine.check(observation);
        if (edge === 'opened' || edge === 'resolved') this.metrics.alerts.inc({ edge });
      },
      notice: (observation) => {
        if (acting()) engine.notice(observation);
      },
      state: (subject, key, value) => {
        if (!acting()) return;
        store.subjects.setState(subject, key, value, clock.now());
        const latencyMs = key === 'served' ? (value as { latencyMs?: number }).latencyMs : undefined;
        if (typeof latencyMs === 'number') this.metrics.probeLatency.observe({ endpoint: subjectName(subject, 'endpoint') ?? subject }, latencyMs / 1000);
        if (key === 'ratelimit' && typeof value === 'number') this.metrics.registryRateLimit.set({ image: subjectName(subject, 'image') ?? subject }, value);
      },
      // Store writes too: a stale check of an ex-leader must not record history the new leader judges by.
      links: (subject, source, others) => {
        if (acting()) store.subjects.setLinks(subject, source, others);
      },
      tagDigest: (ref, digest, platforms) => (acting() ? engine.recordTagDigest(ref, digest, platforms) : undefined),
      running: (subject, containers) => {
        if (acting()) engine.recordRunning(subject, containers);
      },
      statesOf: (key) => store.subjects.allStates(key),
      now: () => clock.now(),
    };
  }

  /** Starts delivering the outbox through `service` (Slack or the terminal). */
  startDelivery(service: MessageService): Poster {
    const { metrics } = this;
    // Fencing with `ha`: claims carry the term, asked again right before each Slack call.
    const options: PosterOptions = { ...this.posterOptions, ...(this.config.ha ? { term: () => this.fencingTerm() } : {}) };
    this.poster = new Poster(this.store, service, this.clock, this.log.child({ component: 'outbox' }), options, {
      delivered: (kind) => metrics.slackCalls.inc({ kind, outcome: 'ok' }),
      retried: () => metrics.slackRetries.inc(),
      failed: () => metrics.slackCalls.inc({ kind: 'post', outcome: 'failed' }),
    });
    this.poster.start();
    return this.poster;
  }

  /** The bot joined `channel` (Slack's member_joined_channel): deliver what Slack refused there. */
  channelJoined(channel: string): void {
    this.poster?.channelJoined(channel);
  }

  /**
   * /readyz: the store (not ready while it can't take writes) and delivery (always ready, but
   * says how many messages wait and which channels refuse them — a refused alert is kept, and seen).
   */
  private storeAndDeliveryChecks(): Record<string, ReadinessCheck> {
    const { store } = this;
    const problem = this.poster?.storeProblem();
    // `state` is served; `detail` (error text that may name paths) stays in the logs.
    if (!store.db.open || problem) return { store: { ok: false, state: storeFaultState(problem), detail: problem ?? 'closed' }, delivery: { ok: true, state: 'paused while the store fails' } };
    try {
      const refused = store.outbox.refusedByChannel();
      const where = refused.map(({ channel, count, error }) => `${count} in ${channel} (${error ?? 'refused'})`).join(', ');
      return { store: { ok: true, state: 'ok' }, delivery: { ok: true, state: `${store.outbox.depth()} pending, ${refused.reduce((sum, row) => sum + row.count, 0)} refused by Slack${where ? `: ${where}` : ''}` } };
    } catch (error) {
      return { store: { ok: false, state: 'failing', detail: (error as Error).message }, delivery: { ok: true } };
    }
  }

  /**
   * Delivery, the watchers and the health server: everything `run` and `console` need. With
   * `ha`, every replica serves the web server and campaigns for the Lease; only the leader runs
   * the watchers, the scheduler, the rollout followers and delivery (and the face's Socket Mode,
   * through `leadership`). Without `ha` this replica leads from the start, as before.
   */
  async startServices(options: { service: MessageService; slackConnected?: () => boolean; leadership?: LeadershipHooks }): Promise<void> {
    this.service = options.service;
    this.leadership = options.leadership;
    const ha = this.config.ha;
    if (!ha) {
      await this.lead();
      await this.startWeb(options.slackConnected);
    } else {
      await this.startWeb(options.slackConnected);
      const elector = electorFor(ha, this.cluster(ha.cluster).kubeConfig, this.metrics.registry, { log: this.log });
      this.elector = elector;
      elector.on('startedLeading', (term) => {
        this.beginTerm(term);
        this.transition(`start leading (term ${term})`, () => this.lead());
      });
      elector.on('stoppedLeading', (reason) => {
        if (this.shuttingDown) return;
        // Socket Mode closes now, not after the queue: two connections may overlap for 2 s at most.
        void Promise.resolve(this.leadership?.stoppedLeading()).catch((error: unknown) => this.log.error({ err: error }, 'closing the Slack connection failed'));
        this.transition(`stop leading (${reason})`, () => this.standDown());
      });
      elector.start();
    }
    if (this.config.heartbeat) {
      const slackConnected = options.slackConnected;
      this.heartbeat = heartbeatFor(this.config.heartbeat, () => this.heartbeatBlocker(slackConnected), () => this.isLeader() && this.leaderWork);
      this.heartbeat.start();
    }
  }

  /** Why the leader must not ping its heartbeat now (see heartbeatBlocker), or undefined. */
  private heartbeatBlocker(slackConnected: (() => boolean) | undefined): string | undefined {
    const oldestPendingAt = this.store.outbox.oldestPendingAt();
    return heartbeatBlocker({
      now: Date.now(),
      loops: this.watchers.flatMap((watcher) => watcher.loops?.() ?? []),
      slackConnected: slackConnected?.() ?? true,
      oldestPendingAt,
    });
  }

  /** Takes a fencing term above every term the store has seen (a recreated Lease counts from 0 again). */
  private beginTerm(leaseTerm: number): void {
    this.fencing = undefined;
    try {
      const term = beginFencingTerm(this.store, leaseTerm, this.clock.now());
      this.fencing = { leaseTerm, term };
      if (term !== leaseTerm) this.log.info({ leaseTerm, term }, `fencing with term ${term}: the store has seen terms up to ${term - 1}`);
    } catch (error) {
      // Without a recorded term this replica delivers nothing (the poster sees no term) until the next leadership.
      this.log.error({ err: error }, `could not record the fencing term for lease term ${leaseTerm}; not delivering`);
    }
  }

  /** The term the poster claims rows under; undefined while not leading. */
  private fencingTerm(): number | undefined {
    const leaseTerm = this.elector?.term();
    return leaseTerm !== undefined && this.fencing?.leaseTerm === leaseTerm ? this.fencing.term : undefined;
  }

  /** Runs leadership changes in order; a failed one is logged (the elector keeps campaigning). */
  private transition(what: string, step: () => Promise<void>): void {
    this.transitions = this.transitions.then(step).catch((error: unknown) => this.log.error({ err: error }, `could not ${what}`));
  }

  /** The leader's work: delivery, the scheduler, the watchers, answering standbys' webhook checks. */
  private async lead(): Promise<void> {
    if (this.leaderWork || this.shuttingDown || !this.isLeader()) return;
    this.leaderWork = true;
    this.startDelivery(this.service!);
    this.ticker = setInterval(() => {
      try {
        this.tick();
        // Follows a standby stored (its commands run too in Slack HTTP mode) are followed here.
        if (this.isLeader()) this.follower.resume();
      } catch (error) {
        this.log.error({ err: error }, 'tick failed');
      }
    }, 30_000);
    this.ticker.unref();
    // Fresh watchers every term: what a previous term's watchers held in memory may be stale.
    this.watchers = createWatchers({
      config: this.config,
      sink: this.sink(),
      log: this.log,
      metrics: this.metrics,
      cluster: (name) => this.cluster(name),
      registry: () => this.registry(),
      ...(this.kubeRecheckMs ? { kubeRecheckMs: this.kubeRecheckMs } : {}),
    });
    for (const watcher of this.watchers) await watcher.start();
    // Rollouts a previous leader (or run) was following when it stopped: followed on from here.
    this.follower.resume();
    const registryWatcher = this.registryWatcher();
    if (this.config.ha && registryWatcher) this.checkRequests.serve((ref) => registryWatcher.checkNow(ref));
    this.leadership?.startedLeading();
  }

  /** Winds the leader's work down (the sink and the poster already refuse to act). */
  private async standDown(): Promise<void> {
    if (!this.leaderWork) return;
    this.leaderWork = false;
    this.checkRequests.stop();
    if (this.ticker) clearInterval(this.ticker);
    const watchers = this.watchers;
    this.watchers = [];
    await Promise.allSettled(watchers.map((watcher) => watcher.stop()));
    await this.follower.stopAll();
    // No waiting on sends in flight: fencing already stops them, and the next lead() waits behind this.
    await this.poster?.stop(Date.now());
    this.poster = undefined;
  }

  private registryWatcher(): RegistryWatcher | undefined {
    return this.watchers.find((watcher): watcher is RegistryWatcher => watcher instanceof RegistryWatcher);
  }

  /**
   * What the webhooks check tags through: the leader's registry watcher, or on a standby a
   * request the leader answers. Undefined when nothing is watched (hooks still verify and answer).
   */
  private tagChecker(): TagChecker | undefined {
    if (!this.config.ha) return this.registryWatcher();
    let cached: { at: number; list: ReadonlyMap<string, { ref: string }> } | undefined;
    const standbyList = () => {
      // The same list the leader's watcher builds (config + pod specs in the store), a second old at most.
      if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), list: watchList(this.config, this.store.subjects.allStates('spec'), () => undefined) };
      return cached.list;
    };
    return {
      watching: () => this.registryWatcher()?.watching() ?? standbyList(),
      checkNow: (ref) => {
        const watcher = this.registryWatcher();
        return watcher && this.isLeader() ? watcher.checkNow(ref) : this.checkRequests.request(ref);
      },
    };
  }

  /** The web server: /healthz, /readyz, /metrics, the configured registry webhooks and the status page. */
  private async startWeb(slackConnected: (() => boolean) | undefined): Promise<void> {
    const { store, metrics, config } = this;
    const web = createWebApp({ log: this.log.child({ component: 'web' }) });
    // First, so its basic auth runs before every other route's handler.
    const statusPage: StatusPage | undefined = config.statusPage
      ? registerStatusPage(web, {
          incidents: store.incidents,
          events: store.events,
          rootPostedAt: (id) => store.outbox.byKey(`inc-${id}-root`)?.sentAt,
          versionMatrix: () => versionMatrix(this),
          now: () => this.clock.now(),
          formatTime: (at) => formatTime(at, config.timezone),
          people: () => this.people,
          ...(config.statusPage.basicAuth ? { basicAuth: { username: config.statusPage.basicAuth.username, password: process.env[config.statusPage.basicAuth.passwordEnv] ?? '' } } : {}),
          log: this.log.child({ component: 'status-page' }),
        })
      : undefined;
    const hooks = registerHooks(web, {
      webhooks: config.webhooks,
      registries: config.registries,
      env: process.env,
      checker: this.tagChecker(),
      metrics,
      log: this.log.child({ component: 'webhooks' }),
    });
    registerHealth(web, {
      metrics,
      checks: () => ({
        ...this.storeAndDeliveryChecks(),
        ...(this.elector ? { leader: this.leaderReadiness() } : {}),
        // A standby holds no Socket Mode connection by design; that is not a fault.
        ...(slackConnected ? { slack: this.elector && !this.leaderWork ? { ok: true, state: 'standby: the leader holds the connection' } : { ok: slackConnected() } } : {}),
        ...Object.fromEntries(this.watchers.flatMap((watcher) => Object.entries(watcher.health?.() ?? {}))),
        ...hooks.readiness(),
        ...statusPage?.readiness(),
      }),
      beforeScrape: () => {
        if (!store.db.open) return;
        metrics.outboxDepth.set(store.outbox.depth());
        metrics.outboxFailed.set(store.outbox.failedCount());
        metrics.outboxRefused.reset();
        for (const { channel, count } of store.outbox.refusedByChannel()) metrics.outboxRefused.set({ channel }, count);
      },
    });
    try {
      this.webPort = await listen(web, config.server.host, config.server.port);
      this.web = web;
    } catch (error) {
      // A busy port must not stop the bot from alerting; it only loses /healthz, /metrics and the hooks.
      this.log.warn(`web server on ${config.server.host}:${config.server.port} not started: ${(error as Error).message}`);
      await web.close().catch(() => undefined);
    }
  }

  /** The `leader` readiness check: ok on the leader and on a healthy standby; the state names the role. */
  private leaderReadiness(): { ok: boolean; state: string; detail: string } {
    const status = this.elector!.status();
    const check = leaderCheck(status);
    // The public state keeps the role and who leads; the apiserver's error text stays in the detail.
    const state = check.ok ? check.detail : 'standby: cannot read or renew the lease';
    return { ok: check.ok, state, detail: check.detail };
  }

  /**
   * SIGTERM: stop the watchers, drain the outbox for a bounded time, give the Lease up (so a
   * standby leads within its retryPeriod), close the store.
   */
  async shutdown(drainMs = 10_000): Promise<void> {
    this.shuttingDown = true;
    this.heartbeat?.stop();
    const deadline = Date.now() + drainMs;
    const remaining = () => Math.max(0, deadline - Date.now());
    const bounded = (work: Promise<unknown>) => Promise.race([work, new Promise((resolve) => setTimeout(resolve, remaining()).unref())]);
    if (this.ticker) clearInterval(this.ticker);
    this.checkRequests.stop();
    // No new deliveries first, so no webhook starts a check on a stopping watcher.
    await bounded(this.web?.close() ?? Promise.resolve());
    await bounded(this.transitions);
    await bounded(Promise.allSettled(this.watchers.map((watcher) => watcher.stop())));
    await this.stop(remaining());
    await bounded(this.registryClient?.close() ?? Promise.resolve());
  }

  /** Stops delivery after draining for at most `drainMs` (DESIGN.md: 10 s on SIGTERM), then closes the store. */
  async stop(drainMs = 10_000): Promise<void> {
    const deadline = Date.now() + drainMs;
    // A follow stuck in a kube read must not spend the time the outbox needs to drain: half the budget at most.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.follower.stopAll(), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, drainMs / 2))))]);
    clearTimeout(timer);
    if (this.poster) {
      const drained = await this.poster.drain(Math.max(0, deadline - Date.now()));
      if (!drained) this.log.warn({ pending: this.poster.storeProblem() ? 'unknown (store failing)' : this.store.outbox.depth() }, 'stopping with messages still in the outbox; they are delivered at the next start');
      // A call still hung is abandoned at the deadline: its row stays in doubt and is searched for at the next start.
      await this.poster.stop(deadline);
    }
    // Released only once nothing of ours can reach Slack any more: the next leader starts clean.
    await this.elector?.release();
    this.store.close();
  }
}
