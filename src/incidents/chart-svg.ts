import type { ChartModel, LaneState, MarkKind } from './chart.js';
import { plural } from '../domain/text.js';

/**
 * The chart model as SVG: pure text, the same for the PNG in the thread and the status page.
 * Sizes are in pixels of a 1200 px wide image, with type large enough to read on a phone.
 */

export const CHART_WIDTH = 1200;
const MARGIN = 30;
const TITLE_SIZE = 34;
const TEXT_SIZE = 24;
const MARK_SIZE = 22;
const MARK_ROW = 30;
const LANE_LABEL = 34;
const BAR = 40;
const LANE_GAP = 22;
/** Rows of mark labels above the lanes; a label that fits in none is left out (its line stays). */
export const MAX_LABEL_ROWS = 4;
/** Which labels get a row first when they crowd: the incident's own milestones, then the rest. */
const labelPriority: Record<MarkKind, number> = { detected: 0, resolved: 1, acknowledged: 2, tag_move: 3, action: 4 };

export const laneColours: Record<LaneState, string> = { quiet: '#dadce0', bad: '#d93025', recovering: '#f9ab00', ok: '#1e8e3e' };
const markColours: Record<MarkKind, string> = { tag_move: '#7b1fa2', detected: '#1a73e8', acknowledged: '#00838f', action: '#202124', resolved: '#1e8e3e' };
const legend: Array<[LaneState, string]> = [
  ['bad', 'bad'],
  ['recovering', 'recovering'],
  ['ok', 'ok'],
  ['quiet', 'before its alert'],
];

/** Roughly how wide a text is (DejaVu Sans averages ~0.6 em); enough to keep labels apart. */
const textWidth = (text: string, size: number) => [...text].length * size * 0.6;

export interface ChartLayout {
  width: number;
  height: number;
  plot: { x0: number; x1: number };
  x: (at: number) => number;
  /** Top of each lane's bar, in model order. */
  laneBars: Array<{ y: number; height: number }>;
  /** Per mark in model order; `row` undefined: no room for its label, only its line is drawn. */
  marks: Array<{ x: number; row: number | undefined; anchor: 'start' | 'end' }>;
  markTop: number;
  axisY: number;
}

export function chartLayout(model: ChartModel): ChartLayout {
  const x0 = MARGIN;
  const x1 = CHART_WIDTH - MARGIN;
  const span = Math.max(1, model.to - model.from);
  const x = (at: number) => x0 + ((at - model.from) / span) * (x1 - x0);
  // Each label goes into the first row where it overlaps no other label, milestones first and
  // then in time order; at most MAX_LABEL_ROWS rows, so the height stays bounded however crowded.
  const marks: ChartLayout['marks'] = model.marks.map((mark) => {
    const at = x(mark.at);
    const width = textWidth(mark.label, MARK_SIZE) + 8;
    return { x: at, row: undefined, anchor: at + width > x1 ? 'end' : 'start' };
  });
  const rows: Array<Array<[number, number]>> = [];
  const order = model.marks.map((_mark, index) => index).sort((a, b) => labelPriority[model.marks[a]!.kind] - labelPriority[model.marks[b]!.kind] || a - b);
  for (const index of order) {
    const place = marks[index]!;
    const width = textWidth(model.marks[index]!.label, MARK_SIZE) + 8;
    const left = place.anchor === 'start' ? place.x : place.x - width;
    const right = left + width;
    const free = (row: Array<[number, number]>) => row.every(([l, r]) => right + 10 < l || left > r + 10);
    let row = rows.findIndex(free);
    if (row === -1 && rows.length < MAX_LABEL_ROWS) row = rows.push([]) - 1;
    if (row === -1) continue;
    rows[row]!.push([left, right]);
    place.row = row;
  }
  const markTop = MARGIN + TITLE_SIZE + 16 + TEXT_SIZE + 20;
  let y = markTop + Math.max(1, rows.length) * MARK_ROW + 12;
  const laneBars = model.lanes.map(() => {
    const bar = { y: y + LANE_LABEL, height: BAR };
    y += LANE_LABEL + BAR + LANE_GAP;
    return bar;
  });
  if (model.lanes.length === 0) y += LANE_LABEL + BAR + LANE_GAP;
  if (model.moreLanes > 0) y += TEXT_SIZE + 8;
  const axisY = y;
  const height = axisY + 12 + TEXT_SIZE + 24 + TEXT_SIZE + MARGIN;
  return { width: CHART_WIDTH, height: Math.ceil(height), plot: { x0, x1 }, x, laneBars, marks, markTop, axisY };
}

