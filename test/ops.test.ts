import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { startEndpoint } from './support/endpoint-server.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { Product, writeConfig } from './support/product.js';

const BOT = 'xoxb-4444-5555-ops-bot-token-value';
const APP = 'xapp-1-A0TEST-6666-ops-app-token-value';
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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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
