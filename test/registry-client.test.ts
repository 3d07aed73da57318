import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageRef, repositoryOf, shortDigest, type ImageRef } from '../src/domain/image-ref.js';
import { MEDIA_TYPES, RegistryClient, RegistryError } from '../src/clients/registry.js';
import { FAULT_MANIFEST_DIGEST, FAULT_TOKEN, startFaultRegistry, type FaultRegistry } from './support/fault-registry.js';
import { registryAvailable, registryUnavailableReason, startRegistry, type TestRegistry } from './support/registry.js';

/** Runs `fn` and returns the RegistryError it throws (fails the test when it doesn't). */
async function registryError(fn: () => Promise<unknown>): Promise<RegistryError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryError);
    return error as RegistryError;
  }
  throw new Error('expected a RegistryError, but the call succeeded');
}

const A_DIGEST = `sha256:${'8b96908d'.padEnd(64, '1')}`;

describe('parseImageRef', () => {
  it('maps Docker Hub short names to registry-1.docker.io/library with tag latest', () => {
    expect(parseImageRef('nginx')).toEqual({
      registry: 'registry-1.docker.io',
      repository: 'library/nginx',
      tag: 'latest',
      text: 'docker.io/library/nginx:latest',
    });
    expect(parseImageRef('docker.io/bitnami/redis:7.2')).toMatchObject({ registry: 'registry-1.docker.io', repository: 'bitnami/redis', tag: '7.2' });
  });

  it('reads host:port, nested repositories, tags and digests', () => {
    expect(parseImageRef('127.0.0.1:5000/team/app:v1')).toMatchObject({ registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v1' });
    const pinned = parseImageRef(`ghcr.io/confighubai/confighub-worker@${A_DIGEST}`);
    expect(pinned).toMatchObject({ registry: 'ghcr.io', repository: 'confighubai/confighub-worker', digest: A_DIGEST });
    expect(pinned.tag).toBeUndefined();
    expect(pinned.text).toBe(`ghcr.io/confighubai/confighub-worker@${A_DIGEST}`);
    expect(repositoryOf(parseImageRef('ghcr.io/confighubai/confighub-worker:latest'))).toBe('ghcr.io/confighubai/confighub-worker');
    expect(shortDigest('sha256:8b96908d3d3f2a4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5')).toBe('sha256:8b96908d');
  });

  it('rejects refs that do not parse, naming the ref and the problem', () => {
    expect(() => parseImageRef('Foo::bar')).toThrow(/^image "Foo::bar": /);
    expect(() => parseImageRef('ghcr.io/org/app@sha256:abc')).toThrow(/image "ghcr.io\/org\/app@sha256:abc": digest/);
    expect(() => parseImageRef('')).toThrow(/empty/);
    expect(() => parseImageRef('org/App:latest')).toThrow(/repository component "App"/);
  });
});

describe.skipIf(!registryAvailable())(`RegistryClient against the real registry${registryAvailable() ? '' : ` (skipped: ${registryUnavailableReason()})`}`, () => {
  describe('anonymous', () => {
    let registry: TestRegistry;
    let client: RegistryClient;
    const ref = (text: string): ImageRef => parseImageRef(`${registry.host}/${text}`);

    beforeAll(async () => {
      registry = await startRegistry({ auth: 'none' });
      client = new RegistryClient({ registries: { [registry.host]: { insecure: true } }, dockerConfigPath: '/nonexistent' });
    });
    afterAll(async () => {
      await client?.close();
      await registry?.stop();
    });

    it('gives a moved tag its new digest', async () => {
      const first = await registry.pushImage('team/app', 'latest', { version: '0.1.0' });
      const before = await client.headTag(ref('team/app:latest'), ['linux/amd64']);
      expect(before).toEqual({ digest: first.digest, mediaType: MEDIA_TYPES.ociManifest });

      const second = await registry.pushImage('team/app', 'latest', { version: '0.2.0' });
      expect(second.digest).not.toBe(first.digest);
      const after = await client.headTag(ref('team/app:latest'), ['linux/amd64']);
      expect(after.digest).toBe(second.digest);
    });

    it('gives per-platform digests for a multi-arch index, reading each index once', async () => {
      const pushed = await registry.pushImage('team/multi', 'latest', { platforms: ['linux/amd64', 'linux/arm64/v8'] });
      const platforms = ['linux/amd64', 'linux/arm64', 'linux/s390x'];
      const state = await client.headTag(ref('team/multi:latest'), platforms);
      expect(state.digest).toBe(pushed.digest);
      expect(state.mediaType).toBe(MEDIA_TYPES.ociIndex);
      // linux/arm64 finds the v8 variant; a platform missing from the index is simply absent.
      expect(state.platformDigests).toEqual({ 'linux/amd64': pushed.platformDigests!['linux/amd64'], 'linux/arm64': pushed.platformDigests!['linux/arm64/v8'] });

      const before = client.stats();
      await client.headTag(ref('team/multi:latest'), platforms);
      const after = client.stats();
      expect(after.requests - before.requests).toBe(1);
      expect((after.byMethod.GET ?? 0) - (before.byMethod.GET ?? 0)).toBe(0);
    });

    it('reads Docker manifest lists the same way', async () => {
      const pushed = await registry.pushImage('team/dockerlist', 'stable', { platforms: ['linux/amd64', 'linux/arm64'], format: 'docker' });
      const state = await client.headTag(ref('team/dockerlist:stable'), ['linux/amd64']);
      expect(state).toEqual({
        digest: pushed.digest,
        mediaType: MEDIA_TYPES.dockerList,
        platformDigests: { 'linux/amd64': pushed.platformDigests!['linux/amd64'] },
      });
    });

    it('keeps linux/amd64 unchanged when a multi-arch rebuild reuses its child', async () => {
      const first = await registry.pushImage('team/rebuilt', 'latest', { platforms: ['linux/amd64', 'linux/arm64'] });
      const was = await client.headTag(ref('team/rebuilt:latest'), ['linux/amd64', 'linux/arm64']);
      const rebuilt = await registry.pushIndexReusing('team/rebuilt', 'latest', { 'linux/amd64': first.platformDigests!['linux/amd64']! }, ['linux/arm64']);
      const now = await client.headTag(ref('team/rebuilt:latest'), ['linux/amd64', 'linux/arm64']);

      expect(now.digest).toBe(rebuilt.digest);
      expect(now.digest).not.toBe(was.digest);
      expect(now.platformDigests!['linux/amd64']).toBe(was.platformDigests!['linux/amd64']);
      expect(now.platformDigests!['linux/arm64']).not.toBe(was.platformDigests!['linux/arm64']);
    });

    it('reads org.opencontainers.image.version, through an index for the platform, and caches it', async () => {
      const single = await registry.pushImage('team/labelled', 'v2', { version: '0.2.0' });
      expect(await client.versionLabel(ref('team/labelled:v2'), single.digest, 'linux/amd64')).toBe('0.2.0');

      const multi = await registry.pushImage('team/labelled', 'multi', { version: '1.4.2', platforms: ['linux/amd64', 'linux/arm64'] });
      expect(await client.versionLabel(ref('team/labelled:multi'), multi.digest, 'linux/arm64')).toBe('1.4.2');

      const bare = await registry.pushImage('team/labelled', 'bare');
      expect(await client.versionLabel(ref('team/labelled:bare'), bare.digest, 'linux/amd64')).toBeUndefined();

      const before = client.stats().requests;
      expect(await client.versionLabel(ref('team/labelled:v2'), single.digest, 'linux/amd64')).toBe('0.2.0');
      expect(client.stats().requests).toBe(before);

      const missing = await registryError(() => client.versionLabel(ref('team/labelled:multi'), multi.digest, 'linux/s390x'));
      expect(missing.kind).toBe('not_found');
      expect(missing.message).toContain('linux/s390x');
    });

    it('tells whether a digest still exists', async () => {
      const pushed = await registry.pushImage('team/gone', 'latest');
      expect(await client.manifestExists(ref('team/gone:latest'), pushed.digest)).toBe(true);
      await registry.deleteManifest('team/gone', pushed.digest);
      expect(await client.manifestExists(ref('team/gone:latest'), pushed.digest)).toBe(false);
      expect(await client.manifestExists(ref('team/gone:latest'), `sha256:${'c433'.padEnd(64, '0')}`)).toBe(false);
    });

    it('reports a missing tag as not_found with context', async () => {
      const error = await registryError(() => client.headTag(ref('team/app:nope'), ['linux/amd64']));
      expect(error.kind).toBe('not_found');
      expect(error.status).toBe(404);
      expect(error.message).toBe(`registry ${registry.host}: 404 on HEAD team/app:nope`);
    });
  });

  describe('htpasswd', () => {
    let registry: TestRegistry;
    let dir: string;
    const clients: RegistryClient[] = [];
    const clientWith = (settings: ConstructorParameters<typeof RegistryClient>[0]) => {
      const client = new RegistryClient(settings);
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      registry = await startRegistry({ auth: 'htpasswd' });
      await registry.pushImage('team/app', 'latest');
      dir = mkdtempSync(join(tmpdir(), 'driftwatch-dockercfg-'));
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await registry?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('answers 401 without credentials, with context and no secrets', async () => {
      const anonymous = clientWith({ registries: { [registry.host]: { insecure: true } }, dockerConfigPath: '/nonexistent' });
      const error = await registryError(() => anonymous.headTag(parseImageRef(`${registry.host}/team/app:latest`), ['linux/amd64']));
      expect(error.kind).toBe('auth');
      expect(error.message).toBe(`registry ${registry.host}: 401 on HEAD team/app:latest`);

      const wrong = clientWith({ registries: { [registry.host]: { insecure: true, username: 'driftwatch', password: 'wrong-password-123' } } });
      const refused = await registryError(() => wrong.headTag(parseImageRef(`${registry.host}/team/app:latest`), ['linux/amd64']));
      expect(refused.kind).toBe('auth');
      expect(refused.message).not.toContain('wrong-password-123');
    });

    it('uses configured Basic credentials, sending them up front once the challenge is known', async () => {
      const client = clientWith({ registries: { [registry.host]: { insecure: true, username: registry.username!, password: registry.password! } } });
      const ref = parseImageRef(`${registry.host}/team/app:latest`);
      const first = await client.headTag(ref, ['linux/amd64']);
      expect(first.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect((await client.headTag(ref, ['linux/amd64'])).digest).toBe(first.digest);
      expect(client.stats()).toEqual({ requests: 3, tokenRequests: 0, byMethod: { HEAD: 3 } }); // 401, retry, then direct
    });

    it('finds credentials in the docker config', async () => {
      const configPath = join(dir, 'config.json');
      const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
      writeFileSync(configPath, JSON.stringify({ auths: { [`http://${registry.host}`]: { auth } } }));
      const client = clientWith({ registries: { [registry.host]: { insecure: true } }, dockerConfigPath: configPath });
      const state = await client.headTag(parseImageRef(`${registry.host}/team/app:latest`), ['linux/amd64']);
      expect(state.mediaType).toBe(MEDIA_TYPES.ociManifest);
    });
  });

  describe('token', () => {
    let registry: TestRegistry;
    const clients: RegistryClient[] = [];

    beforeAll(async () => {
      registry = await startRegistry({ auth: 'token' });
      await registry.pushImage('team/app', 'latest', { version: '3.0.0' });
      await registry.pushImage('team/other', 'latest');
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await registry?.stop();
    });

    it('fetches one token per scope across many HEADs, and again once it expires', async () => {
      let now = Date.now();
      const client = new RegistryClient({
        registries: { [registry.host]: { insecure: true, username: registry.username!, password: registry.password! } },
        now: () => now,
      });
      clients.push(client);
      const app = parseImageRef(`${registry.host}/team/app:latest`);
      const digests = new Set<string>();
      for (let i = 0; i < 10; i++) digests.add((await client.headTag(app, ['linux/amd64'])).digest);
      expect(digests.size).toBe(1);
      expect(registry.tokenRequests()).toBe(1);
      expect(client.stats()).toEqual({ requests: 12, tokenRequests: 1, byMethod: { HEAD: 11, GET: 1 } });

      // Another repository is another scope: one more token, then reused.
      await client.headTag(parseImageRef(`${registry.host}/team/other:latest`), ['linux/amd64']);
      await client.headTag(parseImageRef(`${registry.host}/team/other:latest`), ['linux/amd64']);
      expect(registry.tokenRequests()).toBe(2);

      // The label read shares the pull token.
      expect(await client.versionLabel(app, [...digests][0]!, 'linux/amd64')).toBe('3.0.0');
      expect(registry.tokenRequests()).toBe(2);

      now += 301_000; // past expires_in (300 s)
      await client.headTag(app, ['linux/amd64']);
      expect(registry.tokenRequests()).toBe(3);
    });

    it('shares one token fetch among concurrent HEADs', async () => {
      const client = new RegistryClient({ registries: { [registry.host]: { insecure: true, username: registry.username!, password: registry.password! } } });
      clients.push(client);
      const before = registry.tokenRequests();
      const ref = parseImageRef(`${registry.host}/team/app:latest`);
      const states = await Promise.all(Array.from({ length: 8 }, () => client.headTag(ref, ['linux/amd64'])));
      expect(new Set(states.map((s) => s.digest)).size).toBe(1);
      expect(registry.tokenRequests() - before).toBe(1);
      expect(client.stats().tokenRequests).toBe(1);
    });

    it('reports refused credentials as auth errors without the password', async () => {
      const wrong = new RegistryClient({ registries: { [registry.host]: { insecure: true, username: 'driftwatch', password: 'not-the-password-42' } } });
      const anonymous = new RegistryClient({ registries: { [registry.host]: { insecure: true } }, dockerConfigPath: '/nonexistent' });
      clients.push(wrong, anonymous);
      const ref = parseImageRef(`${registry.host}/team/app:latest`);

      const refused = await registryError(() => wrong.headTag(ref, ['linux/amd64']));
      expect(refused.kind).toBe('auth');
      expect(refused.message).toBe(`registry ${registry.host}: 401 on token request for repository:team/app:pull`);
      expect(refused.message).not.toContain('not-the-password-42');

      // Anonymous callers get a token without access: the retried HEAD is refused again.
      const denied = await registryError(() => anonymous.headTag(ref, ['linux/amd64']));
      expect(denied.kind).toBe('auth');
      expect(denied.message).toBe(`registry ${registry.host}: 401 on HEAD team/app:latest`);
    });
  });
});

describe('RegistryClient against a faulty registry', () => {
  let fault: FaultRegistry;
  let client: RegistryClient;
  let ref: ImageRef;
  const head = () => client.headTag(ref, ['linux/amd64']);

  beforeAll(async () => {
    fault = await startFaultRegistry();
    client = new RegistryClient({ registries: { [fault.host]: { insecure: true } }, dockerConfigPath: '/nonexistent', timeoutMs: 300 });
    ref = parseImageRef(`${fault.host}/team/app:latest`);
  });
  afterAll(async () => {
    await client?.close();
    await fault?.close();
  });

  it('reads the digest header and Docker Hub style ratelimit-remaining', async () => {
    fault.ok(A_DIGEST, { rateLimitRemaining: '100;w=21600' });
    expect(await head()).toEqual({ digest: A_DIGEST, mediaType: MEDIA_TYPES.ociManifest, rateLimitRemaining: 100 });
  });

  it('falls back to the sha256 of the manifest body when HEAD has no digest', async () => {
    fault.ok(undefined);
    const before = fault.requests;
    expect((await head()).digest).toBe(FAULT_MANIFEST_DIGEST);
    expect(fault.log.slice(before).map((r) => r.method)).toEqual(['HEAD', 'GET']);
  });

  it('reports a 500 as a server error with context', async () => {
    fault.status(500);
    const error = await registryError(head);
    expect(error).toMatchObject({ kind: 'server', status: 500 });
    expect(error.message).toBe(`registry ${fault.host}: 500 on HEAD team/app:latest`);
  });

  it('reports 429 at once as rate_limited with Retry-After', async () => {
    fault.rateLimit(30);
    const started = Date.now();
    const error = await registryError(head);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 30_000 });
    expect(error.message).toBe(`registry ${fault.host}: 429 on HEAD team/app:latest (retry after 30s)`);
  });

  it('refuses an HTML page as a manifest', async () => {
    fault.html();
    const error = await registryError(head);
    expect(error.kind).toBe('malformed');
    expect(error.message).toBe(`registry ${fault.host}: HEAD team/app:latest answered text/html, not an image manifest`);
  });

  it('refuses a malformed digest header', async () => {
    fault.malformedDigest();
    const error = await registryError(head);
    expect(error.kind).toBe('malformed');
    expect(error.message).toContain('Docker-Content-Digest "sha256:not-a-digest"');
  });

  it('times out a registry that never answers', async () => {
    fault.hang();
    const started = Date.now();
    const error = await registryError(head);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.kind).toBe('timeout');
    expect(error.message).toBe(`registry ${fault.host}: no answer within 300ms on HEAD team/app:latest`);
  });

  it('reports a missing tag as not_found, and a missing digest as absent', async () => {
    fault.notFound();
    expect((await registryError(head)).kind).toBe('not_found');
    expect(await client.manifestExists(ref, A_DIGEST)).toBe(false);
  });

  it('retries once with the token, then reports auth without leaking it', async () => {
    fault.unauthorized();
    const before = fault.requests;
    const error = await registryError(head);
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expect(error.message).toBe(`registry ${fault.host}: 401 on HEAD team/app:latest`);
    expect(error.message).not.toContain(FAULT_TOKEN);
    const asked = fault.log.slice(before);
    expect(asked.map((r) => `${r.method} ${r.path}`)).toEqual(['HEAD /v2/team/app/manifests/latest', 'GET /token', 'HEAD /v2/team/app/manifests/latest']);
    expect(asked[2]!.authorization).toBe(`Bearer ${FAULT_TOKEN}`);
  });

  it('reports a refused connection as a network error', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const host = `127.0.0.1:${port}`;
    const offline = new RegistryClient({ registries: { [host]: { insecure: true } }, dockerConfigPath: '/nonexistent', timeoutMs: 1000 });
    try {
      const error = await registryError(() => offline.headTag(parseImageRef(`${host}/team/app:latest`), ['linux/amd64']));
      expect(error.kind).toBe('network');
      expect(error.message).toBe(`registry ${host}: ECONNREFUSED on HEAD team/app:latest`);
    } finally {
      await offline.close();
    }
  });
});
