/**
 * What a failover must not lose, with two "replicas" (two Store handles on one real PostgreSQL
 * database, as two processes have two connections): a Confirm pressed after the leader
 * changed acts once, on the new leader; a followed rollout is followed on by the new leader and
 * told once. Also the outbox's fenced claim: a claim under an older term loses.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeCluster, Workload } from '../src/clients/kube.js';
import { AccessPolicy } from '../src/commands/access.js';
import { CommandBus } from '../src/commands/bus.js';
import { Confirmations } from '../src/commands/confirm.js';
import { RolloutFollower, type FollowJob } from '../src/commands/follower.js';
import type { CommandSpec } from '../src/commands/types.js';
import { Store } from '../src/store/index.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './support/postgres.js';

const log = pino({ level: 'silent' });
const ctx = { user: 'U0ALICE', channel: 'C0OPS', face: 'slack' as const };

let postgres: TestPostgres | undefined;
const opened: Store[] = [];
beforeAll(async () => {
  if (postgresAvailable()) postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const store of opened.splice(0)) store.close();
  await postgres?.stop();
});

/** Two replicas' stores: one fresh database, two connections. */
async function storePair(): Promise<readonly [Store, Store]> {
  const url = await postgres!.createDatabase();
  const pair = [Store.open(url), Store.open(url)] as const;
  opened.push(...pair);
  return pair;
}

/** A guarded command whose plan counts its executions; `target` is what the preview shows. */
function replica(store: Store, executed: string[], target: { version: string }) {
  const spec: CommandSpec = {
    family: 'worker',
    name: 'pin',
    usage: '/worker pin <name>',
    summary: 'pin',
    guarded: true,
    handle: async (args) => ({
      rule: 'worker pin',
      preview: { tone: 'info', title: [`pin ${args[0]} to ${target.version}`] },
      execute: async () => {
        executed.push(`${args[0]}@${target.version}`);
        return { tone: 'info', title: ['pinned'] };
      },
    }),
  };
  const access = new AccessPolicy({ 'worker pin': { users: ['U0ALICE'], groups: [], channels: [] } });
  const bus = new CommandBus(access, new Confirmations(undefined, store.confirmations), { now: () => Date.now() }, () => undefined);
  bus.register(spec);
  return bus;
}

describe.runIf(postgresAvailable())('a failover keeps pending confirmations', () => {
  it('a Confirm pressed on the next leader acts once; the old leader cannot act on it any more', async () => {
    const [storeA, storeB] = await storePair();
    const executed: string[] = [];
    const target = { version: 'v2' };
    const a = replica(storeA, executed, target);
    const b = replica(storeB, executed, target);
    const reply = await a.dispatch('worker', 'pin relay', ctx);
    expect(reply.kind).toBe('confirm');
    const id = reply.kind === 'confirm' ? reply.id : '';

    // Someone else presses it on the new leader: refused, and it stays usable.
    expect((await b.decide(id, 'U0BOB', true, { ...ctx, user: 'U0BOB' })).title.join('')).toContain('Only <@U0ALICE> can confirm this');
    // The requester presses Confirm after the failover: the new leader makes the plan again and acts once.
    expect((await b.decide(id, 'U0ALICE', true, ctx)).title).toEqual(['pinned']);
    expect(executed).toEqual(['relay@v2']);
    // The paused ex-leader still holds the plan in memory; the store says it was used.
    expect((await a.decide(id, 'U0ALICE', true, ctx)).title.join('')).toContain('already used');
    expect((await b.decide(id, 'U0ALICE', true, ctx)).title.join('')).toContain('already used');
    expect(executed).toEqual(['relay@v2']);
  });

  it('a plan that changed meanwhile (another preview) is not acted on', async () => {
    const [storeA, storeB] = await storePair();
    const executed: string[] = [];
    const target = { version: 'v2' };
    const a = replica(storeA, executed, target);
    const b = replica(storeB, executed, target);
    const reply = await a.dispatch('worker', 'pin relay', ctx);
    const id = reply.kind === 'confirm' ? reply.id : '';
    target.version = 'v3';
    expect((await b.decide(id, 'U0ALICE', true, ctx)).title.join('')).toMatch(/^Things changed while this confirmation waited/);
    expect(executed).toEqual([]);
  });
});

describe.runIf(postgresAvailable())('a failover keeps followed rollouts', () => {
  it('the next leader follows on and tells the outcome once; the follow is then gone from the store', async () => {
    const [storeA, storeB] = await storePair();
    let status: Workload['status'] = { observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 };
    const cluster = {
      getWorkload: async () => ({ metadata: { generation: 2 }, spec: { replicas: 2 }, status }) as unknown as Workload,
      listPods: async () => [],
    } as unknown as KubeCluster;
    const told: string[] = [];
    const engine = { recordAction: () => undefined, notice: (notice: { summary: string }) => (told.push(notice.summary), 'key') };
    const followerOf = (store: Store) => new RolloutFollower({ store, engine, clock: { now: () => Date.now() }, log, cluster: () => cluster } as never, { pollMs: 20 });
    const job: FollowJob = {
      target: { cluster: 'home', namespace: 'relay', kind: 'Deployment', name: 'relay', subject: 'workload:home/relay/Deployment/relay', label: 'Deployment relay/relay' },
      user: 'U0ALICE',
      rule: 'rollout restart',
      what: 'restart',
      podsBefore: new Set(['pod-1']),
    };
    const first = followerOf(storeA);
    const following = first.follow(job);
    expect(storeA.follows.all()).toHaveLength(1);
    // The leader stops (failover): the follow stays in the store, nothing was told.
    await first.stopAll();
    expect((await following).state).toBe('stopped');
    expect(storeB.follows.all()).toHaveLength(1);
    expect(told).toEqual([]);

    const second = followerOf(storeB);
    expect(second.resume()).toBe(1);
    expect(second.resume()).toBe(0);
    status = { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };
    await second.idle();
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/^✅ Rollout finished: Deployment relay\/relay \(restart\) — 2\/2 new pods Ready/);
    expect(storeA.follows.all()).toEqual([]);
  });
});