function escapeXml(text: string): string {
  // Control characters are not allowed in XML at all; the rest is escaped.
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const round = (value: number) => Math.round(value * 10) / 10;

export function renderChartSvg(model: ChartModel): string {
  const layout = chartLayout(model);
  const { x0, x1 } = layout.plot;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" font-family="DejaVu Sans, sans-serif">`);
  out.push(`<rect width="${layout.width}" height="${layout.height}" fill="#ffffff"/>`);
  out.push(`<text x="${x0}" y="${MARGIN + TITLE_SIZE}" font-size="${TITLE_SIZE}" font-weight="bold" fill="#202124">${escapeXml(model.title)}</text>`);
  out.push(`<text x="${x0}" y="${MARGIN + TITLE_SIZE + 16 + TEXT_SIZE}" font-size="${TEXT_SIZE}" fill="#5f6368">${escapeXml(model.subtitle)}</text>`);

  model.lanes.forEach((lane, index) => {
    const bar = layout.laneBars[index]!;
    out.push(`<text x="${x0}" y="${bar.y - 10}" font-size="${TEXT_SIZE}" fill="#202124">${escapeXml(lane.label)}</text>`);
    // Whole pixel columns, one rect per run of a colour: a week of flapping stays ≤ one rect a pixel.
    const columns: Array<string | undefined> = new Array(Math.round(x1) - Math.round(x0)).fill(undefined);
    for (const span of lane.spans) {
      const left = Math.round(layout.x(span.from)) - Math.round(x0);
      const right = Math.max(left + 1, Math.round(layout.x(span.to)) - Math.round(x0));
      for (let column = Math.max(0, left); column < Math.min(columns.length, right); column++) columns[column] = laneColours[span.state];
    }
    for (let start = 0; start < columns.length; ) {
      let end = start + 1;
      while (end < columns.length && columns[end] === columns[start]) end++;
      if (columns[start]) out.push(`<rect x="${Math.round(x0) + start}" y="${bar.y}" width="${end - start}" height="${bar.height}" fill="${columns[start]}" shape-rendering="crispEdges"/>`);
      start = end;
    }
  });
  if (model.lanes.length === 0) {
    const y = layout.markTop + MARK_ROW + 12 + LANE_LABEL + BAR / 2;
    out.push(`<text x="${x0}" y="${y}" font-size="${TEXT_SIZE}" fill="#5f6368">No observations recorded beyond the opening.</text>`);
  }
  if (model.moreLanes > 0) {
    out.push(`<text x="${x0}" y="${layout.axisY - 8}" font-size="${TEXT_SIZE}" fill="#5f6368">and ${plural(model.moreLanes, 'more subject')}</text>`);
  }

  // Marks: a line through the lanes, the label in its row above them.
  layout.marks.forEach((place, index) => {
    const mark = model.marks[index]!;
    const colour = markColours[mark.kind];
    // An unlabelled mark's line starts at the first row, so it still shows where it happened.
    const labelY = layout.markTop + (place.row ?? 0) * MARK_ROW + MARK_SIZE;
    const dx = place.anchor === 'start' ? 5 : -5;
    out.push(`<line x1="${round(place.x)}" y1="${labelY - MARK_SIZE + 2}" x2="${round(place.x)}" y2="${layout.axisY}" stroke="${colour}" stroke-width="2"${mark.kind === 'action' || mark.kind === 'acknowledged' ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (place.row !== undefined) out.push(`<text x="${round(place.x + dx)}" y="${labelY}" font-size="${MARK_SIZE}" fill="${colour}" text-anchor="${place.anchor}" font-weight="bold">${escapeXml(mark.label)}</text>`);
  });

  // Time axis: offsets from the first bad signal.
  out.push(`<line x1="${x0}" y1="${layout.axisY}" x2="${x1}" y2="${layout.axisY}" stroke="#5f6368" stroke-width="2"/>`);
  for (const tick of model.ticks) {
    const x = round(layout.x(tick.at));
    const anchor = x < x0 + 40 ? 'start' : x > x1 - 60 ? 'end' : 'middle';
    out.push(`<line x1="${x}" y1="${layout.axisY}" x2="${x}" y2="${layout.axisY + 10}" stroke="#5f6368" stroke-width="2"/>`);
    out.push(`<text x="${x}" y="${layout.axisY + 12 + TEXT_SIZE}" font-size="${TEXT_SIZE}" fill="#5f6368" text-anchor="${anchor}">${escapeXml(tick.label)}</text>`);
  }
  let legendX = x0;
  const legendY = layout.axisY + 12 + TEXT_SIZE + 24;
  for (const [state, label] of legend) {
    out.push(`<rect x="${legendX}" y="${legendY}" width="22" height="22" fill="${laneColours[state]}"/>`);
    out.push(`<text x="${legendX + 30}" y="${legendY + 19}" font-size="${TEXT_SIZE}" fill="#202124">${escapeXml(label)}</text>`);
    legendX += 30 + textWidth(label, TEXT_SIZE) + 30;
  }
  out.push('</svg>');
  return out.join('\n');
}
