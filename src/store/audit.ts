import { statements, type Db } from './db.js';

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
  private readonly sql: ReturnType<typeof statements>;
  constructor(db: Db) {
    this.sql = statements(db);
  }

  record(entry: Omit<AuditEntry, 'id'>): number {
    const result = this.sql('INSERT INTO audit (at, actor, action, target, before, after, result, incident_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(entry.at, entry.actor, entry.action, entry.target, entry.before, entry.after, entry.result, entry.incidentId);
    return Number(result.lastInsertRowid);
  }

  /** The entries recorded at or after `at`, oldest first (`driftwatch audit --since`). */
  since(at: number): AuditEntry[] {
    return this.sql('SELECT id, at, actor, action, target, before, after, result, incident_id AS incidentId FROM audit WHERE at >= ? ORDER BY id').all(at) as AuditEntry[];
  }

  all(): AuditEntry[] {
    return (this.sql('SELECT id, at, actor, action, target, before, after, result, incident_id AS incidentId FROM audit ORDER BY id').all() as AuditEntry[]);
  }
}
