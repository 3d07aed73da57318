import { formatDuration } from '../domain/duration.js';
import type { IncidentRecord } from '../domain/model.js';
import { describeSubject } from '../domain/subjects.js';
import type { TimelineEvent } from '../store/events.js';
import { summaryFigures } from './summary.js';
import { clip, eventWord, isChartedAction, rawId, type NameOf } from './words.js';

/**
 * The incident's timeline chart as data: what the PNG in the thread and the status page's SVG
 * both draw. Pure: events in, model out.
 */

/** `quiet`: before the subject's first bad observation on this incident. */
export type LaneState = 'quiet' | 'bad' | 'recovering' | 'ok';

export interface ChartSpan {
  from: number;
  to: number;
  state: LaneState;
}

export interface ChartLane {
  subject: string;
  label: string;
  spans: ChartSpan[];
}

export type MarkKind = 'tag_move' | 'detected' | 'acknowledged' | 'action' | 'resolved';

export interface ChartMark {
  at: number;
  kind: MarkKind;
  label: string;
}

export interface ChartModel {
  title: string;
  subtitle: string;
  from: number;
  to: number;
  open: boolean;
  lanes: ChartLane[];
  /** Subjects beyond the lanes drawn. */
  moreLanes: number;
  marks: ChartMark[];
  ticks: Array<{ at: number; label: string }>;
}

const MAX_LANES = 8;
const MAX_MARKS = 24;
/**
 * Tag moves drawn: a tag pushed every few seconds (a CI loop) must not turn the chart into a
 * purple wall. The first and the last are always drawn; the last says how many were left out.
 */
const MAX_TAG_MOVES = 5;

const stateAfter: Record<string, LaneState | undefined> = {
  'problem.opened': 'bad',
  'problem.changed': 'bad',
  'problem.relapsed': 'bad',
  'problem.recovering': 'recovering',
  'problem.resolved': 'ok',
};

const tickSteps = [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800].map((seconds) => seconds * 1000);

function ticks(from: number, to: number): Array<{ at: number; label: string }> {
  const span = Math.max(1000, to - from);
  const step = tickSteps.find((candidate) => span / candidate <= 8) ?? tickSteps[tickSteps.length - 1]!;
  const out: Array<{ at: number; label: string }> = [];
  for (let offset = 0; offset <= span; offset += step) out.push({ at: from + offset, label: offset === 0 ? '0' : `+${formatDuration(offset)}` });
  return out;
}

/** One lane per subject with problems on this incident: its bad / recovering / ok spans. */
function lanes(events: TimelineEvent[], primary: string, from: number, to: number): { lanes: ChartLane[]; more: number } {
  const bySubject = new Map<string, TimelineEvent[]>();
  for (const event of events) {
    if (!stateAfter[event.type]) continue;
    const list = bySubject.get(event.subject) ?? [];
    list.push(event);
    bySubject.set(event.subject, list);
  }
  const subjects = [...bySubject.keys()].sort((a, b) => Number(b === primary) - Number(a === primary));
  const drawn = subjects.slice(0, MAX_LANES).map((subject): ChartLane => {
    const spans: ChartSpan[] = [];
    let state: LaneState = 'quiet';
    let since = from;
    for (const event of bySubject.get(subject)!) {
      const next = stateAfter[event.type]!;
      const at = Math.min(to, Math.max(from, event.at));
      if (next === state) continue;
      if (at > since) spans.push({ from: since, to: at, state });
      state = next;
      since = at;
    }
    if (to > since) spans.push({ from: since, to, state });
    return { subject, label: clip(describeSubject(subject), 60), spans };
  });
  return { lanes: drawn, more: subjects.length - drawn.length };
}

/** All tag moves when few; else the first, a few spread evenly between, and the last with "+N moves". */
function tagMoveMarks(times: number[]): ChartMark[] {
  if (times.length <= MAX_TAG_MOVES) return times.map((at) => ({ at, kind: 'tag_move', label: 'tag moved' }));
  const picked = Array.from({ length: MAX_TAG_MOVES }, (_, index) => times[Math.round((index * (times.length - 1)) / (MAX_TAG_MOVES - 1))]!);
  const left = times.length - picked.length;
  return picked.map((at, index) => ({ at, kind: 'tag_move', label: index === picked.length - 1 ? `tag moved · +${left} moves` : 'tag moved' }));
}

export function chartModel(incident: IncidentRecord, events: TimelineEvent[], options: { now: number; rootPostedAt?: number | null; nameOf?: NameOf; formatTime: (at: number) => string }): ChartModel {
  const nameOf = options.nameOf ?? rawId;
  const figures = summaryFigures(incident, events, options.rootPostedAt);
  const from = figures.firstBadSignal;
  const to = Math.max(from + 1000, figures.resolved ?? options.now);
  const marks: ChartMark[] = [];
  marks.push(...tagMoveMarks(events.filter((event) => event.type === 'notice.tag_moved').map((event) => event.at)));
  marks.push({ at: figures.detected, kind: 'detected', label: 'detected' });
  if (figures.acknowledged !== null) marks.push({ at: figures.acknowledged, kind: 'acknowledged', label: `ack ${figures.acknowledgedBy ? nameOf(figures.acknowledgedBy) : ''}`.trim() });
  const actions = events.filter(isChartedAction);
  for (const event of actions.slice(-MAX_MARKS)) marks.push({ at: event.at, kind: 'action', label: `${eventWord(event.type)} · ${nameOf(event.actor!)}` });
  if (figures.resolved !== null) marks.push({ at: figures.resolved, kind: 'resolved', label: 'resolved' });
  const drawn = lanes(events, incident.primarySubject, from, to);
  const open = incident.status === 'open';
  return {
    title: clip(`#${incident.id} ${describeSubject(incident.primarySubject)}`, 70),
    subtitle: `${options.formatTime(from)} → ${open ? `now, still open` : options.formatTime(to)} · ${formatDuration(to - from)}`,
    from,
    to,
    open,
    lanes: drawn.lanes,
    moreLanes: drawn.more,
    marks: marks.map((mark) => ({ ...mark, at: Math.min(to, Math.max(from, mark.at)), label: clip(mark.label, 32) })).sort((a, b) => a.at - b.at),
    ticks: ticks(from, to),
  };
}
