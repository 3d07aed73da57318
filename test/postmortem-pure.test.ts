import { describe, expect, it } from 'vitest';
import { renderTimeline, timelineFile, TIMELINE_LINES } from '../src/incidents/timeline.js';
import { involvedDigests, involvedVersions, mitigatedAt, renderSummary, summaryFigures, summaryMarkdown } from '../src/incidents/summary.js';
import { collapseChatter } from '../src/incidents/words.js';
import { namesOf, type PeopleDirectory } from '../src/commands/people.js';
import { toSlack } from '../src/slack/render.js';
import { formatTime } from '../src/domain/duration.js';
import { messageToPlainText } from '../src/domain/messages.js';
import { EventBuilder, incidentRecord, MINUTE, T0 } from './support/incident-events.js';

const utc = (at: number) => formatTime(at, 'UTC');
const GOOD = `sha256:${'8b96908d'.padEnd(64, '1')}`;
const BAD = `sha256:${'c4338b51'.padEnd(64, '2')}`;

function withinSlackLimits(blocks: Array<Record<string, unknown>>) {
  expect(blocks.length).toBeLessThanOrEqual(50);
  for (const block of blocks) {
    const text = (block.text as { text?: string } | undefined)?.text;
    if (text !== undefined) expect(text.length).toBeLessThanOrEqual(3000);
  }
}

describe('timelines that keep the newest events', () => {
  it('collapses machine chatter of one subject into one line: restarts a → b, n updates', () => {
    const b = new EventBuilder();
    b.add(T0, 'problem.opened', 'CrashLoopBackOff, 2 restarts', { data: { ok: false, restarts: 2 } });
    for (let restarts = 3; restarts <= 17; restarts++) b.add(T0 + restarts * MINUTE, 'problem.changed', `CrashLoopBackOff, ${restarts} restarts`, { data: { ok: false, restarts } });
    b.add(T0 + 20 * MINUTE, 'human.note', 'looking', { actor: 'U0LEAD' });
    const entries = collapseChatter(b.events);
    expect(entries.map((entry) => entry.text)).toEqual(['CrashLoopBackOff, 2 restarts', 'restarts 3 → 17, 15 updates; last: CrashLoopBackOff, 17 restarts', 'looking']);
    expect(entries.map((entry) => entry.count)).toEqual([1, 15, 1]);
  });

  it('shows the latest 25 lines with the count of earlier events; the newest (pin, resolution) are never cut', () => {
    const b = new EventBuilder();
    b.add(T0, 'problem.opened', 'CrashLoopBackOff', { data: { ok: false } });
    for (let index = 0; index < 60; index++) b.add(T0 + index * 1000, 'human.note', `note ${index} ${'ü'.repeat(400)}`, { actor: `U0P${index}` });
    b.add(T0 + 2 * MINUTE, 'action.pin', '📌 Pinned worker cost-optimizer-worker by <@U0ONCALL>', { actor: 'U0ONCALL' });
    b.add(T0 + 3 * MINUTE, 'incident.resolved', 'resolved after 3m');
    const message = renderTimeline(incidentRecord(), b.events);
    const text = messageToPlainText(message);
    expect(message.lines).toHaveLength(TIMELINE_LINES + 1);
    expect(text).toContain('… 38 earlier events not shown');
    expect(text).toContain('/incident timeline #7 all');
    expect(text).toMatch(/\+2m · pin: 📌 Pinned worker/);
    expect(text).toMatch(/\+3m · resolved: resolved after 3m/);
    withinSlackLimits(toSlack(message).blocks);
    const sections = toSlack(message).blocks.filter((block) => block.type === 'section');
    expect(sections.map((block) => (block.text as { text: string }).text).join('\n')).toContain('resolved after 3m');
  });

  it('5000 events: the answer and the file come in under 2 s, the answer within Slack limits, the file with every event', () => {
    const b = new EventBuilder();
    const week = 7 * 24 * 60 * MINUTE;
    b.add(T0, 'problem.opened', 'endpoint down: refused', { subject: 'endpoint:relay-dfw1', data: { ok: false } });
    for (let index = 1; index < 4990; index++) b.add(T0 + (index * week) / 5000, index % 2 ? 'problem.recovering' : 'problem.relapsed', index % 2 ? 'answers' : 'refused', { subject: 'endpoint:relay-dfw1' });
    for (let index = 0; index < 9; index++) b.add(T0 + week + index, 'human.note', `n${index} ${'x'.repeat(5000)}`, { actor: 'U0LEAD' });
    b.add(T0 + week + 10, 'incident.resolved', 'resolved after 7d');
    const incident = incidentRecord({ primarySubject: 'endpoint:relay-dfw1' });
    const started = performance.now();
    const message = renderTimeline(incident, b.events);
    const file = timelineFile(incident, b.events, utc, (id) => (id === 'U0LEAD' ? 'Lena' : id));
    const blocks = toSlack(message).blocks;
    expect(performance.now() - started).toBeLessThan(2000);
    withinSlackLimits(blocks);
    expect(messageToPlainText(message)).toContain('4989 updates');
    expect(file.trimEnd().split('\n')).toHaveLength(5000 + 2);
    expect(file).toContain('(Lena)');
    expect(file).not.toContain('problem.');
    expect(Buffer.byteLength(file)).toBeLessThan(1024 * 1024);
  });

  it('an incident with no events beyond its opening: one line, a summary still open, no earlier count', () => {
    const b = new EventBuilder();
    b.add(T0 + 5 * MINUTE, 'incident.opened', '#7 worker cost-optimizer-worker: worker pods failing');
    const incident = incidentRecord({ status: 'open' });
    const timeline = messageToPlainText(renderTimeline(incident, b.events));
    expect(timeline).toContain('+5m · incident opened: #7 worker');
    expect(timeline).not.toContain('earlier');
    const summary = messageToPlainText(renderSummary(incident, b.events, null));
    expect(summary).toContain('Acknowledged: not yet');
    expect(summary).toContain('Mitigated: no recovery observed');
    expect(summary).toContain('Resolved: still open');
    expect(summary).toContain('(TTD 5m)');
  });
});

