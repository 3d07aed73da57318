/**
 * A paused leader that wakes up (SIGSTOP, then SIGCONT — a long GC pause, a frozen VM): two
 * `driftwatch run` replicas, the fake Slack, the fake apiserver, real PostgreSQL; short lease
 * settings (leaseDuration 3 s, renewDeadline 2 s, retryPeriod 500 ms). While it sleeps the
 * standby takes over and alerts; once awake, the ex-leader makes no Slack call and the alert is
 * in the channel once. (Its frozen socket stays open on the fake, which doesn't ping; real Slack
 * drops such a connection itself, so the 2 s overlap rule is not asserted here.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './support/fake-slack.js';
import { CHANNEL, isLeading, LEASE_MS, role, startHaWorld, waitUntil, type HaWorld } from './support/ha-replicas.js';
import { postgresAvailable } from './support/postgres.js';

let world: HaWorld | undefined;
afterEach(async () => {
  for (const replica of world?.replicas ?? []) if (replica.product.child.exitCode === null) replica.product.child.kill('SIGCONT');
  await world?.close();
  world = undefined;
});

describe.runIf(postgresAvailable())('two replicas: the leader paused, then awake', () => {
  it('the standby takes over and alerts; the woken ex-leader sends nothing and stands by', async () => {
    world = await startHaWorld();
    const { slack, endpoint } = world;
    const a = await world.start('pod-a');
    await waitUntil(() => isLeading(a), 15_000, 'pod-a leading', a.product);
    const b = await world.start('pod-b');
    await waitUntil(async () => (await role(b))?.startsWith('standby (pod-a leads)') ?? false, 15_000, 'pod-b a standby', b.product);

    a.product.child.kill('SIGSTOP');
    const pausedAt = Date.now();
    endpoint.setVersion('X-Relay-Version', undefined);
    await waitUntil(() => isLeading(b), LEASE_MS.leaseDuration + 5_000, 'pod-b leading while pod-a sleeps', b.product);
    const roots = () => slack.channel(CHANNEL).filter((message) => message.text.includes('relay-dfw1: stale deploy'));
    await waitFor(() => roots()[0], { timeoutMs: 20_000, what: 'the alert from pod-b' });

    // pod-a wakes with its timers overdue: its own clock says its leadership ended long ago.
    a.product.child.kill('SIGCONT');
    await waitUntil(async () => (await role(a))?.startsWith('standby (pod-b leads)') ?? false, 10_000, 'pod-a a standby again', a.product);
    // A few of its probe and delivery periods: it observes, decides and posts nothing.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(slack.calls.filter((call) => call.tokenTail === a.tokenTail && call.at >= pausedAt && call.method !== 'auth.test')).toEqual([]);
    expect(roots()).toHaveLength(1);
    expect(await a.metric('driftwatch_leader')).toBe(0);
    expect(a.product.stderr).toMatch(/stopped leading/);
  }, 90_000);
});
