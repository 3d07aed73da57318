/**
 * The rollout follower's verdicts, against a cluster double that answers with workloads and pods
 * as the apiserver writes them: what it tells, in the words a user reads.
 */
import { describe, expect, it } from 'vitest';
import type { KubeCluster } from '../src/clients/kube.js';
import { RolloutFollower, type FollowJob } from '../src/commands/follower.js';
import type { RolloutTarget } from '../src/commands/targets.js';
import { ManualClock } from '../src/domain/clock.js';
import type { NoticeObservation } from '../src/domain/model.js';
import { createLogger } from '../src/log.js';

const quiet = createLogger({ level: 'silent' });

function follower(clock: ManualClock, workload: object, pods: object[]) {
  const notices: NoticeObservation[] = [];
  const audits: unknown[] = [];
  const cluster = { getWorkload: async () => workload, listPods: async () => pods } as unknown as KubeCluster;
  const deps = {
    cluster: () => cluster,
    store: { incidents: { incident: () => undefined }, subjects: {}, audit: { record: (entry: unknown) => void audits.push(entry) } },
    engine: { recordAction: () => {}, notice: (observation: NoticeObservation) => (notices.push(observation), `notice-${notices.length}`) },
    clock,
    log: quiet,
  } as unknown as ConstructorParameters<typeof RolloutFollower>[0];
  // The deadline is the first look: what the follower says then is what it saw, not that time ran out.
  return { follower: new RolloutFollower(deps, { pollMs: 5, timeoutMs: 0 }), notices, audits };
}

function job(target: RolloutTarget): FollowJob {
  return { target, user: 'U0ONCALL', rule: 'worker pin', what: 'pin to sha256:8b96908d', podsBefore: new Set(['old-pod']) };
}

const web: RolloutTarget = { cluster: 'prod', namespace: 'shop', kind: 'Deployment', name: 'web', subject: 'workload:prod/shop/Deployment/web', label: 'Deployment shop/web (cluster prod)' };

describe('the rollout follower', () => {
  it('reports new pods the scheduler cannot place with its reason, without waiting out the deadline', async () => {
    const clock = new ManualClock();
    const iso = (msAgo: number) => new Date(clock.now() - msAgo).toISOString();
    const deployment = { metadata: { name: 'web', generation: 3 }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } } }, status: { observedGeneration: 3, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2 } };
    const unschedulable = {
      metadata: { name: 'web-new', uid: 'new-pod', creationTimestamp: iso(6 * 60_000) },
      spec: { containers: [{ name: 'app', image: 'registry.test/web@sha256:8b96908d' }] },
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }] },
    };
    const { follower: f, notices } = follower(clock, deployment, [unschedulable]);
    const outcome = await f.follow(job(web));
    expect(outcome.state).toBe('failed');
    expect(outcome.summary).toContain('❌ Rollout failed: Deployment shop/web (cluster prod) (pin to sha256:8b96908d) — pod web-new: Pending for more than 5m: FailedScheduling: 0/3 nodes are available: 3 Insufficient memory.');
    expect(notices.map((notice) => notice.summary)).toEqual([outcome.summary]);
  });

  it('after a change to an OnDelete StatefulSet says what is true: template changed, pods replaced only when deleted', async () => {
    const clock = new ManualClock();
    const db: RolloutTarget = { cluster: 'prod', namespace: 'shop', kind: 'StatefulSet', name: 'db', subject: 'workload:prod/shop/StatefulSet/db', label: 'StatefulSet shop/db (cluster prod)' };
    const sts = { metadata: { name: 'db', generation: 2 }, spec: { replicas: 3, updateStrategy: { type: 'OnDelete' }, selector: { matchLabels: { app: 'db' } } }, status: { observedGeneration: 2, replicas: 3, updatedReplicas: 0, readyReplicas: 3, availableReplicas: 3, currentRevision: 'db-1', updateRevision: 'db-2' } };
    const { follower: f, notices, audits } = follower(clock, sts, []);
    const outcome = await f.follow(job(db));
    expect(outcome.state).toBe('done');
    expect(outcome.summary).toBe('ℹ️ Rollout waits for pod deletions: StatefulSet shop/db (cluster prod) (pin to sha256:8b96908d) — template changed; OnDelete: pods are replaced only when deleted (0/3 pods updated), after 0s');
    expect(notices.map((notice) => notice.summary)).toEqual([outcome.summary]);
    expect(outcome.summary).not.toContain('new pods Ready');
    expect(audits).toMatchObject([{ result: 'finished: template changed; OnDelete: pods are replaced only when deleted (0/3 pods updated)' }]);
  });
});
