/**
 * The Lease elector, on a manual clock: an in-memory Lease store with the apiserver's rules
 * (resourceVersion preconditions, 409 on create-exists and on a stale replace, MicroTime with
 * exactly six fractional digits) behind one client per replica, each of which can be cut off.
 * test/ha-elector-apiserver.test.ts runs the same scenarios through the real client-node against
 * the fake apiserver.
 */
import type { V1Lease } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseElector, type LeaseApi } from '../src/ha/elector.js';
import { leaseMetrics } from '../src/ha/metrics.js';
import { leaderCheck } from '../src/ha/readiness.js';
import { leaseRejection } from '../src/sandbox/leases.js';
import { pino } from 'pino';

const NAMESPACE = 'driftwatch';
const NAME = 'driftwatch-leader';
const LEASE_MS = 15_000;
const RENEW_MS = 10_000;
const RETRY_MS = 2_000;

interface Stored {
  resourceVersion: number;
  body: Record<string, unknown>;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`HTTP-Code: ${code}`);
    (this as unknown as { body: string }).body = JSON.stringify({ kind: 'Status', code, message });
  }
}

/** One Lease and the apiserver's rules for it; `client()` is one replica's view, which can be cut off. */
class LeaseStore {
  stored: Stored | undefined;
  private nextVersion = 1;
  writes: Array<{ client: string; verb: string; spec: Record<string, unknown> }> = [];

  lease(): { spec: Record<string, unknown>; resourceVersion: number } | undefined {
    return this.stored && { spec: this.stored.body.spec as Record<string, unknown>, resourceVersion: this.stored.resourceVersion };
  }

  /** What a client-node call sends: the JSON of the body (V1MicroTime serializes itself). */
  private accept(client: string, verb: string, body: V1Lease): Record<string, unknown> {
    const json = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
    const rejection = leaseRejection(json as never);
    if (rejection) throw new ApiError(rejection.code, rejection.message);
    this.writes.push({ client, verb, spec: json.spec as Record<string, unknown> });
    return json;
  }

  private answer(): V1Lease {
    const body = structuredClone(this.stored!.body) as V1Lease;
    body.metadata = { ...body.metadata, resourceVersion: String(this.stored!.resourceVersion) };
    return body;
  }

