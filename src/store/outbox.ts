import { statements, type Db } from './db.js';
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
  status: 'pending' | 'sent' | 'failed' | 'superseded';
  attempts: number;
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

  /** `notBefore`: the row is not sent before this time (a coalesced root edit waiting its turn). */
  enqueue(entry: { key: string; channel: string; kind: OutboxRow['kind']; incidentId: number | null; role: OutboxRole; message: MessageModel; at: number; threadOf?: string; notBefore?: number }): void {
    if (entry.kind === 'update' && entry.incidentId !== null) {
      // Only the newest state of a root matters: older pending updates are superseded.
      this.sql("UPDATE outbox SET status = 'superseded' WHERE kind = 'update' AND incident_id = ? AND status = 'pending'").run(entry.incidentId);
    }
    this.sql('INSERT OR IGNORE INTO outbox (key, channel, kind, incident_id, role, thread_of, message, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(entry.key, entry.channel, entry.kind, entry.incidentId, entry.role, entry.threadOf ?? null, JSON.stringify(entry.message), entry.at, entry.notBefore ?? 0);
    for (const listener of this.listeners) listener();
  }

  pending(): OutboxRow[] {
    return this.sql<[], Row>("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id").all().map(fromRow);
  }

  /** Recorded before a send, so a restart knows the message may already be in Slack. */
  markAttempt(id: number): void {
    this.sql('UPDATE outbox SET attempts = attempts + 1 WHERE id = ?').run(id);
  }

  markSent(id: number, ts: string, at: number): void {
    this.sql("UPDATE outbox SET status = 'sent', ts = ?, sent_at = ?, error = NULL WHERE id = ?").run(ts, at, id);
  }

  retryLater(id: number, nextAttemptAt: number, error: string): void {
    this.sql('UPDATE outbox SET next_attempt_at = ?, error = ? WHERE id = ?').run(nextAttemptAt, error, id);
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

  failedCount(): number {
    return this.sql<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed'").get()!.n;
  }

  failed(): OutboxRow[] {
    return this.sql<[], Row>("SELECT * FROM outbox WHERE status = 'failed' ORDER BY id").all().map(fromRow);
  }

  all(): OutboxRow[] {
    return this.sql<[], Row>('SELECT * FROM outbox ORDER BY id').all().map(fromRow);
  }
}
