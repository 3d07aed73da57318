import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEndpoint } from './support/endpoint-server.js';
import { formEncodeSlash, signedPost, startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { freePort, Product, writeConfig } from './support/product.js';

const BOT = 'xoxb-2222-3333-e2e-bot-token-value';
const APP = 'xapp-1-A0TEST-4444-e2e-app-token-value';
const SECRET = 'e2e-signing-secret-0123456789';
const CHANNEL = 'C0ALERTS';

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;
let endpoint: Endpoint;
let fake: FakeSlack;
const products: Product[] = [];

beforeAll(async () => {
  endpoint = await startEndpoint();
});
afterAll(async () => {
  await endpoint?.close();
});
afterEach(async () => {
  for (const product of products.splice(0)) await product.kill();
  await fake?.close();
});

function start(path: string, extraEnv: Record<string, string> = {}): Product {
  const product = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake.apiUrl, ...extraEnv });
  products.push(product);
  return product;
}

function relayConfig(extra: Record<string, unknown> = {}) {
  return writeConfig({
    slack: { channel: CHANNEL, ...((extra.slack as object) ?? {}) },
    endpoints: [{ name: 'relay-dfw1', url: `${endpoint.url}/hooks/lib/sources/tmdb.js`, versionHeader: 'X-Relay-Version', expect: '0.2.0', every: '1s' }],
    ...Object.fromEntries(Object.entries(extra).filter(([key]) => key !== 'slack')),
  });
}

const roots = () => fake.channel(CHANNEL).filter((message) => message.text.includes('relay-dfw1: stale deploy'));

async function lifeCycle(): Promise<void> {
  endpoint.setVersion('X-Relay-Version', undefined);
  const root = await waitFor(() => roots()[0], { timeoutMs: 20_000, what: 'incident root' });
  endpoint.setVersion('X-Relay-Version', '0.1.9');
  await waitFor(() => fake.thread(CHANNEL, root.ts).some((reply) => reply.text.includes('now serves 0.1.9')), { timeoutMs: 20_000, what: 'notice in thread' });
  await waitFor(() => fake.messageText(fake.message(CHANNEL, root.ts)!).includes('serves 0.1.9; expected 0.2.0'), { timeoutMs: 20_000, what: 'root updated' });
  endpoint.setVersion('X-Relay-Version', '0.2.0');
  await waitFor(() => fake.thread(CHANNEL, root.ts).some((reply) => /Resolved after \d/.test(reply.text)), { timeoutMs: 20_000, what: 'resolution' });
  await waitFor(() => fake.message(CHANNEL, root.ts)!.text.startsWith('Resolved: #1'), { timeoutMs: 20_000, what: 'root resolved' });
  expect(roots()).toHaveLength(1);
}


