import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { RecordingService } from './support/recording-service.js';
import { subjectOf } from '../src/domain/subjects.js';

const quiet = createLogger({ level: 'silent' });
const runtimes: Runtime[] = [];

function start(dbPath: string, clock: ManualClock, alerting: Record<string, unknown> = {}) {
  const runtime = new Runtime(parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path: dbPath }, alerting }), { clock, log: quiet });
  runtimes.push(runtime);
  return runtime;
}

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop(0).catch(() => {});
});

const crash = (detail = 'CrashLoopBackOff, 4 restarts') => ({ subject: 'worker:cost-optimizer-worker', problem: 'worker_pods_failing' as const, ok: false, summary: detail });
const healthy = { subject: 'worker:cost-optimizer-worker', problem: 'worker_pods_failing' as const, ok: true, summary: 'all pods Ready' };

describe('incident engine', () => {
  it('alerts after failuresBeforeAlert, threads notices, resolves after recoveriesBeforeResolve', async () => {
    const clock = new ManualClock();
    const runtime = start(join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite'), clock);
    const service = new RecordingService();
    const { engine } = runtime;
    runtime.store.subjects.setLinks('worker:cost-optimizer-worker', 'test', ['image:ghcr.io/confighubai/confighub-worker:latest']);

    expect(engine.check(crash())).toBe('pending');
    clock.advance(30_000);
    expect(engine.check(crash())).toBe('opened');
    clock.advance(30_000);
    engine.notice({ subject: 'image:ghcr.io/confighubai/confighub-worker:latest', kind: 'tag_moved', summary: 'tag moved again', data: { from: 'sha256:aa', to: 'sha256:bb' } });
    expect(engine.check(crash('CrashLoopBackOff, 6 restarts'))).toBe('changed');
    clock.advance(60_000);
    expect(engine.check(healthy)).toBe('recovering');
    clock.advance(60_000);
    expect(engine.check(healthy)).toBe('resolved');

    const poster = runtime.startDelivery(service);
    await poster.drain(2000);
    const roots = service.roots();
    expect(roots).toHaveLength(1);
    expect(roots[0]!.text).toContain('#1 worker cost-optimizer-worker: worker pods failing');
    const thread = service.thread(roots[0]!.ts).map((message) => message.text);
    expect(thread[0]).toContain('tag moved again');
    expect(thread.at(-1)).toContain('Resolved after 3m');
    expect(service.current(roots[0]!)).toMatch(/^Resolved: #1/);
    expect(service.current(roots[0]!)).toContain('6 restarts');
  });

  it('a single bad observation followed by a good one never alerts, and its held notice goes out alone', async () => {
    const clock = new ManualClock();
    const runtime = start(join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite'), clock);
    const { engine } = runtime;
    engine.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: false, summary: 'no X-Relay-Version header' });
    engine.notice({ subject: 'endpoint:relay-dfw1', kind: 'version_changed', summary: 'relay-dfw1 now serves no version' });
    expect(runtime.store.outbox.depth()).toBe(0);
    engine.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: true, summary: 'serves 0.2.0' });
    const service = new RecordingService();
    await runtime.startDelivery(service).drain(2000);
    expect(service.posted.map((message) => message.text)).toEqual(['relay-dfw1 now serves no version']);
  });

  it('a notice during a pending stale streak goes into the incident thread, not a second root', async () => {
    const clock = new ManualClock();
    const runtime = start(join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite'), clock);
    const { engine } = runtime;
    engine.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: false, summary: 'no version header' });
    engine.notice({ subject: 'endpoint:relay-dfw1', kind: 'version_changed', summary: 'relay-dfw1 now serves no version' });
    clock.advance(30_000);
    engine.check({ subject: 'endpoint:relay-dfw1', problem: 'endpoint_stale', ok: false, summary: 'no version header' });
    const service = new RecordingService();
    await runtime.startDelivery(service).drain(2000);
    expect(service.roots()).toHaveLength(1);
    expect(service.thread(service.roots()[0]!.ts).map((message) => message.text)).toEqual(['relay-dfw1 now serves no version']);
  });

  it('links are one hop: a problem joins the incident of a linked subject, never through a chain', async () => {
    const clock = new ManualClock();
    const runtime = start(join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite'), clock, { failuresBeforeAlert: 1 });
    const { engine, store } = runtime;
    store.subjects.setLinks('endpoint:a', 'config', ['workload:prod/relay/DaemonSet/relay', 'service:relay']);
    store.subjects.setLinks('endpoint:b', 'config', ['service:relay']);
    engine.check({ subject: 'workload:prod/relay/DaemonSet/relay', problem: 'workload_failing', ok: false, summary: 'CrashLoopBackOff' });
    engine.check({ subject: 'endpoint:a', problem: 'endpoint_down', ok: false, summary: 'refused' });
    // endpoint:b shares only the service with endpoint:a: workload → a → service → b would be a chain.
    engine.check({ subject: 'endpoint:b', problem: 'endpoint_down', ok: false, summary: 'refused' });
    const open = store.incidents.openIncidents();
    expect(open.map((incident) => incident.primarySubject)).toEqual(['workload:prod/relay/DaemonSet/relay', 'endpoint:b']);
    expect(store.incidents.problem('endpoint:a', 'endpoint_down')!.incidentId).toBe(open[0]!.id);
  });

  it('a problem that returns within reopenWithin reopens the same incident and thread', async () => {
    const clock = new ManualClock();
    const runtime = start(join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite'), clock);
    const { engine } = runtime;
    const service = new RecordingService();
    runtime.startDelivery(service);
    engine.check(crash());
    engine.check(crash());
    engine.check(healthy);
    engine.check(healthy);
    clock.advance(10 * 60_000);
    engine.check(crash());
    engine.check(crash());
    expect(runtime.store.incidents.openIncidents().map((incident) => incident.id)).toEqual([1]);
    clock.advance(10 * 60_000);
    engine.check(healthy);
    engine.check(healthy);
    clock.advance(31 * 60_000);
    engine.check(crash());
    engine.check(crash());
    expect(runtime.store.incidents.openIncidents().map((incident) => incident.id)).toEqual([2]);
    await runtime.stop(2000);
    runtimes.pop();
    const roots = service.roots();
    expect(roots).toHaveLength(2);
    const firstThread = service.thread(roots[0]!.ts).map((message) => message.text);
    expect(firstThread.filter((text) => text.startsWith('Reopened'))).toHaveLength(1);
    expect(firstThread.filter((text) => text.includes('Resolved after'))).toHaveLength(2);
  });
  it('one image however it is written: a tag move seen under the config spelling correlates with pods that write it short', async () => {
    const clock = new ManualClock();
    const runtime = start(join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite'), clock, { failuresBeforeAlert: 1 });
    const sink = runtime.sink();
    const before = `sha256:${'a'.repeat(64)}`;
    const after = `sha256:${'b'.repeat(64)}`;
    // The pod spec says `traderx/reference-data:v1`; the config lists `docker.io/traderx/reference-data:v1`.
    sink.running('workload:prod/traderx/Deployment/reference-data', [{ pod: 'p1', container: 'app', image: 'traderx/reference-data:v1', digest: before, ready: true }]);
    sink.tagDigest('docker.io/traderx/reference-data:v1', before, {});
    clock.advance(60_000);
    sink.tagDigest('docker.io/traderx/reference-data:v1', after, {});
    sink.notice({ subject: subjectOf.image('docker.io/traderx/reference-data:v1'), kind: 'tag_moved', summary: 'moved', data: { from: before, to: after } });
    clock.advance(60_000);
    sink.check({ subject: 'workload:prod/traderx/Deployment/reference-data', problem: 'workload_failing', ok: false, summary: 'CrashLoopBackOff' });
    const incident = runtime.store.incidents.openIncidents()[0]!;
    expect(incident.correlation?.tagMove).toMatchObject({ from: before, to: after });
    expect(incident.correlation?.lastGood).toMatchObject({ digest: before, source: 'registry history' });
  });
  it('reopens the same incident and thread after a restart on the same database', async () => {
    const clock = new ManualClock();
    const dbPath = join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite');
    const service = new RecordingService();
    const first = start(dbPath, clock);
    first.startDelivery(service);
    for (const observation of [crash(), crash(), healthy, healthy]) first.engine.check(observation);
    await first.stop(2000);
    runtimes.splice(runtimes.indexOf(first), 1);
    clock.advance(5 * 60_000);
    const second = start(dbPath, clock);
    second.startDelivery(service);
    second.engine.check(crash('CrashLoopBackOff, 9 restarts'));
    second.engine.check(crash('CrashLoopBackOff, 9 restarts'));
    expect(second.store.incidents.openIncidents().map((incident) => incident.id)).toEqual([1]);
    await second.stop(2000);
    runtimes.splice(runtimes.indexOf(second), 1);
    expect(service.roots()).toHaveLength(1);
    expect(service.thread(service.roots()[0]!.ts).map((message) => message.text)).toContain('Reopened: worker pods failing — CrashLoopBackOff, 9 restarts');
  });
});

describe('a storm member that reopens after the storm ended', () => {
  const crashOf = (name: string) => ({ subject: `worker:${name}`, problem: 'worker_pods_failing' as const, ok: false, summary: `${name}: CrashLoopBackOff` });
  const healthyOf = (name: string) => ({ subject: `worker:${name}`, problem: 'worker_pods_failing' as const, ok: true, summary: 'all pods Ready' });

  it('leaves the closed storm: its own root is edited, or posted when it had none, and the "Reopened" reply goes there', async () => {
    const clock = new ManualClock();
    const runtime = start(join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite'), clock, { storm: { incidents: 2, within: '5m' } });
    const { engine } = runtime;
    const service = new RecordingService();
    const poster = runtime.startDelivery(service);
    // a and b open on their own; c makes it a storm (a and b join it, c opens inside it, no root of its own)
    for (const name of ['a', 'b', 'c']) {
      engine.check(crashOf(name));
      engine.check(crashOf(name));
    }
    const storm = runtime.store.incidents.openIncidents().find((incident) => incident.primarySubject === 'storm')!;
    expect(storm).toBeDefined();
    const idOf = (name: string) => runtime.store.incidents.problem(`worker:${name}`, 'worker_pods_failing')!.incidentId!;
    expect(runtime.store.incidents.incident(idOf('c'))!.stormId).toBe(storm.id);
    for (const name of ['a', 'b', 'c']) {
      engine.check(healthyOf(name));
      engine.check(healthyOf(name));
    }
    expect(runtime.store.incidents.incident(storm.id)!.status).toBe('resolved');
    await poster.drain(2000);
    const stormRoot = service.roots().find((message) => message.text.includes('Alert storm'))!;
    expect(stormRoot).toBeDefined();
    const stormReplies = service.thread(stormRoot.ts).length;

    clock.advance(10 * 60_000);
    for (const name of ['a', 'c']) {
      engine.check(crashOf(name));
      engine.check(crashOf(name));
    }
    expect(runtime.store.incidents.incident(idOf('a'))).toMatchObject({ status: 'open', stormId: null });
    expect(runtime.store.incidents.incident(idOf('c'))).toMatchObject({ status: 'open', stormId: null });
    await poster.drain(2000);

    // nothing new in the closed storm's thread
    expect(service.thread(stormRoot.ts)).toHaveLength(stormReplies);
    // a had its own root: edited to open again, the reply in its thread
    const rootA = service.roots().find((message) => message.key === `inc-${idOf('a')}-root`)!;
    expect(service.current(rootA)).toMatch(/^#\d+/);
    expect(service.current(rootA)).not.toMatch(/^Resolved/);
    expect(service.thread(rootA.ts).map((message) => message.text)).toContain('Reopened: worker pods failing — a: CrashLoopBackOff');
    // c never had one: it gets its own root now, and the reply there
    const rootC = service.roots().find((message) => message.key === `inc-${idOf('c')}-root`)!;
    expect(rootC).toBeDefined();
    expect(service.current(rootC)).toContain('c: CrashLoopBackOff');
    expect(service.thread(rootC.ts).map((message) => message.text)).toEqual(['Reopened: worker pods failing — c: CrashLoopBackOff']);
  });
});

describe('storm digests across a failover', () => {
  const crashOf = (name: string) => ({ subject: `worker:${name}`, problem: 'worker_pods_failing' as const, ok: false, summary: `${name}: CrashLoopBackOff` });

  it('a new leader goes on from the last digest the old one posted, not with a full digest at once', async () => {
    const clock = new ManualClock();
    const dbPath = join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite');
    const service = new RecordingService();
    const open = (engine: Runtime['engine'], name: string) => {
      engine.check(crashOf(name));
      engine.check(crashOf(name));
    };
    const old = start(dbPath, clock, { storm: { incidents: 2, within: '5m' } });
    old.startDelivery(service);
    for (const name of ['a', 'b', 'c']) open(old.engine, name);
    clock.advance(40_000);
    open(old.engine, 'd'); // a digest: c and d joined since the storm root (which listed a and b)
    clock.advance(10_000);
    await old.stop(2000);
    runtimes.splice(runtimes.indexOf(old), 1);

    // the new leader, 10 s after the old one's digest
    const next = start(dbPath, clock, { storm: { incidents: 2, within: '5m' } });
    const poster = next.startDelivery(service);
    open(next.engine, 'e');
    clock.advance(25_000);
    open(next.engine, 'f'); // 35 s after the last digest: e and f
    await poster.drain(2000);
    const stormRoot = service.roots().find((message) => message.text.includes('Alert storm'))!;
    const digests = service.thread(stormRoot.ts).map((message) => message.text).filter((text) => text.includes('joined since'));
    expect(digests).toHaveLength(2);
    expect(digests[0]).toMatch(/^2 joined since/);
    // not "5 joined" at e: the new leader knew the old one's last digest
    expect(digests[1]).toMatch(/^2 joined since/);
  });
});