describe('the summary', () => {
  function story() {
    const b = new EventBuilder();
    b.add(T0, 'notice.tag_moved', `127.0.0.1:5000/confighubai/confighub-worker:latest moved: ${GOOD.slice(0, 15)} → ${BAD.slice(0, 15)}`, { subject: 'image:127.0.0.1:5000/confighubai/confighub-worker:latest', data: { from: GOOD, to: BAD } });
    b.add(T0 + 5 * MINUTE, 'problem.opened', `worker pods failing: CrashLoopBackOff (runs ${BAD.slice(0, 15)})`, { data: { ok: false, digest: BAD } });
    b.add(T0 + 5 * MINUTE, 'incident.opened', '#7 worker');
    b.add(T0 + 6 * MINUTE, 'problem.opened', 'stale deploy: serves 0.1.0; expected 0.2.0', { subject: 'endpoint:relay-dfw1', data: { ok: false, fields: [['Expected', '0.2.0 (image label of 127.0.0.1:5000/x:1.2.3)'], ['Served', '0.1.0'], ['Since', '2026-11-24 03:00:00 UTC']] } });
    b.add(T0 + 7 * MINUTE, 'human.ack', 'acknowledged by <@U0LEAD>', { actor: 'U0LEAD' });
    b.add(T0 + 8 * MINUTE, 'problem.recovering', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
    b.add(T0 + 8 * MINUTE + 30_000, 'problem.relapsed', 'worker pods failing: CrashLoopBackOff', { data: { ok: false } });
    b.add(T0 + 9 * MINUTE, 'action.pin', `📌 Pinned worker to ${GOOD.slice(0, 15)} by <@U0ONCALL>`, { actor: 'U0ONCALL' });
    b.add(T0 + 10 * MINUTE, 'action.rollout_finished', 'Rollout finished', { actor: 'U0ONCALL' });
    b.add(T0 + 11 * MINUTE, 'problem.recovering', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
    b.add(T0 + 11 * MINUTE, 'notice.version_changed', 'relay-dfw1 now serves 0.2.0', { subject: 'endpoint:relay-dfw1', data: { from: '0.1.0', to: '0.2.0' } });
    b.add(T0 + 11 * MINUTE + 10_000, 'human.note', 'pinned ✅ — 日本語 note with <@U0ONCALL>', { actor: 'U0LEAD' });
    b.add(T0 + 12 * MINUTE, 'problem.resolved', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
    b.add(T0 + 13 * MINUTE, 'incident.resolved', 'resolved after 13m');
    return b.events;
  }
  const names = (id: string) => ({ U0LEAD: 'Lena', U0ONCALL: 'Omar' })[id] ?? id;

  it('TTM: the first recovering observation after the last change a person made; without one, the first recovering observation', () => {
    const events = story();
    expect(mitigatedAt(events, T0 + 13 * MINUTE)).toBe(T0 + 11 * MINUTE); // not the 8m flap before the pin; the rollout report and the note are no changes
    expect(mitigatedAt(events.filter((event) => event.actor === null), T0 + 13 * MINUTE)).toBe(T0 + 8 * MINUTE);
    expect(mitigatedAt(events.filter((event) => !event.type.startsWith('problem.re')), T0 + 13 * MINUTE)).toBeNull();
    const figures = summaryFigures(incidentRecord({ resolvedAt: T0 + 13 * MINUTE }), events, T0 + 5 * MINUTE);
    expect(figures).toMatchObject({ ttdMs: 5 * MINUTE, ttaMs: 2 * MINUTE, ttmMs: 11 * MINUTE, ttrMs: 13 * MINUTE, acknowledgedBy: 'U0LEAD' });
  });

  it('names people, puts events in words, lists each digest once in its short form and versions only from headers and labels', () => {
    const events = story();
    const incident = incidentRecord({ resolvedAt: T0 + 13 * MINUTE });
    const text = messageToPlainText(renderSummary(incident, events, T0 + 5 * MINUTE, names));
    expect(text).toContain('Acknowledged: 2026-11-24T03:07:00.000Z by Lena (TTA 2m)');
    expect(text).toContain('Mitigated: 2026-11-24T03:11:00.000Z (TTM 11m)');
    expect(text).toContain('TTR 13m');
    expect(text).toContain('pin: 📌 Pinned worker to sha256:8b96908d by Omar — Omar');
    expect(text).toContain('📝 Lena: pinned ✅ — 日本語 note with Omar');
    expect(text).not.toMatch(/U0LEAD|U0ONCALL|problem\.|notice\.|action\./);
    expect(text).toContain('Digests: sha256:8b96908d, sha256:c4338b51\n');
    expect(text).not.toContain(GOOD);
    expect(involvedDigests(events)).toEqual([GOOD, BAD]);
    expect(involvedVersions(events)).toEqual(['0.2.0', '0.1.0']);
    expect(text).toContain('Versions: 0.2.0, 0.1.0');
    expect(text).not.toContain('127.0.0');

    const markdown = summaryMarkdown(incident, events, utc, T0 + 5 * MINUTE, names);
    expect(markdown).toContain('| Acknowledged | 2026-11-24 03:07:00 UTC by Lena | TTA 2m |');
    expect(markdown).toContain('| Mitigated | 2026-11-24 03:11:00 UTC | TTM 11m |');
    expect(markdown).toContain('- 2026-11-24 03:00:00 UTC — tag moved: ');
    expect(markdown).not.toMatch(/U0LEAD|U0ONCALL|problem\.opened|notice\.tag_moved/);
    expect(markdown).toContain(`- sha256:8b96908d — \`${GOOD}\``);
    expect(markdown.split(GOOD)).toHaveLength(2); // the full form once
  });

  it('very long and many notes keep the answer within Slack limits', () => {
    const b = new EventBuilder();
    b.add(T0, 'problem.opened', 'bad', { data: { ok: false } });
    for (let index = 0; index < 200; index++) b.add(T0 + index, 'human.note', `${'🔥'.repeat(3000)}`, { actor: 'U0LEAD' });
    const message = renderSummary(incidentRecord({ status: 'open' }), b.events, null, names);
    withinSlackLimits(toSlack(message).blocks);
    expect(messageToPlainText(message)).toContain('185 earlier notes in the Markdown file');
  });
});

describe('names for people', () => {
  it('waits at most the budget for a slow or failing directory and keeps raw ids for whoever is unknown', async () => {
    const slow: PeopleDirectory = { displayName: (user) => (user === 'U0FAST' ? Promise.resolve('Fast') : user === 'U0FAIL' ? Promise.reject(new Error('ratelimited')) : new Promise(() => undefined)) };
    const started = performance.now();
    const nameOf = await namesOf(slow, ['U0FAST', 'U0FAIL', 'U0SLOW'], 300);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(['U0FAST', 'U0FAIL', 'U0SLOW'].map(nameOf)).toEqual(['Fast', 'U0FAIL', 'U0SLOW']);
  });
});
