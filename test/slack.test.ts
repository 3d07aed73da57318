import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const CHANNEL = 'C0ALERTS';

let fake: FakeSlack;
let runtime: Runtime;
let app: App;

beforeAll(async () => {
  fake = await startFakeSlack({ botToken: BOT, appToken: APP });
  runtime = new Runtime(
    parseConfig({ slack: { channel: CHANNEL }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-slack-')), 'db.sqlite') }, alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 } }),
    { log: createLogger({ level: 'silent' }), poster: { baseBackoffMs: 100 } },
  );
  const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
  app = created.app;
  runtime.startDelivery(new SlackService(created.client));
  await app.start();
});

afterAll(async () => {
  await app?.stop().catch(() => {});
  await runtime?.stop(1000);
  await fake?.close();
});

const slash = (command: string, text: string, user = 'U0ONCALL') => fake.sendEnvelope('slash_commands', fake.slashPayload({ command, text, user_id: user, channel_id: CHANNEL }));
const lastResponseText = () => {
  const body = fake.responses().at(-1)?.body as { text?: string; blocks?: unknown } | undefined;
  return body ? fake.messageText(body) : '';
};

describe('Slack face (real Bolt app in Socket Mode against the fake Slack)', () => {
  it('shows a whole incident life cycle in one thread: root, notice, updated root, resolution', async () => {
    const sink = runtime.sink();
    sink.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: false, summary: 'serves no X-Relay-Version header; expected 0.2.0' });
    const root = await waitFor(() => fake.channel(CHANNEL).find((message) => message.text.includes('endpoint relay-dfw1')), { what: 'incident root' });
    sink.notice({ subject: 'endpoint:relay-dfw1', kind: 'version_changed', summary: 'relay-dfw1 now serves 0.1.9' });
    sink.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: false, summary: 'serves 0.1.9; expected 0.2.0' });
    sink.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: true, summary: 'serves 0.2.0' });
    await waitFor(() => fake.thread(CHANNEL, root.ts).some((reply) => reply.text.includes('Resolved after')), { what: 'resolution reply' });
    const thread = fake.thread(CHANNEL, root.ts).map((reply) => reply.text);
    expect(thread.some((text) => text.includes('relay-dfw1 now serves 0.1.9'))).toBe(true);
    const current = await waitFor(() => {
      const message = fake.message(CHANNEL, root.ts)!;
      return message.text.startsWith('Resolved: #') ? message : undefined;
    }, { what: 'root updated to resolved' });
    expect(fake.messageText(current)).toContain('serves 0.1.9; expected 0.2.0');
    expect(current.metadata?.event_payload.key).toBe(`inc-1-root`);
    expect(fake.channel(CHANNEL).filter((message) => message.text.includes('relay-dfw1'))).toHaveLength(1);
  });

  it('answers /incident list and /incident timeline through response_url after acking', async () => {
    const ack = await slash('/incident', 'list all');
    expect(ack).toBeDefined();
    await waitFor(() => lastResponseText().includes('#1 resolved'), { what: 'list answer' });
    await slash('/incident', 'timeline #1');
    await waitFor(() => lastResponseText().includes('Timeline of #1'), { what: 'timeline answer' });
    expect(lastResponseText()).toMatch(/stale deploy/);
    expect(fake.responses().at(-1)!.body.response_type).toBe('ephemeral');
  });

  it('bad input gets a short ephemeral answer, never a stack trace', async () => {
    const inputs = ['', 'frobnicate', 'x'.repeat(10_000), 'note #999 hello', '; rm -rf /', 'timeline "unterminated', 'ünïcødé 🚀', 'note \u0007bell'];
    for (const text of inputs) {
      const before = fake.responses().length;
      await slash('/incident', text);
      await waitFor(() => fake.responses().length > before, { what: `answer to ${JSON.stringify(text.slice(0, 20))}` });
      const answer = lastResponseText();
      expect(answer).not.toMatch(/at \w+ \(|Error:|node_modules/);
      expect(answer.length).toBeLessThan(3000);
    }
    const answers = fake.responses().slice(-inputs.length).map((response) => fake.messageText(response.body as never));
    expect(answers[0]).toContain('/incident list');
    expect(answers[1]).toContain('has no subcommand "frobnicate"');
    expect(answers[2]).toContain('limit is 2000');
    // PRODUCTION.md "Visibility": a missing id gets the same words as one in another channel.
    expect(answers[3]).toContain('#999 is not in this channel');
    expect(answers[7]).toContain('control characters');
  });

  it('keeps order and loses nothing through 429 (Retry-After) and 500s', async () => {
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    fake.failNext('chat.postMessage', { status: 500 }, 2);
    const sink = runtime.sink();
    for (let index = 0; index < 3; index++) sink.notice({ subject: `image:registry.example/app${index}:latest`, kind: 'tag_moved', summary: `app${index} moved` });
    await waitFor(() => fake.channel(CHANNEL).filter((message) => /app\d moved/.test(message.text)).length === 3, { timeoutMs: 15_000, what: 'three notices' });
    expect(fake.channel(CHANNEL).filter((message) => /app\d moved/.test(message.text)).map((message) => message.text)).toEqual(['app0 moved', 'app1 moved', 'app2 moved']);
  });

  it('a permanent error stops that message with one log line; later messages still flow', async () => {
    fake.failNext('chat.postMessage', { error: 'channel_not_found' });
    const sink = runtime.sink();
    sink.notice({ subject: 'image:registry.example/lost:latest', kind: 'tag_moved', summary: 'refused one' });
    sink.notice({ subject: 'image:registry.example/kept:latest', kind: 'tag_moved', summary: 'delivered one' });
    await waitFor(() => fake.channel(CHANNEL).some((message) => message.text === 'delivered one'), { what: 'later message' });
    const failed = runtime.store.outbox.failed();
    expect(failed.map((row) => row.error)).toEqual(['slack chat.postMessage: channel_not_found']);
    expect(fake.calls.filter((call) => call.method === 'chat.postMessage' && JSON.stringify(call.params).includes('refused one'))).toHaveLength(1);
  });
});
