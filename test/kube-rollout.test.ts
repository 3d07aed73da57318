/** kube/rollout.ts: the one rollout judge, per kind, and the watcher's view of it. */
import { describe, expect, it } from 'vitest';
import { deadlineOf, judgeRollout, kindOf, ON_DELETE_REASON, rolloutEdges, rolloutOf, type WorkloadLike } from '../src/kube/rollout.js';

const deployment = (status: object, extra: { generation?: number; paused?: boolean } = { generation: 2 }) => ({
  metadata: extra.generation !== undefined ? { generation: extra.generation } : {},
  spec: { replicas: 2, ...(extra.paused ? { paused: true } : {}) },
  status: { observedGeneration: 2, ...status },
});
const allReady = { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };

describe('judgeRollout', () => {
  it('Deployment: kubectl order — observed, deadline, updated, old pods, available', () => {
    expect(judgeRollout('Deployment', deployment(allReady))).toMatchObject({ state: 'done', desired: 2, updated: 2, ready: 2, available: 2 });
    expect(judgeRollout('Deployment', deployment(allReady, { generation: 3 })).reason).toBe('waiting for the controller to see the change');
    expect(judgeRollout('Deployment', deployment({ ...allReady, updatedReplicas: 1 })).reason).toBe('1 of 2 pods updated');
    expect(judgeRollout('Deployment', deployment({ ...allReady, replicas: 3 })).reason).toBe('1 old pods still terminating');
    expect(judgeRollout('Deployment', deployment({ ...allReady, readyReplicas: 1, availableReplicas: 1 })).reason).toBe('1 of 2 pods ready');
    expect(judgeRollout('Deployment', deployment({ ...allReady, availableReplicas: 1 })).reason).toBe('1 of 2 pods available');
    const deadline = deployment({ ...allReady, updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' }] });
    expect(judgeRollout('Deployment', deadline)).toMatchObject({ state: 'failed', reason: 'ProgressDeadlineExceeded: timed out' });
  });

  it("the controller's message is untrusted: its verdict mentions no one", () => {
    const deadline = deployment({ ...allReady, updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing; <!subteam^S123> <@U123>' }] });
    const verdict = judgeRollout('Deployment', deadline);
    expect(verdict.state).toBe('failed');
    expect(verdict.reason).toContain('ReplicaSet "web-1" has timed out progressing');
    for (const text of [verdict.reason!, verdict.condition!.message!, rolloutOf({ kind: 'Deployment', ...deadline }).state.message!]) {
      expect(text).not.toContain('<!subteam^S123>');
      expect(text).not.toContain('<@U123>');
    }
  });

  it('a missing generation is the first one: not yet observed until the status says so', () => {
    expect(judgeRollout('Deployment', { spec: { replicas: 2 }, status: allReady })).toMatchObject({ state: 'progressing', generation: 1, observedGeneration: 0 });
    expect(judgeRollout('Deployment', { spec: { replicas: 2 }, status: { ...allReady, observedGeneration: 1 } }).state).toBe('done');
    expect(judgeRollout('DaemonSet', { status: { desiredNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 1, currentNumberScheduled: 1 } }).state).toBe('progressing');
  });

  it('a paused Deployment says so while it is not done', () => {
    expect(judgeRollout('Deployment', deployment({ ...allReady, updatedReplicas: 1 }, { generation: 2, paused: true })).reason).toBe('paused; 1 of 2 pods updated');
    expect(judgeRollout('Deployment', deployment(allReady, { generation: 2, paused: true })).state).toBe('done');
  });

  it('DaemonSet: nodes updated and available; nodes still on an old pod keep it going', () => {
    const ds = (status: object) => ({ metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3, ...status } });
    expect(judgeRollout('DaemonSet', ds({})).state).toBe('done');
    expect(judgeRollout('DaemonSet', ds({ updatedNumberScheduled: 2 })).reason).toBe('2 of 3 pods updated');
    expect(judgeRollout('DaemonSet', ds({ numberAvailable: 2 })).reason).toBe('2 of 3 pods available');
  });

  it('StatefulSet: old pods and the update revision both keep it going', () => {
    const sts = (status: object) => ({ metadata: { generation: 2 }, spec: { replicas: 2 }, status: { observedGeneration: 2, ...allReady, currentRevision: 'db-2', updateRevision: 'db-2', ...status } });
    expect(judgeRollout('StatefulSet', sts({})).state).toBe('done');
    expect(judgeRollout('StatefulSet', sts({ replicas: 3 })).reason).toBe('1 pods still on the old revision');
    expect(judgeRollout('StatefulSet', sts({ currentRevision: 'db-1' })).reason).toBe('revision db-2 not current yet');
  });

  // kubectl rollout status: with a partition P, done when replicas - P pods are updated and all are ready.
  const partitioned = (partition: number, status: object) => ({
    metadata: { generation: 2 },
    spec: { replicas: 5, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition, maxUnavailable: 1 } } },
    status: { observedGeneration: 2, replicas: 5, readyReplicas: 5, availableReplicas: 5, currentRevision: 'db-1', updateRevision: 'db-2', ...status },
  });

  it('StatefulSet with a partition: done when the pods at or above it are updated and all are ready', () => {
    expect(judgeRollout('StatefulSet', partitioned(3, { updatedReplicas: 2 }))).toMatchObject({ state: 'done', updated: 2, desired: 5, reason: 'partition 3: 2 of 5 pods updated, as asked' });
    expect(judgeRollout('StatefulSet', partitioned(3, { updatedReplicas: 1 }))).toMatchObject({ state: 'progressing', reason: '1 of 2 pods updated (partition 3)' });
    expect(judgeRollout('StatefulSet', partitioned(3, { updatedReplicas: 2, readyReplicas: 4, availableReplicas: 4 }))).toMatchObject({ state: 'progressing', reason: '4 of 5 pods ready' });
    expect(judgeRollout('StatefulSet', partitioned(3, { updatedReplicas: 2, observedGeneration: 1 })).reason).toBe('waiting for the controller to see the change');
    // A partition above the replicas updates nothing, as asked.
    expect(judgeRollout('StatefulSet', partitioned(9, { updatedReplicas: 0 })).state).toBe('done');
    // Partition 0 (the apiserver's default) is an ordinary rolling update: old pods and the revision count.
    expect(judgeRollout('StatefulSet', partitioned(0, { updatedReplicas: 2 })).reason).toBe('2 of 5 pods updated');
    expect(judgeRollout('StatefulSet', partitioned(0, { updatedReplicas: 5 })).reason).toBe('revision db-2 not current yet');
    expect(judgeRollout('StatefulSet', partitioned(0, { updatedReplicas: 5, currentRevision: 'db-2' })).state).toBe('done');
  });

  it('OnDelete (StatefulSet, DaemonSet): nothing to follow once the controller saw the change, and it says why', () => {
    const sts = { metadata: { generation: 2 }, spec: { replicas: 3, updateStrategy: { type: 'OnDelete' } }, status: { observedGeneration: 2, replicas: 3, updatedReplicas: 0, readyReplicas: 3, currentRevision: 'db-1', updateRevision: 'db-2' } };
    expect(judgeRollout('StatefulSet', sts)).toMatchObject({ state: 'done', updated: 0, desired: 3, reason: ON_DELETE_REASON });
    expect(ON_DELETE_REASON).toBe('OnDelete: pods are replaced only when deleted');
    expect(judgeRollout('StatefulSet', { ...sts, status: { ...sts.status, observedGeneration: 1 } }).state).toBe('progressing');
    const ds = { metadata: { generation: 4 }, spec: { updateStrategy: { type: 'OnDelete' } }, status: { observedGeneration: 4, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 1, numberReady: 3 } };
    expect(judgeRollout('DaemonSet', ds)).toMatchObject({ state: 'done', reason: ON_DELETE_REASON });
    // The watcher's phase follows the verdict.
    expect(rolloutOf(sts, 'StatefulSet').phase).toBe('complete');
  });
});

describe('the watcher view', () => {
  it("rollout notices judge by the target's kind, not the object's (a typed read has no kind)", () => {
    const sts = (generation: number, status: object) =>
      ({ metadata: { name: 'db', namespace: 'shop', generation }, spec: { replicas: 2, template: { spec: { containers: [{ name: 'db', image: `db:${generation}` }] } } }, status: { observedGeneration: generation, ...status } }) as WorkloadLike;
    const subject = 'workload:prod/shop/StatefulSet/db';
    const settled = { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, currentRevision: 'db-1', updateRevision: 'db-1' };
    const first = rolloutEdges(undefined, sts(1, settled), subject, 0, 'StatefulSet');
    // Generation 2 with every pod updated and ready, but the new revision not current yet: a
    // StatefulSet still rolling (judged as a Deployment it would be "finished").
    const pending = rolloutEdges(first.memory, sts(2, { ...settled, updateRevision: 'db-2' }), subject, 1_000, 'StatefulSet');
    expect(pending.edges.map((edge) => edge.kind)).toEqual(['rollout_started']);
    const finished = rolloutEdges(pending.memory, sts(2, { ...settled, currentRevision: 'db-2', updateRevision: 'db-2' }), subject, 5_000, 'StatefulSet');
    expect(finished.edges.map((edge) => edge.summary)).toEqual(['Rollout finished: StatefulSet shop/db (cluster prod) — 2/2 updated, 2 Ready, 2 available in 4s']);
  });

  it('an OnDelete change is announced as what it is: template changed, pods replaced only when deleted — not "finished"', () => {
    const sts = (generation: number, updated: number) =>
      ({ metadata: { name: 'db', namespace: 'shop', generation }, spec: { replicas: 3, updateStrategy: { type: 'OnDelete' }, template: { spec: { containers: [{ name: 'db', image: `db:${generation}` }] } } }, status: { observedGeneration: generation, replicas: 3, updatedReplicas: updated, readyReplicas: 3, availableReplicas: 3, currentRevision: 'db-1', updateRevision: `db-${generation}` } }) as WorkloadLike;
    const subject = 'workload:prod/shop/StatefulSet/db';
    const first = rolloutEdges(undefined, sts(1, 3), subject, 0, 'StatefulSet');
    const changed = rolloutEdges(first.memory, sts(2, 0), subject, 1_000, 'StatefulSet');
    expect(changed.edges.map((edge) => edge.summary)).toEqual([
      'Rollout started: StatefulSet shop/db (cluster prod) (generation 2)',
      'Rollout waits for pod deletions: StatefulSet shop/db (cluster prod) — template changed; OnDelete: pods are replaced only when deleted (0/3 pods updated)',
    ]);
    expect(changed.edges.some((edge) => edge.summary.includes('Rollout finished'))).toBe(false);
  });

  it('rolloutOf is judgeRollout in the watcher words: complete / progressing / failed with its counts', () => {
    const done = rolloutOf({ kind: 'Deployment', ...deployment(allReady) });
    expect(done.phase).toBe('complete');
    expect(done.state).toEqual({ desired: 2, updated: 2, ready: 2, available: 2, total: 2, generation: 2, observedGeneration: 2 });
    expect(rolloutOf({ kind: 'Deployment', ...deployment({ ...allReady, replicas: 3 }) }).phase).toBe('progressing');
    expect(kindOf({ kind: 'StatefulSet' })).toBe('StatefulSet');
    expect(kindOf({})).toBe('Deployment');
    expect(deadlineOf({ spec: { progressDeadlineSeconds: 600 } })).toBe(660_000);
    expect(deadlineOf({})).toBeUndefined();
  });
});
