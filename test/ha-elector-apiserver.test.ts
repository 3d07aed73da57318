/**
 * Two electors through the real client-node `CoordinationV1Api` against the fake apiserver's
 * Leases (resourceVersion preconditions, 409s, MicroTime validation), each replica with its own
 * token so faults can cut off one of them. Real time, short durations; every bound asserted is
 * the contract's (release: retryPeriod + 2 s; kill: leaseDuration + 5 s; renewDeadline).
 */
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { electorFor, type LeaseElector } from '../src/ha/index.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';

const NAMESPACE = 'driftwatch';
const NAME = 'driftwatch-leader';
const LEASE_MS = 2_000;
const RENEW_MS = 1_200;
const RETRY_MS = 300;

let apiserver: FakeApiserver;
const electors: LeaseElector[] = [];

beforeEach(async () => {
  apiserver = await startFakeApiserver();
});
afterEach(async () => {
  for (const elector of electors.splice(0)) await elector.release().catch(() => undefined);
  await apiserver.close();
});

function replica(identity: string) {
  apiserver.addClient(identity);
  const kc = new KubeConfig();
  kc.loadFromString(apiserver.kubeconfig('fake', identity));
  const registry = new Registry();
  const events: string[] = [];
  // built the way the runtime builds it: from the `ha` config, identity from POD_NAME
  const ha = { cluster: 'fake', namespace: NAMESPACE, lease: NAME, leaseDuration: LEASE_MS, renewDeadline: RENEW_MS, retryPeriod: RETRY_MS };
  const elector = electorFor(ha, kc, registry, { env: { POD_NAME: identity }, log: pino({ level: 'silent' }) });
  elector.on('startedLeading', (term) => events.push(`started ${term}`));
  elector.on('stoppedLeading', (reason) => events.push(`stopped: ${reason}`));
  electors.push(elector);
  const leaderGauge = async () => (await registry.getSingleMetric('driftwatch_leader')!.get()).values[0]!.value;
  return { elector, events, leaderGauge };
}

/** Samples both electors every few ms until `until` holds (or `ms` pass); fails on two leaders at once. Returns the ms it took. */
async function watch(all: LeaseElector[], ms: number, until?: () => boolean): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    expect(all.filter((e) => e.isLeader()).length, 'never two leaders').toBeLessThanOrEqual(1);
    if (until?.()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (until) throw new Error(`condition not met within ${ms} ms`);
  return ms;
}

/**
 * The new leader's term is above `previous` and is what the Lease says. (Not exactly previous + 1:
 * on a loaded machine an acquisition can take longer than these tests' 1.2 s renewDeadline, and
 * then the elector rightly drops it and takes the Lease again under a further term; the unit tests
 * pin the exact count on a manual clock.)
 */
function expectNewTerm(replica: { elector: LeaseElector; events: string[] }, previous: number): void {
  const term = replica.elector.term();
  expect(term, replica.events.join(', ')).toBeGreaterThan(previous);
  expect(storedLease()!.spec).toMatchObject({ holderIdentity: replica.elector.status().identity, leaseTransitions: term });
}

function storedLease() {
  return apiserver.get('Lease', NAMESPACE, NAME) as { metadata: { resourceVersion: string }; spec: Record<string, unknown> } | undefined;
}

