/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics (client-node
 * has none): a candidate takes the Lease when it is free or expired, the leader renews it every
 * `retryPeriod`, and a leader that has not renewed within `renewDeadline` stops leading at once.
 *
 * Expiry is judged by the local time at which this replica last saw the record change, never by
 * the `renewTime` written in it: the holder's clock may be skewed.
 *
 * Deviations from client-go, each for a reason:
 * - a standby keeps campaigning after it lost leadership (client-go's elector is one-shot);
 * - every new leadership of this process is a new term (`leaseTransitions` + 1): the term fences
 *   writes, so it must change whenever leading restarts;
 * - a Lease naming our identity is ours only if it is the record we last wrote (its
 *   resourceVersion or renewTime): two replicas sharing an identity (a static `ha.identity` in a
 *   ConfigMap, identical hostnames) would otherwise both lead under one term that fencing cannot
 *   tell apart. Any other record under our name counts as held by someone else (logged as an
 *   error naming `ha.identity`) until it expires — so a restarted pod with the same name waits for
 *   its predecessor's Lease to expire like any standby;
 * - a standby's jitter is at most 25% of `retryPeriod` (client-go: 120%), so a released Lease is
 *   taken within `retryPeriod` + 2 s as the contract promises;
 * - a renew that finds another holder with a valid lease stops leading at once instead of
 *   retrying until `renewDeadline`.
 */
import { EventEmitter } from 'node:events';
import { V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { classifyKubeError } from '../clients/kube.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { logger, type Logger } from '../log.js';
import { realTimers, type Timers } from './timers.js';

/** The three calls the elector makes; client-node's `CoordinationV1Api` has this shape. */
export interface LeaseApi {
  readNamespacedLease(param: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(param: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(param: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease>;
}


/** Hooks for `driftwatch_leader` and `driftwatch_lease_transitions_total` (see metrics.ts). */
export interface LeaseMetrics {
  leader(leading: boolean): void;
  /** This replica saw the Lease change hands (its own acquisitions included). */
  transition(): void;
}

export interface LeaseElectorOptions {
  api: LeaseApi;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  clock?: Clock;
  timers?: Timers;
  /** [0, 1); the standby's jitter. */
  random?: () => number;
  log?: Logger;
  metrics?: LeaseMetrics;
}

export interface ElectorStatus {
  role: 'leader' | 'standby';
  identity: string;
  /** The term this replica leads under; undefined on a standby. */
  term: number | undefined;
  /** Who the Lease names, as last read (undefined: free, or never read). */
  holder: string | undefined;
  /** The last attempt's failure, e.g. `lease driftwatch/driftwatch-leader: unreachable on get: …`; undefined after a success. */
  lastError: string | undefined;
}

const STANDBY_JITTER = 0.25;

/** `at`: when the attempt started, i.e. the renewTime it wrote. */
type Attempt = { leading: true; term: number; at: number } | { leading: false; lostTo?: string };

/** What identifies one write of the Lease: the apiserver's resourceVersion, and the renewTime we sent. */
interface Written {
  resourceVersion: string | undefined;
  renewTime: string;
}

export class LeaseElector extends EventEmitter<{ startedLeading: [term: number]; stoppedLeading: [reason: string] }> {
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly where: string;
  private running = false;
  private leading = false;
  private currentTerm: number | undefined;
  /** The leader acts until here: its last successful renew's start + renewDeadline. */
  private leadingUntil = 0;
  /** The attempt under way, if any (release waits for it). */
  private inFlight: Promise<Attempt> | undefined;
  private tickTimer: unknown;
  private deadlineTimer: unknown;
  /** Bumped on every stop and loss, so an answer that arrives later is ignored. */
  private generation = 0;
  private observed: { key: string; spec: V1LeaseSpec; at: number } | undefined;
  private lastError: string | undefined;
  /** Our last write of the Lease (sent, answered or not: a renew can land after its deadline). */
  private written: Written | undefined;

  constructor(private readonly options: LeaseElectorOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.where = `lease ${options.namespace}/${options.name}`;
    this.log = (options.log ?? logger()).child({ component: 'elector', lease: `${options.namespace}/${options.name}`, identity: options.identity });
  }

  /**
   * Whether this replica may act as the leader now. Also false once renewDeadline has passed
   * since the last renew began, even before the timer that stops leading has run (a process
   * that was paused runs its due callbacks in an arbitrary order when it wakes up).
   */
  isLeader(): boolean {
    return this.leading && this.clock.now() < this.leadingUntil;
  }

  /** The term this replica leads under (`leaseTransitions` when it acquired); undefined when not leading. */
  term(): number | undefined {
    return this.isLeader() ? this.currentTerm : undefined;
  }

  status(): ElectorStatus {
    return { role: this.isLeader() ? 'leader' : 'standby', identity: this.options.identity, term: this.term(), holder: this.observed?.spec.holderIdentity || undefined, lastError: this.lastError };
  }

  /** Starts campaigning (the first attempt is immediate). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.options.metrics?.leader(false);
    this.schedule(0);
  }

  /**
   * Stops campaigning and, when leading, gives the Lease up (no holder, leaseDurationSeconds 1,
   * as client-go's ReleaseOnCancel) so a standby takes it within its next `retryPeriod`. Emits
   * `stoppedLeading` before writing: call it once this replica's leader work has stopped.
   */
  async release(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.timers.clearTimeout(this.tickTimer);
    const term = this.currentTerm;
    const wasLeading = this.leading;
    this.stopLeading('released');
    const { api, namespace, name, identity } = this.options;
    const release = async (): Promise<boolean> => {
      // An attempt under way may still take the Lease: wait for it, then give up whatever it holds.
      const pending = await this.inFlight?.catch(() => undefined);
      if (!wasLeading && !pending?.leading) return false;
      const lease = await api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity || !this.isOurs(lease)) return false;
      const now = new V1MicroTime(this.clock.now());
      const spec: V1LeaseSpec = { leaseDurationSeconds: 1, leaseTransitions: lease.spec.leaseTransitions ?? term, acquireTime: now, renewTime: now };
      await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
      return true;
    };
    try {
      // One renewDeadline for all of it: shutdown must not wait on a black-holed apiserver.
      if (await this.withDeadline(release())) this.log.info({ term }, `${this.where}: released`);
    } catch (error) {
      this.log.warn(`${(error as Error).message === 'deadline' ? `${this.where}: no answer within ${this.options.renewDeadlineMs} ms on release` : this.failure(error, 'release')}; a standby takes over when the lease expires`);
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.tickTimer = this.timers.setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const generation = this.generation;
    let attempt: Attempt;
    try {
      this.inFlight = this.withDeadline(this.tryAcquireOrRenew());
      attempt = await this.inFlight;
    } catch {
      // Only the deadline rejects here; tryAcquireOrRenew turns API failures into results.
      this.lastError = `${this.where}: no answer within ${this.options.renewDeadlineMs} ms`;
      this.log.warn(this.lastError);
      attempt = { leading: false };
    } finally {
      this.inFlight = undefined;
    }
    if (!this.running) return;
    if (generation !== this.generation && attempt.leading && !this.leading) {
      // An answer from before we stopped leading: the next attempt judges afresh.
      attempt = { leading: false };
    }
    if (attempt.leading) {
      this.renewed(attempt.term, attempt.at);
    } else if (this.leading && attempt.lostTo) {
      this.stopLeading(`the lease is held by ${attempt.lostTo}`);
    }
    const jitter = this.leading ? 0 : this.random() * STANDBY_JITTER;
    this.schedule(this.options.retryPeriodMs * (1 + jitter));
  }

  private renewed(term: number, at: number): void {
    // The Lease changed hands behind our back (e.g. an operator cleared it): a new term is a new leadership.
    if (this.leading && term !== this.currentTerm) this.stopLeading(`the term moved from ${this.currentTerm} to ${term}`);
    // Counted from when the renew began (the renewTime the others judge by), not from its answer.
    this.leadingUntil = at + this.options.renewDeadlineMs;
    this.timers.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = this.timers.setTimeout(() => this.stopLeading(`no renew within renewDeadline (${this.options.renewDeadlineMs} ms)`), Math.max(0, this.leadingUntil - this.clock.now()));
    if (this.leading) return;
    this.leading = true;
    this.currentTerm = term;
    this.options.metrics?.leader(true);
    this.log.info({ term }, `${this.where}: leading (term ${term})`);
    this.safely(() => this.emit('startedLeading', term));
  }

  private stopLeading(reason: string): void {
    this.generation++;
    this.timers.clearTimeout(this.deadlineTimer);
    if (!this.leading) return;
    this.leading = false;
    this.options.metrics?.leader(false);
    this.log.warn({ term: this.currentTerm }, `${this.where}: stopped leading: ${reason}`);
    this.safely(() => this.emit('stoppedLeading', reason));
  }

  /** A listener's exception must not stop the campaign. */
  private safely(emit: () => void): void {
    try {
      emit();
    } catch (error) {
      this.log.error({ err: error }, `${this.where}: a leadership listener failed`);
    }
  }

  /** One round of client-go's tryAcquireOrRenew. API failures are logged and count as a failed attempt. */
  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { api, namespace, name, identity } = this.options;
    const now = this.clock.now();
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (classifyKubeError(error).kind !== 'not-found') return this.failed(error, 'get');
      const spec = this.claim(now, 0);
      this.written = { resourceVersion: undefined, renewTime: stamp(spec.renewTime) };
      try {
        const created = await api.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec } });
        this.wrote(created);
        this.observe(created.spec ?? {}, this.clock.now());
        return { leading: true, term: 0, at: now };
      } catch (createError) {
        // 409: another replica created it first; reading it now starts our observation of its holder.
        const failure = this.failed(createError, 'create');
        await api.readNamespacedLease({ name, namespace }).then((raced) => this.observe(raced.spec ?? {}, this.clock.now()), () => undefined);
        return failure;
      }
    }
    const spec = lease.spec ?? {};
    this.observe(spec, now);
    const holder = spec.holderIdentity || undefined;
    // Our name on a record we did not write: another replica uses our identity.
    const sharedIdentity = holder === identity && !this.isOurs(lease);
    const heldByOther = holder !== undefined && (holder !== identity || sharedIdentity);
    if (heldByOther && this.observed!.at + (spec.leaseDurationSeconds ?? 0) * 1000 > now) {
      if (sharedIdentity) {
        this.lastError = `${this.where}: another replica holds this lease under our identity "${identity}"; ha.identity must be unique per replica (leave it unset to use $POD_NAME)`;
        this.log.error(this.lastError);
        return { leading: false, lostTo: `another replica using our identity ${identity}` };
      }
      this.lastError = undefined;
      return { leading: false, lostTo: holder };
    }
    // Renewing keeps the term and acquireTime; anything else starts a new term.
    const renewing = this.leading && holder === identity && !sharedIdentity;
    const transitions = spec.leaseTransitions ?? 0;
    const term = renewing ? transitions : transitions + 1;
    const body: V1Lease = { ...lease, spec: { ...spec, ...this.claim(now, term), ...(renewing && spec.acquireTime ? { acquireTime: new V1MicroTime(String(spec.acquireTime)) } : {}) } };
    this.written = { resourceVersion: undefined, renewTime: stamp(body.spec!.renewTime) };
    try {
      const written = await api.replaceNamespacedLease({ name, namespace, body });
      this.wrote(written);
      this.observe(written.spec ?? {}, this.clock.now());
      return { leading: true, term, at: now };
    } catch (error) {
      return this.failed(error, 'update');
    }
  }

  private claim(now: number, transitions: number): V1LeaseSpec {
    const at = new V1MicroTime(now);
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: at,
      renewTime: at,
      leaseTransitions: transitions,
    };
  }

  /** Remembers the record the apiserver stored for our write. */
  private wrote(lease: V1Lease): void {
    this.written = { resourceVersion: lease.metadata?.resourceVersion, renewTime: stamp(lease.spec?.renewTime) };
  }

  /** Whether `lease` is the record we last wrote (and not another replica's under our identity). */
  private isOurs(lease: V1Lease): boolean {
    if (!this.written) return false;
    const version = lease.metadata?.resourceVersion;
    if (version !== undefined && version === this.written.resourceVersion) return true;
    return sameInstant(lease.spec?.renewTime, this.written.renewTime);
  }

  /** Remembers the record and when it last changed, by our own clock. */
  private observe(spec: V1LeaseSpec, at: number): void {
    const key = JSON.stringify([spec.holderIdentity ?? '', stamp(spec.renewTime), stamp(spec.acquireTime), spec.leaseDurationSeconds, spec.leaseTransitions]);
    if (this.observed?.key === key) return;
    const before = this.observed?.spec.holderIdentity || undefined;
    const after = spec.holderIdentity || undefined;
    // The first read of a Lease someone else holds is no change we saw happen.
    if (after !== undefined && after !== before && (this.observed !== undefined || after === this.options.identity)) this.options.metrics?.transition();
    this.observed = { key, spec, at };
  }

  private failed(error: unknown, verb: string): Attempt {
    this.lastError = this.failure(error, verb);
    this.log.warn(this.lastError);
    return { leading: false };
  }

  private failure(error: unknown, verb: string): string {
    const { kind, status, detail } = classifyKubeError(error);
    return `${this.where}: ${status ?? kind} on ${verb}${detail && detail !== `status ${status}` ? `: ${detail}` : ''}`;
  }

  /** Rejects when `promise` takes longer than renewDeadline (a black-holed apiserver never answers). */
  private withDeadline<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => reject(new Error('deadline')), this.options.renewDeadlineMs);
      promise.then(
        (value) => {
          this.timers.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.timers.clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}

/** Whether two MicroTimes (strings as read back, or Dates) name the same instant. */
function sameInstant(a: unknown, b: unknown): boolean {
  const at = (value: unknown): number => (value instanceof Date ? value.getTime() : Date.parse(String(value ?? '')));
  const [x, y] = [at(a), at(b)];
  return Number.isFinite(x) && x === y;
}

/** A MicroTime as read back (client-node leaves it a string) or as written (a Date). */
function stamp(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value ?? '');
}
