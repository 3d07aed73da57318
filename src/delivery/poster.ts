import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import { DeliveryError, type MessageService } from '../domain/messages.js';
import type { Store } from '../store/index.js';
import type { OutboxRow } from '../store/outbox.js';
import { isStoreFault } from '../store/db.js';

export interface PosterOptions {
  /** First retry delay; doubles per attempt. */
  baseBackoffMs?: number;
  /** DESIGN.md: delivery resumes within a minute after Slack recovers. */
  maxBackoffMs?: number;
  /**
   * Fencing with `ha`: the term this replica leads under, undefined when it doesn't lead. Rows
   * are claimed under the term (a row another term claimed is searched by key before it is
   * posted), and it is asked again right before each Slack call: an ex-leader sends nothing more.
   */
  term?: () => number | undefined;
}

export interface PosterMetrics {
  delivered(kind: 'post' | 'update' | 'file'): void;
  retried(): void;
  failed(): void;
}

/** `waiting`: not tried, its parent isn't delivered yet; `blocked`: tried, retried later; `refused`: kept until the bot joins. */
type Outcome = 'delivered' | 'blocked' | 'waiting' | 'refused' | 'failed';

/** How an error leaves a row: retried (searching first when the outcome is unknown), kept, or failed. */
export function decideAfterError(error: unknown): { action: 'retry'; inDoubt: boolean; retryAfterMs: number } | { action: 'refused' } | { action: 'failed' } {
  if (!(error instanceof DeliveryError)) return { action: 'retry', inDoubt: true, retryAfterMs: 0 };
  if (error.outcome === 'refused') return { action: 'refused' };
  if (!error.retryable) return { action: 'failed' };
  return { action: 'retry', inDoubt: error.outcome === 'unknown', retryAfterMs: error.retryAfterMs ?? 0 };
}

/** The lane a row waits in: an incident's thread, a message's thread, or the channel's top level. */
export function laneOf(row: Pick<OutboxRow, 'incidentId' | 'threadOf' | 'channel'>): string {
  return row.incidentId !== null ? `incident:${row.incidentId}` : row.threadOf ? `thread:${row.threadOf}` : `channel:${row.channel}`;
}

/**
 * When the first of these pending rows (one channel's, in order) can move: the earliest lane
 * head's next attempt, a reply head counting its pending parent's time. Undefined: none waits.
 */
export function nextLaneTime(rows: Array<Pick<OutboxRow, 'key' | 'incidentId' | 'threadOf' | 'channel' | 'nextAttemptAt'>>): number | undefined {
  const byKey = new Map(rows.map((row) => [row.key, row]));
  const heads = new Set<string>();
  let next: number | undefined;
  for (const row of rows) {
    const lane = laneOf(row);
    if (heads.has(lane)) continue;
    heads.add(lane);
    const parent = row.threadOf ? byKey.get(row.threadOf) : undefined;
    const at = Math.max(row.nextAttemptAt, parent?.nextAttemptAt ?? 0);
    next = next === undefined ? at : Math.min(next, at);
  }
  return next;
}

/** A store write failed (read-only, full, I/O): the pass stops and the poster backs off. */
class StoreFault extends Error {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

/**
 * Drains the outbox into a message service: one lane per channel (a hung or failing channel
 * never delays another), in order within a thread (a reply waits for its root), at-least-once
 * on the wire and exactly-once in the channel — a row whose last attempt had an unknown outcome
 * is looked up by its key before it is posted again. Rows Slack refuses for good are kept and
 * sent again when the bot joins the channel or at the next start.
 */
export class Poster {
  private stopped = true;
  private readonly unsubscribe: () => void;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** Per channel: the tail of its chain of passes (passes of one channel never overlap). */
  private readonly chains = new Map<string, Promise<number>>();
  /** Channels with a kick-driven pass queued or running. */
  private readonly busy = new Set<string>();
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Channels whose last pass tried nothing. */
  private readonly idlePasses = new Set<string>();
  /** Channels whose refusal was logged (once per channel until it is delivered again). */
  private readonly refusalLogged = new Set<string>();
  /** Per channel, thread lanes with a refused row: the rest of the thread is kept with it, so the join delivers them in order. */
  private readonly refusedLanes = new Map<string, Set<string>>();
  private storeFault: { since: number; attempts: number; reason: string } | undefined;
  /** When a store fault was last logged: one line a minute at most, across flapping too. */
  private storeLoggedAt = 0;
  private storeTimer: NodeJS.Timeout | undefined;
  private readonly term: (() => number | undefined) | undefined;

