/** The webhook decisions without I/O: signatures, what each payload names, refusals in order. */
import { describe, expect, it } from 'vitest';
import { githubSignature, validGithubSignature, verifyGhcrDelivery } from '../src/web/hooks/ghcr.js';
import { verifyRegistryDelivery } from '../src/web/hooks/registry.js';
import { verifyDockerHubDelivery } from '../src/web/hooks/dockerhub.js';
import { sameSecret } from '../src/web/hooks/verdict.js';
import { WatchedTags } from '../src/web/hooks/watched-tags.js';
import { DeliveryMemory } from '../src/web/hooks/index.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EVENTS_V1 = 'application/vnd.docker.distribution.events.v1+json';

describe('GitHub signatures', () => {
  it("match GitHub's published test vector", () => {
    const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(githubSignature("It's a Secret to Everybody", 'Hello, World!')).toBe(expected);
    expect(validGithubSignature(expected, "It's a Secret to Everybody", Buffer.from('Hello, World!'))).toBe(true);
  });

  it('refuse a wrong secret, a changed body, a malformed or missing header, and no configured secret', () => {
    const good = githubSignature("It's a Secret to Everybody", 'Hello, World!');
    expect(validGithubSignature(good, 'another secret', 'Hello, World!')).toBe(false);
    expect(validGithubSignature(good, "It's a Secret to Everybody", 'Hello, World?')).toBe(false);
    expect(validGithubSignature(good.slice(0, -2), "It's a Secret to Everybody", 'Hello, World!')).toBe(false);
    expect(validGithubSignature(good.replace('sha256=', 'sha1='), "It's a Secret to Everybody", 'Hello, World!')).toBe(false);
    expect(validGithubSignature(undefined, "It's a Secret to Everybody", 'Hello, World!')).toBe(false);
    expect(validGithubSignature(githubSignature('', 'x'), undefined, 'x')).toBe(false);
    expect(validGithubSignature(githubSignature('', 'x'), '', 'x')).toBe(false);
  });

  it('same-secret comparison: equal only when both are set and equal', () => {
    expect(sameSecret('token-1234', 'token-1234')).toBe(true);
    expect(sameSecret('token-123', 'token-1234')).toBe(false);
    expect(sameSecret(undefined, 'token-1234')).toBe(false);
    expect(sameSecret('', '')).toBe(false);
    expect(sameSecret('x', undefined)).toBe(false);
  });
});

