/**
 * Slack benchmarks (issue 3). The real Bolt app in Socket Mode and the real outbox poster talk
 * to the fake Slack of test/support, all in this one process on 127.0.0.1:
 *
 *   1. slash-command ack latency, 1000 `/incident list`, sequential and 10 at a time (budget p99 < 50 ms)
 *   2. observation → chat.postMessage received by the fake Slack (budget p99 < 100 ms)
 *   3. the outbox with 30 % of chat.postMessage calls answered 429 + Retry-After: 1 —
 *      throughput, and the proof that nothing was lost or doubled and thread order held
 *
 *   npx vitest run --config bench/vitest.config.ts
 *
 * Figures are printed, not asserted (a loaded machine must not fail a build); the correctness
 * claims of bench 3 are asserted. Latencies include the fake Slack's own work, which shares the
 * event loop with the app. RSS is this vitest worker's (vitest itself included).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { startFakeSlack, waitFor, type ApiCall, type FakeMessage, type FakeSlack } from '../test/support/fake-slack.js';
import { Product, writeConfig } from '../test/support/product.js';

const BOT = 'xoxb-1111-2222-bench-bot-token';
const APP = 'xapp-1-A0TEST-3333-bench-app-token';
const CHANNEL = 'C0ALERTS';

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const verdict = (value: number, budget: number) => (value < budget ? `within budget (< ${budget} ms)` : `OVER budget (${budget} ms)`);

function latencyRow(label: string, values: number[]): string {
  return `${label.padEnd(52)} n=${String(values.length).padStart(4)}  p50 ${ms(percentile(values, 50)).padStart(9)}  p99 ${ms(percentile(values, 99)).padStart(9)}  max ${ms(Math.max(...values)).padStart(9)}`;
}

/** Peak RSS over a benchmark, sampled every 50 ms. */
function rssSampler(): { stop(): { peak: number; end: number } } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const end = process.memoryUsage().rss;
      return { peak: Math.max(peak, end), end };
    },
  };
}

function report(title: string, lines: string[]): void {
  console.log(['', `== ${title}`, ...lines.map((line) => `   ${line}`), ''].join('\n'));
}

/** A child process's RSS now and at its peak, from /proc (Linux). */
function childMemory(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Deterministic PRNG (mulberry32) so a run's fault pattern can be reproduced from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Harness: fake Slack + Runtime + the real Bolt app in Socket Mode + the outbox poster
// ---------------------------------------------------------------------------------------------

interface Harness {
  fake: FakeSlack;
  runtime: Runtime;
  app: App;
  close(): Promise<void>;
}

/**
 * A fresh fake Slack, store and app. `apiUrlFor` lets a benchmark put something between the
 * app and the fake (the 429 injector); Socket Mode then connects through it too.
 */
async function startHarness(options: { apiUrlFor?: (fake: FakeSlack) => Promise<{ apiUrl: string; close(): Promise<void> }> } = {}): Promise<Harness> {
  const fake = await startFakeSlack({ botToken: BOT, appToken: APP });
  const front = options.apiUrlFor ? await options.apiUrlFor(fake) : { apiUrl: fake.apiUrl, close: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-slack-'));
  const runtime = new Runtime(
    parseConfig({
      slack: { channel: CHANNEL },
      store: { path: join(dir, 'db.sqlite') },
      // One bad observation opens an incident; no storm, so every incident gets its own root.
      alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1, storm: { incidents: 1_000_000, within: '5m' } },
    }),
    { log: createLogger({ level: 'silent' }), poster: { baseBackoffMs: 100 } },
  );
  const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: front.apiUrl, port: 0 });
  runtime.startDelivery(new SlackService(created.client));
  await created.app.start();
  return {
    fake,
    runtime,
    app: created.app,
    async close() {
      await created.app.stop().catch(() => {});
      await runtime.stop(1000);
      await front.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An HTTP front for the fake Slack that makes a share of chat.postMessage calls fail with 429 +
 * Retry-After. It doesn't answer itself: it queues the fault on the fake (`failNext`) right
 * before forwarding, so the fake answers and records the 429 as Slack would. The poster has one
 * call in flight at a time, so the queued fault meets exactly the call that was drawn.
 */
async function rateLimitingFront(fake: FakeSlack, share: number, random: () => number): Promise<{ apiUrl: string; close(): Promise<void>; drawn(): number }> {
  const target = new URL(fake.baseUrl);
  let drawn = 0;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/api/chat.postMessage') && random() < share) {
      drawn++;
      fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    }
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => res.destroy(error));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    drawn: () => drawn,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const postedKey = (call: ApiCall) => (call.params.metadata as { event_payload?: { key?: string } } | undefined)?.event_payload?.key;
const messageKey = (message: FakeMessage) => message.metadata?.event_payload.key as string | undefined;
const accepted = (call: ApiCall) => call.method === 'chat.postMessage' && !call.fault;

/** The first accepted chat.postMessage carrying `key`, scanning forward from `from`. */
function findPost(fake: FakeSlack, key: string, from: number): ApiCall | undefined {
  for (let index = from; index < fake.calls.length; index++) {
    const call = fake.calls[index]!;
    if (accepted(call) && postedKey(call) === key) return call;
  }
  return undefined;
}

const harnesses: Harness[] = [];
afterAll(async () => {
  for (const harness of harnesses.splice(0)) await harness.close();
});

async function harness(options?: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const started = await startHarness(options);
  harnesses.push(started);
  return started;
}

async function closeHarness(h: Harness): Promise<void> {
  harnesses.splice(harnesses.indexOf(h), 1);
  await h.close();
}

// ---------------------------------------------------------------------------------------------
// 1. Slash-command ack latency
// ---------------------------------------------------------------------------------------------

const slash = (fake: FakeSlack) => fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'list', user_id: 'U0ONCALL', channel_id: CHANNEL }));

