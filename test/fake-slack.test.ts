/**
 * The fake Slack in test/support, driven by the real Bolt App and the real WebClient: if these
 * pass, product tests that use the fake talk to something Bolt accepts as Slack.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, SocketModeReceiver, webApi, type BlockAction, type Logger } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  blockKitProblem,
  formEncodeInteractive,
  formEncodeSlash,
  messageText,
  signedPost,
  startFakeSlack,
  waitFor,
  type FakeSlack,
} from './support/fake-slack.js';

const BOT_TOKEN = 'xoxb-1111-2222-fakebottoken';
const APP_TOKEN = 'xapp-1-A0TEST-3333-fakeapptoken';
const SIGNING_SECRET = 'fake-signing-secret-0123456789';
const ALERTS = 'C0ALERTS1';
const ONCALL = 'U0ONCALL1';

/** Bolt/socket-mode logger that keeps lines for failure messages instead of printing them. */
function quietLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (...msg: unknown[]) => void lines.push(msg.map(String).join(' '));
  return {
    lines,
    debug: () => {},
    info: () => {},
    warn: keep,
    error: keep,
    setLevel: () => {},
    getLevel: () => LogLevel.WARN,
    setName: () => {},
  };
}

/** The handlers a tiny incident bot registers; shared by the socket and HTTP apps. */
function registerIncidentHandlers(app: App): void {
  app.command('/incident', async ({ command, ack, respond, client }) => {
    await ack({ response_type: 'ephemeral', text: `Opening incident: ${command.text}` });
    const root = await client.chat.postMessage({
      channel: command.channel_id,
      text: `Incident: ${command.text}`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Incident opened' } },
        { type: 'section', text: { type: 'mrkdwn', text: `*${command.text}* — opened by <@${command.user_id}>` } },
        { type: 'actions', elements: [{ type: 'button', action_id: 'ack_incident', text: { type: 'plain_text', text: 'Acknowledge' }, value: 'inc-1' }] },
      ],
      metadata: { event_type: 'driftwatch_incident', event_payload: { incident_id: 'inc-1', opened_by: command.user_id } },
    });
    await client.chat.postMessage({ channel: command.channel_id, thread_ts: root.ts, text: 'First signal: tag moved' });
    await respond({ text: `Posted in <#${command.channel_id}>` });
  });
  app.action('ack_incident', async ({ ack, body, client }) => {
    await ack();
    const action = body as BlockAction;
    const channel = action.channel?.id ?? '';
    const ts = action.message?.ts ?? '';
    await client.chat.update({ channel, ts, text: `Acknowledged by <@${action.user.id}>` });
    await client.chat.postMessage({ channel, thread_ts: ts, text: `<@${action.user.id}> is on it` });
  });
  app.shortcut('open_incident', async ({ ack, shortcut, client }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    await client.chat.postEphemeral({ channel: shortcut.channel.id, user: shortcut.user.id, text: `Incident from message ${shortcut.message_ts}` });
  });
}

