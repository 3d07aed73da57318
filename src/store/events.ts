import type { Selectable } from 'kysely';
import type { Database as Tables } from './schema.js';
import type { Db } from './db.js';

export interface TimelineEvent {
  id: number;
  at: number;
  subject: string;
  type: string;
  incidentId: number | null;
  actor: string | null;
  summary: string;
  data: Record<string, unknown>;
}

type EventRow = Selectable<Tables['events']>;

const fromRow = (row: EventRow): TimelineEvent => ({
  id: row.id,
  at: row.at,
  subject: row.subject,
  type: row.type,
  incidentId: row.incident_id,
  actor: row.actor,
  summary: row.summary,
  data: JSON.parse(row.data) as Record<string, unknown>,
});

/** The append-only timeline: every observation edge, notice, action and note. */
export class EventLog {
  constructor(private readonly db: Db) {}

  append(event: Omit<TimelineEvent, 'id'>): number {
    const { db } = this;
    const row = db.first(
      db.q
        .insertInto('events')
        .values({ at: event.at, subject: event.subject, type: event.type, incident_id: event.incidentId, actor: event.actor, summary: event.summary, data: JSON.stringify(event.data) })
        .returning('id'),
    );
    return row!.id;
  }

  forIncident(incidentId: number): TimelineEvent[] {
    const { db } = this;
    return db.all(db.q.selectFrom('events').selectAll().where('incident_id', '=', incidentId).orderBy('at').orderBy('id')).map(fromRow);
  }

  ofSubject(subject: string, type: string, since = 0): TimelineEvent[] {
    const { db } = this;
    return db
      .all(db.q.selectFrom('events').selectAll().where('subject', '=', subject).where('type', '=', type).where('at', '>=', since).orderBy('at').orderBy('id'))
      .map(fromRow);
  }

  attachToIncident(eventId: number, incidentId: number): void {
    const { db } = this;
    db.run(db.q.updateTable('events').set({ incident_id: incidentId }).where('id', '=', eventId));
  }
}
