/**
 * Bad input (PRODUCTION.md "Promises"): 10 000 fuzzed slash commands, button presses and
 * shortcuts — random text, ids of another channel's incident, replayed payloads, payloads
 * without a channel, strangers — through the real Bolt app in Socket Mode against the fake
 * Slack. Seeded, so a failure replays. Asserts: no crash (no error logged), every envelope acked
 * within 3 s, and nothing changed that the rules do not allow: the private channel's incident,
 * its events and its messages stay exactly as they were; new audit rows are refusals.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';

const BOT = 'xoxb-1111-2222-test-bot-token';
const APP = 'xapp-1-A0TEST-3333-test-app-token';
const ALERTS = 'C0ALERTS';
const PRIVATE = 'G0PRIVATE';
const TOTAL = 10_000;
const CONCURRENCY = 25;

/** mulberry32: a small seeded PRNG, so every run sends the same 10 000 requests. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let fake: FakeSlack;
let runtime: Runtime;
let app: App;
const errors: string[] = [];

beforeAll(async () => {
  fake = await startFakeSlack({ botToken: BOT, appToken: APP });
  const destination = new Writable({
    write(chunk, _encoding, done) {
      errors.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WritableStream;
  runtime = new Runtime(
    parseConfig({
      slack: { channel: ALERTS },
      store: { path: join(mkdtempSync(join(tmpdir(), 'dw-fuzz-')), 'db.sqlite') },
      routes: [{ match: { subject: 'worker:payments' }, channel: PRIVATE }],
      alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 },
    }),
    { log: createLogger({ level: 'error', pretty: false, destination }), poster: { baseBackoffMs: 100 } },
  );
  const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
  app = created.app;
  runtime.startDelivery(new SlackService(created.client));
  await app.start();
  const sink = runtime.sink();
  sink.check({ subject: 'worker:payments', problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff' });
  sink.check({ subject: 'worker:public', problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff' });
  await waitFor(() => fake.channel(PRIVATE)[0] && fake.channel(ALERTS)[0], { what: 'both roots' });
  await waitFor(() => runtime.store.outbox.depth() === 0, { what: 'outbox drained' });
}, 30_000);

afterAll(async () => {
  await app?.stop().catch(() => {});
  await runtime?.stop(1000);
  await fake?.close();
});

/** The private incident as the rules say it must stay: no request came from its channel. */
function privateState() {
  return JSON.stringify({
    incident: runtime.store.incidents.incident(1),
    events: runtime.store.events.forIncident(1).filter((event) => event.type !== 'audit'),
    outbox: runtime.store.outbox.all().filter((row) => row.channel === PRIVATE || row.incidentId === 1).map((row) => row.key),
    muted: runtime.store.incidents.mutedUntil('worker:payments', Date.now() + 86_400_000 * 30),
  });
}

