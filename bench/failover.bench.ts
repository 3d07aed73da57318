/**
 * Failover of two `driftwatch run` replicas (PRODUCTION.md "Several replicas"): the fake Slack,
 * the fake apiserver holding the Lease, a real PostgreSQL 15 — with client-go's default lease
 * settings (leaseDuration 15 s, renewDeadline 10 s, retryPeriod 2 s) unless BENCH_LEASE=short.
 *
 *   1. SIGTERM on the leader → the standby leads (its log's "leading" line), BENCH_FAILOVERS times
 *      (default 10); budget < 4 s (retryPeriod + 2 s). Floor: retryPeriod × 1 (a standby looks
 *      at the Lease once per retryPeriod, so a release waits up to that long to be seen).
 *   2. kill -9 on the leader → the standby leads; budget < 20 s (leaseDuration + 5 s). Floor:
 *      leaseDuration (nobody may take an unreleased Lease earlier).
 *   3. Observation → chat.postMessage received, one at a time, on PostgreSQL vs SQLite in this
 *      run (the same Runtime and poster in this process; only the store differs).
 *
 * Each failover restarts the killed replica and waits for it to be a standby before the next.
 * Times are printed, never asserted; correctness (one leader after each failover, one Socket Mode
 * connection) is.
 *
 *   node bench/failover.mjs   (or: npx vitest run --config bench/vitest.config.ts bench/failover.bench.ts)
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
import { startFakeSlack, waitFor, type ApiCall, type FakeSlack } from '../test/support/fake-slack.js';
import { isLeading, role, startHaWorld, waitUntil, type HaWorld, type Replica } from '../test/support/ha-replicas.js';
import { startPostgres } from '../test/support/postgres.js';

const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 10);
const SHORT = process.env.BENCH_LEASE === 'short';
const LEASE = SHORT ? { leaseDuration: '3s', renewDeadline: '2s', retryPeriod: '500ms' } : { leaseDuration: '15s', renewDeadline: '10s', retryPeriod: '2s' };
const LEASE_MS = SHORT ? { leaseDuration: 3_000, retryPeriod: 500 } : { leaseDuration: 15_000, retryPeriod: 2_000 };
const BUDGET_MS = { sigterm: 4_000, kill: 20_000 };

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
function report(title: string, lines: string[]): void {
  console.log(['', `== ${title}`, ...lines.map((line) => `   ${line}`), ''].join('\n'));
}

/** Fails over `times` times with `signal`; returns each time from the signal to the standby's "leading" log line. */
async function failovers(world: HaWorld, signal: 'SIGTERM' | 'SIGKILL', times: number): Promise<{ times: number[]; socketMs: number[] }> {
  const out: number[] = [];
  const socketMs: number[] = [];
  for (let round = 0; round < times; round++) {
    const live = world.replicas.filter((replica) => replica.product.child.exitCode === null && replica.product.child.signalCode === null);
    const leader = (await Promise.all(live.map(async (replica) => ((await isLeading(replica)) ? replica : undefined)))).find(Boolean) as Replica;
    const standby = live.find((replica) => replica !== leader)!;
    const before = standby.leadingSince();
    const at = Date.now();
    leader.product.child.kill(signal);
    await waitUntil(() => standby.leadingSince() !== undefined && standby.leadingSince() !== before, LEASE_MS.leaseDuration + 30_000, `${standby.name} leading`, standby.product);
    out.push(standby.leadingSince()! - at);
    await waitUntil(() => world.slack.openSockets() === 1, 10_000, 'Socket Mode on the new leader', standby.product);
    socketMs.push(Date.now() - standby.leadingSince()!);
    await leader.product.exited;
    // The killed replica comes back as a standby.
    const back = await world.start(leader.name);
    await waitUntil(async () => (await role(back))?.startsWith(`standby (${standby.name} leads)`) ?? false, 30_000, `${leader.name} back as a standby`, back.product);
    expect(world.slack.openSockets()).toBe(1);
  }
  return { times: out, socketMs };
}