describe('Socket Mode: the real Bolt App against the fake', () => {
  let fake: FakeSlack;
  let app: App;
  const log = quietLogger();

  beforeAll(async () => {
    fake = await startFakeSlack();
    // Built exactly as the product builds it: socketMode + appToken + clientOptions.
    app = new App({
      token: BOT_TOKEN,
      appToken: APP_TOKEN,
      socketMode: true,
      logger: log,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
    });
    registerIncidentHandlers(app);
    await app.start();
  });
  afterAll(async () => {
    await app?.stop();
    await fake?.close();
  });

  it('start() resolves after hello: auth.test with the bot token, apps.connections.open with the app token', () => {
    expect(fake.connectCount).toBe(1);
    expect(fake.openSockets()).toBe(1);
    const open = fake.calls.find((c) => c.method === 'apps.connections.open');
    expect(open?.tokenKind).toBe('app');
    expect(fake.calls.some((c) => c.method === 'auth.test' && c.tokenKind === 'bot')).toBe(true);
  });

  it('/incident: the ack payload comes back, the message, thread reply and response_url answer appear', async () => {
    const ack = await fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'worker-eu down', user_id: ONCALL, channel_id: ALERTS }));
    expect(ack).toEqual({ response_type: 'ephemeral', text: 'Opening incident: worker-eu down' });
    expect(fake.acks.at(-1)?.latencyMs).toBeGreaterThanOrEqual(0);

    const [root] = await waitFor(() => {
      const msgs = fake.channel(ALERTS);
      return msgs.length === 1 && msgs[0]!.replies.length === 1 && msgs;
    }, { what: 'incident root with one reply' });
    expect(messageText(root!)).toContain('worker-eu down');
    expect(messageText(root!)).toContain('Incident opened');
    expect(messageText(root!)).toContain(`opened by <@${ONCALL}>`);
    expect(root!.metadata).toEqual({ event_type: 'driftwatch_incident', event_payload: { incident_id: 'inc-1', opened_by: ONCALL } });
    expect(root!.replies[0]!.text).toBe('First signal: tag moved');
    expect(root!.ts).toMatch(/^\d{10}\.\d{6}$/);

    const whisper = await waitFor(() => fake.ephemerals(ONCALL).find((e) => e.via === 'response_url'));
    expect(whisper.text).toBe(`Posted in <#${ALERTS}>`);
    expect(fake.responses()).toHaveLength(1);

    // What a restarted bot would read back: metadata only with include_all_metadata.
    const plain = await app.client.conversations.history({ channel: ALERTS });
    expect(plain.messages?.[0]?.metadata).toBeUndefined();
    const history = await app.client.conversations.history({ channel: ALERTS, include_all_metadata: true });
    expect(history.messages).toHaveLength(1);
    expect(history.messages?.[0]).toMatchObject({ ts: root!.ts, reply_count: 1, metadata: { event_type: 'driftwatch_incident' } });
    const replies = await app.client.conversations.replies({ channel: ALERTS, ts: root!.ts });
    expect(replies.messages?.map((m) => m.text)).toEqual(['Incident: worker-eu down', 'First signal: tag moved']);
  });

  it('a button press updates the root in place and replies in its thread', async () => {
    const root = fake.channel(ALERTS)[0]!;
    await fake.sendEnvelope('interactive', fake.blockActionPayload({ user: ONCALL, channel: ALERTS, message_ts: root.ts, action_id: 'ack_incident', value: 'inc-1' }));
    const updated = await waitFor(() => {
      const r = fake.channel(ALERTS)[0]!;
      return r.replies.length === 2 && r;
    });
    expect(updated.text).toBe(`Acknowledged by <@${ONCALL}>`);
    expect(updated.updates).toBe(1);
    expect(updated.replies.map((r) => r.text)).toEqual(['First signal: tag moved', `<@${ONCALL}> is on it`]);
    expect(fake.channel(ALERTS)).toHaveLength(1);
  });

  it('a message shortcut reaches the app and its ephemeral answer is seen by that user only', async () => {
    const root = fake.channel(ALERTS)[0]!;
    await fake.sendEnvelope('interactive', fake.messageShortcutPayload({ callback_id: 'open_incident', user: 'U0OTHER01', channel: ALERTS, message: { ts: root.ts, text: root.text } }));
    const seen = await waitFor(() => fake.ephemerals('U0OTHER01')[0]);
    expect(seen).toMatchObject({ channel: ALERTS, text: `Incident from message ${root.ts}`, via: 'chat.postEphemeral' });
    expect(fake.ephemerals(ONCALL).some((e) => e.text.includes('Incident from message'))).toBe(false);
  });

  it('an envelope nobody acks rejects after its timeout', async () => {
    await expect(fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/nobody-handles-this' }), { timeoutMs: 300 })).rejects.toThrow(/not acked within 300 ms/);
  });

  it('429 + Retry-After: 1 is retried by a WebClient with retries; the message appears once', async () => {
    const client = new webApi.WebClient(BOT_TOKEN, {
      slackApiUrl: fake.apiUrl,
      logger: quietLogger(),
      retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 10 },
    });
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    const before = fake.callCount('chat.postMessage');
    const res = await client.chat.postMessage({ channel: 'C0RATE001', text: 'after the rate limit' });
    const attempts = fake.calls.filter((c) => c.method === 'chat.postMessage').slice(before);
    expect(attempts.map((c) => c.fault)).toEqual([{ status: 429, retryAfter: 1 }, undefined]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);
    expect(fake.channel('C0RATE001').map((m) => [m.ts, m.text])).toEqual([[res.ts, 'after the rate limit']]);
  });

  it('429 without retries: the WebClient gives up after Retry-After; with rejectRateLimitedCalls it throws retryAfter at once', async () => {
    // Wire fact for the outbox: `retries: 0` does NOT retry a 429 (it waits Retry-After, then fails).
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await expect(app.client.chat.postMessage({ channel: 'C0RATE002', text: 'lost' })).rejects.toThrow(/rate limit/i);
    const rejecting = new webApi.WebClient(BOT_TOKEN, { slackApiUrl: fake.apiUrl, logger: quietLogger(), retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 7 });
    const err = await rejecting.chat.postMessage({ channel: 'C0RATE002', text: 'lost too' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: webApi.ErrorCode.RateLimitedError, retryAfter: 7 });
    expect(fake.channel('C0RATE002')).toEqual([]);
  });

  it('hold: Slack stores the message but the answer waits for releaseHeld()', async () => {
    fake.failNext('chat.postMessage', { hold: true });
    let settled = false;
    const posting = app.client.chat.postMessage({ channel: 'C0HOLD001', text: 'held answer' }).finally(() => {
      settled = true;
    });
    await waitFor(() => fake.heldCount('chat.postMessage') === 1, { what: 'held postMessage' });
    const [stored] = fake.channel('C0HOLD001');
    expect(stored?.text).toBe('held answer');
    expect(settled).toBe(false);
    expect(fake.releaseHeld()).toBe(1);
    const res = await posting;
    expect(res.ts).toBe(stored!.ts);
  });

  it('errors as Slack gives them: ok:false, 5xx, dropped connection, outage until heal()', async () => {
    fake.failNext('chat.postMessage', { error: 'channel_not_found' });
    await expect(app.client.chat.postMessage({ channel: 'C0ERR0001', text: 'x' })).rejects.toMatchObject({ data: { ok: false, error: 'channel_not_found' } });
    fake.failNext('chat.postMessage', { status: 500 });
    await expect(app.client.chat.postMessage({ channel: 'C0ERR0001', text: 'x' })).rejects.toMatchObject({ code: webApi.ErrorCode.HTTPError, statusCode: 500 });
    fake.failNext('chat.postMessage', { drop: true });
    await expect(app.client.chat.postMessage({ channel: 'C0ERR0001', text: 'x' })).rejects.toMatchObject({ code: webApi.ErrorCode.RequestError });
    fake.failAlways('*', { status: 503 });
    await expect(app.client.chat.update({ channel: 'C0ERR0001', ts: '1.000000', text: 'x' })).rejects.toMatchObject({ statusCode: 503 });
    await expect(app.client.users.info({ user: ONCALL })).rejects.toMatchObject({ statusCode: 503 });
    fake.heal();
    await app.client.chat.postMessage({ channel: 'C0ERR0001', text: 'after the outage' });
    expect(fake.channel('C0ERR0001').map((m) => m.text)).toEqual(['after the outage']);
  });

  it('Slack-side validation: bad blocks, unknown message, unknown method, wrong token type', async () => {
    const long = { type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } };
    await expect(app.client.chat.postMessage({ channel: ALERTS, text: 'too long', blocks: [long] })).rejects.toMatchObject({ data: { error: 'invalid_blocks' } });
    await expect(app.client.chat.update({ channel: ALERTS, ts: '1600000000.000100', text: 'x' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
    await expect(app.client.apiCall('no.such.method')).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    const res = await fetch(`${fake.apiUrl}apps.connections.open`, { method: 'POST', headers: { Authorization: `Bearer ${BOT_TOKEN}` } });
    expect(await res.json()).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect(blockKitProblem([{ type: 'section', text: { type: 'mrkdwn', text: 'hi', emoji: true } }])).toMatch(/emoji/);
  });

  it('files.uploadV2 lands as a file in the incident thread; usergroups and users.info answer', async () => {
    const root = fake.channel(ALERTS)[0]!;
    await app.client.filesUploadV2({ channel_id: ALERTS, thread_ts: root.ts, content: 'panic: tag moved\n', filename: 'worker.log', title: 'worker-eu log' });
    const file = await waitFor(() => fake.thread(ALERTS, root.ts).find((m) => m.files));
    expect(file.files).toEqual([expect.objectContaining({ title: 'worker-eu log', name: 'worker.log', content: 'panic: tag moved\n' })]);
    expect(fake.channel(ALERTS)).toHaveLength(1);

    fake.setUsergroup('S0ONCALL1', [ONCALL, 'U0SECOND1']);
    expect((await app.client.usergroups.users.list({ usergroup: 'S0ONCALL1' })).users).toEqual([ONCALL, 'U0SECOND1']);
    fake.setUser({ id: ONCALL, real_name: 'Ada Oncall', tz: 'Europe/Berlin' });
    expect((await app.client.users.info({ user: ONCALL })).user).toMatchObject({ id: ONCALL, real_name: 'Ada Oncall', tz: 'Europe/Berlin' });
  });
});

