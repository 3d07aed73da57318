import type { Db } from './db.js';

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  before: string | null;
  after: string | null;
  result: string;
  incidentId: number | null;
}

/** Who changed what, where, from what to what, and how it went; never edited. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  record(entry: Omit<AuditEntry, 'id'>): number {
    const { db } = this;
    const row = db.first(
      db.q
        .insertInto('audit')
        .values({ at: entry.at, actor: entry.actor, action: entry.action, target: entry.target, before: entry.before, after: entry.after, result: entry.result, incident_id: entry.incidentId })
        .returning('id'),
    );
    return row!.id;
  }

  /** The entries recorded at or after `at`, oldest first (`driftwatch audit --since`). */
  since(at: number): AuditEntry[] {
    const { db } = this;
    return db.all(db.q.selectFrom('audit').select(['id', 'at', 'actor', 'action', 'target', 'before', 'after', 'result', 'incident_id as incidentId']).where('at', '>=', at).orderBy('id'));
  }

  all(): AuditEntry[] {
    const { db } = this;
    return db.all(db.q.selectFrom('audit').select(['id', 'at', 'actor', 'action', 'target', 'before', 'after', 'result', 'incident_id as incidentId']).orderBy('id'));
  }
}
