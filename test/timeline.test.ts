import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { summaryFigures } from '../src/incidents/summary.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';

const BOT = 'xoxb-7777-8888-timeline-bot-token';
const APP = 'xapp-1-A0TEST-9999-timeline-app-token';
const CHANNEL = 'C0ALERTS';
const MINUTE = 60_000;

let fake: FakeSlack | undefined;
let app: App | undefined;
let runtime: Runtime | undefined;

afterEach(async () => {
  await app?.stop().catch(() => {});
  await runtime?.stop(500).catch(() => {});
  await fake?.close();
  fake = undefined;
  app = undefined;
  runtime = undefined;
});

async function setUp(config: Record<string, unknown> = {}, clock = new ManualClock(Date.UTC(2026, 10, 24, 3, 0, 0))) {
  fake = await startFakeSlack({ botToken: BOT, appToken: APP });
  runtime = new Runtime(parseConfig({ slack: { channel: CHANNEL }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-tl-')), 'db.sqlite') }, ...config }), {
    clock,
    log: createLogger({ level: 'silent' }),
    poster: { baseBackoffMs: 50 },
  });
  const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
  app = created.app;
  const poster = runtime.startDelivery(new SlackService(created.client));
  await app.start();
  return { fake, runtime, clock, poster, sink: runtime.sink() };
}

const slash = (text: string, user = 'U0LEAD') => fake!.sendEnvelope('slash_commands', fake!.slashPayload({ command: '/incident', text, user_id: user, channel_id: CHANNEL }));
const answered = (pattern: RegExp) => waitFor(() => fake!.responses().find((response) => pattern.test(fake!.messageText(response.body as never))), { what: String(pattern) });

describe('timelines and summaries', () => {
  it('a whole incident with a note and an action: the summary figures come from the stored timeline, and the Markdown lands in the thread', async () => {
    const { runtime, clock, sink } = await setUp();
    const worker = 'worker:cost-optimizer-worker';
    runtime.store.subjects.setLinks(worker, 'spec', ['image:ghcr.io/confighubai/confighub-worker:latest']);
    // 03:00 the tag moves; 03:04 the first crash; 03:05 the second opens the incident.
    sink.tagDigest('ghcr.io/confighubai/confighub-worker:latest', `sha256:${'8b96908d'.padEnd(64, '0')}`, {});
    sink.notice({ subject: 'image:ghcr.io/confighubai/confighub-worker:latest', kind: 'tag_moved', summary: 'confighub-worker:latest moved', data: { from: `sha256:${'8b96908d'.padEnd(64, '0')}`, to: `sha256:${'c4338b51'.padEnd(64, '0')}` } });
    clock.advance(4 * MINUTE);
    sink.check({ subject: worker, problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff, 2 restarts' });
    clock.advance(MINUTE);
    sink.check({ subject: worker, problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff, 3 restarts' });
    const root = await waitFor(() => fake!.channel(CHANNEL).find((message) => message.text.includes('#1 worker cost-optimizer-worker')), { what: 'root' });
    expect(fake!.messageText(root)).toContain('sha256:8b96908d → sha256:c4338b51');
    // Detected is when the poster recorded Slack's answer: let it, before time moves on.
    await waitFor(() => runtime.store.outbox.byKey('inc-1-root')?.sentAt, { what: 'root delivery recorded' });
    clock.advance(2 * MINUTE);
    await slash('note #1 rolled back the tag in CI (token xoxb-9999-8888-leakedtokenvalue)');
    await answered(/Noted on #1/);
    clock.advance(MINUTE);
    await slash('mute #1 30m', 'U0ONCALL');
    await answered(/Muted worker:cost-optimizer-worker \(#1\) for 30m/);
    clock.advance(6 * MINUTE);
    sink.check({ subject: worker, problem: 'worker_pods_failing', ok: true, summary: 'all pods Ready' });
    sink.check({ subject: worker, problem: 'worker_pods_failing', ok: true, summary: 'all pods Ready' });

    const incident = runtime.store.incidents.incident(1)!;
    const figures = summaryFigures(incident, runtime.store.events.forIncident(1));
    const start = Date.UTC(2026, 10, 24, 3, 0, 0);
    expect(figures).toMatchObject({ firstBadSignal: start, detected: start + 5 * MINUTE, acknowledged: start + 7 * MINUTE, acknowledgedBy: 'U0LEAD', resolved: start + 14 * MINUTE });
    expect(figures).toMatchObject({ ttdMs: 5 * MINUTE, ttaMs: 2 * MINUTE, ttrMs: 14 * MINUTE });

    fake!.setUser({ id: 'U0ONCALL', name: 'omar', real_name: 'Omar Oncall', display_name: 'Omar' });
    await slash('summary #1');
    const summary = await answered(/Summary of #1/);
    const text = fake!.messageText(summary.body as never);
    expect(text).toContain('TTD 5m');
    expect(text).toContain('TTA 2m');
    expect(text).toContain('TTR 14m');
    // People by their display name (users.info), not their id.
    expect(text).toMatch(/worker cost-optimizer-worker muted until .* by Omar/);
    expect(text).toContain('rolled back the tag in CI');
    const file = await waitFor(() => fake!.thread(CHANNEL, root.ts).flatMap((reply) => reply.files ?? []).find((candidate) => candidate.name === 'incident-1-summary.md'), { what: 'markdown file in thread' });
    expect(file.content).toContain('| Detected | 2026-11-24 03:05:00 UTC | TTD 5m |');
    expect(file.content).toContain('TTR 14m');
    expect(file.content).not.toContain('xoxb-9999-8888-leakedtokenvalue');

    await slash('timeline');
    const timeline = fake!.messageText((await answered(/Timeline of #1/)).body as never);
    expect(timeline).toMatch(/\+0s · tag moved/);
    expect(timeline).toMatch(/\+7m · note: rolled back the tag in CI/);
    expect(timeline).toMatch(/\+14m · resolved/);
  });

  it('detected is when the channel saw the root; a resolve by hand is the first human action', async () => {
    const { runtime, clock, poster, sink } = await setUp({ alerting: { failuresBeforeAlert: 1 } });
    fake!.failAlways('chat.postMessage', { status: 503 });
    sink.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_down', ok: false, summary: 'connection refused' });
    await waitFor(() => fake!.callCount('chat.postMessage') >= 1, { what: 'a failed post' });
    // Slack is down for half an hour; the root reaches the channel when it recovers.
    clock.advance(30 * MINUTE);
    fake!.heal();
    // The retry timer runs on real time while the test's clock jumped: deliver now.
    poster.kick();
    await waitFor(() => fake!.channel(CHANNEL).length === 1 && runtime.store.outbox.byKey('inc-1-root')?.sentAt, { timeoutMs: 30_000, what: 'root after the outage, recorded' });
    clock.advance(5 * MINUTE);
    await slash('resolve #1 fixed upstream');
    await answered(/Resolved #1/);
    const incident = runtime.store.incidents.incident(1)!;
    const figures = summaryFigures(incident, runtime.store.events.forIncident(1), runtime.store.outbox.byKey('inc-1-root')!.sentAt);
    expect(figures).toMatchObject({ ttdMs: 30 * MINUTE, ttaMs: 5 * MINUTE, acknowledgedBy: 'U0LEAD', ttrMs: 35 * MINUTE });
  });

  it('the "Add to timeline" shortcut knows its thread', async () => {
    const { runtime, sink } = await setUp({ alerting: { failuresBeforeAlert: 1 } });
    sink.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_down', ok: false, summary: 'connection refused' });
    const root = await waitFor(() => fake!.channel(CHANNEL)[0], { what: 'root' });
    const said = fake!.addMessage(CHANNEL, { user: 'U0SRE', text: 'the LB health check is failing too', thread_ts: root.ts });
    await fake!.sendEnvelope('interactive', fake!.messageShortcutPayload({ callback_id: 'add_to_timeline', user: 'U0LEAD', channel: CHANNEL, message: { ts: said, thread_ts: root.ts, text: 'the LB health check is failing too', user: 'U0SRE' } }));
    await waitFor(() => fake!.ephemerals('U0LEAD').some((ephemeral) => ephemeral.text.includes('Added to the timeline of #1')), { what: 'ephemeral' });
    const notes = runtime.store.events.forIncident(1).filter((event) => event.type === 'human.note');
    expect(notes.map((note) => [note.summary, note.actor])).toEqual([['the LB health check is failing too (from <@U0SRE>)', 'U0LEAD']]);
  });

  it('a note is kept as typed: numbers, "help" and quotes are part of it', async () => {
    const { runtime, sink } = await setUp({ alerting: { failuresBeforeAlert: 1 } });
    sink.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_down', ok: false, summary: 'refused' });
    await slash('note 3 pods restarted');
    await answered(/Noted on #1/);
    await slash('note help me, the "db" is down');
    await waitFor(() => runtime.store.events.forIncident(1).filter((event) => event.type === 'human.note').length === 2, { what: 'two notes' });
    await slash('note #1 rolled back');
    await waitFor(() => runtime.store.events.forIncident(1).filter((event) => event.type === 'human.note').length === 3, { what: 'three notes' });
    expect(runtime.store.events.forIncident(1).filter((event) => event.type === 'human.note').map((event) => event.summary)).toEqual(['3 pods restarted', 'help me, the "db" is down', 'rolled back']);
  });

  it('several open incidents: a command without an id answers with the open ids', async () => {
    const { sink } = await setUp({ alerting: { failuresBeforeAlert: 1 } });
    sink.check({ subject: 'endpoint:a', problem: 'endpoint_down', ok: false, summary: 'refused' });
    sink.check({ subject: 'endpoint:b', problem: 'endpoint_down', ok: false, summary: 'refused' });
    await slash('timeline');
    await answered(/Several incidents are open here: #1, #2/);
  });
});

describe('noise control on a controllable clock', () => {
  it('reminds about an untouched incident every remindEvery, and posts the daily digest at its cron time', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 7, 0, 0));
    const { runtime, sink } = await setUp({ alerting: { failuresBeforeAlert: 1, remindEvery: '1h' }, digest: { cron: '0 9 * * 1-5' }, timezone: 'Europe/Berlin' }, clock);
    sink.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: false, summary: 'serves no X-Relay-Version header' });
    const root = await waitFor(() => fake!.channel(CHANNEL)[0], { what: 'root' });
    clock.advance(59 * MINUTE);
    runtime.tick();
    clock.advance(MINUTE);
    runtime.tick();
    await waitFor(() => fake!.thread(CHANNEL, root.ts).some((reply) => reply.text.includes('still open after 1h')), { what: 'reminder' });
    expect(fake!.thread(CHANNEL, root.ts).filter((reply) => reply.text.includes('still open'))).toHaveLength(1);
    // 08:00 UTC is 09:00 in Berlin: the digest is due (Tuesday).
    runtime.tick();
    await waitFor(() => fake!.channel(CHANNEL).some((message) => message.text.startsWith('Daily digest: 1 open incident')), { what: 'digest' });
    clock.advance(30_000);
    runtime.tick();
    expect(fake!.channel(CHANNEL).filter((message) => message.text.startsWith('Daily digest'))).toHaveLength(1);
  });

  it('storm mode: past storm.incidents within storm.within, one storm root lists the incidents (edited, not a reply each) and ends with the counts', async () => {
    const { runtime, clock, sink } = await setUp({ alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1, storm: { incidents: 3, within: '5m' } } });
    for (let index = 1; index <= 6; index++) sink.check({ subject: `endpoint:edge-${index}`, problem: 'endpoint_down', ok: false, summary: 'connection refused' });
    const storm = await waitFor(() => fake!.channel(CHANNEL).find((message) => message.text.includes('Alert storm')), { what: 'storm root' });
    // Its edits are coalesced: at most one a second (this clock only moves when told).
    clock.advance(1_000);
    // The three that made the storm joined it; the three after it are lines of its root, newest first.
    await waitFor(() => fake!.messageText(fake!.message(CHANNEL, storm.ts)!).includes('6 incidents, 6 open'), { what: 'storm root current' });
    const rootText = fake!.messageText(fake!.message(CHANNEL, storm.ts)!);
    expect(rootText).toContain('6 endpoint down');
    expect(rootText.indexOf('#7 endpoint edge-6')).toBeLessThan(rootText.indexOf('#5 endpoint edge-4'));
    expect(rootText.indexOf('#5 endpoint edge-4')).toBeLessThan(rootText.indexOf('#1 endpoint edge-1'));
    expect(fake!.channel(CHANNEL)).toHaveLength(4);
    expect(fake!.thread(CHANNEL, storm.ts).filter((reply) => reply.ts !== storm.ts)).toHaveLength(0);
    // Every incident is on record with its own timeline.
    for (const id of [1, 2, 3, 5, 6, 7]) expect(runtime.store.events.forIncident(id).some((event) => event.type === 'incident.opened')).toBe(true);
    // One digest reply per 30 s at most says what joined.
    sink.check({ subject: 'endpoint:edge-7', problem: 'endpoint_down', ok: false, summary: 'connection refused' });
    clock.advance(30_000);
    runtime.tick();
    await waitFor(() => fake!.thread(CHANNEL, storm.ts).find((reply) => reply.text.includes('joined since')), { what: 'digest reply' });
    runtime.tick();
    expect(fake!.thread(CHANNEL, storm.ts).filter((reply) => reply.text.includes('joined since'))).toHaveLength(1);
    for (let index = 1; index <= 7; index++) sink.check({ subject: `endpoint:edge-${index}`, problem: 'endpoint_down', ok: true, summary: 'answers' });
    clock.advance(1_000);
    await waitFor(() => fake!.message(CHANNEL, storm.ts)!.text.startsWith('Resolved: #4 alert storm'), { what: 'storm resolved' });
    expect(runtime.store.incidents.incident(4)!.status).toBe('resolved');
    await waitFor(() => fake!.thread(CHANNEL, storm.ts).find((reply) => reply.text.startsWith('Storm over') && reply.text.includes('7 endpoint down')), { what: 'storm end with counts' });
    // A root posted before the storm took it still shows how it ended.
    await waitFor(() => fake!.channel(CHANNEL)[0]!.text.startsWith('Resolved: #1'), { what: 'first root resolved' });
  });

  it('mute: nothing new is posted for the subject until the mute expires, and both ends are on the timeline', async () => {
    const { runtime, clock, sink } = await setUp({ alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 } });
    sink.check({ subject: 'endpoint:flappy', problem: 'endpoint_down', ok: false, summary: 'refused' });
    const root = await waitFor(() => fake!.channel(CHANNEL)[0], { what: 'root' });
    // Press the Mute button the root actually carries.
    const mute = (root.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>).flatMap((block) => block.elements ?? []).find((element) => element.action_id?.startsWith('dw_mute_'))!;
    await fake!.sendEnvelope('interactive', fake!.blockActionPayload({ user: 'U0ONCALL', channel: CHANNEL, message_ts: root.ts, action_id: mute.action_id, value: mute.value }));
    await answered(/Muted endpoint:flappy \(#1\) for 1h/);
    sink.check({ subject: 'endpoint:flappy', problem: 'endpoint_down', ok: true, summary: 'answers' });
    clock.advance(10 * MINUTE);
    sink.check({ subject: 'endpoint:flappy', problem: 'endpoint_down', ok: false, summary: 'refused again' });
    sink.notice({ subject: 'endpoint:flappy', kind: 'version_changed', summary: 'flappy now serves 9.9.9' });
    clock.advance(51 * MINUTE);
    runtime.tick();
    sink.check({ subject: 'endpoint:flappy', problem: 'endpoint_down', ok: false, summary: 'refused after the mute' });
    await waitFor(() => fake!.channel(CHANNEL).length === 2, { what: 'incident after mute expiry' });
    const texts = fake!.channel(CHANNEL).map((message) => message.text);
    expect(texts.join('\n')).not.toContain('flappy now serves 9.9.9');
    expect(texts[1]).toContain('#2 endpoint flappy: endpoint down');
    const types = runtime.store.events.ofSubject('endpoint:flappy', 'human.mute').concat(runtime.store.events.ofSubject('endpoint:flappy', 'notice.unmuted'));
    expect(types.map((event) => event.type)).toEqual(['human.mute', 'notice.unmuted']);
  });

  it('routes send a cluster’s incidents to its channel', async () => {
    const { sink } = await setUp({ clusters: [{ name: 'rackspace' }], alerting: { failuresBeforeAlert: 1 }, routes: [{ match: { cluster: 'rackspace' }, channel: 'C0RELAY' }] });
    sink.check({ subject: 'workload:rackspace/relay/DaemonSet/relay', problem: 'workload_failing', ok: false, summary: 'CrashLoopBackOff' });
    sink.check({ subject: 'endpoint:elsewhere', problem: 'endpoint_down', ok: false, summary: 'refused' });
    await waitFor(() => fake!.channel('C0RELAY').length === 1 && fake!.channel(CHANNEL).length === 1, { what: 'routed roots' });
    expect(fake!.channel('C0RELAY')[0]!.text).toContain('DaemonSet relay/relay (cluster rackspace)');
  });

  it('routes by pod label, from what the Kubernetes watcher saw', async () => {
    const { runtime, sink } = await setUp({ clusters: [{ name: 'prod' }], alerting: { failuresBeforeAlert: 1 }, routes: [{ match: { label: 'team=payments' }, channel: 'C0PAYMENTS' }] });
    runtime.store.subjects.setState('workload:prod/pay/Deployment/ledger', 'spec', { containers: [], labels: { app: 'ledger', team: 'payments' } }, 0);
    sink.check({ subject: 'workload:prod/pay/Deployment/ledger', problem: 'workload_failing', ok: false, summary: 'OOMKilled' });
    sink.check({ subject: 'workload:prod/shop/Deployment/web', problem: 'workload_failing', ok: false, summary: 'OOMKilled' });
    await waitFor(() => fake!.channel('C0PAYMENTS').length === 1 && fake!.channel(CHANNEL).length === 1, { what: 'routed by label' });
    expect(fake!.channel('C0PAYMENTS')[0]!.text).toContain('pay/ledger');
  });
});
