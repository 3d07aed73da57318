import { statements, type Db } from './db.js';
import type { Correlation, IncidentRecord, ProblemDetail, ProblemKind, ProblemRecord, ProblemState, Severity } from '../domain/model.js';

interface ProblemRow {
  subject: string;
  kind: string;
  severity: string;
  state: string;
  bad_streak: number;
  good_streak: number;
  first_bad_at: number | null;
  last_at: number;
  summary: string;
  detail: string;
  incident_id: number | null;
}

interface IncidentRow {
  id: number;
  status: string;
  primary_subject: string;
  severity: string;
  channel: string;
  title: string;
  first_bad_at: number;
  opened_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  last_activity_at: number;
  correlation: string | null;
  storm_id: number | null;
}

const problemFromRow = (row: ProblemRow): ProblemRecord => ({
  subject: row.subject,
  kind: row.kind as ProblemKind,
  severity: row.severity as Severity,
  state: row.state as ProblemState,
  badStreak: row.bad_streak,
  goodStreak: row.good_streak,
  firstBadAt: row.first_bad_at,
  lastAt: row.last_at,
  summary: row.summary,
  detail: JSON.parse(row.detail) as ProblemDetail,
  incidentId: row.incident_id,
});

const incidentFromRow = (row: IncidentRow): IncidentRecord => ({
  id: row.id,
  status: row.status as IncidentRecord['status'],
  primarySubject: row.primary_subject,
  severity: row.severity as Severity,
  channel: row.channel,
  title: row.title,
  firstBadAt: row.first_bad_at,
  openedAt: row.opened_at,
  acknowledgedAt: row.acknowledged_at,
  acknowledgedBy: row.acknowledged_by,
  resolvedAt: row.resolved_at,
  resolvedBy: row.resolved_by,
  lastActivityAt: row.last_activity_at,
  correlation: row.correlation ? (JSON.parse(row.correlation) as Correlation) : null,
  stormId: row.storm_id,
});

/** An incident as named SQL parameters (the correlation as JSON). */
function incidentParameters(incident: Omit<IncidentRecord, 'id'>): Record<string, unknown> {
  const { correlation, ...columns } = incident;
  return { ...columns, correlation: correlation ? JSON.stringify(correlation) : null };
}

/** Problems (hysteresis state per subject and kind), incidents, their threads, waiting notices, mutes. */
export class IncidentStore {
  /** Each statement prepared once (see `statements`). */
  private readonly sql: ReturnType<typeof statements>;
  constructor(db: Db) {
    this.sql = statements(db);
  }

  problem(subject: string, kind: ProblemKind): ProblemRecord | undefined {
    const row = this.sql<[string, string], ProblemRow>('SELECT * FROM problems WHERE subject = ? AND kind = ?').get(subject, kind);
    return row ? problemFromRow(row) : undefined;
  }

  saveProblem(problem: ProblemRecord): void {
    this.sql(
        `INSERT INTO problems (subject, kind, severity, state, bad_streak, good_streak, first_bad_at, last_at, summary, detail, incident_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(subject, kind) DO UPDATE SET severity = excluded.severity, state = excluded.state, bad_streak = excluded.bad_streak,
           good_streak = excluded.good_streak, first_bad_at = excluded.first_bad_at, last_at = excluded.last_at, summary = excluded.summary,
           detail = excluded.detail, incident_id = excluded.incident_id`,
      )
      .run(problem.subject, problem.kind, problem.severity, problem.state, problem.badStreak, problem.goodStreak, problem.firstBadAt, problem.lastAt, problem.summary, JSON.stringify(problem.detail), problem.incidentId);
  }

  problemsOfIncident(incidentId: number): ProblemRecord[] {
    return this.sql<[number], ProblemRow>('SELECT * FROM problems WHERE incident_id = ? ORDER BY first_bad_at, subject, kind').all(incidentId).map(problemFromRow);
  }

  problemsOfSubject(subject: string): ProblemRecord[] {
    return this.sql<[string], ProblemRow>('SELECT * FROM problems WHERE subject = ?').all(subject).map(problemFromRow);
  }


  createIncident(incident: Omit<IncidentRecord, 'id'>): number {
    const result = this.sql(
      `INSERT INTO incidents (status, primary_subject, severity, channel, title, first_bad_at, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, last_activity_at, correlation, storm_id)
       VALUES (@status, @primarySubject, @severity, @channel, @title, @firstBadAt, @openedAt, @acknowledgedAt, @acknowledgedBy, @resolvedAt, @resolvedBy, @lastActivityAt, @correlation, @stormId)`,
    ).run(incidentParameters(incident));
    return Number(result.lastInsertRowid);
  }

