/**
 * PRODUCTION.md "Visibility" and "Access" through the real Bolt app (Socket Mode) against the
 * fake Slack: an incident lives in its channel; from anywhere else every verb, button and the
 * shortcut change nothing and answer only "#id is not in this channel"; refusals are audited.
 * Also "Listeners": HTTP mode refuses replays and timestamps off either way.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { freePort } from './support/product.js';

const BOT = 'xoxb-1111-2222-test-bot-token';
const APP = 'xapp-1-A0TEST-3333-test-app-token';
const ALERTS = 'C0ALERTS';
const PRIVATE = 'G0PRIVATE';
const DM = 'D0DIRECT';
const ONCALL = 'U0ONCALL';
const LEAD = 'U0LEAD';
const STRANGER = 'U0STRANGER';

let fake: FakeSlack;
let runtime: Runtime;
let app: App;

beforeAll(async () => {
  fake = await startFakeSlack({ botToken: BOT, appToken: APP });
  runtime = new Runtime(
    parseConfig({
      slack: { channel: ALERTS },
      store: { path: join(mkdtempSync(join(tmpdir(), 'dw-visibility-')), 'db.sqlite') },
      routes: [{ match: { subject: 'worker:payments' }, channel: PRIVATE }],
      access: { 'incident resolve': { users: [LEAD] } },
      alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 },
    }),
    { log: createLogger({ level: 'silent' }), poster: { baseBackoffMs: 100 } },
  );
  const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
  app = created.app;
  runtime.startDelivery(new SlackService(created.client));
  await app.start();
  const sink = runtime.sink();
  sink.check({ subject: 'worker:payments', problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff (secret payments details)' });
  sink.check({ subject: 'worker:public', problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff' });
  await waitFor(() => fake.channel(PRIVATE)[0] && fake.channel(ALERTS)[0], { what: 'both roots' });
});

afterAll(async () => {
  await app?.stop().catch(() => {});
  await runtime?.stop(1000);
  await fake?.close();
});

type Body = { text?: string; blocks?: unknown[] };
async function answerTo(send: () => Promise<unknown>): Promise<string> {
  const before = fake.responses().length;
  await send();
  await waitFor(() => fake.responses().length > before, { what: 'an answer' });
  const body = fake.responses()[before]!.body as Body;
  lastFull = fake.messageText(body as never);
  return body.text ?? '';
}
/** The whole of the last answer, blocks included: nothing about the incident may be in it. */
let lastFull = '';
const slash = (text: string, channel: string, user = ONCALL) => answerTo(() => fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text, user_id: user, channel_id: channel })));

/** What must not move when a foreign request is refused: the incident, its non-audit events, the outbox. */
function snapshot() {
  return {
    incident: runtime.store.incidents.incident(1),
    events: runtime.store.events.forIncident(1).filter((event) => event.type !== 'audit'),
    outbox: runtime.store.outbox.all().length,
    muted: runtime.store.incidents.mutedUntil('worker:payments', Date.now()),
  };
}

function buttonOf(channel: string, action: string): { action_id: string; value: string; ts: string } {
  const root = fake.channel(channel)[0]!;
  for (const block of (root.blocks ?? []) as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>) {
    for (const element of block.elements ?? []) if (element.action_id?.startsWith(`dw_${action}_`)) return { action_id: element.action_id, value: element.value ?? '', ts: root.ts };
  }
  throw new Error(`no ${action} button`);
}