describe('Socket Mode reconnects: refresh_requested, a dropped socket, queued envelopes', () => {
  let fake: FakeSlack;
  let app: App;
  const seen: string[] = [];

  beforeAll(async () => {
    fake = await startFakeSlack();
    const clientOptions = { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } };
    // Socket Mode waits clientPingTimeout (default 5 s) before reconnecting; 1 s keeps this quick.
    const receiver = new SocketModeReceiver({ appToken: APP_TOKEN, logger: quietLogger(), clientPingTimeout: 1000, installerOptions: { clientOptions } });
    app = new App({ token: BOT_TOKEN, receiver, logger: quietLogger(), clientOptions });
    app.command('/incident', async ({ command, ack }) => {
      seen.push(command.text);
      await ack({ text: `handled ${command.text}` });
    });
    await app.start();
  });
  afterAll(async () => {
    await app?.stop();
    await fake?.close();
  });

  it('after disconnect(refresh_requested) the app reconnects and handles the next envelope', async () => {
    fake.disconnect('refresh_requested');
    await waitFor(() => fake.connectCount === 2 && fake.openSockets() === 1, { what: 'reconnect after refresh_requested' });
    const ack = await fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'after refresh' }));
    expect(ack).toEqual({ text: 'handled after refresh' });
    expect(fake.callCount('apps.connections.open')).toBe(2);
  });

  it('an envelope sent while the socket is down is delivered on reconnect, once', async () => {
    fake.dropSocket();
    await waitFor(() => fake.openSockets() === 0);
    const acked = fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'while down' }), { timeoutMs: 8000 });
    expect(await acked).toEqual({ text: 'handled while down' });
    expect(fake.connectCount).toBe(3);
    expect(seen.filter((t) => t === 'while down')).toHaveLength(1);
  });
});