describe('which watched refs a push names', () => {
  const watched = new WatchedTags(
    ['127.0.0.1:5000/team/app:latest', 'ghcr.io/confighubai/confighub-worker:latest', 'nginx', 'docker.io/acme/web:1.2', 'registry/team/app:latest'],
    { 'ghcr.io': 'http://127.0.0.1:5001', 'docker.io': 'http://mirror.example:5002/' },
  );

  it('matches registry host, repository and tag; the tag as written is the one reported', () => {
    expect(watched.named({ registry: '127.0.0.1:5000', repository: 'team/app', tag: 'latest', digest: D1 })).toEqual([{ ref: '127.0.0.1:5000/team/app:latest', digest: D1 }]);
    expect(watched.named({ registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v2' })).toEqual([]);
    expect(watched.named({ registry: '127.0.0.1:5999', repository: 'team/app', tag: 'latest' })).toEqual([]);
    expect(watched.named({ registry: 'docker.io', repository: 'library/nginx', tag: 'latest' })).toEqual([{ ref: 'nginx' }]);
    expect(watched.named({ registry: 'registry', repository: 'team/app', tag: 'latest' })).toEqual([]);
  });

  it('without a host, every registry serving that repository and tag', () => {
    expect(watched.named({ repository: 'team/app', tag: 'latest' }).map((check) => check.ref)).toEqual(['127.0.0.1:5000/team/app:latest']);
  });

  it('a registry name pointed elsewhere with registries.<name>.url also answers to that host', () => {
    expect(watched.named({ registry: '127.0.0.1:5001', repository: 'confighubai/confighub-worker', tag: 'latest' })).toEqual([{ ref: 'ghcr.io/confighubai/confighub-worker:latest' }]);
    expect(watched.named({ registry: 'mirror.example:5002', repository: 'acme/web', tag: '1.2' })).toEqual([{ ref: 'docker.io/acme/web:1.2' }]);
    expect(watched.named({ registry: 'ghcr.io', repository: 'confighubai/confighub-worker', tag: 'latest' })).toHaveLength(1);
  });
});

describe('registry notifications (POST /hooks/registry)', () => {
  const TOKEN = 'registry-hook-token-1';
  const watched = new WatchedTags(['127.0.0.1:5000/team/app:latest']);
  const event = (over: Record<string, unknown> = {}, target: Record<string, unknown> = {}) => ({
    action: 'push',
    target: { mediaType: OCI_MANIFEST, digest: D1, repository: 'team/app', tag: 'latest', ...target },
    request: { host: '127.0.0.1:5000', method: 'PUT' },
    ...over,
  });
  const deliver = (body: unknown, headers: { authorization?: string; contentType?: string } = {}) =>
    verifyRegistryDelivery(
      { authorization: 'authorization' in headers ? headers.authorization : `Bearer ${TOKEN}`, contentType: 'contentType' in headers ? headers.contentType : EVENTS_V1, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) },
      TOKEN,
      watched,
    );

  it('a manifest pushed to a watched tag names it, with the claimed digest', () => {
    expect(deliver({ events: [event()] })).toEqual({ status: 202, outcome: 'accepted', checks: [{ ref: '127.0.0.1:5000/team/app:latest', digest: D1 }] });
    // Both envelope types and plain JSON are accepted.
    for (const contentType of ['application/vnd.docker.distribution.events.v2+json', 'application/json; charset=utf-8']) expect(deliver({ events: [event()] }, { contentType }).status).toBe(202);
  });

  it('pulls, blob pushes, deletes, pushes by digest and unwatched repositories: 202 and nothing', () => {
    const nothing = { status: 202, outcome: 'ignored', checks: [] };
    expect(deliver({ events: [event({ action: 'pull' })] })).toMatchObject(nothing);
    expect(deliver({ events: [event({ action: 'delete' })] })).toMatchObject(nothing);
    expect(deliver({ events: [event({}, { mediaType: 'application/octet-stream', tag: undefined })] })).toMatchObject(nothing);
    expect(deliver({ events: [event({}, { tag: undefined })] })).toMatchObject(nothing);
    expect(deliver({ events: [event({}, { repository: 'team/other' })] })).toMatchObject({ ...nothing, reason: 'no watched image named' });
    expect(deliver({ events: [] })).toMatchObject(nothing);
  });

  it('refuses in order: credentials (401), then content type (415), then the body (400)', () => {
    expect(deliver('not json', { authorization: undefined }).status).toBe(401);
    expect(deliver('not json', { authorization: 'Bearer wrong-token-1' }).status).toBe(401);
    expect(deliver('not json', { authorization: TOKEN }).status).toBe(401); // not a bearer
    expect(deliver('not json', { contentType: 'text/plain' }).status).toBe(415);
    expect(deliver('not json', { contentType: undefined }).status).toBe(415);
    expect(deliver('not json')).toMatchObject({ status: 400, reason: 'body is not JSON' });
    expect(deliver({ event: [] })).toMatchObject({ status: 400, reason: 'expected {"events":[…]}' });
    expect(deliver({ events: ['push'] })).toMatchObject({ status: 400 });
    expect(deliver([1, 2])).toMatchObject({ status: 400 });
  });

  it('with no token configured every delivery is refused', () => {
    const verdict = verifyRegistryDelivery({ authorization: 'Bearer ', contentType: EVENTS_V1, body: Buffer.from('{"events":[]}') }, undefined, watched);
    expect(verdict.status).toBe(401);
  });
});

describe('GHCR deliveries (POST /hooks/ghcr)', () => {
  const SECRET = 'ghcr-hook-secret-1';
  const watched = new WatchedTags(['ghcr.io/confighubai/confighub-worker:latest']);
  const packageEvent = (over: Record<string, unknown> = {}, tag: Record<string, unknown> = { name: 'latest', digest: D1 }) => ({
    action: 'published',
    package: { name: 'confighub-worker', namespace: 'ConfigHubAI', package_type: 'container', owner: { login: 'ConfigHubAI' }, package_version: { container_metadata: { tag } }, ...over },
  });
  const deliver = (body: unknown, options: { event?: string; secret?: string; signature?: string; contentType?: string } = {}) => {
    const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return verifyGhcrDelivery(
      { signature: 'signature' in options ? options.signature : githubSignature(options.secret ?? SECRET, raw), event: options.event ?? 'package', contentType: options.contentType ?? 'application/json', body: raw },
      SECRET,
      watched,
    );
  };

  it('a published container tag names ghcr.io/<namespace>/<name>, lower-cased', () => {
    expect(deliver(packageEvent())).toEqual({ status: 202, outcome: 'accepted', checks: [{ ref: 'ghcr.io/confighubai/confighub-worker:latest', digest: D1 }] });
    // registry_package events, and owner.login when there is no namespace.
    const legacy = { action: 'published', registry_package: { ...packageEvent().package, namespace: undefined, package_type: 'CONTAINER' } };
    expect(deliver(legacy, { event: 'registry_package' })).toMatchObject({ status: 202, outcome: 'accepted' });
    // Form-encoded deliveries carry the JSON in `payload`; the signature covers the form body.
    const form = `payload=${encodeURIComponent(JSON.stringify(packageEvent()))}`;
    expect(deliver(form, { contentType: 'application/x-www-form-urlencoded' })).toMatchObject({ status: 202, outcome: 'accepted' });
  });

  it('ping, other events, other packages, untagged versions and unwatched images: 202 and nothing', () => {
    expect(deliver({ zen: 'Design for failure.', hook_id: 1 }, { event: 'ping' })).toMatchObject({ status: 202, outcome: 'ignored', reason: 'ping' });
    expect(deliver({ ref: 'refs/heads/main' }, { event: 'push' })).toMatchObject({ status: 202, outcome: 'ignored' });
    expect(deliver(packageEvent({ package_type: 'npm' }))).toMatchObject({ status: 202, outcome: 'ignored' });
    expect(deliver({ ...packageEvent(), action: 'deleted' })).toMatchObject({ status: 202, outcome: 'ignored' });
    expect(deliver(packageEvent({}, { name: '', digest: D1 }))).toMatchObject({ status: 202, outcome: 'ignored' });
    expect(deliver(packageEvent({ name: 'other' }))).toMatchObject({ status: 202, outcome: 'ignored', reason: 'no watched image named' });
  });

  it('refuses in order: signature (401), then content type (415), then the body (400)', () => {
    expect(deliver('not json', { signature: undefined }).status).toBe(401);
    expect(deliver('not json', { secret: 'wrong-secret' }).status).toBe(401);
    expect(deliver({ zen: 'x' }, { event: 'ping', secret: 'wrong-secret' }).status).toBe(401);
    expect(deliver('not json', { contentType: 'text/plain' }).status).toBe(415);
    expect(deliver('not json').status).toBe(400);
    expect(deliver({ action: 'published' }).status).toBe(400);
    expect(deliver(packageEvent({ name: undefined, namespace: undefined, owner: undefined })).status).toBe(400);
    expect(deliver('a=b', { contentType: 'application/x-www-form-urlencoded' }).status).toBe(400);
  });
});

describe('Docker Hub deliveries (POST /hooks/dockerhub/<token>)', () => {
  const TOKEN = 'dockerhub-hook-token-1';
  const watched = new WatchedTags(['docker.io/acme/web:latest', 'nginx:1.27']);
  const deliver = (body: unknown, pathToken: string | null = TOKEN, contentType = 'application/json') =>
    verifyDockerHubDelivery({ pathToken: pathToken ?? undefined, contentType, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) }, TOKEN, watched);
  const push = (repo: string, tag: string) => ({ push_data: { tag, pusher: 'acme', pushed_at: 1700000000 }, repository: { repo_name: repo, namespace: repo.split('/')[0], name: repo.split('/')[1] }, callback_url: 'https://registry.hub.docker.com/u/x/hook/1/' });

  it('names docker.io/<repo_name>:<tag>, with no digest', () => {
    expect(deliver(push('acme/web', 'latest'))).toEqual({ status: 202, outcome: 'accepted', checks: [{ ref: 'docker.io/acme/web:latest' }] });
    expect(deliver(push('library/nginx', '1.27'))).toMatchObject({ checks: [{ ref: 'nginx:1.27' }] });
    expect(deliver(push('acme/web', 'dev'))).toMatchObject({ status: 202, outcome: 'ignored' });
  });

  it('refuses in order: the path token (401), then content type (415), then the body (400)', () => {
    expect(deliver('x', null).status).toBe(401);
    expect(deliver('x', 'wrong-token').status).toBe(401);
    expect(deliver('x', TOKEN, 'text/plain').status).toBe(415);
    expect(deliver('x').status).toBe(400);
    expect(deliver({ push_data: {} }).status).toBe(400);
    expect(deliver(push('Not A Repo', 'latest')).status).toBe(400);
  });
});

describe('GitHub delivery ids', () => {
  it('are accepted once within the memory, and forgotten after it or when it is full', () => {
    const memory = new DeliveryMemory(1000, 2);
    expect(memory.seen('a', 0)).toBe(false);
    expect(memory.seen('a', 10)).toBe(true);
    expect(memory.seen('a', 2000)).toBe(false); // expired, remembered anew
    expect(memory.seen('b', 2001)).toBe(false);
    expect(memory.seen('c', 2002)).toBe(false); // full: the oldest (a) goes
    expect(memory.seen('a', 2003)).toBe(false);
    expect(memory.seen('c', 2004)).toBe(true);
  });
});

describe('webhook and registry url config', () => {
  it('defaults each secret variable, serves only the hooks configured, and names the path of every error', async () => {
    const { parseConfig } = await import('../src/config.js');
    expect(parseConfig({}).webhooks).toEqual({});
    expect(parseConfig({ webhooks: { registry: {}, ghcr: {}, dockerhub: {} } }).webhooks).toEqual({
      registry: { tokenEnv: 'DRIFTWATCH_REGISTRY_WEBHOOK_TOKEN' },
      ghcr: { secretEnv: 'DRIFTWATCH_GHCR_WEBHOOK_SECRET' },
      dockerhub: { tokenEnv: 'DRIFTWATCH_DOCKERHUB_WEBHOOK_TOKEN' },
    });
    expect(parseConfig({ registries: { 'ghcr.io': { url: 'http://127.0.0.1:5000' } } }).registries['ghcr.io']).toEqual({ insecure: false, url: 'http://127.0.0.1:5000' });
    const problems = (() => {
      try {
        parseConfig({ webhooks: { registry: { tokenEnv: 'not a name' }, gitlab: {}, ghcr: { secretenv: 'X' } }, registries: { 'ghcr.io': { url: 'ftp://mirror' } }, server: { host: '' } });
      } catch (error) {
        return (error as { problems: string[] }).problems.join('\n');
      }
      return '';
    })();
    expect(problems).toContain('webhooks.registry.tokenEnv: expected an environment variable name like MY_SECRET');
    expect(problems).toContain('webhooks.gitlab: unknown key');
    expect(problems).toContain('webhooks.ghcr.secretenv: unknown key; did you mean "secretEnv"?');
    expect(problems).toContain('registries.ghcr.io.url: expected an http(s) URL, got ftp: in "ftp://mirror"');
    expect(problems).toContain('server.host: expected an address to listen on, like 0.0.0.0 or 127.0.0.1');
  });
});
