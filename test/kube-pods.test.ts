/** kube/pods.ts: one list of failure reasons, one pod assessment, for typed reads and watch JSON alike. */
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podFixture, podFixtureSource } from './support/pod-fixtures.js';
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

  it('the follower stops on a pod Pending past its grace, as the watcher alerts on it, and on an OOM kill', () => {
    const pending = pod('web-4', waiting('ContainerCreating'), 10 * 60_000);
    expect(assessPods([pending], { now: NOW, pendingTooLongMs: GRACE }).summary).toBe('Pending for more than 5m: ContainerCreating');
    expect(podProblem([pending], { now: NOW, pendingTooLongMs: GRACE })).toBe('pod web-4: Pending for more than 5m: ContainerCreating');
    // Within its grace it is only slow: left to the rollout.
    expect(podProblem([pod('web-4', waiting('ContainerCreating'), 4 * 60_000)], { now: NOW, pendingTooLongMs: GRACE })).toBeUndefined();
    const oom = pod('web-5', {
      phase: 'Running',
      containerStatuses: [{ name: 'app', image: 'registry.test/app:1', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: new Date(NOW - 5_000) } } }],
    });
    expect(podProblem([oom], { now: NOW, pendingTooLongMs: GRACE })).toBe('pod web-5 container app: OOMKilled (3 restarts)');
  });

  it('the follower names why a new pod is not scheduled, or never Ready, once its grace is over', () => {
    const unschedulable = pod('web-9', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }] }, 6 * 60_000);
    expect(podProblem([unschedulable], { now: NOW, pendingTooLongMs: GRACE })).toBe('pod web-9: Pending for more than 5m: FailedScheduling: 0/3 nodes are available: 3 Insufficient memory.');
    expect(podProblem([unschedulable], { now: NOW, pendingTooLongMs: 10 * 60_000 })).toBeUndefined();
    const notReady = pod('web-10', {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'False', message: 'containers with unready status: [app]' }],
      containerStatuses: [{ name: 'app', image: 'registry.test/app:1', imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: iso(6 * 60_000) } } }],
    });
    expect(podProblem([notReady], { now: NOW, pendingTooLongMs: GRACE })).toBe('pod web-10 container app: running but never Ready after 5m — containers with unready status: [app]');
    // With several failing, the one the watcher describes first: what can be acted on soonest.
    const pulling = pod('web-11', waiting('ErrImagePull', 'manifest unknown'));
    expect(podProblem([unschedulable, pulling], { now: NOW, pendingTooLongMs: GRACE })).toBe('pod web-11 container app: ErrImagePull — manifest unknown');
  });

  it('remembers informative pull messages, not the back-off line', () => {
    expect(pullMessagesOf(pod('web-6', waiting('ImagePullBackOff', 'Back-off pulling image "registry.test/app:1"')))).toEqual([]);
    expect(pullMessagesOf(pod('web-6', waiting('ErrImagePull', 'manifest unknown')))).toEqual([['web-6/app', 'manifest unknown']]);
    expect(lastLogLines('a\n\nb  \nc\n', 2)).toEqual(['b', 'c']);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* Real captured pods (test/fixtures/pods): what alerts at once, what needs looks, what is quiet */

describe('real pods: the assessment of captured objects', () => {
  const opts = { now: NOW, pendingTooLongMs: GRACE };
  const judge = (file: string) => assessPod(podFixture(file, { now: NOW }), opts);

  it('CrashLoopBackOff and ImagePullBackOff already carry repetition: bad, and alerting on one look', () => {
    for (const [file, reason, summary] of [
      ['crashloop-backoff', 'CrashLoopBackOff', 'CrashLoopBackOff, 3 restarts'],
      ['liveness-crashloop', 'CrashLoopBackOff', 'CrashLoopBackOff, 337 restarts'],
      ['image-pull-backoff', 'ImagePullBackOff', 'ImagePullBackOff: cannot pull gcr.io/heptio-images/ks-guestbook-demo:0.3'],
    ] as const) {
      const found = judge(file)!.finding;
      expect({ file, verdict: found.verdict, reason: found.reason, repeated: found.repeated }).toEqual({ file, verdict: 'bad', reason, repeated: true });
      expect(found.summary).toContain(summary.split(':')[0]!);
    }
    expect(assessPods([podFixture('crashloop-backoff', { now: NOW })], opts).immediate).toBe(true);
  });

  it('a crash after earlier restarts is repeated; the same crash as a first one is not', () => {
    const again = judge('error-after-restarts')!.finding;
    expect([again.verdict, again.reason, again.repeated, again.lastExit]).toEqual(['bad', 'CrashLoopBackOff', true, 'code 1: Error']);
    const first = podFixture('error-after-restarts', { now: NOW });
    const status = first.status!.containerStatuses![0]!;
    status.restartCount = 0;
    delete status.lastState;
    const once = assessPods([first], opts);
    expect(once.ok).toBe(false);
    expect(once.immediate).toBe(false);
  });

  it('Init:Error is named as an init container failure with its exit code, not "Pending: PodInitializing"', () => {
    const assessed = assessPods([podFixture('init-error', { now: NOW })], opts);
    expect(assessed.ok).toBe(false);
    expect(assessed.immediate).toBe(true);
    expect(assessed.summary).toBe('init container init-myservice failed: exit code 1: Error, 10 restarts');
    expect(assessed.focus).toMatchObject({ container: 'init-myservice', reason: 'InitContainerFailed', logFrom: 'current' });
    expect(assessed.detail.fields).toContainEqual(['Last exit', 'code 1: Error']);
    expect(assessed.summary).not.toContain('PodInitializing');
    // Even long after the pod was created it stays an init failure, not "Pending for more than 5m".
    expect(assessPods([podFixture('init-error', { now: NOW - 3_600_000 })], opts).summary).toContain('init container init-myservice failed');
    expect(podProblem([podFixture('init-error', { now: NOW })], opts)).toContain('init container init-myservice failed');
  });

  it('an Evicted pod is a problem of its workload with the kubelet\'s words, even beside a Ready replacement, until it is old', () => {
    const evicted = podFixture('evicted', { now: NOW - 1_000 });
    const replacement = podFixture('running-ready', { now: NOW });
    const assessed = assessPods([evicted, replacement], opts);
    expect(assessed.ok).toBe(false);
    expect(assessed.immediate).toBe(true);
    expect(assessed.summary).toMatch(/^Evicted: The node was low on resource: memory\. Container cstor-pool-mgmt was using 27484Ki/);
    expect(assessed.detail.fields).toContainEqual(['Pods', '1 of 2 failing, 1 Ready']);
    // The eviction stops counting once older than pendingTooLongMs; the watcher looks again then.
    expect(assessed.recheckAt).toBe(NOW - 1_000 + GRACE);
    const later = assessPods([podFixture('evicted', { now: NOW - GRACE - 1 }), replacement], opts);
    expect(later.ok).toBe(true);
  });

  it('quiet: a completed Job pod, a Terminating pod, PodInitializing, a running native sidecar, a Ready pod', () => {
    expect(judge('completed-job')).toBeUndefined();
    expect(judge('terminating')).toBeUndefined();
    expect(judge('pod-initializing')!.finding.verdict).toBe('starting');
    expect(judge('native-sidecar')!.finding.verdict).toBe('ready');
    expect(judge('native-sidecar')!.containers.map((c) => c.container)).toEqual(['myapp-container']);
    expect(judge('running-ready')!.finding.verdict).toBe('ready');
    const quiet = assessPods(['completed-job', 'terminating', 'native-sidecar', 'running-ready'].map((file) => podFixture(file, { now: NOW })), opts);
    expect(quiet.ok).toBe(true);
  });

  it('every fixture names where it was captured', () => {
    for (const file of ['crashloop-backoff', 'error-after-restarts', 'image-pull-backoff', 'completed-job', 'terminating', 'pod-initializing', 'running-ready', 'liveness-crashloop', 'evicted', 'init-error', 'native-sidecar']) {
      expect(podFixtureSource(file).url).toMatch(/^https:\/\/github\.com\//);
    }
  });
});

describe('untrusted pod text', () => {
  it('mentions no one: a container\'s message, a scheduler\'s, a termination message, wherever the finding is told', () => {
    const mentions = ['<!subteam^S123>', '<@U123>', '<!here>', '<#C123>'];
    const crashing = pod('web-7', {
      phase: 'Running',
      containerStatuses: [{ name: 'app', image: 'registry.test/app:1', imageID: '', ready: false, restartCount: 2, state: { waiting: { reason: 'CreateContainerConfigError', message: `secret "db" not found, ask ${mentions.join(' ')}` } } }],
    });
    const problem = podProblem([crashing], { now: NOW, pendingTooLongMs: GRACE })!;
    expect(problem).toContain('CreateContainerConfigError');
    expect(problem).toContain('secret "db" not found');
    const assessed = assessPods([crashing], { now: NOW, pendingTooLongMs: GRACE });
    const exited = pod('web-8', {
      phase: 'Running',
      containerStatuses: [{ name: 'app', image: 'registry.test/app:1', imageID: '', ready: false, restartCount: 1, state: { terminated: { exitCode: 1, message: `panic: page ${mentions[1]}`, finishedAt: iso(1_000) } } }],
    });
    const told = [problem, assessed.summary, JSON.stringify(assessed.detail), assessPods([exited], { now: NOW, pendingTooLongMs: GRACE }).detail.fields?.map(([, value]) => value).join(' ') ?? ''];
    for (const text of told) for (const mention of mentions) expect(text).not.toContain(mention);
  });
});