describe('an incident lives in its channel', () => {
  it('from another channel or a DM, every verb on #id answers only "#1 is not in this channel", the same as an id that does not exist, and changes nothing', async () => {
    const before = snapshot();
    const auditBefore = runtime.store.audit.all().length;
    const verbs = ['timeline #1', 'timeline #1 all', 'summary #1', 'note #1 hello', 'ack #1', 'mute #1 7d', 'resolve #1 done', '1'.replace('1', 'ack 1')];
    for (const channel of [ALERTS, DM]) {
      for (const verb of verbs) {
        expect(await slash(verb, channel), `${verb} in ${channel}`).toBe('#1 is not in this channel.');
        expect(lastFull).not.toMatch(/payments|CrashLoop|worker|G0PRIVATE/);
      }
      expect(await slash('timeline #999', channel)).toBe('#999 is not in this channel.');
      expect(await slash('resolve #999', channel)).toBe('#999 is not in this channel.');
    }
    expect(snapshot()).toEqual(before);
    // Each refusal about #1 is audited, and appears on #1's timeline; #999's only in the audit table.
    const audits = runtime.store.audit.all().slice(auditBefore);
    expect(audits.filter((entry) => entry.incidentId === 1)).toHaveLength(verbs.length * 2);
    expect(audits.filter((entry) => entry.target === '#999')).toHaveLength(4);
    expect(runtime.store.events.forIncident(1).filter((event) => event.type === 'audit').length).toBeGreaterThanOrEqual(verbs.length * 2);
  });

  it('/incident list lists this channel\'s incidents; the console sees everything', async () => {
    const inAlerts = await slash('list all', ALERTS);
    expect(inAlerts).toContain('#2');
    expect(inAlerts).not.toContain('#1');
    expect(inAlerts).not.toContain('payments');
    expect(await slash('list all', DM)).not.toMatch(/#1|#2/);
    const inPrivate = await slash('list', PRIVATE);
    expect(inPrivate).toContain('#1');
    expect(inPrivate).not.toContain('#2');
    const fromConsole = await runtime.bus.dispatch('incident', 'timeline #1', { user: 'console', channel: 'C0CONSOLE', face: 'console' });
    expect(fromConsole.kind === 'message' && fromConsole.message.title.join('')).toContain('Timeline of #1');
  });

  it('a button acts only when the payload\'s channel is the incident\'s; a payload without a channel is foreign', async () => {
    const before = snapshot();
    for (const action of ['ack', 'mute']) {
      const found = buttonOf(PRIVATE, action);
      const elsewhere = await answerTo(() => fake.sendEnvelope('interactive', fake.blockActionPayload({ user: ONCALL, channel: ALERTS, message_ts: found.ts, action_id: found.action_id, value: found.value })));
      expect(elsewhere).toBe('#1 is not in this channel.');
      const payload = fake.blockActionPayload({ user: ONCALL, channel: PRIVATE, message_ts: found.ts, action_id: found.action_id, value: found.value });
      delete payload.channel;
      delete (payload.container as Record<string, unknown>).channel_id;
      const nowhere = await answerTo(() => fake.sendEnvelope('interactive', payload));
      expect(nowhere).toBe('#1 is not in this channel.');
    }
    expect(snapshot()).toEqual(before);
    expect(runtime.store.audit.all().filter((entry) => entry.action.startsWith('button ')).length).toBe(4);
  });

  it('the message shortcut from another channel adds nothing', async () => {
    const before = snapshot();
    const root = fake.channel(PRIVATE)[0]!;
    const ephemerals = () => fake.calls.filter((call) => call.method === 'chat.postEphemeral').length;
    const count = ephemerals();
    await fake.sendEnvelope('interactive', fake.messageShortcutPayload({ callback_id: 'add_to_timeline', user: ONCALL, channel: ALERTS, message: { ts: root.ts, text: 'pasted from elsewhere' } }));
    await waitFor(() => ephemerals() > count, { what: 'the shortcut answer' });
    expect(snapshot()).toEqual(before);
  });

  it('in its own channel the verbs work; the optional rule "incident resolve" narrows who may resolve', async () => {
    expect(await slash('ack #1', PRIVATE, STRANGER)).toBe('Acknowledged #1.');
    const refused = await slash('resolve #1', PRIVATE, ONCALL);
    expect(refused).toMatch(/^Not allowed: "incident resolve" is allowed for <@U0LEAD>/);
    expect(runtime.store.incidents.incident(1)!.status).toBe('open');
    const timeline = runtime.store.events.forIncident(1).filter((event) => event.type === 'audit').map((event) => event.summary);
    expect(timeline.some((summary) => summary.includes('incident resolve: denied'))).toBe(true);
    // No rule for mute: anyone in the channel may.
    expect(await slash('mute #1 30m', PRIVATE, STRANGER)).toContain('Muted worker:payments (#1) for 30m');
    expect(await slash('resolve #1 fixed', PRIVATE, LEAD)).toBe('Resolved #1.');
  });
});

describe('HTTP mode refuses replays and timestamps off either way', () => {
  it('a signed request once: 200; the same again: 401; an hour ahead: 401', async () => {
    const secret = 'http-mode-signing-secret';
    const port = await freePort();
    const created = createSlackApp(runtime, { mode: 'http', botToken: BOT, signingSecret: secret, apiUrl: fake.apiUrl, port });
    await created.app.start();
    try {
      const url = `http://127.0.0.1:${port}/slack/events`;
      const body = new URLSearchParams(fake.slashPayload({ command: '/incident', text: 'list', user_id: ONCALL, channel_id: ALERTS })).toString();
      const post = (timestamp: number) => {
        const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
        return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature }, body });
      };
      const now = Math.floor(Date.now() / 1000);
      expect((await post(now)).status).toBe(200);
      expect((await post(now)).status).toBe(401);
      expect((await post(now + 3600)).status).toBe(401);
      expect((await post(now - 3600)).status).toBe(401);
      expect((await post(now + 1)).status).toBe(200);
    } finally {
      await created.app.stop();
    }
  });
});
