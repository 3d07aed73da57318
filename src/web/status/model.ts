import { formatDuration } from '../../domain/duration.js';
import type { IncidentRecord } from '../../domain/model.js';
import { describeSubject } from '../../domain/subjects.js';
import type { TimelineEvent } from '../../store/events.js';
import { chartModel } from '../../incidents/chart.js';
import { renderChartSvg } from '../../incidents/chart-svg.js';
import { summaryFigures } from '../../incidents/summary.js';
import { eventWord, rawId, withNames, type NameOf } from '../../incidents/words.js';
import { matrixCounts, matrixTone, type MatrixRow, type VersionMatrix } from '../../commands/version.js';

/**
 * What the status page shows, as data: the HTML pages and the JSON API are two renderings of
 * these models. Pure: store records in, models out.
 */

export interface IncidentSummary {
  id: number;
  status: IncidentRecord['status'];
  severity: IncidentRecord['severity'];
  title: string;
  subject: string;
  firstBadAt: number;
  openedAt: number;
  resolvedAt: number | null;
  acknowledgedBy: string | null;
  /** How long it has been open, or took. */
  duration: string;
}

export interface StatusModel {
  generatedAt: number;
  generatedText: string;
  tone: 'critical' | 'warning' | 'ok';
  counts: string;
  rows: MatrixRow[];
  openIncidents: IncidentSummary[];
}

export interface Figure {
  label: 'TTD' | 'TTA' | 'TTM' | 'TTR';
  ms: number | null;
  text: string;
  /** What it measures, for people who don't know the acronyms. */
  meaning: string;
}

export interface TimelineItem {
  at: number;
  time: string;
  offset: string;
  type: string;
  word: string;
  text: string;
  actor: string | null;
}

export interface IncidentView {
  incident: IncidentSummary;
  generatedAt: number;
  generatedText: string;
  figures: Figure[];
  timeline: TimelineItem[];
  chartSvg: string;
}

export function incidentSummary(incident: IncidentRecord, now: number): IncidentSummary {
  return {
    id: incident.id,
    status: incident.status,
    severity: incident.severity,
    title: incident.title,
    subject: describeSubject(incident.primarySubject),
    firstBadAt: incident.firstBadAt,
    openedAt: incident.openedAt,
    resolvedAt: incident.resolvedAt,
    acknowledgedBy: incident.acknowledgedBy,
    duration: formatDuration(Math.max(0, (incident.status === 'resolved' ? (incident.resolvedAt ?? now) : now) - incident.firstBadAt)),
  };
}

export function statusModel(input: { matrix: VersionMatrix; open: IncidentRecord[]; now: number; formatTime: (at: number) => string }): StatusModel {
  return {
    generatedAt: input.now,
    generatedText: input.formatTime(input.now),
    tone: matrixTone(input.matrix),
    counts: matrixCounts(input.matrix),
    rows: input.matrix.rows,
    openIncidents: input.open.map((incident) => incidentSummary(incident, input.now)),
  };
}

/**
 * `formatTime` once per minute of the timeline: formatting is the costly part of a long one, and
 * within a minute only the seconds differ (every zone's offset is whole minutes).
 */
export function perMinute(formatTime: (at: number) => string): (at: number) => string {
  const minutes = new Map<number, string>();
  return (at) => {
    const minute = Math.floor(at / 60_000) * 60_000;
    let base = minutes.get(minute);
    if (base === undefined) {
      base = formatTime(minute);
      minutes.set(minute, base);
    }
    // Only the shape formatTime gives (`2026-11-30 09:00:00 UTC`); anything else is formatted as is.
    if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:00(?: |$)/.test(base)) return formatTime(at);
    return `${base.slice(0, 17)}${String(Math.floor((at - minute) / 1000)).padStart(2, '0')}${base.slice(19)}`;
  };
}

export function incidentView(
  incident: IncidentRecord,
  events: TimelineEvent[],
  options: { now: number; rootPostedAt?: number | null; formatTime: (at: number) => string; nameOf?: NameOf },
): IncidentView {
  const nameOf = options.nameOf ?? rawId;
  const figures = summaryFigures(incident, events, options.rootPostedAt);
  const duration = (ms: number | null, none: string) => (ms === null ? none : formatDuration(ms));
  const origin = figures.firstBadSignal;
  const timeOf = perMinute(options.formatTime);
  return {
    incident: incidentSummary(incident, options.now),
    generatedAt: options.now,
    generatedText: options.formatTime(options.now),
    figures: [
      { label: 'TTD', ms: figures.ttdMs, text: duration(figures.ttdMs, '—'), meaning: 'to detect, from the first bad signal' },
      { label: 'TTA', ms: figures.ttaMs, text: duration(figures.ttaMs, 'not yet'), meaning: 'to acknowledge, from detection' },
      { label: 'TTM', ms: figures.ttmMs, text: duration(figures.ttmMs, 'not yet'), meaning: 'to mitigate, from the first bad signal' },
      { label: 'TTR', ms: figures.ttrMs, text: duration(figures.ttrMs, 'still open'), meaning: 'to resolve, from the first bad signal' },
    ],
    timeline: events.map((event) => ({
      at: event.at,
      time: timeOf(event.at),
      offset: `${event.at < origin ? '-' : '+'}${formatDuration(Math.abs(event.at - origin))}`,
      type: event.type,
      word: eventWord(event.type),
      text: withNames(event.summary, nameOf),
      actor: event.actor ? nameOf(event.actor) : null,
    })),
    chartSvg: renderChartSvg(chartModel(incident, events, { now: options.now, ...(options.rootPostedAt !== undefined ? { rootPostedAt: options.rootPostedAt } : {}), nameOf, formatTime: options.formatTime })),
  };
}
