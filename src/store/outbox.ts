import { statements, type Db } from './db.js';
import type { MessageModel } from '../domain/messages.js';

export type OutboxRole = 'root' | 'reply' | 'message';

export interface OutboxRow {
  id: number;
  key: string;
  channel: string;
  /** `file`: the message's attachment uploaded into its thread (the summary's Markdown). */
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
}

interface Row {
  id: number;
  key: string;
  channel: string;
  kind: string;
  incident_id: number | null;
  role: string;
  thread_of: string | null;
  message: string;
  status: string;
  attempts: number;
  in_doubt: number;
  next_attempt_at: number;
  ts: string | null;
  error: string | null;
  created_at: number;
  sent_at: number | null;
}

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
  inDoubt: row.in_doubt === 1,
  nextAttemptAt: row.next_attempt_at,
  ts: row.ts,
  error: row.error,
  createdAt: row.created_at,
  sentAt: row.sent_at,
});

/**
 * Every outgoing message is a row here first (seed 001's lesson: nothing is dropped before it
 * is confirmed). A row leaves `pending` only when the service confirmed it or refused it for good.
 */
export class Outbox {
  private readonly listeners = new Set<() => void>();
  private readonly sql: ReturnType<typeof statements>;
  constructor(db: Db) {
    this.sql = statements(db);
  }

  /** Calls `listener` whenever a row is added, so the poster wakes at once. */
  onEnqueue(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  enqueue(entry: { key: string; channel: string; kind: OutboxRow['kind']; incidentId: number | null; role: OutboxRole; message: MessageModel; at: number; threadOf?: string }): void {
    if (entry.kind === 'update' && entry.incidentId !== null) {
      // Only the newest state of a root matters: older pending updates are superseded.
      // A refused update waiting for the bot to join is superseded the same way.
      this.sql("UPDATE outbox SET status = 'superseded' WHERE kind = 'update' AND incident_id = ? AND status IN ('pending', 'refused')").run(entry.incidentId);
    }
    this.sql('INSERT OR IGNORE INTO outbox (key, channel, kind, incident_id, role, thread_of, message, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)')
      .run(entry.key, entry.channel, entry.kind, entry.incidentId, entry.role, entry.threadOf ?? null, JSON.stringify(entry.message), entry.at);
    for (const listener of this.listeners) listener();
  }

  pending(): OutboxRow[] {
    return this.sql<[], Row>("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id").all().map(fromRow);
  }

  /** Recorded before a send, so a restart knows the message may already be in Slack. */
  markAttempt(id: number): void {
    this.sql('UPDATE outbox SET attempts = attempts + 1, in_doubt = 1 WHERE id = ?').run(id);
  }

  markSent(id: number, ts: string, at: number): void {
    this.sql("UPDATE outbox SET status = 'sent', ts = ?, sent_at = ?, error = NULL, in_doubt = 0 WHERE id = ?").run(ts, at, id);
  }

  /** `inDoubt`: the attempt's outcome is unknown, so the next one searches first. */
  retryLater(id: number, nextAttemptAt: number, error: string, inDoubt: boolean): void {
    this.sql('UPDATE outbox SET next_attempt_at = ?, error = ?, in_doubt = ? WHERE id = ?').run(nextAttemptAt, error, inDoubt ? 1 : 0, id);
  }

  /** Slack refused it for good (the bot isn't in the channel…): kept until the bot joins or the next start. */
  markRefused(id: number, error: string, inDoubt: boolean): void {
    this.sql("UPDATE outbox SET status = 'refused', error = ?, in_doubt = ? WHERE id = ?").run(error, inDoubt ? 1 : 0, id);
  }

  /** Puts refused rows (of `channel`, or all) back in the queue, in their order; returns how many. */
  requeueRefused(channel?: string): number {
    const changes =
      channel === undefined
        ? this.sql("UPDATE outbox SET status = 'pending', next_attempt_at = 0 WHERE status = 'refused'").run().changes
        : this.sql("UPDATE outbox SET status = 'pending', next_attempt_at = 0 WHERE status = 'refused' AND channel = ?").run(channel).changes;
    if (changes > 0) for (const listener of this.listeners) listener();
    return changes;
  }

  /** Refused rows per channel, for /readyz and `driftwatch_outbox_refused`. */
  refusedByChannel(): Array<{ channel: string; count: number; error: string | null }> {
    return this.sql<[], { channel: string; count: number; error: string | null }>(
      // The first refused row's error is Slack's own word (its replies only point at it).
      "SELECT channel, COUNT(*) AS count, (SELECT error FROM outbox AS first WHERE first.channel = outbox.channel AND first.status = 'refused' ORDER BY first.id LIMIT 1) AS error FROM outbox WHERE status = 'refused' GROUP BY channel ORDER BY channel",
    ).all();
  }

  /** Channels with rows waiting, so each gets its own delivery lane. */
  pendingChannels(): string[] {
    return this.sql<[], { channel: string }>("SELECT DISTINCT channel FROM outbox WHERE status = 'pending'").all().map((row) => row.channel);
  }

  pendingIn(channel: string): OutboxRow[] {
    return this.sql<[string], Row>("SELECT * FROM outbox WHERE status = 'pending' AND channel = ? ORDER BY id").all(channel).map(fromRow);
  }

  markFailed(id: number, error: string): void {
    this.sql("UPDATE outbox SET status = 'failed', error = ? WHERE id = ?").run(error, id);
  }

  byKey(key: string): OutboxRow | undefined {
    const row = this.sql<[string], Row>('SELECT * FROM outbox WHERE key = ?').get(key);
    return row ? fromRow(row) : undefined;
  }

  depth(): number {
    return (this.sql("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'").get() as { n: number }).n;
  }

  /** When the earliest pending row may be tried, or undefined when none waits. */
  nextAttemptAt(): number | undefined {
    return this.sql<[], { next: number | null }>("SELECT MIN(next_attempt_at) AS next FROM outbox WHERE status = 'pending'").get()?.next ?? undefined;
  }

  /** Rows not delivered: refused for now (kept) or failed for good. */
  failedCount(): number {
    return this.sql<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE status IN ('failed', 'refused')").get()!.n;
  }

  /** Rows not delivered: refused for now (kept) or failed for good. */
  failed(): OutboxRow[] {
    return this.sql<[], Row>("SELECT * FROM outbox WHERE status IN ('failed', 'refused') ORDER BY id").all().map(fromRow);
  }

  all(): OutboxRow[] {
    return this.sql<[], Row>('SELECT * FROM outbox ORDER BY id').all().map(fromRow);
  }
}
