/**
 * The apiserver out of reach, with two `driftwatch run` replicas (fake Slack, fake apiserver,
 * real PostgreSQL; leaseDuration 3 s, renewDeadline 2 s, retryPeriod 500 ms): a leader cut off
 * longer than renewDeadline stops acting — no Slack call from it after that — and the other
 * replica takes over; when neither reaches it nobody leads and /readyz and /metrics say so.
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

describe.runIf(postgresAvailable())('two replicas: the apiserver out of reach', () => {
  it('a leader cut off past renewDeadline stops acting; the other leads and alerts; with both cut off nobody leads', async () => {
    world = await startHaWorld();
    const { slack, endpoint, apiserver } = world;
    const a = await world.start('pod-a');
    await waitUntil(() => isLeading(a), 15_000, 'pod-a leading', a.product);
    const b = await world.start('pod-b');
    await waitUntil(async () => (await role(b))?.startsWith('standby (pod-a leads)') ?? false, 15_000, 'pod-b a standby', b.product);
    await waitUntil(() => slack.openSockets() === 1, 10_000, 'the leader connected to Socket Mode', a.product);

    // pod-a's requests to the apiserver hang from now on.
    apiserver.setUnreachable('hang', { client: 'pod-a' });
    const cutAt = Date.now();
    await waitUntil(async () => !(await isLeading(a)), LEASE_MS.renewDeadline + 2_000, 'pod-a giving up', a.product);
    // Its attempt under way fails at its own deadline (renewDeadline after it began): then /readyz says why.
    await waitUntil(async () => (await a.readyz()).status === 503, LEASE_MS.retryPeriod + LEASE_MS.renewDeadline + 1_000, 'pod-a not ready', a.product);
    expect((await a.readyz()).body.checks.leader).toEqual({ ok: false, state: 'standby: cannot read or renew the lease' });
    expect(await a.metric('driftwatch_leader')).toBe(0);
    await waitUntil(() => isLeading(b), LEASE_MS.leaseDuration + 5_000, 'pod-b leading', b.product);
    // The one open connection is one pod-b opened after it started leading (pod-a's was closed when it stopped).
    const bLeads = b.leadingSince()!;
    await waitUntil(() => slack.openSockets() === 1 && slack.socketSpans.some((span) => span.closedAt === undefined && span.openedAt >= bLeads), 6_000, 'Socket Mode moved to pod-b', b.product);
    expect(slack.longestSocketOverlapMs()).toBeLessThanOrEqual(2_000);

    // An alert now comes from pod-b alone: pod-a makes no Slack call once renewDeadline has passed.
    endpoint.setVersion('X-Relay-Version', undefined);
    await waitFor(() => slack.channel(CHANNEL).find((message) => message.text.includes('relay-dfw1: stale deploy')), { timeoutMs: 20_000, what: 'the alert' });
    expect(slack.calls.filter((call) => call.tokenTail === a.tokenTail && call.at > cutAt + LEASE_MS.renewDeadline)).toEqual([]);
    expect(slack.calls.some((call) => call.method === 'chat.postMessage' && call.tokenTail === b.tokenTail)).toBe(true);

    // Both cut off: nobody leads, every /readyz says why, driftwatch_leader is 0 everywhere, no socket.
    apiserver.setUnreachable('hang');
    await waitUntil(async () => !(await isLeading(b)), LEASE_MS.renewDeadline + 2_000, 'pod-b giving up', b.product);
    await waitUntil(async () => (await b.readyz()).status === 503, LEASE_MS.retryPeriod + LEASE_MS.renewDeadline + 1_000, 'pod-b not ready', b.product);
    for (const replica of [a, b]) {
      const answer = await replica.readyz();
      expect(answer.status).toBe(503);
      expect(answer.body.checks.leader!.state).toBe('standby: cannot read or renew the lease');
      expect(await replica.metric('driftwatch_leader')).toBe(0);
    }
    await waitUntil(() => slack.openSockets() === 0, 2_000, 'no Socket Mode connection');

    // Reachable again: exactly one leads.
    apiserver.setUnreachable(false);
    await waitUntil(async () => (await isLeading(a)) !== (await isLeading(b)), LEASE_MS.leaseDuration + 5_000, 'one leader again');
    await waitUntil(() => slack.openSockets() === 1, 6_000, 'one Socket Mode connection again');
  }, 90_000);
});
