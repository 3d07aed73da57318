/**
 * The webhook routes' refusals and replays that need no registry: the order of the checks when
 * the content type is one Fastify itself cannot parse, a GitHub body replayed under a fresh
 * delivery id, and Docker Hub tokens longer than the router's default limit.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { registerHealth } from '../src/web/health.js';
import { githubSignature } from '../src/web/hooks/ghcr.js';
import { registerHooks, type TagChecker } from '../src/web/hooks/index.js';
import { createWebApp } from '../src/web/server.js';

const ENV = { DW_TEST_REGISTRY_TOKEN: 'registry-token-0123456789', DW_TEST_GHCR_SECRET: 'ghcr-secret-0123456789', DW_TEST_HUB_TOKEN: 'hub-token-0123456789' };
const EVENTS = 'application/vnd.docker.distribution.events.v1+json';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const GHCR_REF = 'ghcr.io/acme/replayed:latest';

/** Records every HEAD the hooks ask for; serves the digest the deliveries name (so nothing is looked at again). */
class RecordingChecker implements TagChecker {
  readonly checked: string[] = [];
  private readonly list = new Map([[GHCR_REF, { ref: GHCR_REF }]]);
  watching() {
    return this.list;
  }
  async checkNow(ref: string): Promise<string | undefined> {
    this.checked.push(ref);
    return DIGEST;
  }
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function serve(env: Record<string, string> = ENV) {
  const config = parseConfig({ webhooks: { registry: { tokenEnv: 'DW_TEST_REGISTRY_TOKEN' }, ghcr: { secretEnv: 'DW_TEST_GHCR_SECRET' }, dockerhub: { tokenEnv: 'DW_TEST_HUB_TOKEN' } } });
  const metrics = new Metrics();
  const checker = new RecordingChecker();
  const app = createWebApp({ log: createLogger({ level: 'silent' }) });
  registerHooks(app, { webhooks: config.webhooks, registries: config.registries, env, checker, metrics, log: createLogger({ level: 'silent' }) });
  registerHealth(app, { metrics, checks: () => ({}) });
  await app.ready();
  apps.push(app);
  const counted = async (labels: string): Promise<number> => {
    const text = (await app.inject({ url: '/metrics' })).body;
    const line = text.split('\n').find((candidate) => candidate.startsWith(`driftwatch_webhook_requests_total{${labels}} `));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  return { app, checker, counted };
}

describe('a content type Fastify cannot parse', () => {
  it('without credentials: 401 (credentials come before the body), counted like other refusals', async () => {
    const { app, counted } = await serve();
    for (const contentType of ['garbage', ';;', 'application/json; charset']) {
      const answer = await app.inject({ method: 'POST', url: '/hooks/registry', headers: { 'content-type': contentType }, payload: '{"events":[]}' });
      expect(answer.statusCode, contentType).toBe(401);
      expect(answer.json()).toEqual({ error: 'no bearer token' });
    }
    const ghcr = await app.inject({ method: 'POST', url: '/hooks/ghcr', headers: { 'content-type': 'garbage' }, payload: '{}' });
    expect(ghcr.statusCode).toBe(401);
    const hub = await app.inject({ method: 'POST', url: '/hooks/dockerhub/wrong-token-000', headers: { 'content-type': ';;' }, payload: '{}' });
    expect(hub.statusCode).toBe(401);
    expect(await counted('hook="registry",outcome="unauthorized"')).toBe(3);
    expect(await counted('hook="ghcr",outcome="unauthorized"')).toBe(1);
    expect(await counted('hook="dockerhub",outcome="unauthorized"')).toBe(1);
  });

  it('with the right credentials: 415 naming the content type as sent, counted', async () => {
    const { app, counted } = await serve();
    const answer = await app.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: `Bearer ${ENV.DW_TEST_REGISTRY_TOKEN}`, 'content-type': 'garbage' }, payload: '{"events":[]}' });
    expect(answer.statusCode).toBe(415);
    expect(answer.json()).toEqual({ error: `content type "garbage"; expected ${EVENTS} or application/vnd.docker.distribution.events.v2+json or application/json` });
    const empty = await app.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: `Bearer ${ENV.DW_TEST_REGISTRY_TOKEN}`, 'content-type': ';;' }, payload: '{"events":[]}' });
    expect(empty.statusCode).toBe(415);
    expect(await counted('hook="registry",outcome="unsupported_media_type"')).toBe(2);
    // A good delivery still goes through (the neutralised header changed nothing else).
    const good = await app.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: `Bearer ${ENV.DW_TEST_REGISTRY_TOKEN}`, 'content-type': `${EVENTS}; charset=utf-8` }, payload: '{"events":[]}' });
    expect(good.statusCode).toBe(202);
  });
});

