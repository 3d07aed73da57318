import { formatDuration } from '../domain/duration.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { TimelineEvent } from '../store/events.js';
import { describeSubject } from '../domain/subjects.js';
import { plural } from '../domain/text.js';
import type { IncidentRecord } from '../domain/model.js';
import { neutralizeMentions } from '../domain/untrusted.js';
import { clip, collapseChatter, eventWord, withNames, type NameOf, type TimelineEntry } from './words.js';

/** How many timeline lines a reply shows: the newest ones, with the count of the others. */
export const TIMELINE_LINES = 25;
/** A line's text is clipped so the reply stays within Slack's limits however long the notes. */
const LINE_CHARS = 240;

function entryLine(entry: TimelineEntry, origin: number): Line {
  const by: Line = entry.actor ? [' (', { user: entry.actor }, ')'] : [];
  const span = entry.until !== undefined ? `–+${formatDuration(entry.until - origin)}` : '';
  const word = entry.type === 'chatter' ? 'updates' : eventWord(entry.type);
  // What machines reported (pod messages, endpoint bodies) cannot mention anyone; people's words and our audit lines can.
  const text = entry.actor === null && (entry.type === 'chatter' || entry.type.startsWith('problem.') || entry.type.startsWith('notice.')) ? neutralizeMentions(entry.text) : entry.text;
  return [{ at: entry.at }, ` +${formatDuration(entry.at - origin)}${span} · ${word}: ${clip(text, LINE_CHARS)}`, ...by];
}

/**
 * The newest events of an incident (machine chatter collapsed) with absolute times and offsets
 * from the first bad signal; older ones are counted, never silently dropped.
 */
export function renderTimeline(incident: IncidentRecord, events: TimelineEvent[], limit = TIMELINE_LINES): MessageModel {
  const origin = Math.min(incident.firstBadAt, ...events.slice(0, 1).map((event) => event.at));
  const entries = collapseChatter(events);
  const shown = entries.slice(-limit);
  const earlier = entries.slice(0, entries.length - shown.length).reduce((sum, entry) => sum + entry.count, 0);
  const lines: Line[] = shown.map((entry) => entryLine(entry, origin));
  if (earlier > 0) lines.unshift([`… ${plural(earlier, 'earlier event')} not shown — `, { code: `/incident timeline #${incident.id} all` }, ' puts the whole timeline into the thread as a file']);
  return {
    tone: incident.status === 'open' ? incident.severity : 'ok',
    title: [`Timeline of #${incident.id} — ${describeSubject(incident.primarySubject)} (${incident.status}, ${plural(events.length, 'event')})`],
    lines: lines.length ? lines : [['(no events recorded)']],
  };
}

/** The whole timeline, every event uncollapsed, as a text file for the thread. */
export function timelineFile(incident: IncidentRecord, events: TimelineEvent[], formatTime: (at: number) => string, nameOf: NameOf): string {
  const origin = Math.min(incident.firstBadAt, ...events.slice(0, 1).map((event) => event.at));
  const out = [`Timeline of incident #${incident.id}: ${describeSubject(incident.primarySubject)} (${incident.status}, ${events.length} events)`, ''];
  for (const event of events) {
    const by = event.actor ? ` (${nameOf(event.actor)})` : '';
    out.push(`${formatTime(event.at)}  +${formatDuration(event.at - origin)}  ${eventWord(event.type)}: ${withNames(event.summary, nameOf)}${by}`);
  }
  return `${out.join('\n')}\n`;
}

/** One line per incident for `/incident list`. */
/** How many incidents one `/incident list` answer shows; a "More" button shows the next ones. */
export const INCIDENT_LIST_PAGE = 20;

/**
 * A page of incidents: `incidents` is everything to list, `from` the first shown. When more
 * follow, a "More" button asks for the next page (`/incident list [all] from <n>`).
 */
export function renderIncidentList(incidents: IncidentRecord[], now: number, page: { from?: number; all?: boolean } = {}): MessageModel {
  if (incidents.length === 0) return { tone: 'ok', title: ['No incidents.'] };
  const from = Math.max(0, page.from ?? 0);
  const shown = incidents.slice(from, from + INCIDENT_LIST_PAGE);
  const open = incidents.filter((incident) => incident.status === 'open').length;
  const range = incidents.length > INCIDENT_LIST_PAGE ? ` — ${from + 1}–${from + shown.length} of ${incidents.length}` : '';
  const next = from + shown.length;
  return {
    tone: incidents.some((incident) => incident.status === 'open') ? 'warning' : 'ok',
    title: [`${open} open incident(s)${range}`],
    lines: shown.map((incident) =>
      incident.status === 'open'
        ? [`#${incident.id} open · ${incident.title.replace(/^#\d+ /, '')} · since `, { at: incident.openedAt }, ` (${formatDuration(now - incident.firstBadAt)})`]
        : [`#${incident.id} resolved · ${incident.title.replace(/^#\d+ /, '')} · after ${formatDuration((incident.resolvedAt ?? now) - incident.firstBadAt)}`],
    ),
    ...(next < incidents.length ? { buttons: [{ action: 'incident_list_more', label: `More (${incidents.length - next})`, value: JSON.stringify({ all: page.all === true, from: next }) }] } : {}),
  };
}
