/** kube/rollout.ts: the one rollout judge, per kind, and the watcher's view of it. */
import { describe, expect, it } from 'vitest';
import { deadlineOf, judgeRollout, kindOf, rolloutOf } from '../src/kube/rollout.js';

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
});

describe('the watcher view', () => {
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
