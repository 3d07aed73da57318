import { formatDuration } from '../domain/duration.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { TimelineEvent } from '../store/events.js';
import { describeSubject } from '../domain/subjects.js';
import type { IncidentRecord } from '../domain/model.js';

export interface SummaryFigures {
  firstBadSignal: number;
  detected: number;
  acknowledged: number | null;
  acknowledgedBy: string | null;
  resolved: number | null;
  ttdMs: number;
  ttaMs: number | null;
  ttrMs: number | null;
}

/** Every event a person caused carries them as its actor: ack, note, mute, command, resolve. */
const isHuman = (event: TimelineEvent) => event.actor !== null;

/**
 * DESIGN.md's figures, from the stored timeline only: first bad signal (the correlated tag move,
 * else the first bad observation), detected (root posted), acknowledged (first human action),
 * resolved; TTD = detected − first bad, TTA = acknowledged − detected, TTR = resolved − first bad.
 */
export function summaryFigures(incident: IncidentRecord, events: TimelineEvent[], rootPostedAt?: number | null): SummaryFigures {
  const tagMove = events.find((event) => event.type === 'notice.tag_moved');
  const firstBad = events.find((event) => event.type.startsWith('problem.'));
  const firstBadSignal = Math.min(incident.firstBadAt, tagMove?.at ?? Infinity, firstBad?.data.ok === false ? (firstBad.at ?? Infinity) : Infinity);
  // Detected is when the channel could see it: the root's delivery, else when it was queued.
  const detected = rootPostedAt ?? events.find((event) => event.type === 'incident.opened')?.at ?? incident.openedAt;
  const firstHuman = events.find(isHuman);
  const acknowledged = firstHuman?.at ?? incident.acknowledgedAt;
  const resolvedEvent = [...events].reverse().find((event) => event.type === 'incident.resolved');
  const resolved = incident.status === 'resolved' ? (resolvedEvent?.at ?? incident.resolvedAt) : null;
  return {
    firstBadSignal,
    detected,
    acknowledged,
    acknowledgedBy: firstHuman?.actor ?? incident.acknowledgedBy,
    resolved,
    ttdMs: detected - firstBadSignal,
    ttaMs: acknowledged !== null ? Math.max(0, acknowledged - detected) : null,
    ttrMs: resolved !== null ? resolved - firstBadSignal : null,
  };
}

const digestPattern = /sha256:[0-9a-f]{8,64}/g;
const versionPattern = /\b\d+\.\d+\.\d+(?:[-+][\w.]+)?\b/g;

function involved(events: TimelineEvent[], pattern: RegExp): string[] {
  const found = new Set<string>();
  for (const event of events) {
    for (const text of [event.summary, JSON.stringify(event.data)]) for (const match of text.match(pattern) ?? []) found.add(match);
  }
  return [...found];
}

/** The summary as a message (Block Kit in Slack, text in the console). */
export function renderSummary(incident: IncidentRecord, events: TimelineEvent[], rootPostedAt?: number | null): MessageModel {
  const figures = summaryFigures(incident, events, rootPostedAt);
  const actions = events.filter((event) => event.actor && !event.type.startsWith('human.note'));
  const notes = events.filter((event) => event.type === 'human.note');
  const whatBroke = events.filter((event) => event.type === 'problem.opened').map((event) => event.summary);
  const fields: Array<[string, Line]> = [
    ['First bad signal', [{ at: figures.firstBadSignal }]],
    ['Detected', [{ at: figures.detected }, ` (TTD ${formatDuration(figures.ttdMs)})`]],
    ['Acknowledged', figures.acknowledged !== null ? [{ at: figures.acknowledged }, ' by ', { user: figures.acknowledgedBy! }, ` (TTA ${formatDuration(figures.ttaMs!)})`] : ['not yet']],
    ['Resolved', figures.resolved !== null ? [{ at: figures.resolved }, ` (TTR ${formatDuration(figures.ttrMs!)})`] : ['still open']],
  ];
  const lines: Line[] = [
    [`*What broke:* ${whatBroke.join('; ') || incident.title}`],
    ...actions.map((event): Line => ['• ', { at: event.at }, ` ${event.summary} — `, { user: event.actor! }]),
    ...notes.map((event): Line => ['📝 ', { user: event.actor! }, `: ${event.summary}`]),
  ];
  const digests = involved(events, digestPattern);
  const versions = involved(events, versionPattern);
  if (digests.length) lines.push([`Digests: ${digests.join(', ')}`]);
  if (versions.length) lines.push([`Versions: ${versions.join(', ')}`]);
  return { tone: incident.status === 'open' ? incident.severity : 'ok', title: [`Summary of #${incident.id} — ${describeSubject(incident.primarySubject)}`], fields, lines };
}

/** The same summary as Markdown for the postmortem, with times in `timeZone`. */
export function summaryMarkdown(incident: IncidentRecord, events: TimelineEvent[], formatTime: (at: number) => string, rootPostedAt?: number | null): string {
  const figures = summaryFigures(incident, events, rootPostedAt);
  const duration = (ms: number | null) => (ms === null ? '—' : formatDuration(ms));
  const out = [
    `# Incident #${incident.id}: ${describeSubject(incident.primarySubject)}`,
    '',
    `Status: ${incident.status}`,
    '',
    '| | time | |',
    '|---|---|---|',
    `| First bad signal | ${formatTime(figures.firstBadSignal)} | |`,
    `| Detected | ${formatTime(figures.detected)} | TTD ${duration(figures.ttdMs)} |`,
    `| Acknowledged | ${figures.acknowledged !== null ? `${formatTime(figures.acknowledged)} by @${figures.acknowledgedBy}` : '—'} | TTA ${duration(figures.ttaMs)} |`,
    `| Resolved | ${figures.resolved !== null ? formatTime(figures.resolved) : '—'} | TTR ${duration(figures.ttrMs)} |`,
    '',
    '## Timeline',
    '',
    ...events.map((event) => `- ${formatTime(event.at)} — ${event.type}: ${event.summary.replace(/<@(\w+)>/g, '@$1')}${event.actor ? ` (@${event.actor})` : ''}`),
  ];
  const digests = involved(events, digestPattern);
  if (digests.length) out.push('', '## Digests', '', ...digests.map((digest) => `- \`${digest}\``));
  return `${out.join('\n')}\n`;
}
