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

interface EventRow {
  id: number;
  at: number;
  subject: string;
  type: string;
  incident_id: number | null;
  actor: string | null;
  summary: string;
  data: string;
}

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
  private readonly insert;
  private readonly byIncident;
  private readonly bySubjectType;
  private readonly attach;
  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO events (at, subject, type, incident_id, actor, summary, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.byIncident = db.prepare<[number], EventRow>('SELECT * FROM events WHERE incident_id = ? ORDER BY at, id');
    this.bySubjectType = db.prepare<[string, string, number], EventRow>('SELECT * FROM events WHERE subject = ? AND type = ? AND at >= ? ORDER BY at, id');
    this.attach = db.prepare('UPDATE events SET incident_id = ? WHERE id = ?');
  }

  append(event: Omit<TimelineEvent, 'id'>): number {
    const result = this.insert.run(event.at, event.subject, event.type, event.incidentId, event.actor, event.summary, JSON.stringify(event.data));
    return Number(result.lastInsertRowid);
  }

  forIncident(incidentId: number): TimelineEvent[] {
    return this.byIncident.all(incidentId).map(fromRow);
  }

  ofSubject(subject: string, type: string, since = 0): TimelineEvent[] {
    return this.bySubjectType.all(subject, type, since).map(fromRow);
  }

  attachToIncident(eventId: number, incidentId: number): void {
    this.attach.run(incidentId, eventId);
  }
}