/**
 * `commands` × `/incident list`, `concurrency` in flight at a time, after a warm-up (JIT, the
 * first response_url connection). Ack latency is what the fake Slack measured from sending the
 * envelope to receiving the ack; the round trip is the same seen from `sendEnvelope`, sub-ms.
 * `needle`: text each answer must contain to count as a real listing.
 */
async function slashRun(fake: FakeSlack, commands: number, concurrency: number, needle: string) {
  const warmBefore = fake.responses().length;
  for (let index = 0; index < 20; index++) await slash(fake);
  await waitFor(() => fake.responses().length - warmBefore >= 20, { what: 'warm-up answers' });
  const acksBefore = fake.acks.length;
  const responsesBefore = fake.responses().length;
  const roundTrips: number[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < commands) {
        next++;
        const sent = performance.now();
        await slash(fake);
        roundTrips.push(performance.now() - sent);
      }
    }),
  );
  const ackedIn = performance.now() - started;
  await waitFor(() => fake.responses().length - responsesBefore >= commands, { timeoutMs: 60_000, what: `${commands} answers through response_url` });
  const answeredIn = performance.now() - started;
  const acks = fake.acks.slice(acksBefore).filter((ack) => ack.type === 'slash_commands');
  const latencies = acks.map((ack) => ack.latencyMs).filter((value): value is number => value !== undefined);
  const answers = fake.responses().slice(responsesBefore, responsesBefore + commands);
  const listed = answers.filter((answer) => fake.messageText(answer.body as never).includes(needle)).length;
  return { latencies, roundTrips, acks: acks.length, ackedIn, answeredIn, listed };
}

function slashReport(label: string, sequential: Awaited<ReturnType<typeof slashRun>>, concurrent: Awaited<ReturnType<typeof slashRun>>): string[] {
  return [
    latencyRow(`${label} sequential: ack latency (fake, ms resolution)`, sequential.latencies),
    latencyRow(`${label} sequential: envelope round trip`, sequential.roundTrips),
    latencyRow(`${label} 10 concurrent: ack latency`, concurrent.latencies),
    latencyRow(`${label} 10 concurrent: envelope round trip`, concurrent.roundTrips),
    `sequential: ${sequential.acks} acks in ${ms(sequential.ackedIn)} (${((1000 * sequential.acks) / sequential.ackedIn).toFixed(0)}/s), all answered via response_url after ${ms(sequential.answeredIn)}; real listings: ${sequential.listed}`,
    `10 concurrent: ${concurrent.acks} acks in ${ms(concurrent.ackedIn)} (${((1000 * concurrent.acks) / concurrent.ackedIn).toFixed(0)}/s), all answered after ${ms(concurrent.answeredIn)}; real listings: ${concurrent.listed}`,
    `p99 ack: sequential ${verdict(percentile(sequential.latencies, 99), 50)}; 10 concurrent ${verdict(percentile(concurrent.latencies, 99), 50)}`,
  ];
}