  client(name: string): LeaseApi & { mode: 'ok' | 'hang' | 'refuse' } {
    const store = this;
    const gate = <T>(api: { mode: string }, work: () => T): Promise<T> => {
      if (api.mode === 'hang') return new Promise<T>(() => undefined);
      if (api.mode === 'refuse') return Promise.reject(Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:6443`), { code: 'ECONNREFUSED' }));
      return Promise.resolve().then(work);
    };
    const api = {
      mode: 'ok' as 'ok' | 'hang' | 'refuse',
      readNamespacedLease: () =>
        gate(api, () => {
          if (!store.stored) throw new ApiError(404, `leases.coordination.k8s.io "${NAME}" not found`);
          return store.answer();
        }),
      createNamespacedLease: ({ body }: { body: V1Lease }) =>
        gate(api, () => {
          if (store.stored) throw new ApiError(409, `leases.coordination.k8s.io "${NAME}" already exists`);
          const json = store.accept(name, 'create', body);
          store.stored = { resourceVersion: store.nextVersion++, body: json };
          return store.answer();
        }),
      replaceNamespacedLease: ({ body }: { body: V1Lease }) =>
        gate(api, () => {
          if (!store.stored) throw new ApiError(404, 'not found');
          if (body.metadata?.resourceVersion !== String(store.stored.resourceVersion)) {
            throw new ApiError(409, `Operation cannot be fulfilled on leases.coordination.k8s.io "${NAME}": the object has been modified; please apply your changes to the latest version and try again`);
          }
          const json = store.accept(name, 'update', body);
          store.stored = { resourceVersion: store.nextVersion++, body: json };
          return store.answer();
        }),
    };
    return api;
  }

  /** Another program holding the Lease: writes it as `holder`, renewed at `renewTime`. */
  foreign(holder: string, renewTime: string, transitions = 7): void {
    this.stored = {
      resourceVersion: this.nextVersion++,
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: NAME, namespace: NAMESPACE }, spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: renewTime, renewTime, leaseTransitions: transitions } },
    };
  }
}

function elector(store: LeaseStore, identity: string, registry?: Registry) {
  const api = store.client(identity);
  const events: string[] = [];
  const logged: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logged.push((JSON.parse(line) as { msg: string }).msg) });
  const instance = new LeaseElector({
    api,
    namespace: NAMESPACE,
    name: NAME,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_MS,
    retryPeriodMs: RETRY_MS,
    clock: { now: () => Date.now() },
    random: () => 0.5,
    log,
    ...(registry ? { metrics: leaseMetrics(registry) } : {}),
  });
  instance.on('startedLeading', (term) => events.push(`started ${term}`));
  instance.on('stoppedLeading', (reason) => events.push(`stopped: ${reason}`));
  return { elector: instance, api, events, logged };
}

/** Advances the clock in small steps, checking the invariant at every step; returns ms until `until` held. */
async function run(ms: number, electors: LeaseElector[], until?: () => boolean): Promise<number> {
  const step = 100;
  for (let elapsed = 0; elapsed <= ms; elapsed += step) {
    const leaders = electors.filter((e) => e.isLeader());
    expect(leaders.length, 'never two leaders').toBeLessThanOrEqual(1);
    if (until?.()) return elapsed;
    await vi.advanceTimersByTimeAsync(step);
  }
  if (until) throw new Error(`condition not met within ${ms} ms`);
  return ms;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.UTC(2026, 10, 30, 12, 0, 0) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LeaseElector', () => {
  it('elects one of two replicas, writes MicroTime with six fractional digits, and the other waits', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    const b = elector(store, 'pod-b');
    a.elector.start();
    b.elector.start();
    await run(60_000, [a.elector, b.elector]);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    expect(a.events).toEqual(['started 0']);
    expect(b.events).toEqual([]);
    const { spec } = store.lease()!;
    expect(spec).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(spec.acquireTime).toBe('2026-11-30T12:00:00.000000Z');
    // the leader renews every retryPeriod and keeps its acquireTime
    expect(Date.parse(spec.renewTime as string)).toBeGreaterThan(Date.now() - RETRY_MS - 1);
    expect(store.writes.filter((w) => w.client === 'pod-b')).toEqual([]);
    expect(a.elector.status()).toEqual({ role: 'leader', identity: 'pod-a', term: 0, holder: 'pod-a', lastError: undefined });
    expect(b.elector.status()).toEqual({ role: 'standby', identity: 'pod-b', term: undefined, holder: 'pod-a', lastError: undefined });
    // /readyz: both ready, each body says its role
    expect(leaderCheck(a.elector.status())).toEqual({ ok: true, detail: 'leader (term 0, as pod-a)' });
    expect(leaderCheck(b.elector.status())).toEqual({ ok: true, detail: 'standby (pod-a leads)' });
  });

  it('a create race is lost with a 409, logged with context, and the loser becomes a standby', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    const b = elector(store, 'pod-b');
    // pod-b read before pod-a's create landed: its own create then meets the Lease
    const read = b.api.readNamespacedLease.bind(b.api);
    let first = true;
    b.api.readNamespacedLease = (param) => (first ? ((first = false), Promise.reject(new ApiError(404, 'not found'))) : read(param));
    a.elector.start();
    await run(1_000, [a.elector], () => a.elector.isLeader());
    b.elector.start();
    await run(5_000, [a.elector, b.elector]);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([true, false]);
    expect(b.elector.status()).toMatchObject({ role: 'standby', holder: 'pod-a' });
    expect(b.logged).toContain('lease driftwatch/driftwatch-leader: 409 on create: leases.coordination.k8s.io "driftwatch-leader" already exists');
  });

  it("release hands over within retryPeriod, and leaseTransitions counts each change of holder as the new leader's term", async () => {
    const store = new LeaseStore();
    const registry = new Registry();
    const a = elector(store, 'pod-a', registry);
    const b = elector(store, 'pod-b');
    a.elector.start();
    await run(1_000, [a.elector], () => a.elector.isLeader());
    b.elector.start();
    await run(10_000, [a.elector, b.elector]);
    expect((await registry.getSingleMetric('driftwatch_leader')!.get()).values[0]!.value).toBe(1);

    await a.elector.release();
    expect(a.events).toEqual(['started 0', 'stopped: released']);
    expect(store.lease()!.spec).toMatchObject({ leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(store.lease()!.spec.holderIdentity).toBeUndefined();
    const handover = await run(10_000, [a.elector, b.elector], () => b.elector.isLeader());
    expect(handover).toBeLessThanOrEqual(RETRY_MS * 1.25 + 100);
    expect(b.elector.term()).toBe(1);
    expect(store.lease()!.spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1, leaseDurationSeconds: 15 });
    expect((await registry.getSingleMetric('driftwatch_leader')!.get()).values[0]!.value).toBe(0);

    // a comes back as a standby and gets the next term when b releases
    a.elector.start();
    await run(10_000, [a.elector, b.elector]);
    expect(a.elector.isLeader()).toBe(false);
    await b.elector.release();
    await run(10_000, [a.elector, b.elector], () => a.elector.isLeader());
    expect(a.elector.term()).toBe(2);
    expect(store.lease()!.spec).toMatchObject({ holderIdentity: 'pod-a', leaseTransitions: 2 });
    expect(a.events).toEqual(['started 0', 'stopped: released', 'started 2']);
    // pod-a saw three: its own create, pod-b holding it when it came back, its own takeover
    expect((await registry.getSingleMetric('driftwatch_lease_transitions_total')!.get()).values[0]!.value).toBe(3);
  });

  it('a leader cut off from the apiserver stops within renewDeadline; the standby takes over only after the lease expired', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    const b = elector(store, 'pod-b');
    a.elector.start();
    await run(1_000, [a.elector], () => a.elector.isLeader());
    b.elector.start();
    await run(5_000, [a.elector, b.elector]);
    const lastRenew = Date.parse(store.lease()!.spec.renewTime as string);
    a.api.mode = 'hang';
    const cut = Date.now();
    await run(RENEW_MS + 1_000, [a.elector, b.elector], () => !a.elector.isLeader());
    expect(Date.now() - lastRenew).toBeLessThanOrEqual(RENEW_MS + 100);
    expect(a.events.at(-1)).toBe(`stopped: no renew within renewDeadline (${RENEW_MS} ms)`);
    expect(b.elector.isLeader()).toBe(false);
    await run(LEASE_MS + 5_000, [a.elector, b.elector], () => b.elector.isLeader());
    expect(Date.now() - cut).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS);
    expect(b.elector.term()).toBe(1);
    // back on the network, the ex-leader sees the new holder and stays a standby
    a.api.mode = 'ok';
    await run(30_000, [a.elector, b.elector]);
    expect(a.elector.isLeader()).toBe(false);
    expect(b.elector.isLeader()).toBe(true);
  });

  it('when no replica reaches the apiserver nobody leads, and each says why', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    const b = elector(store, 'pod-b');
    a.elector.start();
    b.elector.start();
    await run(5_000, [a.elector, b.elector]);
    a.api.mode = 'refuse';
    b.api.mode = 'hang';
    await run(RENEW_MS + 100, [a.elector, b.elector], () => !a.elector.isLeader() && !b.elector.isLeader());
    await run(60_000, [a.elector, b.elector]);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([false, false]);
    expect(a.elector.status().lastError).toBe('lease driftwatch/driftwatch-leader: unreachable on get: connect ECONNREFUSED 127.0.0.1:6443');
    expect(b.elector.status().lastError).toBe(`lease driftwatch/driftwatch-leader: no answer within ${RENEW_MS} ms`);
    expect(leaderCheck(a.elector.status())).toEqual({ ok: false, detail: 'standby: lease driftwatch/driftwatch-leader: unreachable on get: connect ECONNREFUSED 127.0.0.1:6443' });
    a.api.mode = 'ok';
    b.api.mode = 'ok';
    await run(LEASE_MS + 5_000, [a.elector, b.elector], () => a.elector.isLeader() || b.elector.isLeader());
  });

  it('never overrides a foreign holder that keeps renewing, whatever its clock says; takes over once it stops', async () => {
    const store = new LeaseStore();
    // the foreign holder's clock is an hour behind: its renewTime always looks long expired
    const skewed = () => new Date(Date.now() - 3_600_000).toISOString().replace('Z', '000Z');
    store.foreign('someone-else', skewed());
    const a = elector(store, 'pod-a');
    a.elector.start();
    for (let i = 0; i < 60; i++) {
      await run(2_000, [a.elector]);
      store.foreign('someone-else', skewed());
      expect(a.elector.isLeader()).toBe(false);
    }
    expect(store.writes).toEqual([]);
    expect(a.elector.status().holder).toBe('someone-else');
    // it stops renewing: the lease expires by our clock, leaseDurationSeconds after we last saw it change
    const lastChange = Date.now();
    await run(LEASE_MS + 5_000, [a.elector], () => a.elector.isLeader());
    expect(Date.now() - lastChange).toBeGreaterThanOrEqual(LEASE_MS);
    expect(a.elector.term()).toBe(8);
  });

  it('a paused leader that wakes up after its lease was taken does not lead again', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    a.elector.start();
    await run(1_000, [a.elector], () => a.elector.isLeader());
    // someone took the lease while pod-a's renews failed; pod-a's next renew finds it held
    a.api.mode = 'refuse';
    await run(3_000, [a.elector]);
    store.foreign('pod-b', new Date().toISOString().replace('Z', '000Z'), 1);
    a.api.mode = 'ok';
    await run(3_000, [a.elector], () => !a.elector.isLeader());
    expect(a.events.at(-1)).toBe('stopped: the lease is held by pod-b');
  });

  it('a paused leader whose renewDeadline passed is no leader the moment it wakes, before any timer runs', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    a.elector.start();
    await run(1_000, [a.elector], () => a.elector.isLeader());
    const renewedAt = Date.parse(store.lease()!.spec.renewTime as string);
    vi.setSystemTime(renewedAt + RENEW_MS); // the clock moved on; no timer has fired yet
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.term()).toBeUndefined();
    expect(a.elector.status().role).toBe('standby');
  });

  it('release on a black-holed apiserver gives up after renewDeadline, leaving the lease to expire', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    a.elector.start();
    await run(1_000, [a.elector], () => a.elector.isLeader());
    a.api.mode = 'hang';
    let released = false;
    const release = a.elector.release().then(() => (released = true));
    expect(a.elector.isLeader()).toBe(false);
    await vi.advanceTimersByTimeAsync(RENEW_MS);
    await release;
    expect(released).toBe(true);
    expect(a.logged.at(-1)).toBe(`lease driftwatch/driftwatch-leader: no answer within ${RENEW_MS} ms on release; a standby takes over when the lease expires`);
    expect(store.lease()!.spec.holderIdentity).toBe('pod-a');
  });

  it('two replicas sharing one identity never both lead: the second backs off and names ha.identity', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'my-pod-0');
    const b = elector(store, 'my-pod-0');
    a.elector.start();
    await run(1_000, [a.elector], () => a.elector.isLeader());
    b.elector.start();
    await run(60_000, [a.elector, b.elector]);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([true, false]);
    expect(a.events).toEqual(['started 0']);
    expect(b.events).toEqual([]);
    expect(b.elector.status().lastError).toMatch(/ha\.identity must be unique/);
    expect(b.logged.some((line) => line.includes('under our identity "my-pod-0"') && line.includes('ha.identity'))).toBe(true);
    expect(store.writes.filter((w) => w.client === 'my-pod-0').length).toBeGreaterThan(0);
    expect(store.lease()!.spec.leaseTransitions).toBe(0);

    // the leader is cut off, the twin takes over after expiry; back online, the first one sees a
    // record under its name it did not write and stays a standby instead of adopting the term
    a.api.mode = 'hang';
    await run(LEASE_MS + 10_000, [a.elector, b.elector], () => b.elector.isLeader());
    expect(b.elector.term()).toBe(1);
    a.api.mode = 'ok';
    await run(30_000, [a.elector, b.elector]);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([false, true]);
    expect(b.events).toEqual(['started 1']);
    expect(a.elector.status().lastError).toMatch(/ha\.identity must be unique/);
  });

  it('every API failure is logged with context and is a failed attempt, never a crash', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'pod-a');
    a.api.readNamespacedLease = () => Promise.reject(new ApiError(500, 'etcdserver: request timed out'));
    a.elector.start();
    await run(5_000, [a.elector]);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.logged).toContain('lease driftwatch/driftwatch-leader: 500 on get: etcdserver: request timed out');
  });
});
