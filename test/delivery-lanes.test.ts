/**
 * Delivery under Slack faults, in process: the real Runtime and outbox, the real Bolt WebClient
 * (built by createSlackApp), the real SlackService, against the fake Slack with injected faults.
 * What is asserted is what a user sees in the channels and what Slack saw on the wire.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';

const BOT = 'xoxb-1111-2222-delivery-bot-token';
const APP = 'xapp-1-A0TEST-3333-delivery-app-token';
const CHANNEL_A = 'C0HUNGAAA';
const CHANNEL_B = 'C0ALERTSB';

let fake: FakeSlack | undefined;
let runtime: Runtime | undefined;

afterEach(async () => {
  fake?.releaseHeld();
  await runtime?.stop(500);
  await fake?.close();
  runtime = undefined;
  fake = undefined;
});

async function startBot(options: { timeoutMs?: number; uploadSettleMs?: number } = {}): Promise<{ fake: FakeSlack; runtime: Runtime }> {
  fake = await startFakeSlack({ botToken: BOT, appToken: APP });
  runtime = new Runtime(parseConfig({ slack: { channel: CHANNEL_A }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-delivery-')), 'db.sqlite') } }), {
    log: createLogger({ level: process.env.DW_TEST_LOG ?? 'silent' }),
    poster: { baseBackoffMs: 100 },
  });
  const { client } = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
  runtime.startDelivery(new SlackService(client, options));
  return { fake, runtime };
}

function alert(runtime: Runtime, channel: string, key: string, title: string, threadOf?: string): void {
  runtime.store.outbox.enqueue({ key, channel, kind: 'post', incidentId: null, role: 'message', message: { tone: 'critical', title: [title] }, at: Date.now(), ...(threadOf ? { threadOf } : {}) });
}

function summary(runtime: Runtime, channel: string, key: string, content: string, threadOf: string): void {
  const attachment = { filename: 'incident-1-summary.md', title: 'Incident #1 summary', content };
  runtime.store.outbox.enqueue({ key, channel, kind: 'file', incidentId: null, role: 'reply', message: { tone: 'info', title: [attachment.title], attachment }, at: Date.now(), threadOf });
}

const posts = (fake: FakeSlack) => fake.calls.filter((call) => call.method === 'chat.postMessage');
const searches = (fake: FakeSlack) => fake.calls.filter((call) => call.method === 'conversations.history' || call.method === 'conversations.replies');

describe('independent channels', () => {
  it('a chat.postMessage that never answers in channel A does not delay channel B', async () => {
    const { fake, runtime } = await startBot();
    fake.failMatching('chat.postMessage', (params) => params.channel === CHANNEL_A, { hold: true }, 1);
    alert(runtime, CHANNEL_A, 'a-1', 'alert in A');
    await waitFor(() => fake.heldCount('chat.postMessage') === 1, { what: 'the call in A hung' });
    alert(runtime, CHANNEL_B, 'b-1', 'alert in B');
    const started = Date.now();
    await waitFor(() => fake.channel(CHANNEL_B).some((message) => message.text === 'alert in B'), { timeoutMs: 15_000, what: "B's alert" });
    // Delivered while A's call is still hanging, not after its 10 s timeout.
    expect(fake.heldCount('chat.postMessage')).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('order is kept within a thread while another channel fails', async () => {
    const { fake, runtime } = await startBot();
    fake.failMatching('chat.postMessage', (params) => params.channel === CHANNEL_A, { status: 503 });
    alert(runtime, CHANNEL_A, 'a-root', 'root in A');
    alert(runtime, CHANNEL_B, 'b-root', 'root in B');
    for (let index = 1; index <= 5; index++) alert(runtime, CHANNEL_B, `b-reply-${index}`, `reply ${index}`, 'b-root');
    const root = await waitFor(() => fake.channel(CHANNEL_B).find((message) => message.text === 'root in B'), { what: 'root in B' });
    await waitFor(() => fake.thread(CHANNEL_B, root.ts).length === 6, { what: 'five replies in B' });
    expect(fake.thread(CHANNEL_B, root.ts).map((message) => message.text)).toEqual(['root in B', 'reply 1', 'reply 2', 'reply 3', 'reply 4', 'reply 5']);
    expect(fake.channel(CHANNEL_A)).toHaveLength(0);
  });

  it('a reply Slack refuses keeps the rest of its thread with it: the next reply never overtakes it, both go out in order on the join', async () => {
    const { fake, runtime } = await startBot();
    // A transient refusal: only the first reply is refused, the next call would go through.
    fake.failMatching('chat.postMessage', (params) => String(params.text).includes('reply A'), { error: 'channel_not_found' }, 1);
    alert(runtime, CHANNEL_A, 'order-root', 'order root');
    alert(runtime, CHANNEL_A, 'order-a', 'reply A', 'order-root');
    alert(runtime, CHANNEL_A, 'order-b', 'reply B', 'order-root');
    await waitFor(() => runtime.store.outbox.byKey('order-a')?.status === 'refused' && runtime.store.outbox.byKey('order-b')?.status !== 'pending', { timeoutMs: 15_000, what: 'reply A refused' });
    const root = fake.channel(CHANNEL_A).find((message) => message.text === 'order root')!;
    expect(fake.thread(CHANNEL_A, root.ts).map((message) => message.text)).toEqual(['order root']);
    expect(runtime.store.outbox.byKey('order-b')?.status).toBe('refused');
    runtime.channelJoined(CHANNEL_A);
    await waitFor(() => fake.thread(CHANNEL_A, root.ts).length === 3, { timeoutMs: 15_000, what: 'both replies after the join' });
    expect(fake.thread(CHANNEL_A, root.ts).map((message) => message.text)).toEqual(['order root', 'reply A', 'reply B']);
  });
});

describe('unknown and definite outcomes', () => {
  it('a timeout is an unknown outcome: the message is searched for before posting again, and appears once', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 500 });
    // Slack stores the post but its answer never comes.
    fake.failNext('chat.postMessage', { hold: true });
    alert(runtime, CHANNEL_A, 'timeout-1', 'posted, answer lost');
    await waitFor(() => searches(fake).length > 0, { timeoutMs: 10_000, what: 'a history search after the timeout' });
    await waitFor(() => runtime.store.outbox.byKey('timeout-1')?.status === 'sent', { timeoutMs: 10_000, what: 'row marked sent' });
    expect(fake.channel(CHANNEL_A).filter((message) => message.text === 'posted, answer lost')).toHaveLength(1);
    expect(posts(fake)).toHaveLength(1);
  });

  it('a search that gets a 429 leaves the message in doubt: the next attempt searches again, never posts blindly', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 500 });
    fake.failNext('chat.postMessage', { hold: true });
    fake.failNext('conversations.history', { status: 429, retryAfter: 1 });
    alert(runtime, CHANNEL_A, 'doubt-1', 'posted, answer lost, search limited');
    await waitFor(() => runtime.store.outbox.byKey('doubt-1')?.status === 'sent', { timeoutMs: 15_000, what: 'row marked sent' });
    expect(searches(fake)).toHaveLength(2);
    expect(posts(fake)).toHaveLength(1);
    expect(fake.channel(CHANNEL_A).filter((message) => message.text === 'posted, answer lost, search limited')).toHaveLength(1);
  });

  it('a 429, a 4xx and an ok:false are definite answers: never a history search', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 2_000 });
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    fake.failNext('chat.postMessage', { status: 400 });
    fake.failNext('chat.postMessage', { error: 'message_limit_exceeded' });
    alert(runtime, CHANNEL_A, 'definite-1', 'after three refusals');
    await waitFor(() => fake.channel(CHANNEL_A).some((message) => message.text === 'after three refusals'), { timeoutMs: 15_000, what: 'delivered' });
    expect(posts(fake)).toHaveLength(4);
    expect(searches(fake)).toHaveLength(0);
  });

  it('internal_error and fatal_error may have partly succeeded: searched for, never posted twice', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 2_000 });
    // Slack stores the post, then answers ok:false.
    fake.failNext('chat.postMessage', { error: 'internal_error', stored: true });
    alert(runtime, CHANNEL_A, 'internal-1', 'stored before internal_error');
    await waitFor(() => runtime.store.outbox.byKey('internal-1')?.status === 'sent', { timeoutMs: 15_000, what: 'row marked sent' });
    fake.failNext('chat.postMessage', { error: 'fatal_error', stored: true });
    alert(runtime, CHANNEL_A, 'fatal-1', 'stored before fatal_error');
    await waitFor(() => runtime.store.outbox.byKey('fatal-1')?.status === 'sent', { timeoutMs: 15_000, what: 'row marked sent' });
    expect(fake.channel(CHANNEL_A).map((message) => message.text)).toEqual(['stored before internal_error', 'stored before fatal_error']);
    expect(searches(fake)).toHaveLength(2);
    expect(posts(fake)).toHaveLength(2);
  });

  it('a search Slack refuses for good (missing_scope) keeps the message in doubt, not failed; it goes out once when the bot joins', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 2_000 });
    // The first post is lost on the wire; the search for it is refused.
    fake.failNext('chat.postMessage', { drop: true });
    fake.failNext('conversations.history', { error: 'missing_scope' });
    alert(runtime, CHANNEL_A, 'unsearchable-1', 'after a refused search');
    await waitFor(() => runtime.store.outbox.byKey('unsearchable-1')?.status !== 'pending', { timeoutMs: 15_000, what: 'the search refused' });
    expect(runtime.store.outbox.byKey('unsearchable-1')).toMatchObject({ status: 'refused', inDoubt: true });
    expect(runtime.store.outbox.refusedByChannel()).toEqual([{ channel: CHANNEL_A, count: 1, error: 'slack conversations.history: missing_scope' }]);
    runtime.channelJoined(CHANNEL_A);
    await waitFor(() => runtime.store.outbox.byKey('unsearchable-1')?.status === 'sent', { timeoutMs: 15_000, what: 'delivered after the join' });
    // Searched again (still in doubt) before posting.
    expect(searches(fake)).toHaveLength(2);
    expect(fake.channel(CHANNEL_A).map((message) => message.text)).toEqual(['after a refused search']);
  });

  it('a 5xx is an unknown outcome: searched once, then posted', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 2_000 });
    fake.failNext('chat.postMessage', { status: 502 });
    alert(runtime, CHANNEL_A, 'unknown-5xx', 'after a 502');
    await waitFor(() => fake.channel(CHANNEL_A).some((message) => message.text === 'after a 502'), { timeoutMs: 15_000, what: 'delivered' });
    expect(searches(fake)).toHaveLength(1);
    expect(fake.channel(CHANNEL_A)).toHaveLength(1);
  });
});

describe('429 storm', () => {
  it('30 % of chat.postMessage answered 429: the method pauses as a whole, about one call per delivered message, no searches', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 5_000 });
    fake.failFraction('chat.postMessage', { status: 429, retryAfter: 1 }, 0.3);
    const channels = ['C0STORMAA', 'C0STORMBB', 'C0STORMCC'];
    const total = 15;
    for (let index = 0; index < total; index++) alert(runtime, channels[index % 3]!, `storm-${index}`, `storm ${index}`);
    const delivered = () => channels.reduce((sum, channel) => sum + fake.channel(channel).length, 0);
    await waitFor(() => delivered() === total, { timeoutMs: 60_000, what: 'every storm message delivered' });
    // Each channel in order, each message once.
    for (const [offset, channel] of channels.entries()) {
      expect(fake.channel(channel).map((message) => message.text)).toEqual(Array.from({ length: total / 3 }, (_, index) => `storm ${index * 3 + offset}`));
    }
    expect(searches(fake)).toHaveLength(0);
    const calls = posts(fake);
    const limited = calls.filter((call) => call.fault && 'status' in call.fault && call.fault.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    // 30 % refused means at best 1/0.7 ≈ 1.43 calls per message; per-message retries with searches run near 2.
    expect(calls.length / total).toBeLessThanOrEqual(1.5);
    // Paused as a whole: no call of the method starts inside a Retry-After window (calls already
    // on the wire when the 429 went out may land in its first moments).
    for (const refusal of limited) {
      const inside = calls.filter((call) => call.at > refusal.at + 100 && call.at < refusal.at + 900);
      expect(inside.map((call) => call.params.channel)).toEqual([]);
    }
  }, 90_000);
});

describe('stop', () => {
  it('a follow that never stops does not keep the outbox from draining: stop returns by its deadline with the message delivered', async () => {
    const { fake, runtime: bot } = await startBot();
    // A follow stuck in a kube read: stopAll never settles.
    bot.follower.stopAll = () => new Promise<void>(() => undefined);
    // Slack answers only after a while, so the message is still in the outbox when stop begins.
    fake.failNext('chat.postMessage', { status: 503 });
    alert(bot, CHANNEL_A, 'stop-1', 'delivered while stopping');
    await waitFor(() => posts(fake).length === 1, { what: 'the first attempt' });
    const started = Date.now();
    const stopped = bot.stop(3_000).then(() => Date.now() - started);
    runtime = undefined;
    const took = await Promise.race([stopped, new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 6_000))]);
    expect(took).toBeLessThan(4_000);
    expect(fake.channel(CHANNEL_A).map((message) => message.text)).toEqual(['delivered while stopping']);
  });
});

describe('file uploads are exactly-once', () => {
  it('an upload that completes after the client timed out is found by the search, never uploaded twice', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 1_000 });
    alert(runtime, CHANNEL_A, 'files-root', 'files root');
    const root = await waitFor(() => fake.channel(CHANNEL_A).find((message) => message.text === 'files root'), { what: 'the root' });
    // Slack shares the file 2.5 s after the call, long after the client's 1 s timeout.
    fake.failMatching('files.completeUploadExternal', () => true, { delayMs: 2_500 }, 1);
    summary(runtime, CHANNEL_A, 'file-late', '# summary\n', 'files-root');
    await waitFor(() => runtime.store.outbox.byKey('file-late')?.status === 'sent', { timeoutMs: 20_000, what: 'the file row sent' });
    await waitFor(() => fake.delayedCount('files.completeUploadExternal') === 0, { timeoutMs: 10_000, what: 'the late upload done' });
    const files = fake.thread(CHANNEL_A, root.ts).flatMap((message) => message.files ?? []);
    expect(files.map((file) => file.content)).toEqual(['# summary\n']);
    expect(fake.callCount('files.completeUploadExternal')).toBe(1);
    expect(fake.callCount('conversations.replies')).toBeGreaterThan(0);
  }, 40_000);

  it('a step that times out never starts the next in the background: one file per row, and no search (nothing was shared)', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 1_000 });
    alert(runtime, CHANNEL_A, 'files-root', 'files root');
    const root = await waitFor(() => fake.channel(CHANNEL_A).find((message) => message.text === 'files root'), { what: 'the root' });
    fake.failMatching('files.getUploadURLExternal', () => true, { delayMs: 2_500 }, 1);
    summary(runtime, CHANNEL_A, 'file-slow-ticket', 'slow ticket', 'files-root');
    await waitFor(() => runtime.store.outbox.byKey('file-slow-ticket')?.status === 'sent', { timeoutMs: 20_000, what: 'the file row sent' });
    await waitFor(() => fake.delayedCount('files.getUploadURLExternal') === 0, { timeoutMs: 10_000, what: 'the slow step answered' });
    // A file uploaded now is shared after anything the slow step would still have set going.
    summary(runtime, CHANNEL_A, 'file-marker', 'marker', 'files-root');
    await waitFor(() => runtime.store.outbox.byKey('file-marker')?.status === 'sent', { what: 'the marker file' });
    const files = fake.thread(CHANNEL_A, root.ts).flatMap((message) => message.files ?? []);
    expect(files.map((file) => file.content)).toEqual(['slow ticket', 'marker']);
    expect(fake.callCount('files.completeUploadExternal')).toBe(2);
    expect(searches(fake)).toHaveLength(0);
  }, 40_000);

  it('a second summary with the same title, whose first attempt was lost, is uploaded: the search matches its own row only', async () => {
    const { fake, runtime } = await startBot({ timeoutMs: 1_000, uploadSettleMs: 200 });
    alert(runtime, CHANNEL_A, 'files-root', 'files root');
    const root = await waitFor(() => fake.channel(CHANNEL_A).find((message) => message.text === 'files root'), { what: 'the root' });
    summary(runtime, CHANNEL_A, 'file-first', 'first summary', 'files-root');
    await waitFor(() => runtime.store.outbox.byKey('file-first')?.status === 'sent', { what: 'the first summary' });
    // The second summary's share is lost on the wire (nothing stored): an unknown outcome.
    fake.failNext('files.completeUploadExternal', { drop: true });
    summary(runtime, CHANNEL_A, 'file-second', 'second summary', 'files-root');
    await waitFor(() => runtime.store.outbox.byKey('file-second')?.status === 'sent', { timeoutMs: 20_000, what: 'the second summary' });
    const files = fake.thread(CHANNEL_A, root.ts).flatMap((message) => message.files ?? []);
    expect(files.map((file) => file.content)).toEqual(['first summary', 'second summary']);
    expect(files.map((file) => file.name)).toEqual(['incident-1-summary.md', 'incident-1-summary.md']);
    expect(files.every((file) => file.title.startsWith('Incident #1 summary'))).toBe(true);
  }, 40_000);
});
