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

const HOUR = 3_600_000;
const wallClock = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(.*)$/;

/**
 * `formatTime` for many times at once (a long timeline): formatting is the costly part, so each
 * UTC hour is formatted at its start and end, and within an hour whose wall clock advances by
 * exactly an hour (no zone change inside it) the rest is arithmetic. Any other hour, or an
 * unexpected shape, is formatted time by time.
 */
export function hourlyFormatter(formatTime: (at: number) => string): (at: number) => string {
  const hours = new Map<number, { wall: number; suffix: string } | null>();
  const parse = (text: string) => {
    const match = wallClock.exec(text);
    return match ? { wall: Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!, +match[4]!, +match[5]!, +match[6]!), suffix: match[7]! } : undefined;
  };
  return (at) => {
    const hour = Math.floor(at / HOUR) * HOUR;
    let known = hours.get(hour);
    if (known === undefined) {
      const start = parse(formatTime(hour));
      const end = parse(formatTime(hour + HOUR));
      known = start && end && end.wall - start.wall === HOUR && end.suffix === start.suffix ? start : null;
      hours.set(hour, known);
    }
    if (known === null) return formatTime(at);
    const wall = new Date(known.wall + (at - hour)).toISOString();
    return `${wall.slice(0, 10)} ${wall.slice(11, 19)}${known.suffix}`;
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
  const timeOf = hourlyFormatter(options.formatTime);
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
