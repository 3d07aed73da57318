import { describe, expect, it } from 'vitest';
import { chartModel } from '../src/incidents/chart.js';
import { chartLayout, laneColours, renderChartSvg } from '../src/incidents/chart-svg.js';
import { CHART_MAX_BYTES, chartTooLarge, svgToPng } from '../src/report/chart-png.js';
import { formatTime } from '../src/domain/duration.js';
import { decodePng } from './support/png.js';
import { EventBuilder, incidentRecord, MINUTE, T0 } from './support/incident-events.js';

const utc = (at: number) => formatTime(at, 'UTC');
const GOOD = `sha256:${'8b96908d'.padEnd(64, '1')}`;
const BAD = `sha256:${'c4338b51'.padEnd(64, '2')}`;
const names: Record<string, string> = { U0LEAD: 'Lena', U0ONCALL: 'Omar' };
const nameOf = (id: string) => names[id] ?? id;

/** Tag move → crash loop → ack → pin → rollout → recovery, minutes from T0. */
function story() {
  const b = new EventBuilder();
  b.add(T0, 'notice.tag_moved', `ghcr.io/confighubai/confighub-worker:latest moved: ${GOOD.slice(0, 15)} → ${BAD.slice(0, 15)}`, { subject: 'image:ghcr.io/confighubai/confighub-worker:latest', data: { from: GOOD, to: BAD } });
  b.add(T0 + 5 * MINUTE, 'problem.opened', 'worker pods failing: CrashLoopBackOff, 2 restarts', { data: { ok: false, restarts: 2 } });
  b.add(T0 + 5 * MINUTE, 'incident.opened', '#7 worker cost-optimizer-worker: worker pods failing');
  b.add(T0 + 7 * MINUTE, 'human.ack', 'acknowledged by <@U0LEAD>', { actor: 'U0LEAD' });
  b.add(T0 + 9 * MINUTE, 'action.pin', `📌 Pinned worker cost-optimizer-worker to ${GOOD.slice(0, 15)} by <@U0ONCALL>`, { actor: 'U0ONCALL' });
  b.add(T0 + 10 * MINUTE, 'action.rollout_finished', 'Rollout finished', { actor: 'U0ONCALL' });
  b.add(T0 + 12 * MINUTE, 'problem.recovering', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
  b.add(T0 + 13 * MINUTE, 'problem.resolved', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
  b.add(T0 + 13 * MINUTE, 'incident.resolved', 'resolved after 13m');
  return b.events;
}

/** The share of a lane's bar, in its middle row, painted in `colour`. */
function laneShare(png: ReturnType<typeof decodePng>, layout: ReturnType<typeof chartLayout>, lane: number, colour: string): number {
  const [r, g, b] = [1, 3, 5].map((start) => parseInt(colour.slice(start, start + 2), 16));
  const bar = layout.laneBars[lane]!;
  const y = Math.round(bar.y + bar.height / 2);
  let hits = 0;
  const { x0, x1 } = layout.plot;
  for (let x = Math.round(x0); x < Math.round(x1); x++) {
    const [pr, pg, pb] = png.pixel(x, y);
    if (Math.abs(pr - r!) < 8 && Math.abs(pg - g!) < 8 && Math.abs(pb - b!) < 8) hits++;
  }
  return hits / (Math.round(x1) - Math.round(x0));
}

describe('the timeline chart', () => {
  it('is a model of lanes and marks from the stored events: bad from the alert to the first good look, marks named in words', () => {
    const incident = incidentRecord({ resolvedAt: T0 + 13 * MINUTE });
    const model = chartModel(incident, story(), { now: T0 + 60 * MINUTE, rootPostedAt: T0 + 5 * MINUTE, nameOf, formatTime: utc });
    expect(model.from).toBe(T0);
    expect(model.to).toBe(T0 + 13 * MINUTE);
    expect(model.lanes.map((lane) => lane.label)).toEqual(['worker cost-optimizer-worker']);
    expect(model.lanes[0]!.spans).toEqual([
      { from: T0, to: T0 + 5 * MINUTE, state: 'quiet' },
      { from: T0 + 5 * MINUTE, to: T0 + 12 * MINUTE, state: 'bad' },
      { from: T0 + 12 * MINUTE, to: T0 + 13 * MINUTE, state: 'recovering' },
    ]);
    expect(model.marks.map((mark) => [mark.kind, mark.label, (mark.at - T0) / MINUTE])).toEqual([
      ['tag_move', 'tag moved', 0],
      ['detected', 'detected', 5],
      ['acknowledged', 'ack Lena', 7],
      ['action', 'pin · Omar', 9],
      ['action', 'rollout finished · Omar', 10],
      ['resolved', 'resolved', 13],
    ]);
    expect(model.subtitle).toBe('2026-11-24 03:00:00 UTC → 2026-11-24 03:13:00 UTC · 13m');
  });

  it('renders a PNG at least 1200 px wide and under 300 KB whose bad span covers its share of the lane', () => {
    const incident = incidentRecord({ resolvedAt: T0 + 13 * MINUTE });
    const model = chartModel(incident, story(), { now: T0 + 60 * MINUTE, rootPostedAt: T0 + 5 * MINUTE, nameOf, formatTime: utc });
    const svg = renderChartSvg(model);
    expect(svg).toContain('>ack Lena<');
    const bytes = svgToPng(svg);
    expect(bytes.length).toBeLessThan(300 * 1024);
    const png = decodePng(bytes);
    const layout = chartLayout(model);
    expect(png.width).toBe(1200);
    expect(png.height).toBe(layout.height);
    // 7 of 13 minutes bad, 1 recovering, 5 before the alert; mark lines cover a few pixels.
    expect(laneShare(png, layout, 0, laneColours.bad)).toBeCloseTo(7 / 13, 1);
    expect(Math.abs(laneShare(png, layout, 0, laneColours.bad) - 7 / 13)).toBeLessThan(0.015);
    expect(Math.abs(laneShare(png, layout, 0, laneColours.recovering) - 1 / 13)).toBeLessThan(0.015);
    expect(Math.abs(laneShare(png, layout, 0, laneColours.quiet) - 5 / 13)).toBeLessThan(0.015);
    // Text is drawn (the font ships with the package): the title row is not blank.
    let inked = 0;
    for (let x = 30; x < 600; x++) if (png.pixel(x, 50)[0] < 128) inked++;
    expect(inked).toBeGreaterThan(20);
  });

  it('an incident still open runs to now and says so; one with no events beyond its opening still draws', () => {
    const open = incidentRecord({ status: 'open' });
    const events = story().slice(0, 4);
    const model = chartModel(open, events, { now: T0 + 20 * MINUTE, formatTime: utc });
    expect(model.to).toBe(T0 + 20 * MINUTE);
    expect(model.subtitle).toContain('now, still open');
    expect(model.lanes[0]!.spans.at(-1)).toEqual({ from: T0 + 5 * MINUTE, to: T0 + 20 * MINUTE, state: 'bad' });
    expect(model.marks.map((mark) => mark.kind)).not.toContain('resolved');

    const bare = chartModel(incidentRecord({ status: 'open', firstBadAt: T0 + 5 * MINUTE }), [new EventBuilder().add(T0 + 5 * MINUTE, 'incident.opened', '#7')], { now: T0 + 5 * MINUTE, formatTime: utc });
    expect(bare.lanes).toEqual([]);
    const svg = renderChartSvg(bare);
    expect(svg).toContain('No observations recorded beyond the opening.');
    expect(decodePng(svgToPng(svg)).width).toBe(1200);
  });

  it('labels are escaped and clipped: markup, control characters and very long names stay text', () => {
    const b = new EventBuilder();
    b.add(T0, 'problem.opened', 'bad', { subject: `endpoint:${'<script>&"'.repeat(20)}\u0007`, data: { ok: false } });
    const model = chartModel(incidentRecord({ status: 'open' }), b.events, { now: T0 + MINUTE, nameOf, formatTime: utc });
    const svg = renderChartSvg(model);
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('\u0007');
    expect(model.lanes[0]!.label.length).toBeLessThanOrEqual(60);
    expect(() => svgToPng(svg)).not.toThrow();
  });

  it('a week of flapping (5000 events) draws in well under 2 s and stays under 300 KB', () => {
    const b = new EventBuilder();
    const week = 7 * 24 * 60 * MINUTE;
    b.add(T0, 'problem.opened', 'endpoint down: refused', { subject: 'endpoint:relay-dfw1', data: { ok: false } });
    for (let index = 1; index < 4999; index++) b.add(T0 + (index * week) / 5000, index % 2 ? 'problem.recovering' : 'problem.relapsed', index % 2 ? 'answers' : 'refused', { subject: 'endpoint:relay-dfw1' });
    b.add(T0 + week, 'problem.resolved', 'answers', { subject: 'endpoint:relay-dfw1' });
    expect(b.events).toHaveLength(5000);
    const started = performance.now();
    const model = chartModel(incidentRecord({ status: 'open', primarySubject: 'endpoint:relay-dfw1' }), b.events, { now: T0 + week, formatTime: utc });
    const svg = renderChartSvg(model);
    const bytes = svgToPng(svg);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(bytes.length).toBeLessThan(300 * 1024);
    // One rect per run of a colour at pixel resolution, not one per event.
    expect(svg.split('<rect').length).toBeLessThan(1300);
    const layout = chartLayout(model);
    const png = decodePng(bytes);
    const bad = laneShare(png, layout, 0, laneColours.bad);
    const recovering = laneShare(png, layout, 0, laneColours.recovering);
    expect(bad + recovering).toBeGreaterThan(0.97);
    expect(bad).toBeGreaterThan(0.3);
    expect(recovering).toBeGreaterThan(0.3);
  });

  /** An incident with `moves` tag moves at `at(index)`, detected, acked, pinned and resolved. */
  function movingTag(moves: number, at: (index: number) => number) {
    const b = new EventBuilder();
    const image = 'image:ghcr.io/confighubai/confighub-worker:latest';
    for (let index = 0; index < moves; index++) b.add(at(index), 'notice.tag_moved', `ghcr.io/confighubai/confighub-worker:latest moved (${index})`, { subject: image, data: { from: GOOD, to: BAD } });
    b.add(T0 + 5 * MINUTE, 'problem.opened', 'worker pods failing: CrashLoopBackOff', { data: { ok: false } });
    b.add(T0 + 5 * MINUTE, 'incident.opened', '#7 worker cost-optimizer-worker: worker pods failing');
    b.add(T0 + 7 * MINUTE, 'human.ack', 'acknowledged by <@U0LEAD>', { actor: 'U0LEAD' });
    b.add(T0 + 9 * MINUTE, 'action.pin', 'Pinned', { actor: 'U0ONCALL' });
    b.add(T0 + 60 * MINUTE, 'problem.recovering', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
    b.add(T0 + 61 * MINUTE, 'problem.resolved', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
    b.add(T0 + 61 * MINUTE, 'incident.resolved', 'resolved');
    return chartModel(incidentRecord({ resolvedAt: T0 + 61 * MINUTE }), b.events, { now: T0 + 90 * MINUTE, rootPostedAt: T0 + 5 * MINUTE, nameOf, formatTime: utc });
  }

  for (const [name, moves, at] of [
    ['300 tag moves spread over the incident', 300, (index: number) => T0 + index * 12_000],
    ['200 tag moves in a burst of seconds', 200, (index: number) => T0 + 30 * MINUTE + index * 50],
  ] as const) {
    it(`${name}: marks capped with the first, the last and "+N moves", label rows bounded, PNG under 300 KB in under 1 s`, () => {
      const started = performance.now();
      const model = movingTag(moves, at);
      const bytes = svgToPng(renderChartSvg(model));
      const took = performance.now() - started;
      const tagMarks = model.marks.filter((mark) => mark.kind === 'tag_move');
      expect(tagMarks.length).toBeLessThanOrEqual(6);
      expect(tagMarks[0]!.at).toBe(at(0));
      expect(tagMarks.at(-1)!.at).toBe(at(moves - 1));
      expect(tagMarks.map((mark) => mark.label)).toContain(`tag moved · +${moves - tagMarks.length} moves`);
      // The marks that matter are still named.
      for (const label of ['detected', 'ack Lena', 'pin · Omar', 'resolved']) expect(model.marks.map((mark) => mark.label)).toContain(label);
      const layout = chartLayout(model);
      const png = decodePng(bytes);
      expect(png.width).toBeGreaterThanOrEqual(1200);
      expect(png.height).toBe(layout.height);
      expect(png.height).toBeLessThan(900);
      expect(bytes.length).toBeLessThan(300 * 1024);
      expect(took).toBeLessThan(1000);
    });
  }

  it('crowded labels: rows are capped, the marks beyond keep their line and lose only the label; the key marks keep theirs', () => {
    const b = new EventBuilder();
    b.add(T0, 'problem.opened', 'worker pods failing', { data: { ok: false } });
    b.add(T0, 'incident.opened', '#7');
    b.add(T0 + 29 * MINUTE, 'human.ack', 'acknowledged by <@U0LEAD>', { actor: 'U0LEAD' });
    // 24 actions (the cap) within one minute of a 2-hour incident: every label overlaps the next.
    for (let index = 0; index < 24; index++) b.add(T0 + 30 * MINUTE + index * 2000, 'action.pin', 'Pinned', { actor: 'U0ONCALL' });
    b.add(T0 + 120 * MINUTE, 'problem.resolved', 'ok', { data: { ok: true } });
    b.add(T0 + 120 * MINUTE, 'incident.resolved', 'resolved');
    const model = chartModel(incidentRecord({ resolvedAt: T0 + 120 * MINUTE, firstBadAt: T0 }), b.events, { now: T0 + 130 * MINUTE, rootPostedAt: T0, nameOf, formatTime: utc });
    const layout = chartLayout(model);
    const rows = new Set(layout.marks.flatMap((place) => (place.row === undefined ? [] : [place.row])));
    expect(rows.size).toBeLessThanOrEqual(4);
    expect(layout.marks.some((place) => place.row === undefined)).toBe(true);
    const svg = renderChartSvg(model);
    // Every mark draws its line; only labelled ones draw text.
    expect(svg.split('<line').length - 1).toBeGreaterThanOrEqual(model.marks.length);
    const labelled = model.marks.filter((_mark, index) => layout.marks[index]!.row !== undefined).map((mark) => mark.label);
    for (const label of ['detected', 'ack Lena', 'resolved']) expect(labelled).toContain(label);
    expect(svg).toContain('>ack Lena<');
  });

  it('a PNG at or over 300 KB is not attached: the thread says so in words', () => {
    expect(CHART_MAX_BYTES).toBe(300 * 1024);
    expect(chartTooLarge(Buffer.alloc(CHART_MAX_BYTES - 1))).toBeUndefined();
    expect(chartTooLarge(Buffer.alloc(412 * 1024))).toBe('The timeline chart was not attached: it came out at 412 KB, over the 300 KB limit.');
  });
});
