/**
 * Push, end to end: `driftwatch run` as a child process, the real `docker-registry` notifying it,
 * signed GHCR and Docker Hub deliveries, and the fake Slack showing what a user would see. Every
 * image is polled only every hour, so a notice within seconds can only come from a webhook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubSignature } from '../src/web/hooks/ghcr.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { freePort, Product, writeConfig } from './support/product.js';
import { registryAvailable, registryUnavailableReason, startRegistry, type TestRegistry } from './support/registry.js';
import { shortDigest } from '../src/domain/image-ref.js';

const BOT = 'xoxb-2222-3333-push-bot-token-value';
const APP = 'xapp-1-A0TEST-4444-push-app-token-value';
const CHANNEL = 'C0ALERTS';
const SECRETS = {
  DRIFTWATCH_REGISTRY_WEBHOOK_TOKEN: 'registry-hook-token-7f3a9c1e',
  DRIFTWATCH_GHCR_WEBHOOK_SECRET: 'ghcr-hook-secret-2b8d4e6f',
  DRIFTWATCH_DOCKERHUB_WEBHOOK_TOKEN: 'dockerhub-hook-token-5c1a7e3d',
};
/** The user-visible promise: the notice within 2 s of the push (PRODUCTION.md, "Push"). */
const NOTICE_WITHIN_MS = 2000;

