import type { Selectable } from 'kysely';
import type { Database as Tables } from './schema.js';
import type { Db } from './db.js';
import type { Correlation, IncidentRecord, ProblemDetail, ProblemKind, ProblemRecord, ProblemState, Severity } from '../domain/model.js';

type ProblemRow = Selectable<Tables['problems']>;

type IncidentRow = Selectable<Tables['incidents']>;

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

/** An incident's columns (the correlation as JSON). */
function incidentColumns(incident: Omit<IncidentRecord, 'id'>) {
  return {
    status: incident.status,
    primary_subject: incident.primarySubject,
    severity: incident.severity,
    channel: incident.channel,
    title: incident.title,
    first_bad_at: incident.firstBadAt,
    opened_at: incident.openedAt,
    acknowledged_at: incident.acknowledgedAt,
    acknowledged_by: incident.acknowledgedBy,
    resolved_at: incident.resolvedAt,
    resolved_by: incident.resolvedBy,
    last_activity_at: incident.lastActivityAt,
    correlation: incident.correlation ? JSON.stringify(incident.correlation) : null,
    storm_id: incident.stormId,
  };
}

/** Problems (hysteresis state per subject and kind), incidents, their threads, waiting notices, mutes. */
export class IncidentStore {
  constructor(private readonly db: Db) {}

  problem(subject: string, kind: ProblemKind): ProblemRecord | undefined {
    const { db } = this;
    const row = db.first(db.q.selectFrom('problems').selectAll().where('subject', '=', subject).where('kind', '=', kind));
    return row ? problemFromRow(row) : undefined;
  }

  saveProblem(problem: ProblemRecord): void {
    const { db } = this;
    db.run(
      db.q
        .insertInto('problems')
        .values({
          subject: problem.subject,
          kind: problem.kind,
          severity: problem.severity,
          state: problem.state,
          bad_streak: problem.badStreak,
          good_streak: problem.goodStreak,
          first_bad_at: problem.firstBadAt,
          last_at: problem.lastAt,
          summary: problem.summary,
          detail: JSON.stringify(problem.detail),
          incident_id: problem.incidentId,
        })
        .onConflict((conflict) =>
          conflict.columns(['subject', 'kind']).doUpdateSet((row) => ({
            severity: row.ref('excluded.severity'),
            state: row.ref('excluded.state'),
            bad_streak: row.ref('excluded.bad_streak'),
            good_streak: row.ref('excluded.good_streak'),
            first_bad_at: row.ref('excluded.first_bad_at'),
            last_at: row.ref('excluded.last_at'),
            summary: row.ref('excluded.summary'),
            detail: row.ref('excluded.detail'),
            incident_id: row.ref('excluded.incident_id'),
          })),
        ),
    );
  }

  problemsOfIncident(incidentId: number): ProblemRecord[] {
    const { db } = this;
    return db.all(db.q.selectFrom('problems').selectAll().where('incident_id', '=', incidentId).orderBy('first_bad_at').orderBy('subject').orderBy('kind')).map(problemFromRow);
  }

  problemsOfSubject(subject: string): ProblemRecord[] {
    const { db } = this;
    return db.all(db.q.selectFrom('problems').selectAll().where('subject', '=', subject)).map(problemFromRow);
  }

  createIncident(incident: Omit<IncidentRecord, 'id'>): number {
    const { db } = this;
    return db.first(db.q.insertInto('incidents').values(incidentColumns(incident)).returning('id'))!.id;
  }

  updateIncident(incident: IncidentRecord): void {
    const { db } = this;
    const { primary_subject: _primary, channel: _channel, opened_at: _opened, ...changeable } = incidentColumns(incident);
    db.run(db.q.updateTable('incidents').set(changeable).where('id', '=', incident.id));
  }

  incident(id: number): IncidentRecord | undefined {
    const { db } = this;
    const row = db.first(db.q.selectFrom('incidents').selectAll().where('id', '=', id));
    return row ? incidentFromRow(row) : undefined;
  }

  openIncidents(channel?: string): IncidentRecord[] {
    const { db } = this;
    let query = db.q.selectFrom('incidents').selectAll().where('status', '=', 'open');
    if (channel) query = query.where('channel', '=', channel);
    return db.all(query.orderBy('opened_at').orderBy('id')).map(incidentFromRow);
  }

  recentIncidents(limit: number, channel?: string): IncidentRecord[] {
    const { db } = this;
    let query = db.q.selectFrom('incidents').selectAll();
    if (channel) query = query.where('channel', '=', channel);
    return db.all(query.orderBy('id', 'desc').limit(limit)).map(incidentFromRow);
  }

  openedSince(at: number): IncidentRecord[] {
    const { db } = this;
    return db.all(db.q.selectFrom('incidents').selectAll().where('opened_at', '>=', at).orderBy('id')).map(incidentFromRow);
  }

  stormMembers(stormId: number): IncidentRecord[] {
    const { db } = this;
    return db.all(db.q.selectFrom('incidents').selectAll().where('storm_id', '=', stormId).orderBy('id')).map(incidentFromRow);
  }

  setThread(incidentId: number, channel: string, ts: string): void {
    const { db } = this;
    db.run(
      db.q
        .insertInto('incident_threads')
        .values({ incident_id: incidentId, channel, ts })
        .onConflict((conflict) => conflict.column('incident_id').doUpdateSet((row) => ({ channel: row.ref('excluded.channel'), ts: row.ref('excluded.ts') }))),
    );
  }

  thread(incidentId: number): { channel: string; ts: string } | undefined {
    const { db } = this;
    return db.first(db.q.selectFrom('incident_threads').select(['channel', 'ts']).where('incident_id', '=', incidentId));
  }

  incidentByThread(channel: string, ts: string): number | undefined {
    const { db } = this;
    return db.first(db.q.selectFrom('incident_threads').select('incident_id').where('channel', '=', channel).where('ts', '=', ts))?.incident_id;
  }

  holdNotice(subject: string, waitsFor: string, at: number, message: unknown): void {
    const { db } = this;
    db.run(db.q.insertInto('pending_notices').values({ subject, waits_for: waitsFor, at, message: JSON.stringify(message) }));
  }

  /** Takes (and removes) the notices that waited on a problem. */
  takeHeldNotices<T>(waitsFor: string): Array<{ subject: string; at: number; message: T }> {
    const { db } = this;
    const rows = db.all(db.q.selectFrom('pending_notices').selectAll().where('waits_for', '=', waitsFor).orderBy('id'));
    db.run(db.q.deleteFrom('pending_notices').where('waits_for', '=', waitsFor));
    return rows.map((row) => ({ subject: row.subject, at: row.at, message: JSON.parse(row.message) as T }));
  }

  mute(subject: string, until: number, by: string): void {
    const { db } = this;
    db.run(
      db.q
        .insertInto('mutes')
        .values({ subject, until, by })
        .onConflict((conflict) => conflict.column('subject').doUpdateSet((row) => ({ until: row.ref('excluded.until'), by: row.ref('excluded.by') }))),
    );
  }

  mutedUntil(subject: string, now: number): number | undefined {
    const { db } = this;
    return db.first(db.q.selectFrom('mutes').select('until').where('subject', '=', subject).where('until', '>', now))?.until;
  }

  expiredMutes(now: number): Array<{ subject: string; until: number; by: string }> {
    const { db } = this;
    const rows = db.all(db.q.selectFrom('mutes').selectAll().where('until', '<=', now));
    db.run(db.q.deleteFrom('mutes').where('until', '<=', now));
    return rows;
  }
}