  constructor(
    private readonly store: Store,
    private readonly service: MessageService,
    private readonly clock: Clock,
    private readonly log: Logger,
    options: PosterOptions = {},
    private readonly metrics?: PosterMetrics,
  ) {
    this.baseBackoffMs = options.baseBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.term = options.term;
    this.unsubscribe = store.outbox.onEnqueue(() => this.kick());
  }

  /** Starts delivering; rows refused in an earlier run are tried again (the bot may have joined since). */
  start(): void {
    this.stopped = false;
    this.refusedLanes.clear();
    this.guard(() => this.store.outbox.requeueRefused());
    this.kick();
  }

  /** The bot joined `channel`: what Slack refused there goes out now, in order. */
  channelJoined(channel: string): void {
    this.refusalLogged.delete(channel);
    this.refusedLanes.delete(channel);
    const requeued = this.guard(() => this.store.outbox.requeueRefused(channel)) ?? 0;
    if (requeued > 0) this.log.info({ channel, messages: requeued }, 'the bot joined the channel; delivering the messages Slack refused there');
  }

  /** Why the store can't take writes now, or undefined when it can (for /readyz). */
  storeProblem(): string | undefined {
    return this.storeFault?.reason;
  }

  /** Stops scheduling; waits for sends in flight until `deadline` (epoch ms) at most. */
  async stop(deadline = Date.now() + 10_000): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.storeTimer) clearTimeout(this.storeTimer);
    await Promise.race([Promise.allSettled([...this.chains.values()]), sleep(Math.max(0, deadline - Date.now()))]);
  }

  /** Delivers until the outbox is empty or `deadlineMs` passes; true when nothing is left. */
  async drain(deadlineMs: number): Promise<boolean> {
    const deadline = Date.now() + deadlineMs;
    const depth = () => this.guard(() => this.store.outbox.depth()) ?? 1;
    // A hung call never holds the drain past its deadline.
    const timeUp = sleep(deadlineMs).then(() => 0);
    while (Date.now() < deadline) {
      const delivered = await Promise.race([this.runOnce().catch(() => 0), timeUp]);
      if (depth() === 0) return true;
      // Nothing moved (waiting on a backoff or on a root): don't spin.
      if (delivered === 0) await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
    }
    return depth() === 0;
  }

  /** Schedules a pass soon for every channel with waiting rows; passes of one channel never overlap. */
  kick(): void {
    if (this.stopped || this.storeFault) return;
    const channels = this.guard(() => this.store.outbox.pendingChannels()) ?? [];
    for (const channel of channels) this.kickChannel(channel);
  }

  private kickChannel(channel: string): void {
    if (this.stopped || this.storeFault) return;
    if (this.busy.has(channel)) {
      this.again.add(channel);
      return;
    }
    this.busy.add(channel);
    void (async () => {
      do {
        this.again.delete(channel);
        await this.passFor(channel).catch(() => 0);
      } while (this.again.has(channel) && !this.stopped && !this.storeFault);
      this.busy.delete(channel);
      this.scheduleNext(channel);
    })();
  }

  /** A timer for when the channel's next lane can move (a backoff, a 429 pause, a row that came due during the pass). */
  private scheduleNext(channel: string): void {
    if (this.stopped || this.storeFault) return;
    const existing = this.timers.get(channel);
    if (existing) clearTimeout(existing);
    const rows = this.guard(() => this.store.outbox.pendingIn(channel)) ?? [];
    const next = nextLaneTime(rows);
    if (next === undefined) return;
    const now = this.clock.now();
    // A head that is due yet was not even tried last pass waits on something else: don't spin.
    const stuck = next <= now && this.idlePasses.has(channel);
    const wait = stuck ? 1_000 : Math.max(10, Math.min(next - now, this.maxBackoffMs));
    const timer = setTimeout(() => {
      this.timers.delete(channel);
      this.kickChannel(channel);
    }, wait);
    timer.unref?.();
    this.timers.set(channel, timer);
  }

  /** One pass over the due rows of every channel, channels side by side; returns how many were delivered. */
  async runOnce(): Promise<number> {
    const channels = this.store.outbox.pendingChannels();
    const counts = await Promise.all(channels.map((channel) => this.passFor(channel)));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  private passFor(channel: string): Promise<number> {
    const previous = this.chains.get(channel) ?? Promise.resolve(0);
    const pass = previous.catch(() => 0).then(() => this.channelPass(channel));
    const tail = pass.catch(() => 0);
    this.chains.set(channel, tail);
    void tail.then(() => {
      if (this.chains.get(channel) === tail) this.chains.delete(channel);
    });
    return pass;
  }

  private async channelPass(channel: string): Promise<number> {
    try {
      const delivered = await this.deliverChannel(channel);
      this.storeRecovered();
      return delivered;
    } catch (error) {
      if (error instanceof StoreFault || isStoreFault(error)) {
        this.storeFailed(error);
        return 0;
      }
      this.log.error({ err: error, channel }, 'outbox pass failed');
      return 0;
    }
  }

  private async deliverChannel(channel: string): Promise<number> {
    let delivered = 0;
    this.idlePasses.add(channel);
    const blockedLanes = new Set<string>();
    const refusedInPass = new Set<string>();
    for (const row of this.store.outbox.pendingIn(channel)) {
      const lane = laneOf(row);
      if (blockedLanes.has(lane)) continue;
      if (this.refusedLanes.get(channel)?.has(lane)) {
        // Behind a refused row of its lane: sent after it, never before.
        this.store.outbox.markRefused(row.id, 'waits for an earlier message of its thread that Slack refused', row.inDoubt);
        continue;
      }
      if (refusedInPass.has(lane)) {
        // The bot joined during this pass: the refused row is queued again and goes first, next pass.
        blockedLanes.add(lane);
        continue;
      }
      if (row.nextAttemptAt > this.clock.now()) {
        // A root edit waiting its coalescing turn holds back nothing: replies after it go on.
        if (!(row.kind === 'update' && row.attempts === 0)) blockedLanes.add(lane);
        continue;
      }
      const outcome = await this.deliver(row);
      if (outcome !== 'waiting') this.idlePasses.delete(channel);
      if (outcome === 'delivered') delivered++;
      else if (outcome === 'blocked' || outcome === 'waiting') blockedLanes.add(lane);
      else if (outcome === 'refused' && !lane.startsWith('channel:')) {
        // Only a thread keeps an order; the channel's independent top-level messages still flow.
        refusedInPass.add(lane);
        this.refusedLanes.set(channel, (this.refusedLanes.get(channel) ?? new Set<string>()).add(lane));
      }
      if (this.stopped && outcome !== 'delivered') break;
    }
    return delivered;
  }

  private async deliver(row: OutboxRow): Promise<Outcome> {
    let threadTs: string | undefined;
    const parentKey = row.threadOf ?? (row.incidentId !== null && (row.role === 'reply' || row.kind === 'update') ? `inc-${row.incidentId}-root` : undefined);
    if (parentKey) {
      const thread = row.threadOf ? undefined : this.store.incidents.thread(row.incidentId!);
      const parent = thread ? undefined : this.store.outbox.byKey(parentKey);
      threadTs = thread?.ts ?? (parent?.status === 'sent' ? (parent.ts ?? undefined) : undefined);
      if (!threadTs) {
        if (parent?.status === 'failed') {
          this.store.outbox.markFailed(row.id, `the message it replies to was not delivered: ${parent.error ?? 'unknown'}`);
          return 'failed';
        }
        if (parent?.status === 'refused') {
          // Kept with its root: both go out, in order, when the bot joins.
          this.store.outbox.markRefused(row.id, `the message it replies to was refused: ${parent.error ?? 'unknown'}`, row.inDoubt);
          return 'refused';
        }
        return 'waiting';
      }
    }
    const delivery = { channel: row.channel, key: row.key, message: row.message, ...(threadTs && row.kind === 'post' ? { threadTs } : {}) };
    // Fencing: re-read (another leader may have claimed it since this pass listed it), then claim under our term.
    const fresh = this.term ? this.store.outbox.byKey(row.key) : row;
    if (!fresh || fresh.status !== 'pending') return 'blocked';
    const term = this.term?.();
    if (this.term && term === undefined) return 'blocked';
    // Only an attempt whose outcome is unknown may have reached Slack: search before sending again.
    // A row another term claimed counts as unknown too: that leader may be paused mid-call.
    const inDoubt = fresh.inDoubt || (term !== undefined && fresh.claimedTerm !== null && fresh.claimedTerm !== term);
    if (term === undefined) this.store.outbox.markAttempt(row.id);
    else if (!this.store.outbox.claim(row.id, term, fresh.attempts)) return 'blocked';
    /** Still the leader of the same term, right before a call to Slack. */
    const mayCall = () => this.term === undefined || this.term() === term;
    // While searching, a failure leaves the doubt as it was: the search didn't answer it.
    let searching = inDoubt;
    let answered: { ts: string; found: boolean };
    try {
      if (!mayCall()) return 'blocked';
      if (row.kind === 'update') {
        searching = false;
        await this.service.update({ ...delivery, ts: threadTs! });
        answered = { ts: threadTs!, found: false };
      } else if (row.kind === 'file') {
        const upload = { ...delivery, threadTs: threadTs! };
        const found = inDoubt && this.service.findUpload ? await this.service.findUpload(upload, row.createdAt) : false;
        searching = false;
        if (found) this.log.info({ key: row.key }, 'file was already uploaded before the answer was lost; not uploading it twice');
        else if (!mayCall()) return 'blocked';
        else await this.service.upload(upload);
        answered = { ts: threadTs!, found };
      } else {
        const found = inDoubt ? await this.service.findByKey(delivery, row.createdAt) : undefined;
        searching = false;
        if (found) this.log.info({ key: row.key, ts: found.ts }, 'message was already delivered before a restart; not posting it twice');
        if (!found && !mayCall()) return 'blocked';
        answered = found ? { ts: found.ts, found: true } : { ts: (await this.service.post(delivery)).ts, found: false };
      }
    } catch (error) {
      return this.afterError(row, error, searching);
    }
    this.refusalLogged.delete(row.channel);
    this.store.transaction(() => {
      this.store.outbox.markSent(row.id, answered.ts, this.clock.now());
      if (row.kind === 'post' && row.role === 'root' && row.incidentId !== null) this.store.incidents.setThread(row.incidentId, row.channel, answered.ts);
    });
    this.metrics?.delivered(row.kind);
    return 'delivered';
  }

  /** `searching`: the error came from the look-up of a row in doubt, which stays in doubt. */
  private afterError(row: OutboxRow, error: unknown, searching: boolean): Outcome {
    if (isStoreFault(error)) throw new StoreFault((error as Error).message);
    const reason = error instanceof Error ? error.message : String(error);
    const decision = decideAfterError(error);
    // A search Slack won't run (missing_scope…) answers nothing: the row probably never arrived, so it is kept like a refused one.
    const unsearchable = decision.action === 'failed' && searching;
    if (decision.action === 'refused' || unsearchable) {
      this.store.outbox.markRefused(row.id, reason, searching);
      this.metrics?.failed();
      if (!this.refusalLogged.has(row.channel)) {
        this.refusalLogged.add(row.channel);
        this.log.error(
          { channel: row.channel, key: row.key },
          unsearchable
            ? `can't check whether a message reached channel ${row.channel} (${reason}); it is kept and tried again when the bot joins the channel or at the next start`
            : `Slack refuses messages to channel ${row.channel} (${reason}); they are kept and delivered when the bot is invited to the channel`,
        );
      }
      return 'refused';
    }
    if (decision.action === 'failed') {
      this.store.outbox.markFailed(row.id, reason);
      this.metrics?.failed();
      this.log.error({ key: row.key, channel: row.channel }, `delivery stopped for good: ${reason}`);
      return 'failed';
    }
    const backoff = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(row.attempts, 16));
    // A 429 says exactly when: waiting longer than Retry-After only slows the drain.
    const wait = decision.retryAfterMs > 0 ? Math.min(this.maxBackoffMs, decision.retryAfterMs) : backoff;
    this.store.outbox.retryLater(row.id, this.clock.now() + wait, reason, decision.inDoubt || searching);
    this.metrics?.retried();
    this.log.warn({ key: row.key, attempt: row.attempts + 1, retryInMs: wait }, `delivery will be retried: ${reason}`);
    return 'blocked';
  }

  /** Runs a store read/write; a store fault puts the poster into backoff instead of throwing. */
  private guard<T>(work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      if (!isStoreFault(error)) throw error;
      this.storeFailed(error);
      return undefined;
    }
  }

  private storeFailed(error: unknown): void {
    const now = Date.now();
    const reason = `store write failed: ${error instanceof Error ? error.message : String(error)}`;
    const fault = this.storeFault ?? { since: now, attempts: 0, reason };
    fault.attempts++;
    fault.reason = reason;
    this.storeFault = fault;
    // One line a minute while it lasts: the fault is a state, /readyz shows it.
    if (now - this.storeLoggedAt >= 60_000) {
      this.storeLoggedAt = now;
      this.log.error({ since: new Date(fault.since).toISOString() }, `${reason}; delivery paused, retrying with backoff`);
    }
    if (this.stopped || this.storeTimer) return;
    const wait = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(fault.attempts - 1, 16));
    this.storeTimer = setTimeout(() => {
      this.storeTimer = undefined;
      this.storeProbe();
    }, wait);
    this.storeTimer.unref?.();
  }

  /** Tries a harmless write; on success delivery resumes. */
  private storeProbe(): void {
    if (this.stopped) return;
    try {
      // A real write (a no-op UPDATE writes nothing and would pass on a full disk).
      this.store.subjects.setState('delivery', 'storeProbe', Date.now(), Date.now());
    } catch (error) {
      this.storeFailed(error);
      return;
    }
    this.storeRecovered();
    this.kick();
  }

  private storeRecovered(): void {
    if (!this.storeFault) return;
    this.log.info({ since: new Date(this.storeFault.since).toISOString() }, 'store writable again; delivery resumes');
    this.storeFault = undefined;
  }
}
