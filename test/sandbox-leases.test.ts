/**
 * The fake apiserver serves coordination.k8s.io/v1 Leases as a real apiserver does, spoken to by
 * the real client-node CoordinationV1Api; and it can become unreachable for one client (replica)
 * while another still gets answers — what the HA tests build on.
 */
import { ApiException, CoordinationV1Api, KubeConfig, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMicroTime, leaseRejection } from '../src/sandbox/leases.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';

const NS = 'driftwatch';

let fake: FakeApiserver;

function leasesFor(client?: string): CoordinationV1Api {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig('fake', client));
  return kc.makeApiClient(CoordinationV1Api);
}

function lease(name: string, holder: string, spec: Partial<V1Lease['spec']> = {}): V1Lease {
  const now = new V1MicroTime();
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: NS },
    spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 0, ...spec },
  };
}

/** What the apiserver answered when client-node threw: the HTTP code and the Status body. */
async function failure(call: Promise<unknown>): Promise<{ code: number; status: { kind: string; reason: string; message: string; code: number } }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code, status: body };
  }
  throw new Error('expected the apiserver to refuse');
}

/** Opens a raw watch on the namespace's Leases as `token`; collects its event types until it closes. */
function watchLeases(token: string): { events: string[]; closed: Promise<void> } {
  const events: string[] = [];
  const closed = new Promise<void>((resolve) => {
    const req = request(`${fake.url}/apis/coordination.k8s.io/v1/namespaces/${NS}/leases?watch=true`, { ca: fake.ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let buffer = '';
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) if (line) events.push(`${JSON.parse(line).type} ${JSON.parse(line).object.metadata.name}`);
      });
      res.on('close', () => resolve());
      res.on('error', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
  return { events, closed };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  fake = await startFakeApiserver();
});

afterAll(async () => {
  await fake.close();
});

describe('Leases through CoordinationV1Api', () => {
  it('creates, reads and replaces a Lease; resourceVersion moves on every write; MicroTime keeps six digits', async () => {
    const api = leasesFor();
    const created = await api.createNamespacedLease({ namespace: NS, body: lease('leader-a', 'pod-0') });
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.spec?.holderIdentity).toBe('pod-0');
    // client-node hands MicroTime back as the string the server sent: six fractional digits.
    expect(String(created.spec?.renewTime)).toMatch(/\.\d{6}Z$/);

    const read = await api.readNamespacedLease({ name: 'leader-a', namespace: NS });
    expect(read.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    expect(read.spec?.leaseDurationSeconds).toBe(15);

    const renewed = await api.replaceNamespacedLease({
      name: 'leader-a',
      namespace: NS,
      body: { ...read, spec: { ...read.spec, renewTime: new V1MicroTime(), leaseTransitions: 1, holderIdentity: 'pod-1' } },
    });
    expect(renewed.spec?.holderIdentity).toBe('pod-1');
    expect(renewed.spec?.leaseTransitions).toBe(1);
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));
    expect(renewed.metadata?.uid).toBe(created.metadata?.uid);
    expect(fake.get('Lease', NS, 'leader-a')?.spec.holderIdentity).toBe('pod-1');
  });

  it('refuses a replace with a stale resourceVersion with 409 Conflict, and keeps the winner', async () => {
    const api = leasesFor();
    const base = await api.createNamespacedLease({ namespace: NS, body: lease('leader-b', 'pod-0') });
    await api.replaceNamespacedLease({ name: 'leader-b', namespace: NS, body: { ...base, spec: { ...base.spec, holderIdentity: 'pod-1' } } });

    const stale = await failure(api.replaceNamespacedLease({ name: 'leader-b', namespace: NS, body: { ...base, spec: { ...base.spec, holderIdentity: 'pod-2' } } }));
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 });
    expect(stale.status.message).toBe(
      'Operation cannot be fulfilled on leases.coordination.k8s.io "leader-b": the object has been modified; please apply your changes to the latest version and try again',
    );
    expect((await api.readNamespacedLease({ name: 'leader-b', namespace: NS })).spec?.holderIdentity).toBe('pod-1');
  });

  it('answers 409 AlreadyExists to a create of an existing name, 404 to a read of a missing one', async () => {
    const api = leasesFor();
    await api.createNamespacedLease({ namespace: NS, body: lease('leader-c', 'pod-0') });
    const again = await failure(api.createNamespacedLease({ namespace: NS, body: lease('leader-c', 'pod-1') }));
    expect(again.code).toBe(409);
    expect(again.status).toMatchObject({ reason: 'AlreadyExists', message: 'leases.coordination.k8s.io "leader-c" already exists' });

    const missing = await failure(api.readNamespacedLease({ name: 'nobody', namespace: NS }));
    expect(missing.code).toBe(404);
    expect(missing.status).toMatchObject({ reason: 'NotFound', message: 'leases.coordination.k8s.io "nobody" not found' });
  });

  it('answers 400 to a Lease whose times are plain Dates (three fractional digits), as a real apiserver does', async () => {
    const api = leasesFor();
    const plain = lease('leader-d', 'pod-0', { renewTime: new Date() as V1MicroTime });
    const refused = await failure(api.createNamespacedLease({ namespace: NS, body: plain }));
    expect(refused.code).toBe(400);
    expect(refused.status).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
    expect(refused.status.message).toContain('spec.renewTime');
    expect(fake.get('Lease', NS, 'leader-d')).toBeUndefined();
  });

  it('deletes a Lease; it is gone afterwards', async () => {
    const api = leasesFor();
    await api.createNamespacedLease({ namespace: NS, body: lease('leader-e', 'pod-0') });
    await api.deleteNamespacedLease({ name: 'leader-e', namespace: NS });
    expect((await failure(api.readNamespacedLease({ name: 'leader-e', namespace: NS }))).code).toBe(404);
    expect((await failure(api.deleteNamespacedLease({ name: 'leader-e', namespace: NS }))).code).toBe(404);
  });

  it('patches a Lease (JSON patch) and refuses a patch naming a stale resourceVersion', async () => {
    const api = leasesFor();
    const created = await api.createNamespacedLease({ namespace: NS, body: lease('leader-f', 'pod-0') });
    const patched = await api.patchNamespacedLease({ name: 'leader-f', namespace: NS, body: [{ op: 'replace', path: '/spec/holderIdentity', value: 'pod-9' }] });
    expect(patched.spec?.holderIdentity).toBe('pod-9');
    const stale = await failure(
      api.patchNamespacedLease({
        name: 'leader-f',
        namespace: NS,
        body: [
          { op: 'replace', path: '/metadata/resourceVersion', value: created.metadata?.resourceVersion },
          { op: 'replace', path: '/spec/holderIdentity', value: 'pod-8' },
        ],
      }),
    );
    expect(stale.code).toBe(409);
    expect(fake.get('Lease', NS, 'leader-f')?.spec.holderIdentity).toBe('pod-9');
  });
});