describe('driftwatch run against the fake Slack (child process)', () => {
  it('Socket Mode: a whole incident life cycle in one thread, and slash commands answered', async () => {
    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    const { path } = relayConfig();
    const product = start(path);
    await waitFor(() => fake.openSockets() > 0, { timeoutMs: 15_000, what: 'socket connected' });
    await lifeCycle();
    const ack = await fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'list all', user_id: 'U0ONCALL', channel_id: CHANNEL }));
    expect(ack).toBeDefined();
    await waitFor(() => fake.responses().some((response) => fake.messageText(response.body as never).includes('#1 resolved')), { what: 'list answer' });
    fake.disconnect('refresh_requested');
    await fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'timeline', user_id: 'U0ONCALL', channel_id: CHANNEL }), { timeoutMs: 15_000 });
    await waitFor(() => fake.responses().some((response) => fake.messageText(response.body as never).includes('Timeline of #1')), { what: 'timeline after reconnect' });
    // The socket dies mid-way: an envelope sent meanwhile is delivered after the reconnect and answered once.
    fake.dropSocket();
    const before = fake.responses().length;
    await fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'summary #1', user_id: 'U0ONCALL', channel_id: CHANNEL }), { timeoutMs: 20_000 });
    await waitFor(() => fake.responses().slice(before).some((response) => fake.messageText(response.body as never).includes('Summary of #1')), { timeoutMs: 20_000, what: 'summary after the socket dropped' });
    expect(fake.responses().slice(before).filter((response) => fake.messageText(response.body as never).includes('Summary of #1'))).toHaveLength(1);
    for (const token of [BOT, APP]) expect(product.stdout + product.stderr).not.toContain(token);
  });

  it('HTTP mode: signed requests are served, stale ones refused, and the life cycle is the same', async () => {
    fake = await startFakeSlack({ botToken: BOT });
    const port = await freePort();
    const { path } = relayConfig({ slack: { mode: 'http', port } });
    const product = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: fake.apiUrl });
    products.push(product);
    await product.waitFor(/connected to Slack/, { stream: 'stderr' });
    await lifeCycle();
    const url = `http://127.0.0.1:${port}/slack/events`;
    const body = formEncodeSlash(fake.slashPayload({ command: '/incident', text: 'list all', user_id: 'U0ONCALL', channel_id: CHANNEL }));
    expect((await signedPost(url, body, SECRET)).status).toBe(200);
    await waitFor(() => fake.responses().some((response) => fake.messageText(response.body as never).includes('#1 resolved')), { what: 'list answer' });
    const stale = await signedPost(url, body, SECRET, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    expect((await signedPost(url, body, 'wrong-secret-value')).status).toBe(401);
  });

  it('SIGKILL while Slack holds the chat.postMessage answer, then a restart: still exactly one root', async () => {
    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    const { path } = relayConfig();
    fake.failNext('chat.postMessage', { hold: true });
    endpoint.setVersion('X-Relay-Version', undefined);
    const first = start(path);
    await waitFor(() => fake.heldCount('chat.postMessage') > 0, { timeoutMs: 20_000, what: 'held postMessage' });
    expect(roots()).toHaveLength(1);
    await first.kill('SIGKILL');
    const second = start(path);
    await waitFor(() => fake.callCount('conversations.history') > 0, { timeoutMs: 20_000, what: 'metadata look-up after restart' });
    endpoint.setVersion('X-Relay-Version', '0.2.0');
    const root = roots()[0]!;
    await waitFor(() => fake.thread(CHANNEL, root.ts).some((reply) => /Resolved after/.test(reply.text)), { timeoutMs: 20_000, what: 'resolution in the original thread' });
    expect(roots()).toHaveLength(1);
    expect(second.stderr).toContain('already delivered before a restart');
  });

  it('an outage of chat.postMessage delays but neither loses nor doubles anything', async () => {
    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    const { path } = relayConfig();
    fake.failAlways('chat.postMessage', { status: 500 });
    endpoint.setVersion('X-Relay-Version', undefined);
    start(path);
    await waitFor(() => fake.calls.filter((call) => call.method === 'chat.postMessage').length >= 2, { timeoutMs: 20_000, what: 'failed attempts' });
    endpoint.setVersion('X-Relay-Version', '0.2.0');
    // The bot keeps retrying with backoff; nothing reaches the channel while it fails.
    await waitFor(() => fake.calls.filter((call) => call.method === 'chat.postMessage').length >= 4, { timeoutMs: 20_000, what: 'more failed attempts' });
    expect(fake.channel(CHANNEL)).toHaveLength(0);
    fake.heal();
    const root = await waitFor(() => roots()[0], { timeoutMs: 40_000, what: 'root after recovery' });
    await waitFor(() => fake.thread(CHANNEL, root.ts).some((reply) => /Resolved after/.test(reply.text)), { timeoutMs: 40_000, what: 'resolution after recovery' });
    await waitFor(() => fake.message(CHANNEL, root.ts)!.text.startsWith('Resolved: #1'), { timeoutMs: 40_000, what: 'root resolved' });
    expect(roots()).toHaveLength(1);
    const texts = fake.thread(CHANNEL, root.ts).map((reply) => reply.text);
    expect(new Set(texts).size).toBe(texts.length);
  }, 90_000);
});

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('operating the bot', () => {
  it('/healthz, /readyz and /metrics: the alert, Slack-call and outbox figures move with an incident', async () => {
    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    const port = await freePort();
    endpoint.setVersion('X-Relay-Version', undefined);
    const { path } = writeConfig({
      slack: { channel: CHANNEL },
      server: { port },
      endpoints: [{ name: 'relay-dfw1', url: `${endpoint.url}/`, versionHeader: 'X-Relay-Version', expect: '0.2.0', every: '1s' }],
    });
    const product = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake.apiUrl });
    products.push(product);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 15_000, what: 'ready' });
    const before = await (await fetch(`${base}/metrics`)).text();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
    expect(ready.checks.store!.ok && ready.checks.slack!.ok).toBe(true);
    fake.failNext('chat.postMessage', { status: 500 });
    await waitFor(() => fake.channel(CHANNEL).length === 1, { timeoutMs: 20_000, what: 'incident root' });
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(metric(before, 'driftwatch_alerts_total', 'edge="opened"')).toBe(0);
    expect(metric(after, 'driftwatch_alerts_total', 'edge="opened"')).toBe(1);
    expect(metric(after, 'driftwatch_slack_calls_total', 'kind="post",outcome="ok"')).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'driftwatch_slack_retries_total')).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^driftwatch_outbox_depth \d+$/m);
    expect(metric(after, 'driftwatch_observations_total', 'kind="endpoint_stale"')).toBeGreaterThanOrEqual(2);
    expect(after).toContain('driftwatch_probe_latency_seconds_bucket{le="0.05",endpoint="relay-dfw1"}');
    // /readyz follows the Socket Mode connection: not ready while it reconnects, ready again after.
    fake.dropSocket();
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, { timeoutMs: 10_000, what: 'not ready while the socket is down' });
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 20_000, what: 'ready after reconnecting' });
  });

  it('SIGTERM during delivery: the outbox drains what it can, the rest survives for the next start, nothing is lost', async () => {
    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    endpoint.setVersion('X-Relay-Version', undefined);
    const { path, dir } = writeConfig({
      slack: { channel: CHANNEL },
      endpoints: Array.from({ length: 5 }, (_, index) => ({ name: `edge-${index}`, url: `${endpoint.url}/${index}`, versionHeader: 'X-Relay-Version', expect: '0.2.0', every: '1s' })),
    });
    // Slack is down when the incidents open and the bot is asked to stop.
    fake.failAlways('chat.postMessage', { status: 503 });
    const first = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake.apiUrl });
    products.push(first);
    await waitFor(() => fake.calls.filter((call) => call.method === 'chat.postMessage').length >= 5, { timeoutMs: 20_000, what: 'attempts while Slack is down' });
    await first.kill('SIGTERM');
    expect(first.child.exitCode ?? first.child.signalCode).not.toBe('SIGKILL');
    expect(first.stderr).toMatch(/draining the outbox/);
    const db = new Database(join(dir, 'driftwatch.db'), { readonly: true });
    const pending = (db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'").get() as { n: number }).n;
    db.close();
    expect(pending).toBeGreaterThanOrEqual(5);
    fake.heal();
    const second = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake.apiUrl });
    products.push(second);
    await waitFor(() => fake.channel(CHANNEL).filter((message) => /edge-\d: stale deploy/.test(message.text)).length === 5, { timeoutMs: 30_000, what: 'all five roots after restart' });
    const keys = fake.channel(CHANNEL).map((message) => message.metadata?.event_payload.key);
    expect(new Set(keys).size).toBe(keys.length);
  }, 60_000);
});