describe('LeaseElector against the fake apiserver', () => {
  it('one of two replicas leads, and the Lease it writes is what a real apiserver accepts', async () => {
    const a = replica('pod-a');
    const b = replica('pod-b');
    a.elector.start();
    b.elector.start();
    await watch([a.elector, b.elector], 5_000, () => a.elector.isLeader() || b.elector.isLeader());
    await watch([a.elector, b.elector], 2 * LEASE_MS);
    const leader = a.elector.isLeader() ? 'pod-a' : 'pod-b';
    const spec = storedLease()!.spec;
    expect(spec).toMatchObject({ holderIdentity: leader, leaseDurationSeconds: 2, leaseTransitions: 0 });
    expect(spec.renewTime).toMatch(/\.\d{6}Z$/);
    expect(spec.acquireTime).toMatch(/\.\d{6}Z$/);
    expect(Date.now() - Date.parse(spec.renewTime as string)).toBeLessThan(RETRY_MS + 500);
    expect([await a.leaderGauge(), await b.leaderGauge()].sort()).toEqual([0, 1]);
    // what the fake would say to a plain Date (3 fractional digits), as a real apiserver does
    const kc = new KubeConfig();
    kc.loadFromString(apiserver.kubeconfig('fake'));
    const plain = await kc
      .makeApiClient(CoordinationV1Api)
      .replaceNamespacedLease({ name: NAME, namespace: NAMESPACE, body: { metadata: { name: NAME, namespace: NAMESPACE, resourceVersion: storedLease()!.metadata.resourceVersion }, spec: { ...spec, renewTime: new Date() as never } } })
      .catch((error: { code: number }) => error);
    expect((plain as { code: number }).code).toBe(400);
    const requests = apiserver.requests().filter((r) => r.path.includes('/leases'));
    expect(requests.some((r) => r.method === 'PUT' && r.client === leader)).toBe(true);
  });

  it('release on shutdown: the standby leads within retryPeriod + 2 s, under the next term', async () => {
    const a = replica('pod-a');
    a.elector.start();
    await watch([a.elector], 5_000, () => a.elector.isLeader());
    const b = replica('pod-b');
    b.elector.start();
    await watch([a.elector, b.elector], 1_000);
    const released = Date.now();
    await a.elector.release();
    expect(a.events).toEqual(['started 0', 'stopped: released']);
    await watch([a.elector, b.elector], RETRY_MS + 2_000 - (Date.now() - released), () => b.elector.isLeader());
    expectNewTerm(b, 0);
  });

  it('a leader cut off from the apiserver stops within renewDeadline; the other leads within leaseDuration + 5 s', async () => {
    const a = replica('pod-a');
    a.elector.start();
    await watch([a.elector], 5_000, () => a.elector.isLeader());
    const b = replica('pod-b');
    b.elector.start();
    await watch([a.elector, b.elector], 1_000);
    apiserver.setUnreachable('hang', { client: 'pod-a' });
    const cut = Date.now();
    const stopped = await watch([a.elector, b.elector], RENEW_MS + 1_000, () => !a.elector.isLeader());
    expect(stopped).toBeLessThanOrEqual(RENEW_MS + 100);
    // the stoppedLeading event (what stops the leader's work) follows on the deadline timer
    await watch([a.elector, b.elector], 1_000, () => a.events.length === 2);
    expect(a.events.at(-1)).toMatch(/^stopped: no renew within renewDeadline/);
    expect(await a.leaderGauge()).toBe(0);
    await watch([a.elector, b.elector], LEASE_MS + 5_000 - (Date.now() - cut), () => b.elector.isLeader());
    expectNewTerm(b, 0);
    // reachable again, pod-a finds pod-b holding the Lease and stays a standby
    apiserver.setUnreachable(false, { client: 'pod-a' });
    await watch([a.elector, b.elector], 2 * LEASE_MS);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.status()).toMatchObject({ role: 'standby', holder: 'pod-b' });
  });

  it('when neither replica reaches the apiserver, nobody leads and each says why', async () => {
    const a = replica('pod-a');
    const b = replica('pod-b');
    a.elector.start();
    await watch([a.elector], 5_000, () => a.elector.isLeader());
    b.elector.start();
    apiserver.setUnreachable('reset');
    await watch([a.elector, b.elector], RENEW_MS + 500, () => !a.elector.isLeader());
    await watch([a.elector, b.elector], 3 * LEASE_MS);
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([false, false]);
    expect([await a.leaderGauge(), await b.leaderGauge()]).toEqual([0, 0]);
    expect(a.elector.status().lastError).toMatch(/^lease driftwatch\/driftwatch-leader: unreachable on get/);
    expect(b.elector.status().lastError).toMatch(/^lease driftwatch\/driftwatch-leader: unreachable on get/);
    apiserver.setUnreachable(false);
    await watch([a.elector, b.elector], LEASE_MS + 5_000, () => a.elector.isLeader() || b.elector.isLeader());
  });

  it('a foreign holder that keeps renewing is never overridden', async () => {
    const renew = () => {
      const now = new Date().toISOString().replace('Z', '000Z');
      const current = storedLease();
      apiserver.upsert({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: NAME, namespace: NAMESPACE, ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}) },
        spec: { holderIdentity: 'another-driftwatch', leaseDurationSeconds: 2, acquireTime: now, renewTime: now, leaseTransitions: 4 },
      } as never);
    };
    renew();
    const foreign = setInterval(renew, 500);
    try {
      const a = replica('pod-a');
      a.elector.start();
      await watch([a.elector], 4 * LEASE_MS);
      expect(a.elector.isLeader()).toBe(false);
      expect(a.elector.status()).toMatchObject({ role: 'standby', holder: 'another-driftwatch' });
      expect(apiserver.requests().filter((r) => r.client === 'pod-a' && r.method !== 'GET')).toEqual([]);
      clearInterval(foreign);
      await watch([a.elector], LEASE_MS + 5_000, () => a.elector.isLeader());
      expectNewTerm({ elector: a.elector, events: [] }, 4);
    } finally {
      clearInterval(foreign);
    }
  });
});