describe('Slack benchmarks', () => {
  it('1a. slash-command ack latency over Socket Mode (1000 /incident list), app and fake Slack in one process', async () => {
    const h = await harness();
    const { fake, runtime } = h;
    const rss = rssSampler();
    // A few open incidents so `/incident list` has something to list.
    const sink = runtime.sink();
    for (let index = 0; index < 5; index++) sink.check({ subject: `endpoint:list-${index}`, problem: 'endpoint_stale', ok: false, summary: `serves 0.1.${index}; expected 0.2.0` });
    await waitFor(() => fake.channel(CHANNEL).length === 5, { what: 'five roots' });

    const sequential = await slashRun(fake, 1000, 1, '#5');
    const concurrent = await slashRun(fake, 1000, 10, '#5');
    const memory = rss.stop();
    report('1a. Slash-command ack latency, /incident list over Socket Mode — app and fake Slack in one process', [
      ...slashReport('in-process', sequential, concurrent),
      `RSS peak ${mb(memory.peak)}, end ${mb(memory.end)}`,
    ]);
    expect(sequential.acks).toBe(1000);
    expect(concurrent.acks).toBe(1000);
    expect(sequential.listed + concurrent.listed).toBe(2000);
    await closeHarness(h);
  });

  it('1b. the same with the product as a child process (Slack on its own event loop, as in production)', async () => {
    const fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    const config = writeConfig({ slack: { channel: CHANNEL } });
    const product = Product.start(['run', '--config', config.path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake.apiUrl, LOG_LEVEL: 'info' });
    try {
      await waitFor(() => fake.openSockets() === 1, { timeoutMs: 30_000, what: `the product connected over Socket Mode (stderr: ${product.stderr.slice(-500)})` });
      const sequential = await slashRun(fake, 1000, 1, 'No incidents.');
      const concurrent = await slashRun(fake, 1000, 10, 'No incidents.');
      const memory = childMemory(product.child.pid!);
      // The floor, same run: a bare Bolt app acking the same commands over the same fake Slack.
      await product.kill('SIGTERM');
      await waitFor(() => fake.openSockets() === 0, { timeoutMs: 15_000, what: 'the product to disconnect' });
      const bare = spawn(process.execPath, [join(import.meta.dirname, 'bare-bolt.mjs')], { env: { PATH: process.env.PATH ?? '', SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake.apiUrl }, stdio: ['ignore', 'ignore', 'inherit'] });
      let floorSequential: Awaited<ReturnType<typeof slashRun>>;
      let floorConcurrent: Awaited<ReturnType<typeof slashRun>>;
      try {
        await waitFor(() => fake.openSockets() === 1, { timeoutMs: 30_000, what: 'the bare Bolt app connected over Socket Mode' });
        floorSequential = await slashRun(fake, 1000, 1, 'No incidents.');
        floorConcurrent = await slashRun(fake, 1000, 10, 'No incidents.');
      } finally {
        bare.kill('SIGTERM');
      }
      const side = (label: string, ours: number[], floor: number[]) => {
        const [p50, p99, f50, f99] = [percentile(ours, 50), percentile(ours, 99), percentile(floor, 50), percentile(floor, 99)];
        return `${label.padEnd(14)} product p50 ${ms(p50)}, p99 ${ms(p99)} | floor (bare Bolt) p50 ${ms(f50)}, p99 ${ms(f99)} | ratio p50 ${(p50 / Math.max(f50, 0.5)).toFixed(2)}×, p99 ${(p99 / Math.max(f99, 0.5)).toFixed(2)}×`;
      };
      report('1b. Slash-command ack latency, /incident list over Socket Mode — `driftwatch run` as a child process (built dist/), beside a bare Bolt app', [
        ...slashReport('child', sequential, concurrent),
        side('sequential', sequential.latencies, floorSequential.latencies),
        side('10 concurrent', concurrent.latencies, floorConcurrent.latencies),
        `product RSS peak (VmHWM) ${mb(memory.peak)}, now ${mb(memory.now)}`,
      ]);
      expect(floorSequential.acks).toBe(1000);
      expect(sequential.acks).toBe(1000);
      expect(concurrent.acks).toBe(1000);
      expect(sequential.listed + concurrent.listed).toBe(2000);
    } finally {
      await product.kill('SIGTERM');
      await fake.close();
      rmSync(config.dir, { recursive: true, force: true });
    }
  });

  // -------------------------------------------------------------------------------------------
  // 2. Observation → chat.postMessage
  // -------------------------------------------------------------------------------------------

  it('2. observation → chat.postMessage received by the fake Slack (300 observations)', async () => {
    const h = await harness();
    const { fake, runtime } = h;
    const sink = runtime.sink();
    const rss = rssSampler();
    const rootKey = (subject: string) => {
      const incident = runtime.store.incidents.openIncidents().find((candidate) => candidate.primarySubject === subject);
      if (!incident) throw new Error(`no open incident for ${subject}`);
      return `inc-${incident.id}-root`;
    };
    const observe = (subject: string, index: number) => {
      const at = Date.now();
      sink.check({ subject, problem: 'endpoint_stale', ok: false, summary: `serves no version header (bench ${index})` });
      return { at, key: rootKey(subject) };
    };

    // Warm-up.
    for (let index = 0; index < 10; index++) {
      const { key } = observe(`endpoint:warm-${index}`, index);
      await waitFor(() => findPost(fake, key, 0), { what: `warm-up root ${key}` });
    }

    // One at a time: the next observation comes after the previous root reached Slack.
    const oneAtATime: number[] = [];
    for (let index = 0; index < 300; index++) {
      const from = fake.calls.length;
      const { at, key } = observe(`endpoint:seq-${index}`, index);
      const call = await waitFor(() => findPost(fake, key, from), { intervalMs: 2, what: `root ${key}` });
      oneAtATime.push(call.at - at);
    }

    // A burst: 300 observations in one synchronous loop; the poster posts them one by one.
    const from = fake.calls.length;
    const burst = Array.from({ length: 300 }, (_, index) => observe(`endpoint:burst-${index}`, index));
    const burstStarted = burst[0]!.at;
    // The engine's own cost: each check reads every open incident, so it grows with their number.
    const checksTook = Date.now() - burstStarted;
    await waitFor(() => fake.calls.slice(from).filter(accepted).length >= 300, { timeoutMs: 60_000, what: 'burst roots' });
    const byKey = new Map(fake.calls.slice(from).filter(accepted).map((call) => [postedKey(call), call.at]));
    const burstLatencies = burst.map(({ at, key }) => byKey.get(key)! - at);
    const burstSeconds = (Math.max(...byKey.values()) - burstStarted) / 1000;
    const memory = rss.stop();

    report('2. Observation (sink.check opening an incident) → chat.postMessage received by the fake Slack', [
      latencyRow('one at a time (ms resolution)', oneAtATime),
      latencyRow('burst of 300 at once (queueing included)', burstLatencies),
      `burst: 300 roots delivered in ${burstSeconds.toFixed(2)} s = ${(300 / burstSeconds).toFixed(0)} posts/s; the 300 sink.check calls alone took ${checksTook} ms (${runtime.store.incidents.openIncidents().length} incidents open at the end)`,
      `p99 one at a time: ${verdict(percentile(oneAtATime, 99), 100)}`,
      `RSS peak ${mb(memory.peak)}, end ${mb(memory.end)}`,
    ]);
    expect(oneAtATime).toHaveLength(300);
    expect(burstLatencies.every((value) => Number.isFinite(value))).toBe(true);
    await closeHarness(h);
  });

  // -------------------------------------------------------------------------------------------
  // 3. The outbox under 429
  // -------------------------------------------------------------------------------------------

  /** 30 incidents (roots) with 9 notices each in their threads = 300 posts; returns the figures. */
  async function outboxRun(failShare: number, seed: number) {
    let front: Awaited<ReturnType<typeof rateLimitingFront>> | undefined;
    const h = await harness({
      apiUrlFor: async (fake) => (front = await rateLimitingFront(fake, failShare, seededRandom(seed))),
    });
    const { fake, runtime } = h;
    const sink = runtime.sink();
    const rss = rssSampler();
    const threads = 30;
    const perThread = 10;
    const callsBefore = fake.calls.length;

    const started = Date.now();
    for (let thread = 0; thread < threads; thread++) {
      sink.check({ subject: `endpoint:lane-${thread}`, problem: 'endpoint_stale', ok: false, summary: `lane-${thread} serves no version header` });
    }
    // Interleaved across threads, in order within each thread.
    for (let message = 1; message < perThread; message++) {
      for (let thread = 0; thread < threads; thread++) {
        sink.notice({ subject: `endpoint:lane-${thread}`, kind: 'version_changed', summary: `lane-${thread} message ${message}` });
      }
    }
    // Each 429 pauses chat.postMessage for everyone for Retry-After (PRODUCTION.md), and this storm
    // never ends: ~130 pauses of 1 s, so the drain takes minutes (bench/delivery.bench.ts has a storm that ends).
    await waitFor(() => runtime.store.outbox.depth() === 0, { timeoutMs: 400_000, intervalMs: 20, what: 'outbox drained' });
    const calls = fake.calls.slice(callsBefore);
    const posts = calls.filter((call) => call.method === 'chat.postMessage');
    const acceptedPosts = posts.filter((call) => !call.fault);
    const limited = posts.filter((call) => call.fault && 'status' in call.fault && call.fault.status === 429);
    const lastAccepted = Math.max(...acceptedPosts.map((call) => call.at));
    const seconds = (lastAccepted - started) / 1000;
    const memory = rss.stop();

    // The proof: every post row sent exactly once, each key once in the channel, order per thread.
    const rows = runtime.store.outbox.all();
    const postRows = rows.filter((row) => row.kind === 'post');
    const updateRows = rows.filter((row) => row.kind === 'update');
    const channel = fake.channel(CHANNEL);
    const shown = channel.flatMap((root) => [root, ...root.replies]);
    const shownKeys = shown.map(messageKey);
    const keyCounts = new Map<string | undefined, number>();
    for (const key of shownKeys) keyCounts.set(key, (keyCounts.get(key) ?? 0) + 1);
    const acceptedKeyCounts = new Map<string | undefined, number>();
    for (const call of acceptedPosts) acceptedKeyCounts.set(postedKey(call), (acceptedKeyCounts.get(postedKey(call)) ?? 0) + 1);
    const outOfOrder: string[] = [];
    for (let thread = 0; thread < threads; thread++) {
      const incident = runtime.store.incidents.openIncidents().find((candidate) => candidate.primarySubject === `endpoint:lane-${thread}`);
      const root = incident ? channel.find((message) => messageKey(message) === `inc-${incident.id}-root`) : undefined;
      const replies = root ? root.replies.map((reply) => reply.text).filter((text) => text.includes(`lane-${thread} message`)) : [];
      const expected = Array.from({ length: perThread - 1 }, (_, index) => `lane-${thread} message ${index + 1}`);
      if (!root || replies.length !== expected.length || replies.some((text, index) => !text.includes(expected[index]!))) outOfOrder.push(`lane-${thread}`);
    }
    // The thread order also matches the outbox order (row ids) for every incident.
    const rowOrderBroken: number[] = [];
    for (const root of channel) {
      const incidentId = postRows.find((row) => row.key === messageKey(root))?.incidentId;
      if (incidentId === undefined || incidentId === null) continue;
      const expectedKeys = postRows.filter((row) => row.incidentId === incidentId && row.role === 'reply').sort((a, b) => a.id - b.id).map((row) => row.key);
      if (JSON.stringify(root.replies.map(messageKey)) !== JSON.stringify(expectedKeys)) rowOrderBroken.push(incidentId);
    }

    // Where the time went: 429s per thread and when each thread's last message landed.
    const laneOf = new Map(postRows.map((row) => [row.key, row.incidentId]));
    const perLane = new Map<number | null | undefined, { limited: number; doneAt: number }>();
    for (const call of posts) {
      const lane = laneOf.get(postedKey(call) ?? '');
      const entry = perLane.get(lane) ?? { limited: 0, doneAt: 0 };
      if (call.fault) entry.limited++;
      else entry.doneAt = Math.max(entry.doneAt, call.at - started);
      perLane.set(lane, entry);
    }
    const slowest = [...perLane.values()].sort((a, b) => b.doneAt - a.doneAt)[0] ?? { limited: 0, doneAt: 0 };
    const most429 = Math.max(0, ...[...perLane.values()].map((entry) => entry.limited));

    const figures = {
      slowest,
      most429,
      postRows: postRows.length,
      sentRows: postRows.filter((row) => row.status === 'sent').length,
      notSent: postRows.filter((row) => row.status !== 'sent').map((row) => `${row.key}:${row.status}`),
      updateRows: updateRows.length,
      updateStatuses: [...new Set(updateRows.map((row) => row.status))],
      shown: shown.length,
      roots: channel.length,
      distinctShownKeys: keyCounts.size,
      doubledInChannel: [...keyCounts].filter(([, count]) => count > 1).map(([key]) => key),
      missingFromChannel: postRows.filter((row) => !keyCounts.has(row.key)).map((row) => row.key),
      unknownInChannel: shownKeys.filter((key) => !postRows.some((row) => row.key === key)),
      tsMismatch: postRows.filter((row) => !shown.some((message) => message.ts === row.ts && messageKey(message) === row.key)).map((row) => row.key),
      acceptedPosts: acceptedPosts.length,
      acceptedTwice: [...acceptedKeyCounts].filter(([, count]) => count > 1).map(([key]) => key),
      limited: limited.length,
      totalPostCalls: posts.length,
      lookups: calls.filter((call) => call.method === 'conversations.replies' || call.method === 'conversations.history').length,
      updates: calls.filter((call) => call.method === 'chat.update' && !call.fault).length,
      drawn: front?.drawn() ?? 0,
      outOfOrder,
      rowOrderBroken,
      seconds,
      rss: memory,
    };
    await closeHarness(h);
    return figures;
  }

  it('3. the outbox under 429 (Retry-After: 1) on 30 % of chat.postMessage calls', async () => {
    const seed = Number(process.env.BENCH_SEED ?? 20_240_301);
    const clean = await outboxRun(0, seed);
    const limited = await outboxRun(0.3, seed);
    const line = (label: string, f: typeof clean) =>
      `${label.padEnd(22)} ${f.sentRows}/${f.postRows} posts in ${f.seconds.toFixed(2)} s = ${(f.sentRows / f.seconds).toFixed(1).padStart(6)} msg/s; ` +
      `${f.totalPostCalls} postMessage calls (${f.limited} answered 429 = ${((100 * f.limited) / Math.max(1, f.totalPostCalls)).toFixed(1)} %), ${f.lookups} key look-ups, ${f.updates} chat.update`;
    report('3. Outbox: 30 incidents × (root + 9 replies) = 300 posts, poster baseBackoffMs 100', [
      line('no faults', clean),
      line('30 % 429 Retry-After 1', limited),
      `429 run: slowest thread done after ${(limited.slowest.doneAt / 1000).toFixed(2)} s with ${limited.slowest.limited} 429s; most 429s in one thread ${limited.most429}`,
      `seed ${seed} (BENCH_SEED); root updates: ${limited.updateRows} rows, statuses ${limited.updateStatuses.join(', ')}`,
      `proof (429 run): rows sent ${limited.sentRows}/${limited.postRows}; channel shows ${limited.shown} messages (${limited.roots} roots) with ${limited.distinctShownKeys} distinct keys;` +
        ` doubled ${limited.doubledInChannel.length}, missing ${limited.missingFromChannel.length}, unknown ${limited.unknownInChannel.length}, ts mismatches ${limited.tsMismatch.length};` +
        ` accepted postMessage calls ${limited.acceptedPosts} (same key accepted twice: ${limited.acceptedTwice.length});` +
        ` threads out of order: ${limited.outOfOrder.length + limited.rowOrderBroken.length}`,
      `RSS peak ${mb(limited.rss.peak)}, end ${mb(limited.rss.end)}`,
    ]);
    for (const f of [clean, limited]) {
      expect(f.notSent).toEqual([]);
      expect(f.postRows).toBe(300);
      expect(f.shown).toBe(f.postRows);
      expect(f.distinctShownKeys).toBe(f.postRows);
      expect(f.doubledInChannel).toEqual([]);
      expect(f.missingFromChannel).toEqual([]);
      expect(f.unknownInChannel).toEqual([]);
      expect(f.tsMismatch).toEqual([]);
      expect(f.acceptedPosts).toBe(f.postRows);
      expect(f.acceptedTwice).toEqual([]);
      expect(f.outOfOrder).toEqual([]);
      expect(f.rowOrderBroken).toEqual([]);
      expect(f.updateStatuses.every((status) => status === 'sent' || status === 'superseded')).toBe(true);
    }
    expect(clean.limited).toBe(0);
    // The injector really bit: every drawn fault was answered 429, near the 30 % asked for.
    expect(limited.limited).toBe(limited.drawn);
    expect(limited.limited / limited.totalPostCalls).toBeGreaterThan(0.2);
  }, 600_000);
});
