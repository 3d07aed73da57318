/** kube/pods.ts: one list of failure reasons, one pod assessment, for typed reads and watch JSON alike. */
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { assessPod, assessPods, CONFIG_REASONS, FAILURE_REASONS, lastLogLines, podProblem, PULL_REASONS, pullMessagesOf, type PodLike } from '../src/kube/pods.js';

const NOW = Date.parse('2026-11-24T03:00:00Z');
const GRACE = 5 * 60_000;
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();

function pod(name: string, status: NonNullable<PodLike['status']>, created = 60_000): PodLike {
  return { metadata: { name, creationTimestamp: iso(created) }, spec: { containers: [{ name: 'app', image: 'registry.test/app:1' }] }, status };
}
const waiting = (reason: string, message = '') => ({ phase: 'Pending', containerStatuses: [{ name: 'app', image: 'registry.test/app:1', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } }] });

describe('failure reasons', () => {
  it('is one list: the union of the watcher and the follower lists as they were', () => {
    for (const reason of ['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']) {
      expect(FAILURE_REASONS.has(reason)).toBe(true);
    }
    expect([...PULL_REASONS, ...CONFIG_REASONS].every((reason) => FAILURE_REASONS.has(reason))).toBe(true);
    expect(FAILURE_REASONS.has('ContainerCreating')).toBe(false);
  });

  it('ErrImagePull is a failure for the watcher and the follower alike', () => {
    const failing = pod('web-1', waiting('ErrImagePull', 'rpc error: pull access denied for registry.test/app, repository does not exist'));
    expect(assessPods([failing], { now: NOW, pendingTooLongMs: GRACE })).toMatchObject({ ok: false, settled: true, summary: 'ErrImagePull: pull access denied for registry.test/app' });
    expect(podProblem([failing], { now: NOW, pendingTooLongMs: GRACE })).toBe('pod web-1 container app: ErrImagePull — rpc error: pull access denied for registry.test/app, repository does not exist');
  });
});

describe('one pod assessment', () => {
  it('reads a typed pod (Date timestamps) as it reads watch JSON (strings)', () => {
    const typed: V1Pod = {
      metadata: { name: 'web-1', creationTimestamp: new Date(NOW - 10 * 60_000) },
      spec: { containers: [{ name: 'app', image: 'registry.test/app:1' }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'app', image: 'registry.test/app:1', imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date(NOW - 10 * 60_000) } } }] },
    };
    const json = JSON.parse(JSON.stringify(typed)) as PodLike;
    expect(assessPod(typed, { now: NOW, pendingTooLongMs: GRACE })?.finding).toMatchObject({ verdict: 'bad', reason: 'NotReady', summary: 'running but never Ready after 5m' });
    expect(assessPod(json, { now: NOW, pendingTooLongMs: GRACE })?.finding).toEqual(assessPod(typed, { now: NOW, pendingTooLongMs: GRACE })?.finding);
  });

  it('a starting pod is unsettled until its grace ends; terminating pods do not count', () => {
    const starting = pod('web-2', waiting('ContainerCreating'), 30_000);
    expect(assessPods([starting], { now: NOW, pendingTooLongMs: GRACE })).toMatchObject({ ok: false, settled: false, recheckAt: NOW - 30_000 + GRACE });
    expect(podProblem([starting], { now: NOW, pendingTooLongMs: GRACE })).toBeUndefined();
    const gone = { ...pod('web-3', waiting('CrashLoopBackOff')), metadata: { name: 'web-3', deletionTimestamp: iso(0) } };
    expect(assessPods([gone], { now: NOW, pendingTooLongMs: GRACE })).toMatchObject({ ok: true, summary: 'no pods' });
  });

  it('the follower leaves slow pods to the deadline but stops on an OOM kill', () => {
    const pending = pod('web-4', waiting('ContainerCreating'), 10 * 60_000);
    expect(assessPods([pending], { now: NOW, pendingTooLongMs: GRACE }).summary).toBe('Pending for more than 5m: ContainerCreating');
    expect(podProblem([pending], { now: NOW, pendingTooLongMs: GRACE })).toBeUndefined();
    const oom = pod('web-5', {
      phase: 'Running',
      containerStatuses: [{ name: 'app', image: 'registry.test/app:1', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: new Date(NOW - 5_000) } } }],
    });
    expect(podProblem([oom], { now: NOW, pendingTooLongMs: GRACE })).toBe('pod web-5 container app: OOMKilled (3 restarts)');
  });

  it('remembers informative pull messages, not the back-off line', () => {
    expect(pullMessagesOf(pod('web-6', waiting('ImagePullBackOff', 'Back-off pulling image "registry.test/app:1"')))).toEqual([]);
    expect(pullMessagesOf(pod('web-6', waiting('ErrImagePull', 'manifest unknown')))).toEqual([['web-6/app', 'manifest unknown']]);
    expect(lastLogLines('a\n\nb  \nc\n', 2)).toEqual(['b', 'c']);
  });
});