describe('a replayed GitHub delivery', () => {
  const body = JSON.stringify({ action: 'published', package: { name: 'replayed', namespace: 'acme', package_type: 'container', owner: { login: 'acme' }, package_version: { container_metadata: { tag: { name: 'latest', digest: DIGEST } } } } });
  const post = (app: FastifyInstance, headers: Record<string, string>, payload = body) =>
    app.inject({ method: 'POST', url: '/hooks/ghcr', headers: { 'content-type': 'application/json', 'x-github-event': 'package', 'x-hub-signature-256': githubSignature(ENV.DW_TEST_GHCR_SECRET, payload), ...headers }, payload });

  it('same body and signature under a fresh delivery id: accepted once, nothing the second time', async () => {
    const { app, checker, counted } = await serve();
    const first = await post(app, { 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ status: 'accepted', checking: 1 });
    const replayed = await post(app, { 'x-github-delivery': crypto.randomUUID() });
    expect(replayed.statusCode).toBe(202);
    expect(replayed.json()).toEqual({ status: 'ignored', reason: 'delivery already received' });
    // The signature's hex in upper case is the same signature: still a replay.
    const upper = await post(app, { 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': githubSignature(ENV.DW_TEST_GHCR_SECRET, body).toUpperCase().replace('SHA256=', 'sha256=') });
    expect(upper.json()).toEqual({ status: 'ignored', reason: 'delivery already received' });
    const noId = await post(app, {});
    expect(noId.json()).toEqual({ status: 'ignored', reason: 'delivery already received' });
    expect(checker.checked).toEqual([GHCR_REF]);
    expect(await counted('hook="ghcr",outcome="duplicate"')).toBe(3);
  });

  it('a forged delivery is not remembered: the genuine one after it is still accepted', async () => {
    const { app, checker } = await serve();
    const id = '11111111-2222-3333-4444-555555555555';
    expect((await post(app, { 'x-github-delivery': id, 'x-hub-signature-256': githubSignature('not-the-secret', body) })).statusCode).toBe(401);
    expect((await post(app, { 'x-github-delivery': id })).json()).toEqual({ status: 'accepted', checking: 1 });
    // Another event (another body) under its own id is a delivery of its own.
    expect((await post(app, { 'x-github-delivery': crypto.randomUUID() }, `${body}\n`)).json()).toEqual({ status: 'accepted', checking: 1 });
    expect(checker.checked).toEqual([GHCR_REF, GHCR_REF]);
  });
});

describe('Docker Hub tokens longer than 512 characters', () => {
  const hub = JSON.stringify({ push_data: { tag: 'latest' }, repository: { repo_name: 'acme/unwatched' } });

  it('a wrong long token answers 401, never quoting the path', async () => {
    const { app, counted } = await serve();
    const wrong = `w${'x'.repeat(2000)}`;
    const answer = await app.inject({ method: 'POST', url: `/hooks/dockerhub/${wrong}`, headers: { 'content-type': 'application/json' }, payload: hub });
    expect(answer.statusCode).toBe(401);
    expect(answer.body).not.toContain(wrong.slice(0, 40));
    expect(await counted('hook="dockerhub",outcome="unauthorized"')).toBe(1);
  });

  it('a configured long token routes and is accepted', async () => {
    const token = `t${'0123456789abcdef'.repeat(64)}`;
    const { app } = await serve({ ...ENV, DW_TEST_HUB_TOKEN: token });
    const answer = await app.inject({ method: 'POST', url: `/hooks/dockerhub/${token}`, headers: { 'content-type': 'application/json' }, payload: hub });
    expect(answer.statusCode).toBe(202);
    expect(answer.json()).toEqual({ status: 'ignored', reason: 'no watched image named' });
  });

  it('a URL the router cannot decode is refused without quoting it', async () => {
    const { app } = await serve();
    const answer = await app.inject({ method: 'POST', url: '/hooks/dockerhub/secret-ish%zztoken', headers: { 'content-type': 'application/json' }, payload: hub });
    expect(answer.statusCode).toBeGreaterThanOrEqual(400);
    expect(answer.body).not.toContain('secret-ish');
  });
});
