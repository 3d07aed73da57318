/**
 * What happens after a cluster-changing command acts: where its story is told (the thread of the
 * open incident about that subject, else notices in the channel), and following the rollout it
 * started until the new pods are Ready, the rollout fails, or time runs out. The verdicts come
 * from `kube/rollout.ts` and `kube/pods.ts`, the same the watcher reports.
 */
import { randomUUID } from 'node:crypto';
import { selectorString, type Workload } from '../clients/kube.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { neutralizeMentions } from '../domain/untrusted.js';
import type { IncidentRecord, NoticeKind } from '../domain/model.js';
import { openIncidentTaking } from '../incidents/choose.js';
import type { IncidentEngine } from '../incidents/engine.js';
import { PENDING_TOO_LONG_MS, podProblem } from '../kube/pods.js';
import { judgeRollout, ON_DELETE_REASON, ON_DELETE_WAITING, onDeleteChange, type RolloutProgress } from '../kube/rollout.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { ClusterAccess, RolloutTarget } from './targets.js';
import type { CommandContext } from './types.js';

/* ------------------------------------------------------------------------------------------ */
/* Where the story goes                                                                        */

/** What telling a change's story needs: the incidents and links it may belong to, and the engine that posts. */
export interface StoryDeps {
  store: Pick<Store, 'incidents' | 'subjects'>;
  engine: Pick<IncidentEngine, 'recordAction' | 'notice'>;
}

/**
 * The open incident a change to `subject` belongs to: the incident whose thread the button was
 * pressed in, else the one `openIncidentTaking` chooses (incidents/choose.ts, the engine's own
 * rule: one copy of it). The one place commands ask this.
 */
export function openIncidentFor(deps: Pick<StoryDeps, 'store'>, subject: string, ctx?: CommandContext): IncidentRecord | undefined {
  const { store } = deps;
  if (ctx?.threadTs) {
    const id = store.incidents.incidentByThread(ctx.channel, ctx.threadTs);
    const incident = id ? store.incidents.incident(id) : undefined;
    if (incident?.status === 'open') return incident;
  }
  return openIncidentTaking(store, subject);
}

/** One step of a change, as `tell` records it. */
export interface StoryStep {
  subject: string;
  incidentId?: number;
  user: string;
  action: string;
  notice: NoticeKind;
  summary: string;
  data?: Record<string, unknown>;
  replyTo?: string;
  /**
   * A report on a change already made (the follower's progress and outcome), not something the
   * person did: told as a notice it has no actor, so an incident that opened meanwhile does not
   * count it as their acknowledgement or a mitigating change (DESIGN.md "Summary figures"); the
   * requester is named in its data (`requestedBy`).
   */
  report?: boolean;
}

/**
 * One step of a change: on the incident's timeline and thread; with no incident, as a message in
 * the channel whose thread the later steps reply in (`replyTo`). Returns that message's key.
 */
export function tell(deps: StoryDeps, step: StoryStep): string | undefined {
  if (step.incidentId !== undefined && deps.store.incidents.incident(step.incidentId)) {
    deps.engine.recordAction(step.incidentId, step.user, step.action, step.summary, step.data ?? {});
    return undefined;
  }
  const data = step.report ? { ...step.data, requestedBy: step.user } : step.data;
  return deps.engine.notice({ subject: step.subject, kind: step.notice, summary: step.summary, ...(step.report ? {} : { actor: step.user }), ...(data ? { data } : {}), ...(step.replyTo ? { replyTo: step.replyTo } : {}) });
}

/* ------------------------------------------------------------------------------------------ */
/* Following                                                                                   */

export interface FollowOptions {
  /** How often the workload and its pods are read. Default 2 s. */
  pollMs?: number;
  /** Give up after this long. Default: the Deployment's progressDeadlineSeconds + 1 min, else 10 min. */
  timeoutMs?: number;
  /** At most one progress reply per this long. Default 30 s. */
  progressEveryMs?: number;
  /** Consecutive failed reads before giving up. Default 5. */
  maxReadErrors?: number;
  /** A new pod Pending or never Ready for this long, or crashing within this long of its last crash, is failing (the watcher's `pendingTooLongMs`). Default 5 min. */
  podGraceMs?: number;
}