describe('failover of two replicas', () => {
  it(`SIGTERM and kill -9 on the leader, ${FAILOVERS} times each`, async () => {
    const world = await startHaWorld({ lease: LEASE });
    try {
      const a = await world.start('pod-a');
      await waitUntil(() => isLeading(a), 40_000, 'pod-a leading', a.product);
      const b = await world.start('pod-b');
      await waitUntil(async () => (await role(b))?.startsWith('standby (pod-a leads)') ?? false, 30_000, 'pod-b a standby', b.product);
      await waitUntil(() => world.slack.openSockets() === 1, 10_000, 'Socket Mode');

      const term = await failovers(world, 'SIGTERM', FAILOVERS);
      const kill = await failovers(world, 'SIGKILL', FAILOVERS);
      const row = (label: string, values: number[], budget: number, floor: number) =>
        `${label.padEnd(34)} n=${values.length}  p50 ${s(percentile(values, 50))}  max ${s(Math.max(...values))}  budget < ${s(budget)}: ${Math.max(...values) < budget ? 'met' : 'MISSED'}  floor ${s(floor)}  max/floor ${(Math.max(...values) / floor).toFixed(2)}`;
      report(`Failover, 2 replicas, lease ${LEASE.leaseDuration}/${LEASE.renewDeadline}/${LEASE.retryPeriod} (leaseDuration/renewDeadline/retryPeriod)`, [
        row('SIGTERM → standby leads', term.times, BUDGET_MS.sigterm, LEASE_MS.retryPeriod),
        row('kill -9 → standby leads', kill.times, BUDGET_MS.kill, LEASE_MS.leaseDuration),
        `leading → Socket Mode open (ms): p50 ${percentile([...term.socketMs, ...kill.socketMs], 50)}, max ${Math.max(...term.socketMs, ...kill.socketMs)} (budget 5000)`,
        `longest overlap of two Socket Mode connections: ${world.slack.longestSocketOverlapMs()} ms (budget 2000)`,
      ]);
      expect(world.slack.longestSocketOverlapMs()).toBeLessThanOrEqual(2_000);
    } finally {
      await world.close();
    }
  }, 900_000);

  it('observation → chat.postMessage, PostgreSQL vs SQLite, 200 observations one at a time', async () => {
    const postgres = await startPostgres();
    try {
      const sqlite = await observationToPost(join(mkdtempSync(join(tmpdir(), 'dw-bench-failover-')), 'db.sqlite'));
      const pg = await observationToPost(await postgres.createDatabase());
      const line = (label: string, values: number[]) => `${label.padEnd(12)} n=${values.length}  p50 ${percentile(values, 50)} ms  p99 ${percentile(values, 99)} ms  max ${Math.max(...values)} ms`;
      report('Observation (sink.check opening an incident) → chat.postMessage received by the fake Slack', [
        line('SQLite', sqlite),
        line('PostgreSQL', pg),
        `p99 PostgreSQL / SQLite: ${(percentile(pg, 99) / Math.max(1, percentile(sqlite, 99))).toFixed(2)}`,
      ]);
    } finally {
      await postgres.stop();
    }
  }, 300_000);
});

const BOT = 'xoxb-1111-2222-bench-failover-token';
const APP = 'xapp-1-A0TEST-3333-bench-failover-app';

/** The in-process Runtime and poster against the fake Slack on `location` (a SQLite path or a PostgreSQL URL). */
async function observationToPost(location: string): Promise<number[]> {
  const fake: FakeSlack = await startFakeSlack({ botToken: BOT, appToken: APP });
  const store = location.startsWith('postgres') ? { url: location } : { path: location };
  const runtime = new Runtime(parseConfig({ slack: { channel: 'C0BENCH' }, store, alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1, storm: { incidents: 1_000_000, within: '5m' } } }), {
    log: createLogger({ level: 'silent' }),
  });
  const { client } = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
  runtime.startDelivery(new SlackService(client));
  const sink = runtime.sink();
  const latencies: number[] = [];
  try {
    for (let index = 0; index < 220; index++) {
      const from = fake.calls.length;
      const at = Date.now();
      sink.check({ subject: `endpoint:bench-${index}`, problem: 'endpoint_stale', ok: false, summary: `serves no version header (bench ${index})` });
      const call = await waitFor(() => fake.calls.slice(from).find((candidate: ApiCall) => candidate.method === 'chat.postMessage' && !candidate.fault), { intervalMs: 1, what: `root ${index}` });
      // The first 20 warm the JIT and the connection pool.
      if (index >= 20) latencies.push(call.at - at);
    }
  } finally {
    await runtime.stop(1000);
    await fake.close();
  }
  return latencies;
}
