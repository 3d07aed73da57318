/**
 * Delivery under a 429 storm (PRODUCTION.md "Delivery"): the real Runtime, outbox and poster, the
 * real WebClient and SlackService, against the fake Slack of test/support, in this process.
 *
 *   300 messages in 10 channels (30 each, 10 threads of a root and 2 replies per channel);
 *   while they are queued, 30 % of chat.postMessage calls are answered 429 + Retry-After: 1 for
 *   STORM_MS; then the storm ends.
 *
 * Figures: Slack calls per delivered message (chat.postMessage + history searches; floor 1.0:
 * one call per message), and the time to drain what is left after the storm ends. Correctness
 * (nothing lost or doubled, order kept in every thread, no history search after a 429) is
 * asserted; times are printed, never asserted.
 *
 *   node bench/delivery.mjs   (or: npx vitest run --config bench/vitest.config.ts bench/delivery.bench.ts)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { startFakeSlack, waitFor } from '../test/support/fake-slack.js';

const BOT = 'xoxb-1111-2222-bench-delivery-token';
const APP = 'xapp-1-A0TEST-3333-bench-delivery-app';
const CHANNELS = Array.from({ length: 10 }, (_, index) => `C0BENCH${String(index).padStart(2, '0')}`);
const THREADS_PER_CHANNEL = 10;
const STORM_MS = Number(process.env.BENCH_STORM_MS ?? 5_000);

describe('delivery under a 429 storm', () => {
  it('300 messages in 10 channels: calls per delivered message, drain time after the storm', async () => {
    const fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    const runtime = new Runtime(parseConfig({ slack: { channel: CHANNELS[0] }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-bench-delivery-')), 'db.sqlite') } }), {
      log: createLogger({ level: 'silent' }),
    });
    const { client } = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
    try {
      fake.failFraction('chat.postMessage', { status: 429, retryAfter: 1 }, 0.3);
      const stormStarted = Date.now();
      runtime.startDelivery(new SlackService(client));
      let total = 0;
      for (const channel of CHANNELS) {
        for (let thread = 0; thread < THREADS_PER_CHANNEL; thread++) {
          const root = `${channel}-t${thread}`;
          const message = (title: string) => ({ tone: 'warning' as const, title: [title] });
          runtime.store.outbox.enqueue({ key: root, channel, kind: 'post', incidentId: null, role: 'message', message: message(`${root} root`), at: Date.now() });
          for (let reply = 1; reply <= 2; reply++) {
            runtime.store.outbox.enqueue({ key: `${root}-r${reply}`, channel, kind: 'post', incidentId: null, role: 'reply', threadOf: root, message: message(`${root} reply ${reply}`), at: Date.now() });
          }
          total += 3;
        }
      }
      const delivered = () => CHANNELS.reduce((sum, channel) => sum + fake.channel(channel).reduce((count, root) => count + 1 + root.replies.length, 0), 0);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, STORM_MS - (Date.now() - stormStarted))));
      fake.heal();
      const stormEnded = Date.now();
      const deliveredInStorm = delivered();
      await waitFor(() => delivered() === total, { timeoutMs: 170_000, intervalMs: 5, what: 'all 300 delivered' });
      const drainMs = Date.now() - stormEnded;

      const posts = fake.calls.filter((call) => call.method === 'chat.postMessage');
      const limited = posts.filter((call) => call.fault && 'status' in call.fault && call.fault.status === 429);
      const searches = fake.calls.filter((call) => call.method === 'conversations.history' || call.method === 'conversations.replies');
      // Correctness: every message once, order kept in every thread, never a search after a 429.
      for (const channel of CHANNELS) {
        const roots = fake.channel(channel);
        expect(roots.map((root) => root.text)).toEqual(Array.from({ length: THREADS_PER_CHANNEL }, (_, thread) => `${channel}-t${thread} root`));
        for (const root of roots) expect(root.replies.map((reply) => reply.text)).toEqual([1, 2].map((reply) => `${root.text.replace(' root', '')} reply ${reply}`));
      }
      expect(searches).toHaveLength(0);
      const callsPerMessage = (posts.length + searches.length) / total;
      process.stdout.write(
        [
          '',
          `delivery under a 429 storm: ${total} messages in ${CHANNELS.length} channels, 30 % of chat.postMessage → 429 (Retry-After 1 s) for ${STORM_MS / 1000} s`,
          `  delivered during the storm      ${deliveredInStorm}/${total}`,
          `  chat.postMessage calls          ${posts.length} (${limited.length} answered 429)`,
          `  history searches                ${searches.length}`,
          `  Slack calls per delivered msg   ${callsPerMessage.toFixed(2)} (floor 1.00)`,
          `  drain after the storm ended     ${drainMs} ms for ${total - deliveredInStorm} messages`,
          '',
        ].join('\n'),
      );
    } finally {
      await runtime.stop(1_000);
      await fake.close();
    }
  });
});