export interface FollowJob {
  target: RolloutTarget;
  /** Who asked; the replies name them. */
  user: string;
  /** The access rule of the change (`worker pin`), for the audit trail. */
  rule: string;
  /** What was done, for the outcome line: `pin to sha256:8b96908d`. */
  what: string;
  incidentId?: number;
  /** With no incident: the key of the command's own message, whose thread the outcome goes into. */
  threadKey?: string;
  /**
   * Pods that existed before the change; only newer pods can make it fail. Unknown (the list
   * failed): only the workload's own status and the deadline decide.
   */
  podsBefore: Set<string> | undefined;
}

export interface FollowOutcome {
  state: 'done' | 'failed' | 'stopped';
  summary: string;
}

/** What the follower needs: the clusters to read, where to tell, the clock, the log. */
export interface RolloutFollowerDeps extends ClusterAccess {
  /** With `follows`, a followed rollout outlives this process: the next leader follows it on. */
  store: Pick<Store, 'incidents' | 'subjects' | 'audit'> & Partial<Pick<Store, 'follows'>>;
  engine: Pick<IncidentEngine, 'recordAction' | 'notice'>;
  clock: Clock;
  log: Logger;
  /**
   * With `ha`: whether this replica leads now (the runtime's). Only the leader follows and tells
   * outcomes; a standby stores the follow for the leader, and a paused ex-leader tells nothing.
   */
  isLeader?: () => boolean;
}

interface StopSignal {
  stopped: boolean;
  wake?: () => void;
}