describe.skipIf(!registryAvailable())(`driftwatch run with registry webhooks${registryAvailable() ? '' : ` (skipped: ${registryUnavailableReason()})`}`, () => {
  let fake: FakeSlack;
  let notifying: TestRegistry; // posts its notifications to the product
  let mirror: TestRegistry; // serves ghcr.io and docker.io refs through registries.<host>.url
  let product: Product;
  let base: string;

  const refs = () => ({
    local: `${notifying.host}/team/app:latest`,
    ghcr: 'ghcr.io/acme/app:latest',
    hub: 'docker.io/acme/web:latest',
  });
  const notices = (ref: string) => fake.channel(CHANNEL).filter((message) => fake.messageText(message).includes(`${ref} moved:`));
  /** The product's debug line saying a webhook's HEAD of `ref` is done (the digest is recorded). */
  const checked = (ref: string, digest: string) => product.waitFor(new RegExp(`webhook check of ${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the registry serves ${shortDigest(digest)}`), { stream: 'stderr' });

  const post = (path: string, body: string, headers: Record<string, string>) => fetch(`${base}${path}`, { method: 'POST', headers, body });
  const ghcrDelivery = (digest: string, id = crypto.randomUUID(), secret = SECRETS.DRIFTWATCH_GHCR_WEBHOOK_SECRET) => {
    const body = JSON.stringify({
      action: 'published',
      package: { name: 'app', namespace: 'acme', package_type: 'container', owner: { login: 'acme' }, package_version: { container_metadata: { tag: { name: 'latest', digest } } } },
    });
    return { body, headers: { 'content-type': 'application/json', 'x-github-event': 'package', 'x-github-delivery': id, 'x-hub-signature-256': githubSignature(secret, body) } };
  };
  const hubDelivery = JSON.stringify({ push_data: { tag: 'latest', pusher: 'acme' }, repository: { repo_name: 'acme/web', namespace: 'acme', name: 'web' } });

  beforeAll(async () => {
    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    notifying = await startRegistry({ notifications: { url: `${base}/hooks/registry`, token: SECRETS.DRIFTWATCH_REGISTRY_WEBHOOK_TOKEN } });
    mirror = await startRegistry();
    const { path } = writeConfig({
      slack: { channel: CHANNEL },
      server: { host: '127.0.0.1', port },
      registries: { [notifying.host]: { insecure: true }, 'ghcr.io': { url: `http://${mirror.host}` }, 'docker.io': { url: `http://${mirror.host}` } },
      images: Object.values(refs()).map((ref) => ({ ref, every: '1h' })),
      webhooks: { registry: {}, ghcr: {}, dockerhub: {} },
    });
    product = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: fake.apiUrl, LOG_LEVEL: 'debug', ...SECRETS });
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 20_000, what: 'the product ready' });
  }, 60_000);

  afterAll(async () => {
    await product?.kill('SIGTERM');
    await notifying?.stop();
    await mirror?.stop();
    await fake?.close();
  });

  it('a push to the real registry: its notification alone brings the tag-move notice within 2 s', async () => {
    const ref = refs().local;
    // The first push is the first sighting: recorded through the webhook, silently.
    const first = await notifying.pushImage('team/app', 'latest');
    await checked(ref, first.digest);
    const second = await notifying.pushImage('team/app', 'latest');
    const pushed = Date.now();
    const notice = await waitFor(() => notices(ref)[0], { timeoutMs: NOTICE_WITHIN_MS, what: `the tag-move notice within ${NOTICE_WITHIN_MS} ms of the push` });
    expect(Date.now() - pushed).toBeLessThan(NOTICE_WITHIN_MS);
    expect(fake.messageText(notice)).toContain(`${ref} moved: ${shortDigest(first.digest)} → ${shortDigest(second.digest)}`);
  });

  it('a signed GHCR delivery and a Docker Hub delivery do the same against a registry serving the new digest', async () => {
    const { ghcr, hub } = refs();
    const firstApp = await mirror.pushImage('acme/app', 'latest');
    const firstWeb = await mirror.pushImage('acme/web', 'latest');
    const baseline = ghcrDelivery(firstApp.digest);
    expect((await post('/hooks/ghcr', baseline.body, baseline.headers)).status).toBe(202);
    expect((await post(`/hooks/dockerhub/${SECRETS.DRIFTWATCH_DOCKERHUB_WEBHOOK_TOKEN}`, hubDelivery, { 'content-type': 'application/json' })).status).toBe(202);
    await checked(ghcr, firstApp.digest);
    await checked(hub, firstWeb.digest);

    const secondApp = await mirror.pushImage('acme/app', 'latest');
    const delivery = ghcrDelivery(secondApp.digest);
    let sent = Date.now();
    expect((await post('/hooks/ghcr', delivery.body, delivery.headers)).status).toBe(202);
    const appNotice = await waitFor(() => notices(ghcr)[0], { timeoutMs: NOTICE_WITHIN_MS, what: 'the GHCR tag-move notice' });
    expect(Date.now() - sent).toBeLessThan(NOTICE_WITHIN_MS);
    expect(fake.messageText(appNotice)).toContain(`${ghcr} moved: ${shortDigest(firstApp.digest)} → ${shortDigest(secondApp.digest)}`);

    const secondWeb = await mirror.pushImage('acme/web', 'latest');
    sent = Date.now();
    expect((await post(`/hooks/dockerhub/${SECRETS.DRIFTWATCH_DOCKERHUB_WEBHOOK_TOKEN}`, hubDelivery, { 'content-type': 'application/json' })).status).toBe(202);
    const webNotice = await waitFor(() => notices(hub)[0], { timeoutMs: NOTICE_WITHIN_MS, what: 'the Docker Hub tag-move notice' });
    expect(Date.now() - sent).toBeLessThan(NOTICE_WITHIN_MS);
    expect(fake.messageText(webNotice)).toContain(`${hub} moved: ${shortDigest(firstWeb.digest)} → ${shortDigest(secondWeb.digest)}`);

    // Now the tag moves again with nobody telling: forged, replayed and malformed deliveries
    // must not be what finds it out.
    const thirdApp = await mirror.pushImage('acme/app', 'latest');
    const forged = ghcrDelivery(thirdApp.digest, crypto.randomUUID(), 'not-the-secret-at-all');
    expect((await post('/hooks/ghcr', forged.body, forged.headers)).status).toBe(401);
    expect((await post('/hooks/ghcr', delivery.body, delivery.headers)).status).toBe(202); // a replay of the delivery above
    const malformed = '{"action":"published","package":';
    expect((await post('/hooks/ghcr', malformed, { ...delivery.headers, 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': githubSignature(SECRETS.DRIFTWATCH_GHCR_WEBHOOK_SECRET, malformed) })).status).toBe(400);
    expect((await post('/hooks/registry', '{"events":[]}', { 'content-type': 'application/json', authorization: 'Bearer forged-token-000' })).status).toBe(401);
    expect((await post('/hooks/dockerhub/forged-token-000', hubDelivery, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await post('/hooks/ghcr', 'x'.repeat(2 * 1024 * 1024), delivery.headers)).status).toBe(413);
    // A later valid delivery is answered and checked after all of those; it is the barrier.
    const thirdWeb = await mirror.pushImage('acme/web', 'latest');
    expect((await post(`/hooks/dockerhub/${SECRETS.DRIFTWATCH_DOCKERHUB_WEBHOOK_TOKEN}`, hubDelivery, { 'content-type': 'application/json' })).status).toBe(202);
    await waitFor(() => notices(hub).length === 2, { timeoutMs: 10_000, what: 'the barrier notice' });
    expect(fake.messageText(notices(hub)[1]!)).toContain(`${shortDigest(secondWeb.digest)} → ${shortDigest(thirdWeb.digest)}`);
    expect(notices(ghcr)).toHaveLength(1);

    const ready = (await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, { ok: boolean; state: string }> };
    for (const hook of ['registry', 'ghcr', 'dockerhub']) expect(ready.checks[`webhook:${hook}`]?.state).toMatch(/^last valid delivery at /);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^driftwatch_webhook_requests_total\{hook="ghcr",outcome="duplicate"\} 1$/m);
    expect(metrics).toMatch(/^driftwatch_webhook_requests_total\{hook="ghcr",outcome="unauthorized"\} 1$/m);
    expect(metrics).toMatch(/^driftwatch_webhook_requests_total\{hook="ghcr",outcome="too_large"\} 1$/m);
    for (const secret of Object.values(SECRETS)) {
      expect(product.stdout + product.stderr).not.toContain(secret);
      expect(JSON.stringify(ready)).not.toContain(secret);
    }
  });
});
