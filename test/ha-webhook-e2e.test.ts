/**
 * A webhook delivered to the standby of two `driftwatch run` replicas (fake Slack, fake
 * apiserver, real PostgreSQL, the real `docker-registry` serving ghcr.io refs): the standby
 * stores a "check this tag now" request, the leader runs the check, and the tag-move notice is
 * in the channel within 2 s of the POST — with polling every hour, only the relay can bring it.
 * Lease settings are short (leaseDuration 3 s, renewDeadline 2 s, retryPeriod 500 ms).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { shortDigest } from '../src/domain/image-ref.js';
import { githubSignature } from '../src/web/hooks/ghcr.js';
import { CHANNEL, isLeading, role, startHaWorld, waitUntil, type HaWorld } from './support/ha-replicas.js';
import { postgresAvailable } from './support/postgres.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';

const SECRET = 'ghcr-hook-secret-2b8d4e6f';
const REF = 'ghcr.io/acme/app:latest';
const NOTICE_WITHIN_MS = 2_000;

let world: HaWorld | undefined;
let mirror: TestRegistry | undefined;
afterEach(async () => {
  await world?.close();
  await mirror?.stop();
  world = undefined;
  mirror = undefined;
});

function ghcrDelivery(digest: string) {
  const body = JSON.stringify({
    action: 'published',
    package: { name: 'app', namespace: 'acme', package_type: 'container', owner: { login: 'acme' }, package_version: { container_metadata: { tag: { name: 'latest', digest } } } },
  });
  return { body, headers: { 'content-type': 'application/json', 'x-github-event': 'package', 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': githubSignature(SECRET, body) } };
}

describe.runIf(postgresAvailable() && registryAvailable())('two replicas: a webhook received by the standby', () => {
  it('is acted on by the leader: the tag-move notice within 2 s of the POST to the standby, once', async () => {
    mirror = await startRegistry();
    world = await startHaWorld({
      config: { registries: { 'ghcr.io': { url: `http://${mirror.host}` } }, images: [{ ref: REF, every: '1h' }], webhooks: { ghcr: {} } },
      env: { DRIFTWATCH_GHCR_WEBHOOK_SECRET: SECRET, LOG_LEVEL: 'debug' },
    });
    const { slack } = world;
    const a = await world.start('pod-a');
    await waitUntil(() => isLeading(a), 15_000, 'pod-a leading', a.product);
    const b = await world.start('pod-b');
    await waitUntil(async () => (await role(b))?.startsWith('standby (pod-a leads)') ?? false, 15_000, 'pod-b a standby', b.product);
    const postToStandby = (digest: string) => {
      const delivery = ghcrDelivery(digest);
      return fetch(`http://127.0.0.1:${b.port}/hooks/ghcr`, { method: 'POST', headers: delivery.headers, body: delivery.body });
    };

    // The first push is the first sighting: the standby's request makes the leader record it, silently.
    const first = await mirror.pushImage('acme/app', 'latest');
    expect((await postToStandby(first.digest)).status).toBe(202);
    await b.product.waitFor(new RegExp(`webhook check of ghcr\\.io/acme/app:latest: the registry serves ${shortDigest(first.digest)}`), { stream: 'stderr', timeoutMs: 10_000 });

    const second = await mirror.pushImage('acme/app', 'latest');
    const posted = Date.now();
    expect((await postToStandby(second.digest)).status).toBe(202);
    const notices = () => slack.channel(CHANNEL).filter((message) => slack.messageText(message).includes(`${REF} moved:`));
    await waitUntil(() => notices().length > 0, 10_000, 'the tag-move notice', a.product);
    const postedAt = slack.calls.find((call) => call.method === 'chat.postMessage' && JSON.stringify(call.params).includes(`${REF} moved:`))!.at;
    expect(postedAt - posted, 'standby POST → the notice reaching Slack').toBeLessThan(NOTICE_WITHIN_MS);
    expect(slack.messageText(notices()[0]!)).toContain(shortDigest(second.digest));
    // The leader posted it; the standby made no Slack call beyond its token check.
    expect(slack.calls.filter((call) => call.tokenTail === b.tokenTail && call.method !== 'auth.test')).toEqual([]);
    expect(notices()).toHaveLength(1);
  }, 90_000);
});
