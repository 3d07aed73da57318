import type { Selectable } from 'kysely';
import type { Database as Tables } from './schema.js';
import type { Db } from './db.js';
import type { MessageModel } from '../domain/messages.js';

export type OutboxRole = 'root' | 'reply' | 'message';

export interface OutboxRow {
  id: number;
  key: string;
  channel: string;
  /**
   * `file`: the message's attachment uploaded into its thread (the summary's Markdown, the
   * timeline chart as base64 PNG, the whole timeline), exactly once like every message.
   */
  kind: 'post' | 'update' | 'file';
  incidentId: number | null;
  role: OutboxRole;
  /** Key of the message whose thread this one goes into, when that isn't an incident root. */
  threadOf: string | null;
  message: MessageModel;
  /** `refused`: Slack refused it for good (not_in_channel…); kept, and sent again when the bot joins. */
  status: 'pending' | 'sent' | 'failed' | 'superseded' | 'refused';
  attempts: number;
  /** The last attempt's outcome is unknown (timeout, 5xx, reset, crash): search before posting again. */
  inDoubt: boolean;
  nextAttemptAt: number;
  ts: string | null;
  error: string | null;
  createdAt: number;
  /** When the service confirmed it: for an incident root, when it was detected. */
  sentAt: number | null;
  /** The leader's term of the last claim (with `ha`); null when never claimed under one. */
  claimedTerm: number | null;
}

type Row = Selectable<Tables['outbox']>;

const fromRow = (row: Row): OutboxRow => ({
  id: row.id,
  key: row.key,
  channel: row.channel,
  kind: row.kind as OutboxRow['kind'],
  incidentId: row.incident_id,
  role: row.role as OutboxRole,
  threadOf: row.thread_of,
  message: JSON.parse(row.message) as MessageModel,
  status: row.status as OutboxRow['status'],
  attempts: row.attempts,
  inDoubt: Number(row.in_doubt) === 1,
  nextAttemptAt: row.next_attempt_at,
  ts: row.ts,
  error: row.error,
  createdAt: row.created_at,
  sentAt: row.sent_at,
  claimedTerm: row.claimed_term ?? null,
});

/**
 * Every outgoing message is a row here first (seed 001's lesson: nothing is dropped before it
 * is confirmed). A row leaves `pending` only when the service confirmed it or refused it for good.
 */
export class Outbox {
  private readonly listeners = new Set<() => void>();
  constructor(private readonly db: Db) {}

