import { formatDuration } from '../domain/duration.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { TimelineEvent } from '../store/events.js';
import { describeSubject } from '../domain/subjects.js';
import type { IncidentRecord } from '../domain/model.js';

const eventLabels: Record<string, string> = {
  'problem.opened': 'alert',
  'problem.changed': 'changed',
  'problem.relapsed': 'bad again',
  'problem.recovering': 'recovering',
  'problem.resolved': 'recovered',
  'incident.opened': 'incident opened',
  'incident.reopened': 'reopened',
  'incident.resolved': 'resolved',
  'human.ack': 'acknowledged',
  'human.note': 'note',
};

function label(type: string): string {
  if (eventLabels[type]) return eventLabels[type];
  if (type.startsWith('notice.')) return type.slice('notice.'.length).replace(/_/g, ' ');
  if (type.startsWith('action.')) return type.slice('action.'.length).replace(/[._]/g, ' ');
  return type;
}

/** Every event of an incident with its absolute time and its offset from the first bad signal. */
export function renderTimeline(incident: IncidentRecord, events: TimelineEvent[]): MessageModel {
  const origin = Math.min(incident.firstBadAt, ...events.map((event) => event.at));
  const lines: Line[] = events.map((event) => {
    const by: Line = event.actor ? [' (', { user: event.actor }, ')'] : [];
    return [{ at: event.at }, ` +${formatDuration(event.at - origin)} · ${label(event.type)}: ${event.summary}`, ...by];
  });
  return {
    tone: incident.status === 'open' ? incident.severity : 'ok',
    title: [`Timeline of #${incident.id} — ${describeSubject(incident.primarySubject)} (${incident.status})`],
    lines: lines.length ? lines : [['(no events recorded)']],
  };
}

/** One line per incident for `/incident list`. */
export function renderIncidentList(incidents: IncidentRecord[], now: number): MessageModel {
  if (incidents.length === 0) return { tone: 'ok', title: ['No incidents.'] };
  return {
    tone: incidents.some((incident) => incident.status === 'open') ? 'warning' : 'ok',
    title: [`${incidents.filter((incident) => incident.status === 'open').length} open incident(s)`],
    lines: incidents.map((incident) =>
      incident.status === 'open'
        ? [`#${incident.id} open · ${incident.title.replace(/^#\d+ /, '')} · since `, { at: incident.openedAt }, ` (${formatDuration(now - incident.firstBadAt)})`]
        : [`#${incident.id} resolved · ${incident.title.replace(/^#\d+ /, '')} · after ${formatDuration((incident.resolvedAt ?? now) - incident.firstBadAt)}`],
    ),
  };
}
