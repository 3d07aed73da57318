import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigHubClient, ConfigHubError, lastSeenFrom } from '../src/clients/confighub.js';
import { NEVER_SEEN, startFakeConfigHub, type FakeConfigHub } from './support/fake-confighub.js';

async function caught(promise: Promise<unknown>): Promise<ConfigHubError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigHubError) return err;
    throw err;
  }
  throw new Error('expected a ConfigHubError, got success');
}

describe('ConfigHubClient against the fake ConfigHub', () => {
  let hub: FakeConfigHub;
  let client: ConfigHubClient;
  let host: string;
  let spaceId: string;
  let stuckWorkerId: string;

  beforeAll(async () => {
    hub = await startFakeConfigHub();
    host = new URL(hub.url).host;
    spaceId = hub.addSpace('sunrise-cub-cost-optimizer-base');
    hub.addSpace('other-space');
    // Seed 000: the worker whose new pods crashed, never seen by ConfigHub.
    stuckWorkerId = hub.addWorker('sunrise-cub-cost-optimizer-base', 'cost-optimizer-worker', { condition: 'Disconnected', lastSeenAt: NEVER_SEEN }).BridgeWorkerID;
    hub.addWorker('sunrise-cub-cost-optimizer-base', 'traderx-worker', {
      condition: 'Ready',
      lastSeenAt: '2026-11-24T03:00:00Z',
      lastMessage: 'heartbeat ok',
      ipAddress: '10.42.0.17',
    });
    hub.addWorker('other-space', 'elsewhere-worker');
    client = new ConfigHubClient({ url: `${hub.url}/api/`, token: hub.token, timeoutMs: 2_000 });
  });
  afterAll(async () => {
    await client.close();
    await hub.close();
  });

  it('reads server info and the ConfigHub-Version header, even without a valid token', async () => {
    const anonymous = new ConfigHubClient({ url: hub.url, token: 'not-the-token' });
    try {
      const info = await anonymous.info();
      expect(info.serverVersion).toBe('0.9.4');
      expect(info.body).toMatchObject({ Version: '0.9.4' });
      expect(anonymous.serverVersion).toBe('0.9.4');
    } finally {
      await anonymous.close();
    }
  });

  it('resolves a space by slug and lists its workers from envelopes, never-seen as undefined', async () => {
    const space = await client.resolveSpace('sunrise-cub-cost-optimizer-base');
    expect(space).toEqual({ id: spaceId, slug: 'sunrise-cub-cost-optimizer-base', displayName: 'sunrise-cub-cost-optimizer-base' });
    const lookup = hub.requests().findLast((r) => r.path === '/api/space');
    expect(lookup?.query.where).toBe("Slug = 'sunrise-cub-cost-optimizer-base'");

    const workers = await client.listBridgeWorkers(space.id);
    expect(workers).toEqual([
      { id: stuckWorkerId, slug: 'cost-optimizer-worker', spaceId, condition: 'Disconnected' },
      {
        id: expect.any(String),
        slug: 'traderx-worker',
        spaceId,
        condition: 'Ready',
        lastSeenAt: '2026-11-24T03:00:00Z',
        lastMessage: 'heartbeat ok',
        ipAddress: '10.42.0.17',
      },
    ]);
    expect(workers[0]?.lastSeenAt).toBeUndefined();
  });

  it('follows a condition change and filters by worker slug', async () => {
    hub.setCondition('sunrise-cub-cost-optimizer-base', 'traderx-worker', 'Unresponsive', { lastMessage: 'no heartbeat for 45s' });
    const [worker, ...rest] = await client.listBridgeWorkers(spaceId, { slug: 'traderx-worker' });
    expect(rest).toEqual([]);
    expect(worker).toMatchObject({ slug: 'traderx-worker', condition: 'Unresponsive', lastMessage: 'no heartbeat for 45s' });
    expect(hub.requests().at(-1)?.query.where).toBe("Slug = 'traderx-worker'");
    hub.setCondition('sunrise-cub-cost-optimizer-base', 'traderx-worker', 'Ready', { lastMessage: 'heartbeat ok' });
  });

  it('asks for the fields it needs so no worker Secret travels, and sends the token on every call', async () => {
    await client.listBridgeWorkers(spaceId);
    const listing = hub.requests().filter((r) => r.path.endsWith('/bridge_worker'));
    expect(listing.length).toBeGreaterThan(0);
    for (const r of listing) {
      expect(r.query.select?.split(',')).not.toContain('Secret');
      expect(r.body).not.toContain('Secret');
      expect(r.body).toContain('BridgeWorkerID');
    }
    for (const r of hub.requests().filter((r) => r.authorization !== 'Bearer not-the-token')) {
      expect(r.authorization).toBe(`Bearer ${hub.token}`);
    }
  });

  it('pages with limit and ConfigHub-Continue until the last page', async () => {
    const id = hub.addSpace('big-space');
    const slugs = Array.from({ length: 7 }, (_, i) => `worker-${i}`);
    for (const slug of slugs) hub.addWorker('big-space', slug);
    const paged = new ConfigHubClient({ url: hub.url, token: hub.token, pageSize: 3 });
    try {
      const before = hub.requests().length;
      const workers = await paged.listBridgeWorkers(id);
      expect(workers.map((w) => w.slug)).toEqual(slugs);
      const pages = hub.requests().slice(before);
      expect(pages.map((r) => r.query.limit)).toEqual(['3', '3', '3']);
      expect(pages[0]?.query.continue).toBeUndefined();
      expect(pages[1]?.query.continue).toEqual(expect.any(String));
      expect(pages[2]?.query.continue).not.toBe(pages[1]?.query.continue);
    } finally {
      await paged.close();
    }
  });

  it('reads everything in one answer from a server that ignores limit', async () => {
    const old = await startFakeConfigHub({ paging: false, version: null });
    const oldClient = new ConfigHubClient({ url: old.url, token: old.token, pageSize: 2 });
    try {
      old.addSpace('s');
      for (const slug of ['a', 'b', 'c', 'd', 'e']) old.addWorker('s', slug);
      const space = await oldClient.resolveSpace('s');
      expect((await oldClient.listBridgeWorkers(space.id)).map((w) => w.slug)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(old.requests().filter((r) => r.path.endsWith('/bridge_worker'))).toHaveLength(1);
      expect(oldClient.serverVersion).toBeUndefined();
    } finally {
      await oldClient.close();
      await old.close();
    }
  });

  it('turns a wrong token into an unauthorized error with context and without the token', async () => {
    const wrong = new ConfigHubClient({ url: hub.url, token: 'ch_wrongwrongwrong' });
    try {
      const err = await caught(wrong.resolveSpace('sunrise-cub-cost-optimizer-base'));
      expect(err.kind).toBe('unauthorized');
      expect(err.status).toBe(401);
      expect(err.message).toBe(`confighub ${host}: 401 on GET /api/space: invalid or missing token (Unauthenticated)`);
      expect(err.message).not.toContain('ch_wrongwrongwrong');
      expect(hub.requests().at(-1)?.authorization).toBe('Bearer ch_wrongwrongwrong');
    } finally {
      await wrong.close();
    }
  });

  it('rejects a slug with a quote before sending anything', async () => {
    const before = hub.requests().length;
    const err = await caught(client.resolveSpace("x' OR Slug = 'y"));
    expect(err.kind).toBe('rejected');
    expect(err.message).toContain('single quote');
    const err2 = await caught(client.listBridgeWorkers(spaceId, { slug: "it's" }));
    expect(err2.kind).toBe('rejected');
    expect(hub.requests().length).toBe(before);
  });

  it('says not_found for an unknown space slug or id', async () => {
    const bySlug = await caught(client.resolveSpace('no-such-space'));
    expect(bySlug).toMatchObject({ kind: 'not_found', message: `confighub ${host}: no space with slug 'no-such-space'` });
    const byId = await caught(client.listBridgeWorkers('00000000-0000-0000-0000-000000000000'));
    expect(byId).toMatchObject({ kind: 'not_found', status: 404 });
    expect(byId.message).toContain('404 on GET /api/space/00000000-0000-0000-0000-000000000000/bridge_worker');
  });

  it('says server for a 5xx and recovers when ConfigHub does', async () => {
    hub.failWith(503);
    try {
      const err = await caught(client.listBridgeWorkers(spaceId));
      expect(err).toMatchObject({ kind: 'server', status: 503 });
      expect(err.message).toMatch(new RegExp(`^confighub ${host}: 503 on GET /api/space/${spaceId}/bridge_worker`));
    } finally {
      hub.failWith(undefined);
    }
    expect(await client.listBridgeWorkers(spaceId)).toHaveLength(2);
  });

  it('says unreachable when nothing listens', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const gone = new ConfigHubClient({ url: `http://127.0.0.1:${port}`, token: hub.token });
    try {
      const err = await caught(gone.info());
      expect(err.kind).toBe('unreachable');
      expect(err.message).toBe(`confighub 127.0.0.1:${port}: unreachable on GET /api/info (connection refused)`);
    } finally {
      await gone.close();
    }
  });

  it('says malformed when the answer is not what ConfigHub sends', async () => {
    let reply = 'not json';
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(reply));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const odd = new ConfigHubClient({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, token: hub.token });
    try {
      expect(await caught(odd.resolveSpace('s'))).toMatchObject({ kind: 'malformed' });
      reply = JSON.stringify([{ BridgeWorkerID: 'bare-object-not-an-envelope' }]);
      const err = await caught(odd.listBridgeWorkers('abc'));
      expect(err.kind).toBe('malformed');
      expect(err.message).toContain('unexpected answer to GET /api/space/abc/bridge_worker at 0.BridgeWorker');
    } finally {
      await odd.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('lastSeenFrom', () => {
  it('treats the zero time as never seen', () => {
    expect(lastSeenFrom('0001-01-01T00:00:00Z')).toBeUndefined();
    expect(lastSeenFrom(undefined)).toBeUndefined();
    expect(lastSeenFrom('')).toBeUndefined();
    expect(lastSeenFrom('2026-11-24T03:00:00Z')).toBe('2026-11-24T03:00:00Z');
  });
});