describe.runIf(postgresAvailable())('rollout follows are fenced by leadership', () => {
  const job: FollowJob = {
    target: { cluster: 'home', namespace: 'relay', kind: 'Deployment', name: 'relay', subject: 'workload:home/relay/Deployment/relay', label: 'Deployment relay/relay' },
    user: 'U0ALICE',
    rule: 'rollout restart',
    what: 'restart',
    podsBefore: new Set(['pod-1']),
  };
  const done = { metadata: { generation: 2 }, spec: { replicas: 2 }, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 } } as unknown as Workload;
  const rolling = { metadata: { generation: 2 }, spec: { replicas: 2 }, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } } as unknown as Workload;

  /** The two reads the follower makes, loosely typed (a Deployment here). */
  type Reads = { getWorkload: () => Promise<Workload> };
  function followerOf(store: Store, cluster: Reads, told: string[], isLeader: () => boolean) {
    const engine = { recordAction: () => undefined, notice: (notice: { summary: string }) => (told.push(notice.summary), 'key') };
    return new RolloutFollower({ store, engine, clock: { now: () => Date.now() }, log, cluster: () => ({ listPods: async () => [], ...cluster }) as unknown as KubeCluster, isLeader } as never, { pollMs: 20 });
  }

  it('a paused leader waking with a read in flight tells nothing; the new leader tells the outcome once', async () => {
    const [storeA, storeB] = await storePair();
    const told: string[] = [];
    let leadingA = true;
    let wake: ((workload: Workload) => void) | undefined;
    const first = followerOf(storeA, { getWorkload: () => new Promise<Workload>((resolve) => (wake = resolve)) }, told, () => leadingA);
    const following = first.follow(job);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(wake).toBeDefined();
    // A is paused past its renewDeadline; B leads and follows the stored row on
    leadingA = false;
    const second = followerOf(storeB, { getWorkload: async () => done }, told, () => true);
    expect(second.resume()).toBe(1);
    await second.idle();
    expect(told).toHaveLength(1);
    // A wakes: its read answers "done", but it leads no more
    wake!(done);
    expect((await following).state).toBe('stopped');
    expect(told).toHaveLength(1);
    expect(storeA.follows.all()).toEqual([]);
  });

  it('two followers of one stored row that both see it finish tell it once', async () => {
    const [storeA, storeB] = await storePair();
    const told: string[] = [];
    let status = rolling;
    const first = followerOf(storeA, { getWorkload: async () => status }, told, () => true);
    void first.follow(job);
    const second = followerOf(storeB, { getWorkload: async () => status }, told, () => true);
    expect(second.resume()).toBe(1);
    status = done;
    await Promise.all([first.idle(), second.idle()]);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/^✅ Rollout finished/);
  });

  it('a standby stores the follow for the leader and reads nothing itself', async () => {
    const [storeA, storeB] = await storePair();
    const told: string[] = [];
    let reads = 0;
    const standby = followerOf(storeA, { getWorkload: async () => (reads++, done) }, told, () => false);
    expect((await standby.follow(job)).state).toBe('stopped');
    expect(reads).toBe(0);
    expect(told).toEqual([]);
    expect(storeA.follows.all()).toHaveLength(1);
    const leader = followerOf(storeB, { getWorkload: async () => done }, told, () => true);
    expect(leader.resume()).toBe(1);
    await leader.idle();
    expect(told).toHaveLength(1);
    expect(storeB.follows.all()).toEqual([]);
  });
});

describe.runIf(postgresAvailable())('the outbox claim is fenced by the term', () => {
  it('a claim under an older term, or on a row claimed since it was read, loses', async () => {
    const [store] = await storePair();
    store.outbox.enqueue({ key: 'k1', channel: 'C1', kind: 'post', incidentId: null, role: 'message', message: { tone: 'info', title: ['hi'] }, at: 1 });
    const row = store.outbox.byKey('k1')!;
    expect(store.outbox.claim(row.id, 2, 0)).toBe(true);
    expect(store.outbox.byKey('k1')).toMatchObject({ attempts: 1, claimedTerm: 2 });
    // A paused ex-leader that read the row before: its claim fails.
    expect(store.outbox.claim(row.id, 1, 0)).toBe(false);
    // An older term never claims it, even with the right count.
    expect(store.outbox.claim(row.id, 1, 1)).toBe(false);
    expect(store.outbox.claim(row.id, 3, 1)).toBe(true);
    expect(store.outbox.byKey('k1')).toMatchObject({ attempts: 2, claimedTerm: 3 });
  });
});