  /** Calls `listener` whenever a row is added, so the poster wakes at once. */
  onEnqueue(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `notBefore`: the row is not sent before this time (a coalesced root edit waiting its turn). */
  enqueue(entry: { key: string; channel: string; kind: OutboxRow['kind']; incidentId: number | null; role: OutboxRole; message: MessageModel; at: number; threadOf?: string; notBefore?: number }): void {
    const { db } = this;
    if (entry.kind === 'update' && entry.incidentId !== null) {
      // Only the newest state of a root matters: older pending updates are superseded; a refused
      // update waiting for the bot to join is superseded the same way.
      db.run(db.q.updateTable('outbox').set({ status: 'superseded' }).where('kind', '=', 'update').where('incident_id', '=', entry.incidentId).where('status', 'in', ['pending', 'refused']));
    }
    db.run(
      db.q
        .insertInto('outbox')
        .values({
          key: entry.key,
          channel: entry.channel,
          kind: entry.kind,
          incident_id: entry.incidentId,
          role: entry.role,
          thread_of: entry.threadOf ?? null,
          message: JSON.stringify(entry.message),
          created_at: entry.at,
          next_attempt_at: entry.notBefore ?? 0,
        })
        .onConflict((conflict) => conflict.doNothing()),
    );
    for (const listener of this.listeners) listener();
  }

  pending(): OutboxRow[] {
    const { db } = this;
    return db.all(db.q.selectFrom('outbox').selectAll().where('status', '=', 'pending').orderBy('id')).map(fromRow);
  }

  /** Recorded before a send, so a restart knows the message may already be in Slack. */
  markAttempt(id: number): void {
    const { db } = this;
    db.run(db.q.updateTable('outbox').set((row) => ({ attempts: row('attempts', '+', 1), in_doubt: 1 })).where('id', '=', id));
  }

  /**
   * The fenced claim of several replicas: counts the attempt and stamps `term` only if nobody
   * claimed the row since it was read with `seenAttempts`, and no newer term ever claimed it.
   * False: someone else got there first (or a newer leader exists); this replica must not send.
   */
  claim(id: number, term: number, seenAttempts: number): boolean {
    const { db } = this;
    return (
      db.run(
        db.q
          .updateTable('outbox')
          .set((row) => ({ attempts: row('attempts', '+', 1), in_doubt: 1, claimed_term: term }))
          .where('id', '=', id)
          .where('status', '=', 'pending')
          .where('attempts', '=', seenAttempts)
          .where((row) => row.or([row('claimed_term', 'is', null), row('claimed_term', '<=', term)])),
      ) === 1
    );
  }

  /** The highest term that ever claimed a row still here (fencing terms start above it). */
  maxClaimedTerm(): number | undefined {
    const { db } = this;
    const row = db.first(db.q.selectFrom('outbox').select((eb) => eb.fn.max('claimed_term').as('term')));
    return row?.term === null || row?.term === undefined ? undefined : Number(row.term);
  }

  markSent(id: number, ts: string, at: number): void {
    const { db } = this;
    db.run(db.q.updateTable('outbox').set({ status: 'sent', ts, sent_at: at, error: null, in_doubt: 0 }).where('id', '=', id));
  }

  /** `inDoubt`: the attempt's outcome is unknown, so the next one searches first. */
  retryLater(id: number, nextAttemptAt: number, error: string, inDoubt: boolean): void {
    const { db } = this;
    db.run(db.q.updateTable('outbox').set({ next_attempt_at: nextAttemptAt, error, in_doubt: inDoubt ? 1 : 0 }).where('id', '=', id));
  }

  /** Slack refused it for good (the bot isn't in the channel…): kept until the bot joins or the next start. */
  markRefused(id: number, error: string, inDoubt: boolean): void {
    const { db } = this;
    db.run(db.q.updateTable('outbox').set({ status: 'refused', error, in_doubt: inDoubt ? 1 : 0 }).where('id', '=', id));
  }

  /** Puts refused rows (of `channel`, or all) back in the queue, in their order; returns how many. */
  requeueRefused(channel?: string): number {
    const { db } = this;
    let query = db.q.updateTable('outbox').set({ status: 'pending', next_attempt_at: 0 }).where('status', '=', 'refused');
    if (channel !== undefined) query = query.where('channel', '=', channel);
    const changes = db.run(query);
    if (changes > 0) for (const listener of this.listeners) listener();
    return changes;
  }

  /** Refused rows per channel, for /readyz and `driftwatch_outbox_refused`. */
  refusedByChannel(): Array<{ channel: string; count: number; error: string | null }> {
    const { db } = this;
    const rows = db.all(
      db.q
        .selectFrom('outbox')
        .select((row) => [
          'channel',
          row.fn.countAll<number>().as('count'),
          // The first refused row's error is Slack's own word (its replies only point at it).
          row
            .selectFrom('outbox as first')
            .select('first.error')
            .whereRef('first.channel', '=', 'outbox.channel')
            .where('first.status', '=', 'refused')
            .orderBy('first.id')
            .limit(1)
            .as('error'),
        ])
        .where('status', '=', 'refused')
        .groupBy('channel')
        .orderBy('channel'),
    );
    return rows.map((row) => ({ channel: row.channel, count: Number(row.count), error: row.error ?? null }));
  }

  /** Channels with rows waiting, so each gets its own delivery lane. */
  pendingChannels(): string[] {
    const { db } = this;
    return db.all(db.q.selectFrom('outbox').select('channel').distinct().where('status', '=', 'pending')).map((row) => row.channel);
  }

  pendingIn(channel: string): OutboxRow[] {
    const { db } = this;
    return db.all(db.q.selectFrom('outbox').selectAll().where('status', '=', 'pending').where('channel', '=', channel).orderBy('id')).map(fromRow);
  }

  markFailed(id: number, error: string): void {
    const { db } = this;
    db.run(db.q.updateTable('outbox').set({ status: 'failed', error }).where('id', '=', id));
  }

  byKey(key: string): OutboxRow | undefined {
    const { db } = this;
    const row = db.first(db.q.selectFrom('outbox').selectAll().where('key', '=', key));
    return row ? fromRow(row) : undefined;
  }

  depth(): number {
    return this.countWith('pending');
  }

  /** When the oldest pending row was queued, or undefined when none waits (the heartbeat's delivery check). */
  oldestPendingAt(): number | undefined {
    const { db } = this;
    const row = db.first(db.q.selectFrom('outbox').select((row) => row.fn.min('created_at').as('oldest')).where('status', '=', 'pending'));
    return row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest);
  }

  /** When the earliest pending row may be tried, or undefined when none waits. */
  nextAttemptAt(): number | undefined {
    const { db } = this;
    const row = db.first(db.q.selectFrom('outbox').select((row) => row.fn.min('next_attempt_at').as('next')).where('status', '=', 'pending'));
    return row?.next ?? undefined;
  }

  /** Rows not delivered: refused for now (kept) or failed for good. */
  failedCount(): number {
    return this.countWith('failed') + this.countWith('refused');
  }

  /** Rows not delivered: refused for now (kept) or failed for good. */
  failed(): OutboxRow[] {
    const { db } = this;
    return db.all(db.q.selectFrom('outbox').selectAll().where('status', 'in', ['failed', 'refused']).orderBy('id')).map(fromRow);
  }

  all(): OutboxRow[] {
    const { db } = this;
    return db.all(db.q.selectFrom('outbox').selectAll().orderBy('id')).map(fromRow);
  }

  private countWith(status: OutboxRow['status']): number {
    const { db } = this;
    // COUNT is a bigint on PostgreSQL: read back as a number by the executor's type parser.
    return Number(db.first(db.q.selectFrom('outbox').select((row) => row.fn.countAll<number>().as('n')).where('status', '=', status))!.n);
  }
}