describe('HTTP mode: the real Bolt HTTPReceiver and signed requests', () => {
  let fake: FakeSlack;
  let app: App;
  let events: string;

  beforeAll(async () => {
    fake = await startFakeSlack();
    app = new App({ token: BOT_TOKEN, signingSecret: SIGNING_SECRET, logger: quietLogger(), clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } } });
    registerIncidentHandlers(app);
    const server = (await app.start(0)) as Server;
    events = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await app?.stop();
    await fake?.close();
  });

  it('a signed slash command is acked with 200 and its message appears; a signed button press updates it', async () => {
    const body = formEncodeSlash(fake.slashPayload({ command: '/incident', text: 'api 502s', user_id: ONCALL, channel_id: ALERTS }));
    const res = await signedPost(events, body, SIGNING_SECRET);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ response_type: 'ephemeral', text: 'Opening incident: api 502s' });
    const root = await waitFor(() => fake.channel(ALERTS).find((m) => m.replies.length === 1));
    expect(messageText(root)).toContain('api 502s');

    const press = formEncodeInteractive(fake.blockActionPayload({ user: ONCALL, channel: ALERTS, message_ts: root.ts, action_id: 'ack_incident' }));
    expect((await signedPost(events, press, SIGNING_SECRET)).status).toBe(200);
    await waitFor(() => fake.channel(ALERTS)[0]!.text === `Acknowledged by <@${ONCALL}>`, { what: 'root updated by the button' });
  });

  it('a request signed 6 minutes ago is rejected with 401; a wrong signature too', async () => {
    const body = formEncodeSlash(fake.slashPayload({ command: '/incident', text: 'replayed' }));
    const stale = await signedPost(events, body, SIGNING_SECRET, { timestamp: Math.floor(Date.now() / 1000) - 360 });
    expect(stale.status).toBe(401);
    const forged = await signedPost(events, body, 'not-the-secret');
    expect(forged.status).toBe(401);
    expect(fake.channel(ALERTS).some((m) => m.text.includes('replayed'))).toBe(false);
  });

  it('a Content-Type with anything after the media type is answered 400', async () => {
    const body = formEncodeSlash(fake.slashPayload({ command: '/incident', text: 'charset' }));
    const res = await signedPost(events, body, SIGNING_SECRET, { contentType: 'application/x-www-form-urlencoded; charset=utf-8' });
    expect(res.status).toBe(400);
  });
});