const sleep = (ms: number, signal: StopSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

const podKey = (pod: { metadata?: { uid?: string; name?: string } }) => pod.metadata?.uid ?? pod.metadata?.name ?? '';

/** The pod label selector of a workload, or undefined when it selects nothing we can write. */
export const podSelectorOf = (workload: Workload): string | undefined => selectorString(workload.spec?.selector) || undefined;

/**
 * Follows rollouts in the background, one loop per change, and tells their outcome where the
 * change was told. One per runtime, shared by every command; time comes from the injected clock.
 */
export class RolloutFollower {
  private readonly jobs = new Set<Promise<FollowOutcome>>();
  private readonly signals = new Set<StopSignal>();
  /** Ids of the stored follows this process runs now. */
  private readonly following = new Set<string>();
  private readonly log: Logger;

  constructor(
    private readonly deps: RolloutFollowerDeps,
    private options: FollowOptions = {},
  ) {
    this.log = deps.log.child({ component: 'rollout-follow' });
  }

  /** Changes the options from now on (tests: a short poll). */
  configure(options: FollowOptions): void {
    this.options = { ...this.options, ...options };
  }

  /** Pod uids of the workload now, taken before a change so its new pods can be told apart. */
  async podsOf(target: Pick<RolloutTarget, 'cluster' | 'namespace'>, workload: Workload): Promise<Set<string>> {
    const pods = await this.deps.cluster(target.cluster).listPods(target.namespace, podSelectorOf(workload));
    return new Set(pods.map(podKey));
  }

  /**
   * Starts following; the promise settles when the outcome has been told. The follow is stored
   * until its outcome is told, so a follow stopped by a failover or a shutdown goes on (`resume`).
   */
  follow(job: FollowJob, deadlineHintMs?: number, resumed?: { id: string; startedAt: number }): Promise<FollowOutcome> {
    const signal: StopSignal = { stopped: false };
    this.signals.add(signal);
    const follows = this.deps.store.follows;
    const id = resumed?.id ?? randomUUID();
    const startedAt = resumed?.startedAt ?? this.deps.clock.now();
    try {
      if (!resumed) follows?.add({ id, job: { ...job, podsBefore: job.podsBefore ? [...job.podsBefore] : null }, startedAt, timeoutMs: deadlineHintMs ?? null });
    } catch (error) {
      this.log.warn({ err: error, subject: job.target.subject }, 'could not store the rollout follow; a failover would stop it');
    }
    if (follows && !this.leading()) {
      // A standby (Slack HTTP mode runs commands on every replica): the leader follows it (resume).
      this.signals.delete(signal);
      return Promise.resolve({ state: 'stopped', summary: 'stored for the leader to follow' });
    }
    this.following.add(id);
    const run = this.run(job, signal, deadlineHintMs, startedAt, id)
      .catch((error: unknown): FollowOutcome => {
        this.log.error({ err: error, subject: job.target.subject }, 'following a rollout crashed');
        return { state: 'failed', summary: `following the rollout crashed: ${neutralizeMentions((error as Error).message)}` };
      })
      .then((outcome) => {
        // Told: done. Stopped: the next leader (or the next start) follows it on.
        if (outcome.state !== 'stopped') {
          try {
            follows?.remove(id);
          } catch (error) {
            this.log.warn({ err: error }, 'could not remove the finished rollout follow');
          }
        }
        return outcome;
      })
      .finally(() => {
        this.signals.delete(signal);
        this.following.delete(id);
        this.jobs.delete(run);
      });
    this.jobs.add(run);
    return run;
  }

  /** Follows the stored rollouts nobody follows here yet (a new leader, a restart); returns how many. */
  resume(): number {
    const follows = this.deps.store.follows;
    if (!follows) return 0;
    let resumed = 0;
    for (const stored of follows.all()) {
      if (this.following.has(stored.id)) continue;
      const saved = stored.job as Omit<FollowJob, 'podsBefore'> & { podsBefore: string[] | null };
      const job: FollowJob = { ...saved, podsBefore: saved.podsBefore ? new Set(saved.podsBefore) : undefined };
      this.log.info({ subject: job.target.subject, what: job.what }, 'following on a rollout a previous leader (or run) started');
      void this.follow(job, stored.timeoutMs ?? undefined, { id: stored.id, startedAt: stored.startedAt });
      resumed++;
    }
    return resumed;
  }

  /** Rollouts being followed right now. */
  active(): number {
    return this.jobs.size;
  }

  /** Resolves when every rollout followed now has been told. */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  /** Stops following (shutdown); nothing more is posted. */
  async stopAll(): Promise<void> {
    for (const signal of this.signals) {
      signal.stopped = true;
      signal.wake?.();
    }
    await this.idle();
  }

  /** Whether this replica may follow and tell now (always without `isLeader`). */
  private leading(): boolean {
    return this.deps.isLeader?.() ?? true;
  }

  private async run(job: FollowJob, signal: StopSignal, deadlineHintMs: number | undefined, started: number, id: string): Promise<FollowOutcome> {
    const { target } = job;
    const { clock } = this.deps;
    const pollMs = this.options.pollMs ?? 2_000;
    const timeoutMs = this.options.timeoutMs ?? deadlineHintMs ?? 600_000;
    const progressEveryMs = this.options.progressEveryMs ?? 30_000;
    const maxReadErrors = this.options.maxReadErrors ?? 5;
    const podGraceMs = this.options.podGraceMs ?? PENDING_TOO_LONG_MS;
    const cluster = this.deps.cluster(target.cluster);
    let lastProgressAt = clock.now();
    let lastProgressKey = '';
    let readErrors = 0;
    let last: RolloutProgress | undefined;
    const finish = (state: 'done' | 'failed', detail: string, headline?: string) => this.finish(job, id, state, detail, started, headline);
    while (!signal.stopped) {
      try {
        const workload = await cluster.getWorkload(target.kind, target.namespace, target.name);
        if (!workload) return finish('failed', `${target.kind} ${target.namespace}/${target.name} disappeared from cluster ${target.cluster}`);
        const progress = judgeRollout(target.kind, workload);
        last = progress;
        readErrors = 0;
        if (progress.state === 'done') {
          // OnDelete: nothing more to follow, but no new pod runs either; a partition: done as asked. Said as it is.
          if (progress.reason === ON_DELETE_REASON) return finish('done', onDeleteChange(progress), `ℹ️ ${ON_DELETE_WAITING}`);
          return finish('done', progress.reason ?? `${progress.ready}/${progress.desired} new pods Ready`);
        }
        const before = job.podsBefore;
        const newPods = before ? (await cluster.listPods(target.namespace, podSelectorOf(workload))).filter((pod) => !before.has(podKey(pod))) : [];
        const problem = podProblem(newPods, { now: clock.now(), pendingTooLongMs: podGraceMs });
        if (progress.state === 'failed' || problem) return finish('failed', problem ?? progress.reason ?? 'the rollout failed');
        const key = `${progress.updated}/${progress.ready}`;
        if (key !== lastProgressKey && clock.now() - lastProgressAt >= progressEveryMs) {
          lastProgressKey = key;
          lastProgressAt = clock.now();
          if (job.incidentId !== undefined && this.leading()) {
            this.post(job, 'action.rollout_progress', 'rollout_started', `⏳ ${target.label}: ${progress.updated}/${progress.desired} pods updated, ${progress.ready} ready${progress.reason ? ` (${progress.reason})` : ''}`);
          }
        }
      } catch (error) {
        readErrors++;
        this.log.warn({ err: error, subject: target.subject, readErrors }, 'reading a rollout failed');
        // The apiserver's error text is untrusted like a pod's: it can mention no one.
        if (readErrors >= maxReadErrors) return finish('failed', `lost track of it: ${neutralizeMentions((error as Error).message)}`);
      }
      if (clock.now() - started >= timeoutMs) {
        const where = last ? `${last.updated}/${last.desired} pods updated, ${last.ready} ready${last.reason ? ` (${last.reason})` : ''}` : 'no status read';
        return finish('failed', `not finished after ${formatDuration(timeoutMs)}: ${where}`);
      }
      await sleep(pollMs, signal);
    }
    return { state: 'stopped', summary: 'stopped following' };
  }

  private finish(job: FollowJob, id: string, state: 'done' | 'failed', detail: string, started: number, headline = '✅ Rollout finished'): FollowOutcome {
    const { clock, store } = this.deps;
    // A paused ex-leader waking with a read in flight: the new leader follows the same row on.
    if (!this.leading()) return { state: 'stopped', summary: 'no longer leading' };
    if (!this.claim(id)) return { state: 'stopped', summary: 'another replica told this outcome' };
    const took = formatDuration(clock.now() - started);
    const { target } = job;
    const summary =
      state === 'done'
        ? `${headline}: ${target.label} (${job.what}) — ${detail}, after ${took}`
        : `❌ Rollout failed: ${target.label} (${job.what}) — ${detail}. The pods that were Ready before keep running; see /rollout status ${target.subject}`;
    this.post(job, state === 'done' ? 'action.rollout_finished' : 'action.rollout_failed', state === 'done' ? 'rollout_finished' : 'rollout_failed', summary);
    try {
      store.audit.record({
        at: clock.now(),
        actor: job.user,
        action: `${job.rule} rollout`,
        target: `${target.subject} (${job.what})`,
        before: null,
        after: null,
        result: state === 'done' ? `finished: ${detail}` : `failed: ${detail}`,
        incidentId: job.incidentId ?? null,
      });
    } catch (error) {
      this.log.warn({ err: error }, 'could not audit the rollout outcome');
    }
    return { state, summary };
  }

  /** Takes the stored follow atomically (DELETE), so only one replica tells its outcome. */
  private claim(id: string): boolean {
    const follows = this.deps.store.follows;
    if (!follows) return true;
    try {
      return follows.remove(id);
    } catch (error) {
      // The store is failing: telling twice beats never telling.
      this.log.warn({ err: error }, 'could not take the finished rollout follow from the store; telling its outcome anyway');
      return true;
    }
  }

  private post(job: FollowJob, action: string, notice: NoticeKind, summary: string): void {
    try {
      tell(this.deps, { subject: job.target.subject, ...(job.incidentId !== undefined ? { incidentId: job.incidentId } : {}), ...(job.threadKey ? { replyTo: job.threadKey } : {}), user: job.user, action, notice, summary, report: true });
    } catch (error) {
      // The store may be closing (shutdown); the log keeps what the thread could not.
      this.log.warn({ err: error, summary }, 'could not post rollout progress');
    }
  }
}
