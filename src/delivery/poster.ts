import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import { DeliveryError, type MessageService } from '../domain/messages.js';
import type { Store } from '../store/index.js';
import type { OutboxRow } from '../store/outbox.js';

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

/**
 * Drains the outbox into a message service: in order within a thread (a reply waits for its
 * root), at-least-once on the wire and exactly-once in the channel — a row that may already
 * have reached Slack is looked up by its key before it is posted again.
 */
export class Poster {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly unsubscribe: () => void;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
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

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Stops scheduling; a send in flight finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Delivers until the outbox is empty or `deadlineMs` passes; true when nothing is left. */
  async drain(deadlineMs: number): Promise<boolean> {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      const delivered = await this.runOnce();
      if (this.store.outbox.depth() === 0) return true;
      // Nothing moved (waiting on a backoff or on a root): don't spin.
      if (delivered === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.store.outbox.depth() === 0;
  }

  /** Schedules a pass soon; passes never overlap. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.runOnce();
        } catch (error) {
          this.log.error({ err: error }, 'outbox pass failed');
        }
      } while (this.again && !this.stopped);
      this.running = undefined;
      this.scheduleNext();
    })();
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const next = this.store.outbox.nextAttemptAt();
    if (next === undefined) return;
    const wait = Math.max(10, Math.min(next - this.clock.now(), this.maxBackoffMs));
    this.timer = setTimeout(() => this.kick(), wait);
    this.timer.unref?.();
  }

  private passChain: Promise<unknown> = Promise.resolve();

  /** One pass over the due rows; returns how many were delivered. Passes never overlap. */
  runOnce(): Promise<number> {
    const pass = this.passChain.then(() => this.pass());
    this.passChain = pass.catch(() => undefined);
    return pass;
  }

  private async pass(): Promise<number> {
    let delivered = 0;
    const blockedLanes = new Set<string>();
    for (const row of this.store.outbox.pending()) {
      const lane = row.incidentId !== null ? `incident:${row.incidentId}` : row.threadOf ? `thread:${row.threadOf}` : `channel:${row.channel}`;
      if (blockedLanes.has(lane)) continue;
      // Re-read: a pass may have superseded or delivered it meanwhile.
      if (row.nextAttemptAt > this.clock.now()) {
        blockedLanes.add(lane);
        continue;
      }
      const outcome = await this.deliver(row);
      if (outcome === 'delivered') delivered++;
      else if (outcome === 'blocked') blockedLanes.add(lane);
      if (this.stopped && outcome !== 'delivered') break;
    }
    return delivered;
  }

  private async deliver(row: OutboxRow): Promise<'delivered' | 'blocked' | 'failed'> {
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
        return 'blocked';
      }
    }
    const delivery = { channel: row.channel, key: row.key, message: row.message, ...(threadTs && row.kind === 'post' ? { threadTs } : {}) };
    // Re-read: another leader may have claimed it since this pass listed it (then it may exist).
    const fresh = this.term ? this.store.outbox.byKey(row.key) : row;
    if (!fresh || fresh.status !== 'pending') return 'blocked';
    const term = this.term?.();
    if (this.term && term === undefined) return 'blocked';
    // Claimed before under any term (ours before a restart, or another leader's): it may be in Slack.
    const mayAlreadyExist = fresh.attempts > 0 || fresh.claimedTerm !== null;
    if (term === undefined) this.store.outbox.markAttempt(row.id);
    else if (!this.store.outbox.claim(row.id, term, fresh.attempts)) return 'blocked';
    /** Still the leader of the same term, right before a call to Slack. */
    const mayCall = () => this.term === undefined || this.term() === term;
    try {
      if (row.kind === 'update' || row.kind === 'file') {
        if (!mayCall()) return 'blocked';
        if (row.kind === 'update') await this.service.update({ ...delivery, ts: threadTs! });
        else await this.service.upload({ ...delivery, threadTs: threadTs! });
        this.store.outbox.markSent(row.id, threadTs!, this.clock.now());
        this.metrics?.delivered(row.kind);
        return 'delivered';
      }
      const found = mayAlreadyExist ? await this.service.findByKey(delivery, row.createdAt) : undefined;
      if (found) this.log.info({ key: row.key, ts: found.ts }, 'message was already delivered before a restart; not posting it twice');
      if (!found && !mayCall()) return 'blocked';
      const { ts } = found ?? (await this.service.post(delivery));
      this.store.transaction(() => {
        this.store.outbox.markSent(row.id, ts, this.clock.now());
        if (row.role === 'root' && row.incidentId !== null) this.store.incidents.setThread(row.incidentId, row.channel, ts);
      });
      this.metrics?.delivered('post');
      return 'delivered';
    } catch (error) {
      const retryable = !(error instanceof DeliveryError) || error.retryable;
      const reason = error instanceof Error ? error.message : String(error);
      if (!retryable) {
        this.store.outbox.markFailed(row.id, reason);
        this.metrics?.failed();
        this.log.error({ key: row.key, channel: row.channel }, `delivery stopped for good: ${reason}`);
        return 'failed';
      }
      const backoff = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(row.attempts, 16));
      const wait = Math.min(this.maxBackoffMs, Math.max(backoff, error instanceof DeliveryError ? (error.retryAfterMs ?? 0) : 0));
      this.store.outbox.retryLater(row.id, this.clock.now() + wait, reason);
      this.metrics?.retried();
      this.log.warn({ key: row.key, attempt: row.attempts + 1, retryInMs: wait }, `delivery will be retried: ${reason}`);
      return 'blocked';
    }
  }
}