describe('the fake on its own: paging, time windows, response_url rules', () => {
  let fake: FakeSlack;
  const call = async (method: string, params: Record<string, string>): Promise<Record<string, unknown>> => {
    const res = await fetch(`${fake.apiUrl}${method}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${BOT_TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    return (await res.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('history is newest first and pages with a cursor; oldest is exclusive; replies put the parent first', async () => {
    const ts: string[] = [];
    for (const n of [1, 2, 3]) ts.push(((await call('chat.postMessage', { channel: 'C0PAGE001', text: `m${n}` })) as { ts: string }).ts);
    const humanReply = fake.addMessage('C0PAGE001', { user: ONCALL, text: 'human reply', thread_ts: ts[0] });
    expect(ts[0]! < ts[1]! && ts[1]! < ts[2]! && ts[2]! < humanReply).toBe(true);

    const page1 = (await call('conversations.history', { channel: 'C0PAGE001', limit: '2' })) as { messages: Array<{ text: string }>; has_more: boolean; response_metadata: { next_cursor: string } };
    expect(page1.messages.map((m) => m.text)).toEqual(['m3', 'm2']);
    expect(page1.has_more).toBe(true);
    const page2 = (await call('conversations.history', { channel: 'C0PAGE001', limit: '2', cursor: page1.response_metadata.next_cursor })) as typeof page1;
    expect(page2.messages.map((m) => m.text)).toEqual(['m1']);
    expect(page2.has_more).toBe(false);

    const newer = (await call('conversations.history', { channel: 'C0PAGE001', oldest: ts[1]! })) as typeof page1;
    expect(newer.messages.map((m) => m.text)).toEqual(['m3']);

    const thread = (await call('conversations.replies', { channel: 'C0PAGE001', ts: humanReply })) as typeof page1;
    expect(thread.messages.map((m) => m.text)).toEqual(['m1', 'human reply']);
    expect(await call('chat.update', { channel: 'C0PAGE001', ts: humanReply, text: 'edited' })).toEqual({ ok: false, error: 'cant_update_message' });
  });

  it('a response_url whispers to its user, replaces the original when asked, and works five times only', async () => {
    const root = ((await call('chat.postMessage', { channel: 'C0RESP001', text: 'Pin worker-eu?' })) as { ts: string }).ts;
    const url = fake.responseUrl('R0TEST01', { user_id: ONCALL, channel_id: 'C0RESP001', message_ts: root });
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ text: 'only you see this' })).status).toBe(200);
    expect(fake.ephemerals(ONCALL).map((e) => e.text)).toEqual(['only you see this']);
    expect((await post({ replace_original: true, text: 'Pinned worker-eu' })).status).toBe(200);
    expect(fake.channel('C0RESP001').map((m) => m.text)).toEqual(['Pinned worker-eu']);
    for (let i = 0; i < 3; i++) expect((await post({ text: `again ${i}` })).status).toBe(200);
    const sixth = await post({ text: 'one too many' });
    expect(sixth.status).toBe(404);
    expect(await sixth.text()).toBe('used_url');
    expect(fake.responses()).toHaveLength(5);
  });

  it('an envelope delivered but not acked before the socket dies is redelivered with retry_attempt', async () => {
    const connect = async (): Promise<{ ws: WebSocket; frames: Array<Record<string, unknown>> }> => {
      const open = await fetch(`${fake.apiUrl}apps.connections.open`, { method: 'POST', headers: { Authorization: `Bearer ${APP_TOKEN}` } });
      const { url } = (await open.json()) as { url: string };
      const ws = new WebSocket(url);
      const frames: Array<Record<string, unknown>> = [];
      ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
      await waitFor(() => frames[0]?.type === 'hello', { what: 'hello' });
      return { ws, frames };
    };
    const first = await connect();
    expect(first.frames[0]).toMatchObject({ type: 'hello', connection_info: { app_id: 'A0TEST' } });
    const acked = fake.sendEnvelope('events_api', fake.eventCallback({ type: 'app_mention', user: ONCALL, text: 'hi', channel: ALERTS }));
    const delivered = await waitFor(() => first.frames.find((f) => f.envelope_id));
    expect(delivered).toMatchObject({ type: 'events_api', accepts_response_payload: false, payload: { type: 'event_callback' } });
    expect(delivered).not.toHaveProperty('retry_attempt');
    first.ws.terminate();

    const second = await connect();
    const again = await waitFor(() => second.frames.find((f) => f.envelope_id));
    expect(again).toMatchObject({ envelope_id: delivered.envelope_id, retry_attempt: 1, retry_reason: 'timeout' });
    second.ws.send(JSON.stringify({ envelope_id: again.envelope_id, payload: {} }));
    expect(await acked).toEqual({});
    expect(fake.acks.at(-1)).toMatchObject({ envelope_id: delivered.envelope_id, type: 'events_api', retryAttempt: 1 });
    second.ws.close();
  });

  it('messageText flattens text, blocks and attachments', () => {
    const text = messageText({
      text: 'fallback',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Tag moved' } },
        { type: 'section', fields: [{ type: 'mrkdwn', text: '*from* sha256:aaa' }], accessory: { type: 'button', text: { type: 'plain_text', text: 'Pin' }, value: 'secret-value' } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'first seen 09:12' }] },
      ],
      attachments: [{ color: '#f00', title: 'Runbook', text: 'restart it' }],
    });
    expect(text.split('\n')).toEqual(['fallback', 'Tag moved', '*from* sha256:aaa', 'Pin', 'first seen 09:12', 'Runbook', 'restart it']);
  });
});
