/**
 * Delivery promises that are about the process: `driftwatch run` as a child process (built
 * dist/) against the fake Slack over Socket Mode, with an endpoint that goes stale to open an
 * incident. Asserted: what the channel shows, what /readyz and /metrics say, when the process ends.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEndpoint } from './support/endpoint-server.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { freePort, Product, writeConfig } from './support/product.js';

const BOT = 'xoxb-2222-3333-delivery-e2e-bot-token';
const APP = 'xapp-1-A0TEST-4444-delivery-e2e-app-token';
const CHANNEL = 'C0ALERTS';

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;
let endpoint: Endpoint;
let fake: FakeSlack | undefined;
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
  fake = undefined;
});

function start(path: string): Product {
  const product = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake!.apiUrl });
  products.push(product);
  return product;
}

function relayConfig(port = 0) {
  return writeConfig({
    slack: { channel: CHANNEL },
    server: { port },
    endpoints: [{ name: 'relay-dfw1', url: `${endpoint.url}/`, versionHeader: 'X-Relay-Version', expect: '0.2.0', every: '1s' }],
  });
}

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const roots = (slack: FakeSlack) => slack.channel(CHANNEL).filter((message) => message.text.includes('relay-dfw1: stale deploy'));

describe('messages Slack refuses for good are kept', () => {
  it('not_in_channel: kept and shown on /readyz and /metrics, one error line; delivered in order, once, when the bot joins', async () => {
    const slack = (fake = await startFakeSlack({ botToken: BOT, appToken: APP }));
    slack.refuseChannel(CHANNEL, 'not_in_channel');
    const port = await freePort();
    const { path } = relayConfig(port);
    endpoint.setVersion('X-Relay-Version', undefined);
    const product = start(path);
    const base = `http://127.0.0.1:${port}`;
    // The incident opens, then moves: root, a notice and a root update, all refused.
    await waitFor(() => slack.calls.some((call) => call.method === 'chat.postMessage' && call.fault), { timeoutMs: 20_000, what: 'a refused root' });
    endpoint.setVersion('X-Relay-Version', '0.1.9');
    const readyz = async () => (await (await fetch(`${base}/readyz`)).json()) as { ready: boolean; checks: Record<string, { ok: boolean; state?: string }> };
    const refused = await waitFor(
      async () => {
        const body = await readyz().catch(() => undefined);
        const match = body?.checks.delivery?.state?.match(/(\d+) in C0ALERTS \(slack chat\.postMessage: not_in_channel\)/);
        return match && Number(match[1]) >= 2 ? Number(match[1]) : undefined;
      },
      { timeoutMs: 20_000, what: '/readyz naming the refused messages and their channel' },
    );
    expect(refused).toBeGreaterThanOrEqual(2);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metric(metrics, 'driftwatch_outbox_refused', `channel="${CHANNEL}"`)).toBeGreaterThanOrEqual(2);
    expect(slack.channel(CHANNEL)).toHaveLength(0);
    // One error line for the channel, however many messages were refused there.
    expect(product.stderr.match(/Slack refuses messages to channel C0ALERTS/g)).toHaveLength(1);

    await slack.joinChannel(CHANNEL);
    const root = await waitFor(() => roots(slack)[0], { timeoutMs: 20_000, what: 'the root after the bot joined' });
    await waitFor(() => slack.thread(CHANNEL, root.ts).some((reply) => reply.text.includes('now serves 0.1.9')), { timeoutMs: 20_000, what: 'the kept notice in the thread' });
    await waitFor(() => slack.messageText(slack.message(CHANNEL, root.ts)!).includes('serves 0.1.9; expected 0.2.0'), { timeoutMs: 20_000, what: 'the kept root update' });
    expect(roots(slack)).toHaveLength(1);
    const keys = slack.channel(CHANNEL).flatMap((message) => [message, ...message.replies]).map((message) => message.metadata?.event_payload.key);
    expect(new Set(keys).size).toBe(keys.length);
    await waitFor(async () => (await readyz()).checks.delivery?.state?.includes('0 refused by Slack'), { timeoutMs: 10_000, what: '/readyz: nothing refused any more' });
  }, 90_000);
});

describe('SIGTERM', () => {
  it('ends the process within 10 s while a chat.postMessage hangs', async () => {
    const slack = (fake = await startFakeSlack({ botToken: BOT, appToken: APP }));
    slack.failMatching('chat.postMessage', () => true, { hold: true });
    const { path } = relayConfig();
    endpoint.setVersion('X-Relay-Version', undefined);
    const product = start(path);
    await waitFor(() => slack.heldCount('chat.postMessage') > 0, { timeoutMs: 20_000, what: 'a hung chat.postMessage' });
    const sent = Date.now();
    product.child.kill('SIGTERM');
    const code = await product.exited;
    const took = Date.now() - sent;
    expect(took).toBeLessThan(10_000);
    expect(code).toBe(0);
    expect(product.stderr).toMatch(/shutting down/);
  }, 40_000);
});

describe('file uploads are exactly-once', () => {
  it('SIGKILL while Slack holds the upload answer, then a restart: one summary file in the thread', async () => {
    const slack = (fake = await startFakeSlack({ botToken: BOT, appToken: APP }));
    const { path } = relayConfig();
    endpoint.setVersion('X-Relay-Version', undefined);
    const first = start(path);
    const root = await waitFor(() => roots(slack)[0], { timeoutMs: 20_000, what: 'incident root' });
    // Slack stores the file in the thread but the answer never comes back.
    slack.failNext('files.completeUploadExternal', { hold: true });
    await slack.sendEnvelope('slash_commands', slack.slashPayload({ command: '/incident', text: 'summary #1', user_id: 'U0ONCALL', channel_id: CHANNEL }), { timeoutMs: 15_000 });
    await waitFor(() => slack.heldCount('files.completeUploadExternal') > 0, { timeoutMs: 20_000, what: 'the held upload' });
    const files = () => slack.thread(CHANNEL, root.ts).filter((message) => (message.files ?? []).length > 0);
    expect(files()).toHaveLength(1);
    await first.kill('SIGKILL');
    const second = start(path);
    await second.waitFor(/file was already uploaded/, { stream: 'stderr', timeoutMs: 30_000 });
    expect(slack.callCount('conversations.replies')).toBeGreaterThan(0);
    expect(files()).toHaveLength(1);
    expect(slack.callCount('files.completeUploadExternal')).toBe(1);
  }, 90_000);
});
