import { neutralizeMentions } from '../domain/untrusted.js';
import { formatDuration } from '../domain/duration.js';
import { shortDigest } from '../domain/image-ref.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { TimelineEvent } from '../store/events.js';
import { describeSubject } from '../domain/subjects.js';
import type { IncidentRecord } from '../domain/model.js';
import { clip, eventWord, isMitigatingAction, isRecoveringObservation, rawId, withNames, type NameOf } from './words.js';

export interface SummaryFigures {
  firstBadSignal: number;
  detected: number;
  acknowledged: number | null;
  acknowledgedBy: string | null;
  mitigated: number | null;
  resolved: number | null;
  ttdMs: number;
  ttaMs: number | null;
  ttmMs: number | null;
  ttrMs: number | null;
}

/** Every event a person caused carries them as its actor: ack, note, mute, command, resolve. */
const isHuman = (event: TimelineEvent) => event.actor !== null;

/**
 * When the trouble stopped getting worse: the first recovering observation after the last
 * human action (pin, restart, rollout, mute…; not acks, notes or the resolution) before
 * resolution; with no such action, the first recovering observation. Null when no recovering
 * observation followed (e.g. resolved by hand while still bad).
 */
export function mitigatedAt(events: TimelineEvent[], resolved: number | null): number | null {
  let lastAction = -1;
  events.forEach((event, index) => {
    if (isMitigatingAction(event) && (resolved === null || event.at <= resolved)) lastAction = index;
  });
  const recovering = events.find((event, index) => index > lastAction && isRecoveringObservation(event) && (resolved === null || event.at <= resolved));
  return recovering?.at ?? null;
}

/**
 * DESIGN.md's figures, from the stored timeline only: first bad signal (the correlated tag move,
 * else the first bad observation), detected (root posted), acknowledged (first human action),
 * mitigated (see `mitigatedAt`), resolved; TTD, TTM and TTR from the first bad signal, TTA from
 * detection.
 */
export function summaryFigures(incident: IncidentRecord, events: TimelineEvent[], rootPostedAt?: number | null): SummaryFigures {
  const tagMove = events.find((event) => event.type === 'notice.tag_moved');
  const firstBad = events.find((event) => event.type.startsWith('problem.'));
  const firstBadSignal = Math.min(incident.firstBadAt, tagMove?.at ?? Infinity, firstBad?.data.ok === false ? (firstBad.at ?? Infinity) : Infinity);
  // Detected is when the channel could see it: the root's delivery, else when it was queued.
  const detected = rootPostedAt ?? events.find((event) => event.type === 'incident.opened')?.at ?? incident.openedAt;
  const firstHuman = events.find(isHuman);
  const acknowledged = firstHuman?.at ?? incident.acknowledgedAt;
  let resolvedEvent: TimelineEvent | undefined;
  for (let index = events.length - 1; index >= 0 && !resolvedEvent; index--) if (events[index]!.type === 'incident.resolved') resolvedEvent = events[index];
  const resolved = incident.status === 'resolved' ? (resolvedEvent?.at ?? incident.resolvedAt) : null;
  const mitigated = mitigatedAt(events, resolved);
  return {
    firstBadSignal,
    detected,
    acknowledged,
    acknowledgedBy: firstHuman?.actor ?? incident.acknowledgedBy,
    mitigated,
    resolved,
    ttdMs: detected - firstBadSignal,
    ttaMs: acknowledged !== null ? Math.max(0, acknowledged - detected) : null,
    ttmMs: mitigated !== null ? Math.max(0, mitigated - firstBadSignal) : null,
    ttrMs: resolved !== null ? resolved - firstBadSignal : null,
  };
}

const fullDigest = /sha256:[0-9a-f]{64}/g;
const anyDigest = /sha256:[0-9a-f]{8,64}/g;
const versionShape = /^v?\d+(?:\.\d+){1,3}(?:[-+][\w.]+)?$/;

/** Every digest the incident involved, once: full forms where known, short-only ones kept. */
export function involvedDigests(events: TimelineEvent[]): string[] {
  const full = new Set<string>();
  const short = new Set<string>();
  for (const event of events) {
    const text = `${event.summary} ${JSON.stringify(event.data)}`;
    for (const match of text.match(fullDigest) ?? []) full.add(match);
    for (const match of text.match(anyDigest) ?? []) short.add(shortDigest(match));
  }
  const known = new Set([...full].map(shortDigest));
  return [...full, ...[...short].filter((digest) => !known.has(digest))];
}

/**
 * Versions only where a version is stated: served version headers (`version_changed` notices,
 * the Served / Expected fields of a stale-deploy problem) and image version labels — never a
 * number that happens to look like one (a registry host `127.0.0.1:5000`).
 */
export function involvedVersions(events: TimelineEvent[]): string[] {
  const found = new Set<string>();
  const take = (value: unknown) => {
    if (typeof value !== 'string') return;
    const first = value.trim().split(/\s/)[0] ?? '';
    if (versionShape.test(first)) found.add(first);
  };
  for (const event of events) {
    if (event.type === 'notice.version_changed') {
      take(event.data.from);
      take(event.data.to);
    }
    take(event.data.version);
    const fields = Array.isArray(event.data.fields) ? (event.data.fields as unknown[]) : [];
    for (const field of fields) {
      if (Array.isArray(field) && (field[0] === 'Served' || field[0] === 'Expected' || field[0] === 'Version')) take(field[1]);
    }
  }
  return [...found];
}