describe('fuzzed Slack input through the real Bolt app', () => {
  it(`${TOTAL} slash commands, button presses and shortcuts: no crash, all acked within 3 s, nothing changed outside the rules`, async () => {
    const random = prng(20261130);
    const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const junk = (max: number) => Array.from({ length: Math.floor(random() * max) }, () => String.fromCodePoint(pick([32, 34, 35, 39, 60, 62, 64, 0x1b, 0x07, 0x200b, 0x1f680]) + Math.floor(random() * 60))).join('');
    const ids = ['#1', '#2', '#999', '#0', '#-1', '#1e3', '#99999999999999999999', '1', '2', '<#G0PRIVATE>', ''];
    const verbs = ['list', 'list all', 'timeline', 'timeline all', 'note', 'ack', 'mute', 'resolve', 'summary', 'help', 'frobnicate', ''];
    const channels = [ALERTS, 'D0DIRECT', 'C0OTHER', 'G0ELSEWHERE'];
    const users = ['U0ONCALL', 'U0STRANGER', 'U0EVIL', 'W0GUEST', ''];
    const families = ['/incident', '/incident', '/incident', '/worker', '/rollout'];
    const privateRoot = fake.channel(PRIVATE)[0]!;
    const privateButtons = ((privateRoot.blocks ?? []) as Array<{ elements?: Array<{ action_id: string; value: string }> }>).flatMap((block) => block.elements ?? []);
    expect(privateButtons.length).toBeGreaterThan(0);

    const slash = () => {
      const text = [pick(verbs), random() < 0.7 ? pick(ids) : '', random() < 0.4 ? junk(40) : pick(['7d', '1h', '-1h', '30s', '99999d', 'because'])].join(' ');
      return fake.slashPayload({ command: pick(families), text: random() < 0.02 ? junk(3000) : text, user_id: pick(users), channel_id: pick(channels) });
    };
    const press = () => {
      const real = random() < 0.5 ? pick(privateButtons) : undefined;
      const actionId = real?.action_id ?? pick(['dw_ack_0', 'dw_mute_3', 'dw_worker_pin_1', 'dw_rollout_restart_2', 'dw_confirm_0', 'dw_cancel_1', 'dw_bogus_0', 'dw_', 'not_ours', 'dw_ack_x']);
      const value = real && random() < 0.7 ? real.value : pick(['1', '2', '999', '', '{"incident":1}', '{"incident":"1"}', '{"incident":1e400}', '{"subject":"worker:payments","incident":1}', '{"worker":"payments","digest":"sha256:00","incident":1}', junk(100), '[]', 'null']);
      const payload = fake.blockActionPayload({ user: pick(users) || 'U0X', channel: pick(channels), message_ts: random() < 0.5 ? privateRoot.ts : '1700000000.000100', action_id: actionId, value });
      if (random() < 0.2) {
        delete payload.channel;
        delete (payload.container as Record<string, unknown>).channel_id;
      }
      return payload;
    };
    const shortcut = () => fake.messageShortcutPayload({ callback_id: pick(['add_to_timeline', 'other']), user: pick(users) || 'U0X', channel: pick(channels), message: { ts: privateRoot.ts, text: junk(200) } });

    const before = privateState();
    const auditBefore = runtime.store.audit.all().length;
    const sent: Array<{ type: 'slash_commands' | 'interactive'; payload: Record<string, unknown> }> = [];
    for (let index = 0; index < TOTAL; index++) {
      const roll = random();
      // Every 50th request replays an earlier one as it was (same action_ts, same response_url).
      if (sent.length > 0 && index % 50 === 0) sent.push(sent[Math.floor(random() * sent.length)]!);
      else if (roll < 0.55) sent.push({ type: 'slash_commands', payload: slash() });
      else if (roll < 0.95) sent.push({ type: 'interactive', payload: press() });
      else sent.push({ type: 'interactive', payload: shortcut() });
    }

    let slowest = 0;
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < sent.length) {
          const request = sent[next++]!;
          const at = Date.now();
          await fake.sendEnvelope(request.type, request.payload, { timeoutMs: 10_000 });
          slowest = Math.max(slowest, Date.now() - at);
        }
      }),
    );
    const elapsed = Date.now() - started;
    // Let the answers (response_url posts, ephemerals) finish before comparing.
    await waitFor(() => runtime.store.outbox.depth() === 0, { timeoutMs: 20_000, what: 'outbox drained after the fuzz' });

    expect(errors.filter((line) => line.includes('"level":50') || line.includes('"level":60'))).toEqual([]);
    expect(slowest, `slowest ack ${slowest} ms over ${TOTAL} envelopes in ${elapsed} ms`).toBeLessThan(3000);
    expect(privateState()).toBe(before);
    const newAudit = runtime.store.audit.all().slice(auditBefore);
    expect(newAudit.length).toBeGreaterThan(100);
    for (const entry of newAudit) expect(entry.result, JSON.stringify(entry)).toMatch(/^(refused|denied|cancelled|expired)/);
    // Nothing about the private incident reached the other channels' answers.
    const answers = fake.responses().map((response) => JSON.stringify(response.body));
    expect(answers.filter((text) => text.includes('worker:payments') || text.includes('payments'))).toEqual([]);
  }, 120_000);
});
