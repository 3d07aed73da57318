/**
 * SIGTERM on the leader of two `driftwatch run` replicas (fake Slack, fake apiserver, real
 * PostgreSQL): it drains, releases the Lease, and the standby leads within retryPeriod + 2 s
 * (short settings here: leaseDuration 3 s, renewDeadline 2 s, retryPeriod 500 ms). Also: a
 * registry-less check that a webhook-free standby stays quiet, and Socket Mode moves over with at
 * most 2 s of overlap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/fake-slack.js';
import { CHANNEL, isLeading, LEASE_MS, role, startHaWorld, waitUntil, type HaWorld } from './support/ha-replicas.js';
import { postgresAvailable } from './support/postgres.js';

let world: HaWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe.runIf(postgresAvailable())('two replicas: SIGTERM on the leader', () => {
  it('releases the Lease after draining; the standby leads within retryPeriod + 2 s and takes Socket Mode over; the open incident resolves once', async () => {
    world = await startHaWorld();
    const { slack, endpoint } = world;
    const a = await world.start('pod-a');
    await waitUntil(() => isLeading(a), 15_000, 'pod-a leading', a.product);
    const b = await world.start('pod-b');
    await waitUntil(async () => (await role(b))?.startsWith('standby (pod-a leads)') ?? false, 15_000, 'pod-b a standby', b.product);
    await waitUntil(() => slack.openSockets() === 1, 10_000, 'the leader connected to Socket Mode', a.product);

    // An incident opened by the first leader…
    endpoint.setVersion('X-Relay-Version', undefined);
    const roots = () => slack.channel(CHANNEL).filter((message) => message.text.includes('relay-dfw1: stale deploy'));
    const root = await waitFor(() => roots()[0], { timeoutMs: 20_000, what: 'the alert' });
    expect(root).toBeDefined();
    // Only the leader talks to Slack's Web API (a standby's Bolt app checks its token at start, nothing more).
    expect(slack.calls.filter((call) => call.tokenTail === b.tokenTail && call.method !== 'auth.test')).toEqual([]);

    const termAt = Date.now();
    a.product.child.kill('SIGTERM');
    await waitUntil(() => isLeading(b), LEASE_MS.retryPeriod + 2_000 + 2_000, 'pod-b leading', b.product);
    expect(b.leadingSince()! - termAt, 'SIGTERM → the standby leads').toBeLessThan(LEASE_MS.retryPeriod + 2_000);
    expect(await a.product.exited).toBe(0);
    expect(a.product.stderr).toMatch(/released/);

    await waitUntil(() => slack.openSockets() === 1, 6_000, 'the new leader connected to Socket Mode', b.product);
    expect(slack.longestSocketOverlapMs()).toBeLessThanOrEqual(2_000);

    // …is resolved by the second, in its thread, once.
    endpoint.setVersion('X-Relay-Version', '0.2.0');
    await waitFor(() => slack.thread(CHANNEL, root!.ts).some((reply) => /Resolved after \d/.test(reply.text)), { timeoutMs: 20_000, what: 'the resolution' });
    expect(roots()).toHaveLength(1);
    expect(slack.thread(CHANNEL, root!.ts).filter((reply) => /Resolved after/.test(reply.text))).toHaveLength(1);
    expect(slack.calls.filter((call) => call.tokenTail === a.tokenTail && call.at > termAt + 10_000)).toEqual([]);
  }, 90_000);
});