function whatBroke(incident: IncidentRecord, events: TimelineEvent[], nameOf: NameOf): string {
  // What the watchers reported is untrusted text: it may not mention anyone.
  const opened = [...new Set(events.filter((event) => event.type === 'problem.opened').map((event) => neutralizeMentions(withNames(event.summary, nameOf))))];
  const shown = opened.slice(0, 5).map((text) => clip(text, 200));
  if (opened.length > shown.length) shown.push(`and ${opened.length - shown.length} more`);
  return shown.join('; ') || incident.title;
}

const MAX_LISTED = 15;

/** The summary as a message (Block Kit in Slack, text in the console), people by name. */
export function renderSummary(incident: IncidentRecord, events: TimelineEvent[], rootPostedAt?: number | null, nameOf: NameOf = rawId): MessageModel {
  const figures = summaryFigures(incident, events, rootPostedAt);
  const actions = events.filter((event) => event.actor && event.type !== 'human.note');
  const notes = events.filter((event) => event.type === 'human.note');
  const since = (ms: number | null, what: string) => (ms === null ? '' : ` (${what} ${formatDuration(ms)})`);
  const fields: Array<[string, Line]> = [
    ['First bad signal', [{ at: figures.firstBadSignal }]],
    ['Detected', [{ at: figures.detected }, ` (TTD ${formatDuration(figures.ttdMs)})`]],
    ['Acknowledged', figures.acknowledged !== null ? [{ at: figures.acknowledged }, figures.acknowledgedBy ? ` by ${nameOf(figures.acknowledgedBy)}` : '', since(figures.ttaMs, 'TTA')] : ['not yet']],
    ['Mitigated', figures.mitigated !== null ? [{ at: figures.mitigated }, since(figures.ttmMs, 'TTM')] : ['no recovery observed']],
    ['Resolved', figures.resolved !== null ? [{ at: figures.resolved }, since(figures.ttrMs, 'TTR')] : ['still open']],
  ];
  const listed = <T>(items: T[]) => (items.length > MAX_LISTED ? items.slice(-MAX_LISTED) : items);
  const lines: Line[] = [[`*What broke:* ${whatBroke(incident, events, nameOf)}`]];
  if (actions.length > MAX_LISTED) lines.push([`${actions.length - MAX_LISTED} earlier actions in the Markdown file`]);
  for (const event of listed(actions)) lines.push(['• ', { at: event.at }, ` ${eventWord(event.type)}: ${clip(withNames(event.summary, nameOf), 200)} — ${nameOf(event.actor!)}`]);
  if (notes.length > MAX_LISTED) lines.push([`${notes.length - MAX_LISTED} earlier notes in the Markdown file`]);
  for (const event of listed(notes)) lines.push([`📝 ${nameOf(event.actor!)}: ${clip(withNames(event.summary, nameOf), 300)}`]);
  const digests = involvedDigests(events);
  const versions = involvedVersions(events);
  if (digests.length) lines.push([`Digests: ${digests.slice(0, 10).map(shortDigest).join(', ')}${digests.length > 10 ? ` and ${digests.length - 10} more` : ''}`]);
  if (versions.length) lines.push([`Versions: ${versions.slice(0, 10).join(', ')}`]);
  return { tone: incident.status === 'open' ? incident.severity : 'ok', title: [`Summary of #${incident.id} — ${describeSubject(incident.primarySubject)}`], fields, lines };
}

/** Markdown cells must not break the table or the list. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** The same summary as Markdown for the postmortem, with times in `timeZone`, people by name. */
export function summaryMarkdown(incident: IncidentRecord, events: TimelineEvent[], formatTime: (at: number) => string, rootPostedAt?: number | null, nameOf: NameOf = rawId): string {
  const figures = summaryFigures(incident, events, rootPostedAt);
  const duration = (ms: number | null) => (ms === null ? '—' : formatDuration(ms));
  const out = [
    `# Incident #${incident.id}: ${describeSubject(incident.primarySubject)}`,
    '',
    `Status: ${incident.status}`,
    '',
    `What broke: ${cell(whatBroke(incident, events, nameOf))}`,
    '',
    '| | time | |',
    '|---|---|---|',
    `| First bad signal | ${formatTime(figures.firstBadSignal)} | |`,
    `| Detected | ${formatTime(figures.detected)} | TTD ${duration(figures.ttdMs)} |`,
    `| Acknowledged | ${figures.acknowledged !== null ? `${formatTime(figures.acknowledged)}${figures.acknowledgedBy ? ` by ${cell(nameOf(figures.acknowledgedBy))}` : ''}` : '—'} | TTA ${duration(figures.ttaMs)} |`,
    `| Mitigated | ${figures.mitigated !== null ? formatTime(figures.mitigated) : '—'} | TTM ${duration(figures.ttmMs)} |`,
    `| Resolved | ${figures.resolved !== null ? formatTime(figures.resolved) : '—'} | TTR ${duration(figures.ttrMs)} |`,
    '',
    'TTD, TTM and TTR count from the first bad signal, TTA from detection. Mitigated: the first recovering observation after the last change a person made before resolution (pin, unpin, restart, undo), or the first one when nobody changed anything.',
    '',
    '## Timeline',
    '',
    ...events.map((event) => `- ${formatTime(event.at)} — ${eventWord(event.type)}: ${cell(withNames(event.summary, nameOf))}${event.actor ? ` (${cell(nameOf(event.actor))})` : ''}`),
  ];
  const digests = involvedDigests(events);
  if (digests.length) out.push('', '## Digests', '', ...digests.map((digest) => `- ${shortDigest(digest)}${digest !== shortDigest(digest) ? ` — \`${digest}\`` : ''}`));
  const versions = involvedVersions(events);
  if (versions.length) out.push('', '## Versions', '', ...versions.map((version) => `- ${version}`));
  return `${out.join('\n')}\n`;
}
