import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { ConfigHubClient } from '../src/clients/confighub.js';
import { ConfigHubWatcher, describeBridgeWorker } from '../src/watchers/confighub.js';
import { NEVER_SEEN, startFakeConfigHub, type FakeConfigHub } from './support/fake-confighub.js';
import { RecordingService } from './support/recording-service.js';

const TOKEN = 'ch_watchertesttoken0123';
const quiet = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(hub: FakeConfigHub, token = TOKEN) {
  const config = parseConfig({
    slack: { channel: 'C0ALERTS' },
    store: { path: join(mkdtempSync(join(tmpdir(), 'dw-ch-')), 'db.sqlite') },
    clusters: [{ name: 'prod' }],
    confighub: { url: hub.url },
    workers: [
      { name: 'billing-worker', cluster: 'prod', space: 'payments' },
      { name: 'search-worker', cluster: 'prod', space: 'payments' },
      { name: 'orphan-worker', cluster: 'prod', space: 'gone-space' },
    ],
  });
  const runtime = new Runtime(config, { clock: new ManualClock(Date.UTC(2026, 10, 24, 3, 0, 0)), log: quiet });
  cleanups.push(() => runtime.stop(0));
  const watcher = new ConfigHubWatcher({ config, sink: runtime.sink(), client: new ConfigHubClient({ url: hub.url, token }), log: quiet });
  const service = new RecordingService();
  const deliver = async () => {
    await runtime.startDelivery(service).drain(2000);
  };
  return { runtime, watcher, service, deliver };
}

describe('ConfigHubWatcher against the fake ConfigHub', () => {
  it('reports each worker from its condition; a missing space is its workers’ problem, not ConfigHub’s', async () => {
    const hub = await startFakeConfigHub({ token: TOKEN });
    cleanups.push(() => hub.close());
    hub.addSpace('payments');
    hub.addWorker('payments', 'billing-worker', { condition: 'Disconnected', lastSeenAt: NEVER_SEEN });
    hub.addWorker('payments', 'search-worker', { condition: 'Ready', lastSeenAt: new Date(Date.UTC(2026, 10, 24, 2, 59, 45)).toISOString() });
    const { runtime, watcher } = await harness(hub);
    await watcher.poll();
    await watcher.poll();
    const open = runtime.store.incidents.openIncidents().map((incident) => [incident.primarySubject, runtime.store.incidents.problemsOfIncident(incident.id)[0]!.summary]);
    expect(open).toEqual([
      ['worker:billing-worker', 'ConfigHub: Disconnected, created, never seen'],
      ['worker:orphan-worker', 'ConfigHub: space gone-space not found'],
    ]);
    expect(runtime.store.incidents.problem('confighub', 'confighub_unreachable')?.state).toBe('ok');
    // Only the fields we need travel: never the worker's Secret.
    expect(hub.requests().filter((request) => request.path.includes('bridge_worker')).every((request) => !JSON.stringify(request.body ?? '').includes('Secret'))).toBe(true);
  });

  it('a refused token or an outage is one ConfigHub problem, never a flood of worker alerts', async () => {
    const hub = await startFakeConfigHub({ token: TOKEN });
    cleanups.push(() => hub.close());
    hub.addSpace('payments');
    hub.addWorker('payments', 'billing-worker', { condition: 'Ready', lastSeenAt: new Date().toISOString() });
    const { runtime, watcher, service, deliver } = await harness(hub, 'ch_wrongtoken0000000');
    await watcher.poll();
    await watcher.poll();
    hub.failWith(503);
    await watcher.poll();
    await deliver();
    const roots = service.roots().map((root) => root.text.split('\n')[0]);
    expect(roots).toEqual(['#1 ConfigHub: ConfigHub unreachable']);
    expect(service.roots()[0]!.text).toContain('401');
    expect(service.roots()[0]!.text).toContain('check CONFIGHUB_TOKEN');
    expect(service.posted.map((message) => message.text).join('\n')).not.toContain('ch_wrongtoken0000000');
    expect(runtime.store.incidents.problemsOfSubject('worker:billing-worker')).toEqual([]);
  });

  it('says never seen, last seen and the last message in words', () => {
    const now = Date.UTC(2026, 10, 24, 3, 0, 0);
    expect(describeBridgeWorker({ id: 'x', slug: 'w', spaceId: 's', condition: 'Unresponsive', lastSeenAt: new Date(now - 125_000).toISOString(), lastMessage: 'heartbeat missed' }, 'payments', now)).toEqual({ ok: false, summary: 'ConfigHub: Unresponsive, last seen 2m 5s ago — heartbeat missed' });
    expect(describeBridgeWorker(undefined, 'payments', now)).toEqual({ ok: false, summary: 'ConfigHub: not registered in space payments' });
  });
});
