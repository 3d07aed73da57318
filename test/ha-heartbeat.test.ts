/**
 * The dead-man's switch against a local HTTP monitor that counts GETs: pings only while this
 * replica leads and is healthy, silence at the first tick after a condition fails, a failing
 * monitor logged once per streak, and the pure rule for "healthy".
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Heartbeat, heartbeatBlocker, MAX_PENDING_AGE_MS } from '../src/ha/heartbeat.js';
import type { Timers } from '../src/ha/timers.js';

/** Timers fired by the test: the heartbeat keeps one pending at a time. */
class ManualTimers implements Timers {
  private pending = new Map<number, { callback: () => void; ms: number }>();
  private next = 1;
  readonly delays: number[] = [];
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.next++;
    this.pending.set(handle, { callback, ms });
    this.delays.push(ms);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires every timer pending now (one tick). */
  tick(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const timer of due) timer.callback();
  }
  size(): number {
    return this.pending.size;
  }
}

let server: Server;
let url: string;
let pings: Array<{ at: number; path: string }>;
let answer: number | 'hang';

beforeEach(async () => {
  pings = [];
  answer = 200;
  server = createServer((req, res) => {
    pings.push({ at: Date.now(), path: req.url ?? '' });
    if (answer === 'hang') return;
    res.writeHead(answer).end('OK');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping/0f0e-secret-uuid`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits for the monitor to have seen `count` pings and for the last one to be answered. */
async function pinged(beat: Heartbeat, count: number): Promise<void> {
  await until(() => pings.length === count && !beat.status().inFlight, `ping ${count} answered`);
}

function heartbeat(state: { leading: boolean; blocker: string | undefined }, options: { timers?: Timers; everyMs?: number; timeoutMs?: number } = {}) {
  const logged: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logged.push((JSON.parse(line) as { msg: string }).msg) });
  const instance = new Heartbeat({ url, everyMs: options.everyMs ?? 60_000, blocker: () => state.blocker, leading: () => state.leading, log, ...(options.timers ? { timers: options.timers } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  return { heartbeat: instance, logged };
}

describe('Heartbeat', () => {
  it('pings every `every` while leading and healthy, and not at all otherwise', async () => {
    const timers = new ManualTimers();
    const state = { leading: true, blocker: undefined as string | undefined };
    const { heartbeat: beat, logged } = heartbeat(state, { timers });
    beat.start();
    await pinged(beat, 1);
    expect(pings[0]!.path).toBe('/ping/0f0e-secret-uuid');
    expect(timers.delays).toEqual([60_000]);
    timers.tick();
    await pinged(beat, 2);
    expect(beat.status().lastPingAt).toBeDefined();

    // Slack drops: the very next tick sends nothing (the next healthy tick is the barrier that proves it)
    state.blocker = 'slack: not connected';
    timers.tick();
    timers.tick();
    expect(beat.status().silentBecause).toBe('slack: not connected');
    state.blocker = undefined;
    timers.tick();
    await pinged(beat, 3);

    // a standby never pings
    state.leading = false;
    timers.tick();
    expect(beat.status().silentBecause).toBe('standby (another replica leads)');
    state.leading = true;
    timers.tick();
    await pinged(beat, 4);
    expect(pings).toHaveLength(4);
    expect(logged).toEqual([
      'heartbeat 127.0.0.1:' + new URL(url).port + ': pinging every 1m',
      'heartbeat 127.0.0.1:' + new URL(url).port + ': silent: slack: not connected',
      'heartbeat 127.0.0.1:' + new URL(url).port + ': pinging every 1m',
      'heartbeat 127.0.0.1:' + new URL(url).port + ': silent: standby (another replica leads)',
      'heartbeat 127.0.0.1:' + new URL(url).port + ': pinging every 1m',
    ]);
    expect(logged.join('\n')).not.toContain('secret-uuid');
    beat.stop();
    expect(timers.size()).toBe(0);
  });

  it('in real time: pings stop within 2 × every of the first failing condition', async () => {
    const everyMs = 100;
    const state = { leading: true, blocker: undefined as string | undefined };
    const { heartbeat: beat } = heartbeat(state, { everyMs });
    beat.start();
    try {
      await until(() => pings.length >= 3, 'three pings');
      const failedAt = Date.now();
      state.blocker = 'watcher registry ghcr.io/confighubai/confighub-worker: last completed cycle 2m ago (every 1m)';
      await until(() => beat.status().silentBecause !== undefined, 'silence');
      // a new ping would start at the next tick; give it that long, then flip back as the barrier
      const silentAt = Date.now();
      expect(silentAt - failedAt).toBeLessThanOrEqual(2 * everyMs);
      const countAtSilence = pings.length;
      await until(() => Date.now() - silentAt >= 2 * everyMs, 'two more ticks');
      expect(pings.length).toBe(countAtSilence);
      expect(pings.filter((ping) => ping.at > failedAt + 2 * everyMs)).toEqual([]);
    } finally {
      beat.stop();
    }
  });

  it('logs a failing monitor once per streak, and a ping without an answer times out', async () => {
    const timers = new ManualTimers();
    const state = { leading: true, blocker: undefined as string | undefined };
    const { heartbeat: beat, logged } = heartbeat(state, { timers, timeoutMs: 200 });
    const host = `heartbeat 127.0.0.1:${new URL(url).port}`;
    answer = 503;
    beat.start();
    await pinged(beat, 1);
    expect(beat.status().failing).toBeDefined();
    for (let ping = 2; ping <= 4; ping++) {
      timers.tick();
      await pinged(beat, ping);
    }
    answer = 200;
    timers.tick();
    await until(() => beat.status().failing === undefined, 'recovery');
    answer = 'hang';
    timers.tick();
    await until(() => beat.status().failing !== undefined, 'the timeout');
    expect(beat.status().failing).toBe(`${host}: no answer within 200 ms on GET`);
    expect(logged.filter((line) => line !== `${host}: pinging every 1m`)).toEqual([`${host}: 503 on GET`, `${host}: pings answered again`, `${host}: no answer within 200 ms on GET`]);
    beat.stop();
  });
});

describe('heartbeatBlocker', () => {
  const now = Date.UTC(2026, 10, 30, 12, 0, 0);
  const healthy = {
    now,
    loops: [
      { name: 'watch prod pods', everyMs: 60_000, lastCycleAt: now - 30_000 },
      { name: 'registry ghcr.io/confighubai/confighub-worker:latest', everyMs: 60_000, lastCycleAt: now - 119_000 },
    ],
    slackConnected: true,
    oldestPendingAt: now - 60_000,
  };

  it('is healthy when every loop completed a cycle within twice its interval, Slack is up and nothing waits 2 minutes', () => {
    expect(heartbeatBlocker(healthy)).toBeUndefined();
    expect(heartbeatBlocker({ ...healthy, oldestPendingAt: undefined })).toBeUndefined();
  });

  it('names the first failing condition', () => {
    expect(heartbeatBlocker({ ...healthy, loops: [{ name: 'endpoint relay-dfw1', everyMs: 30_000, lastCycleAt: now - 61_000 }] })).toBe('endpoint relay-dfw1: last completed cycle 1m 1s ago (every 30s)');
    expect(heartbeatBlocker({ ...healthy, loops: [{ name: 'watch prod pods', everyMs: 60_000, lastCycleAt: undefined }] })).toBe('watch prod pods: no completed cycle yet');
    expect(heartbeatBlocker({ ...healthy, slackConnected: false })).toBe('slack: not connected');
    expect(heartbeatBlocker({ ...healthy, oldestPendingAt: now - MAX_PENDING_AGE_MS })).toBe('outbox: the oldest pending message waits for 2m');
  });
});
