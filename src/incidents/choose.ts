/**
 * The one rule for which open incident takes something about a subject — a new problem, a
 * notice, or a command's story (DESIGN.md, incident model):
 * - an incident takes a subject that *is* its primary subject, or is linked to it one hop
 *   (links are symmetric and never chained: the caller passes the subject's direct links only);
 * - a cluster is never a link: a cluster incident takes only its own `cluster:<name>` subject,
 *   and a `cluster:<name>` subject joins no incident but its own;
 * - when several could take it, the oldest open one wins (opened first, then the lower id).
 */
import type { IncidentRecord } from '../domain/model.js';
import { isSubject } from '../domain/subjects.js';

/** What the rule reads of an incident. */
export type IncidentCandidate = Pick<IncidentRecord, 'id' | 'primarySubject' | 'openedAt'>;

/** The incident among `openIncidents` that takes `subject`, or undefined when none does. Pure. */
export function chooseIncident<T extends IncidentCandidate>(subject: string, openIncidents: readonly T[], linkedSubjects: ReadonlySet<string>): T | undefined {
  // Clusters take part by identity only, from either side.
  const throughLinks = !isSubject(subject, 'cluster');
  const takes = (incident: T) =>
    incident.primarySubject === subject || (throughLinks && !isSubject(incident.primarySubject, 'cluster') && linkedSubjects.has(incident.primarySubject));
  return openIncidents.filter(takes).sort((a, b) => a.openedAt - b.openedAt || a.id - b.id)[0];
}

/** The parts of the store the rule reads; `Store` fits, and so does any test double. */
export interface OpenIncidentsReader<T extends IncidentCandidate = IncidentRecord> {
  incidents: { openIncidents(): T[] };
  subjects: { linked(subject: string): ReadonlySet<string> };
}

/** The open incident that takes `subject`, read from the store: the engine, the correlation and the commands all ask this. */
export function openIncidentTaking<T extends IncidentCandidate>(store: OpenIncidentsReader<T>, subject: string): T | undefined {
  return chooseIncident(subject, store.incidents.openIncidents(), store.subjects.linked(subject));
}