describe('an apiserver unreachable for one replica', () => {
  it('hangs one client while the other is answered, then lets it back', async () => {
    fake.addClient('replica-b');
    const a = leasesFor();
    const b = leasesFor('replica-b');
    await a.createNamespacedLease({ namespace: NS, body: lease('ha', 'replica-a') });

    fake.setUnreachable('hang', { client: 'replica-b' });
    let settled = false;
    const hung = b.readNamespacedLease({ name: 'ha', namespace: NS }).finally(() => {
      settled = true;
    });
    hung.catch(() => {});
    // The other replica still gets answers while b's request stays unanswered.
    expect((await a.readNamespacedLease({ name: 'ha', namespace: NS })).spec?.holderIdentity).toBe('replica-a');
    const deadline = Date.now() + 2_000;
    while (!fake.requests().some((r) => r.client === 'replica-b' && r.path.endsWith('/leases/ha')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(fake.requests().some((r) => r.client === 'replica-b' && r.path.endsWith('/leases/ha'))).toBe(true);
    expect(settled).toBe(false);

    fake.setUnreachable(false, { client: 'replica-b' });
    await expect(hung).rejects.toThrow(); // the hung connection is cut when the partition heals
    expect((await b.readNamespacedLease({ name: 'ha', namespace: NS })).spec?.holderIdentity).toBe('replica-a');
  });

  it('silences the watch of the unreachable client while the other one still sees changes; the heal cuts it', async () => {
    const tokenB = fake.addClient('replica-w');
    const a = leasesFor();
    const watchA = watchLeases(fake.token);
    const watchB = watchLeases(tokenB);
    await until(() => watchA.events.includes('ADDED ha') && watchB.events.includes('ADDED ha'), 'both watches to list the Lease');

    fake.setUnreachable('hang', { client: 'replica-w' });
    await a.createNamespacedLease({ namespace: NS, body: lease('seen-by-a-only', 'replica-a') });
    await until(() => watchA.events.includes('ADDED seen-by-a-only'), 'the reachable watch to see the new Lease');
    expect(watchB.events).not.toContain('ADDED seen-by-a-only');

    fake.setUnreachable(false, { client: 'replica-w' });
    await watchB.closed; // cut, so the client relists and catches up
    expect(watchB.events).not.toContain('ADDED seen-by-a-only');
    fake.endWatches();
    await watchA.closed;
  });

  it('resets every connection while unreachable with reset, and answers a per-path fault with its Status', async () => {
    const api = leasesFor();
    fake.setUnreachable('reset');
    await expect(api.readNamespacedLease({ name: 'ha', namespace: NS })).rejects.toThrow(/socket hang up|ECONNRESET/);
    fake.setUnreachable(false);

    fake.setFault((request) => (request.method === 'PUT' && request.path.endsWith('/leases/ha') ? { status: 500, message: 'etcdserver: request timed out' } : undefined));
    const current = await api.readNamespacedLease({ name: 'ha', namespace: NS });
    const refused = await failure(api.replaceNamespacedLease({ name: 'ha', namespace: NS, body: current }));
    expect(refused.code).toBe(500);
    expect(refused.status).toMatchObject({ kind: 'Status', reason: 'InternalError', message: 'etcdserver: request timed out' });
    fake.setFault(undefined);
    expect((await api.replaceNamespacedLease({ name: 'ha', namespace: NS, body: current })).spec?.holderIdentity).toBe('replica-a');
  });
});

describe('lease validation (pure)', () => {
  it('accepts MicroTime with exactly six fractional digits and nothing else', () => {
    expect(isMicroTime('2026-01-02T03:04:05.123456Z')).toBe(true);
    expect(isMicroTime('2026-01-02T03:04:05.123456+02:00')).toBe(true);
    expect(isMicroTime('2026-01-02T03:04:05.123Z')).toBe(false);
    expect(isMicroTime('2026-01-02T03:04:05Z')).toBe(false);
    expect(isMicroTime('2026-01-02T03:04:05.1234567Z')).toBe(false);
    expect(isMicroTime('2026-13-45T03:04:05.123456Z')).toBe(false);
    expect(isMicroTime(1234)).toBe(false);
  });

  it('names the field: 400 for an undecodable time, 422 for invalid values', () => {
    expect(leaseRejection({ metadata: { name: 'x' }, spec: { acquireTime: '2026-01-02T03:04:05.123Z' } })).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect(leaseRejection({ metadata: { name: 'x' }, spec: { leaseDurationSeconds: 0 } })).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message: 'Lease.coordination.k8s.io "x" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
    });
    expect(leaseRejection({ metadata: { name: 'x' }, spec: { leaseTransitions: -1 } })?.message).toContain('spec.leaseTransitions');
    expect(leaseRejection({ metadata: { name: 'x' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: '2026-01-02T03:04:05.123456Z' } })).toBeUndefined();
  });
});