  updateIncident(incident: IncidentRecord): void {
    this.sql(
      `UPDATE incidents SET status = @status, severity = @severity, title = @title, first_bad_at = @firstBadAt, acknowledged_at = @acknowledgedAt,
         acknowledged_by = @acknowledgedBy, resolved_at = @resolvedAt, resolved_by = @resolvedBy, last_activity_at = @lastActivityAt,
         correlation = @correlation, storm_id = @stormId WHERE id = @id`,
    ).run({ ...incidentParameters(incident), id: incident.id });
  }

  incident(id: number): IncidentRecord | undefined {
    const row = this.sql<[number], IncidentRow>('SELECT * FROM incidents WHERE id = ?').get(id);
    return row ? incidentFromRow(row) : undefined;
  }

  openIncidents(channel?: string): IncidentRecord[] {
    const rows = channel
      ? this.sql<[string], IncidentRow>("SELECT * FROM incidents WHERE status = 'open' AND channel = ? ORDER BY opened_at, id").all(channel)
      : this.sql<[], IncidentRow>("SELECT * FROM incidents WHERE status = 'open' ORDER BY opened_at, id").all();
    return rows.map(incidentFromRow);
  }

  recentIncidents(limit: number, channel?: string): IncidentRecord[] {
    const rows = channel
      ? this.sql<[string, number], IncidentRow>('SELECT * FROM incidents WHERE channel = ? ORDER BY id DESC LIMIT ?').all(channel, limit)
      : this.sql<[number], IncidentRow>('SELECT * FROM incidents ORDER BY id DESC LIMIT ?').all(limit);
    return rows.map(incidentFromRow);
  }

  openedSince(at: number): IncidentRecord[] {
    return this.sql<[number], IncidentRow>('SELECT * FROM incidents WHERE opened_at >= ? ORDER BY id').all(at).map(incidentFromRow);
  }

  stormMembers(stormId: number): IncidentRecord[] {
    return this.sql<[number], IncidentRow>('SELECT * FROM incidents WHERE storm_id = ? ORDER BY id').all(stormId).map(incidentFromRow);
  }

  setThread(incidentId: number, channel: string, ts: string): void {
    this.sql('INSERT OR REPLACE INTO incident_threads (incident_id, channel, ts) VALUES (?, ?, ?)').run(incidentId, channel, ts);
  }

  thread(incidentId: number): { channel: string; ts: string } | undefined {
    return this.sql<[number], { channel: string; ts: string }>('SELECT channel, ts FROM incident_threads WHERE incident_id = ?').get(incidentId);
  }

  incidentByThread(channel: string, ts: string): number | undefined {
    return this.sql<[string, string], { incident_id: number }>('SELECT incident_id FROM incident_threads WHERE channel = ? AND ts = ?').get(channel, ts)?.incident_id;
  }

  holdNotice(subject: string, waitsFor: string, at: number, message: unknown): void {
    this.sql('INSERT INTO pending_notices (subject, waits_for, at, message) VALUES (?, ?, ?, ?)').run(subject, waitsFor, at, JSON.stringify(message));
  }

  /** Takes (and removes) the notices that waited on a problem. */
  takeHeldNotices<T>(waitsFor: string): Array<{ subject: string; at: number; message: T }> {
    const rows = this.sql<[string], { id: number; subject: string; at: number; message: string }>('SELECT * FROM pending_notices WHERE waits_for = ? ORDER BY id').all(waitsFor);
    this.sql('DELETE FROM pending_notices WHERE waits_for = ?').run(waitsFor);
    return rows.map((row) => ({ subject: row.subject, at: row.at, message: JSON.parse(row.message) as T }));
  }

  mute(subject: string, until: number, by: string): void {
    this.sql('INSERT OR REPLACE INTO mutes (subject, until, by) VALUES (?, ?, ?)').run(subject, until, by);
  }

  mutedUntil(subject: string, now: number): number | undefined {
    return this.sql<[string, number], { until: number }>('SELECT until FROM mutes WHERE subject = ? AND until > ?').get(subject, now)?.until;
  }

  expiredMutes(now: number): Array<{ subject: string; until: number; by: string }> {
    const rows = this.sql<[number], { subject: string; until: number; by: string }>('SELECT * FROM mutes WHERE until <= ?').all(now);
    this.sql('DELETE FROM mutes WHERE until <= ?').run(now);
    return rows;
  }
}
