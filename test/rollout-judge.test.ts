/**
 * One rollout judge: the same Deployment, DaemonSet and StatefulSet objects (generation missing,
 * old pods left, paused, past their deadline) get the same verdict from the watcher's path
 * (`rolloutOf`, what KubeWatcher reports rollouts with) and from `/rollout status` through the
 * command bus, which reads them with the real client-node from an apiserver.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { rolloutOf, type RolloutInput } from '../src/kube/rollout.js';
import type { WorkloadKind } from '../src/clients/kube.js';
import type { MessageModel } from '../src/domain/messages.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';

const NS = 'judge';
const template = (app: string) => ({ metadata: { labels: { app } }, spec: { containers: [{ name: 'app', image: `registry.test/${app}:2` }] } });
const spec = (app: string, replicas?: number, extra: Record<string, unknown> = {}) => ({
  ...(replicas !== undefined ? { replicas } : {}),
  selector: { matchLabels: { app } },
  template: template(app),
  ...extra,
});

interface Fixture {
  kind: WorkloadKind;
  name: string;
  generation?: number;
  spec: Record<string, unknown>;
  status: Record<string, unknown>;
  /** What both paths must say. */
  expected: 'complete' | 'in progress' | 'failed';
}

const fixtures: Fixture[] = [
  // A status that observed nothing yet is waiting for the controller, whatever its counts say.
  { kind: 'Deployment', name: 'deploy-no-generation', spec: spec('a', 2), status: { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 }, expected: 'in progress' },
  { kind: 'Deployment', name: 'deploy-no-generation-observed', spec: spec('b', 2), status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 }, expected: 'complete' },
  { kind: 'Deployment', name: 'deploy-old-pods', generation: 3, spec: spec('c', 2), status: { observedGeneration: 3, replicas: 3, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3 }, expected: 'in progress' },
  {
    kind: 'Deployment',
    name: 'deploy-paused',
    generation: 2,
    spec: spec('d', 2, { paused: true }),
    status: { observedGeneration: 2, replicas: 3, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, conditions: [{ type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' }] },
    expected: 'in progress',
  },
  {
    kind: 'Deployment',
    name: 'deploy-deadline',
    generation: 4,
    spec: spec('e', 2),
    status: { observedGeneration: 4, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "e-1" has timed out progressing.' }] },
    expected: 'failed',
  },
  { kind: 'DaemonSet', name: 'ds-no-generation', spec: spec('f'), status: { desiredNumberScheduled: 2, currentNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 2, numberAvailable: 2, numberMisscheduled: 0 }, expected: 'in progress' },
  { kind: 'DaemonSet', name: 'ds-old-pods', generation: 2, spec: spec('g'), status: { observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 2, numberReady: 3, numberAvailable: 3, numberMisscheduled: 0 }, expected: 'in progress' },
  { kind: 'DaemonSet', name: 'ds-done', generation: 2, spec: spec('h'), status: { observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3, numberMisscheduled: 0 }, expected: 'complete' },
  { kind: 'StatefulSet', name: 'sts-no-generation', spec: spec('i', 2, { serviceName: 'i' }), status: { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, currentRevision: 'i-1', updateRevision: 'i-1' }, expected: 'in progress' },
  // Old pods still counted although the revisions already agree: not done (the old follower said done).
  { kind: 'StatefulSet', name: 'sts-old-pods', generation: 2, spec: spec('j', 2, { serviceName: 'j' }), status: { observedGeneration: 2, replicas: 3, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3, currentRevision: 'j-2', updateRevision: 'j-2' }, expected: 'in progress' },
  { kind: 'StatefulSet', name: 'sts-revision-pending', generation: 2, spec: spec('k', 2, { serviceName: 'k' }), status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, currentRevision: 'k-1', updateRevision: 'k-2' }, expected: 'in progress' },
  { kind: 'StatefulSet', name: 'sts-done', generation: 2, spec: spec('l', 2, { serviceName: 'l' }), status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, currentRevision: 'l-2', updateRevision: 'l-2' }, expected: 'complete' },
];

const pluralOf: Record<WorkloadKind, string> = { Deployment: 'deployments', DaemonSet: 'daemonsets', StatefulSet: 'statefulsets' };
const objectOf = (fixture: Fixture) => ({
  apiVersion: 'apps/v1',
  kind: fixture.kind,
  metadata: { name: fixture.name, namespace: NS, uid: `uid-${fixture.name}`, ...(fixture.generation !== undefined ? { generation: fixture.generation } : {}) },
  spec: fixture.spec,
  status: fixture.status,
});

/** An apiserver that serves exactly the fixtures, status and all (the sandbox's computes its own). */
function startFixtureApiserver(): Promise<Server> {
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === `/api/v1/namespaces/${NS}/pods`) return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] });
    const fixture = fixtures.find((candidate) => path === `/apis/apps/v1/namespaces/${NS}/${pluralOf[candidate.kind]}/${candidate.name}`);
    if (fixture) return send(200, objectOf(fixture));
    send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const phaseWords = { complete: 'complete', progressing: 'in progress', failed: 'failed' } as const;
const textOf = (parts: MessageModel['title']) => parts.map((part) => (typeof part === 'string' ? part : 'code' in part ? part.code : '')).join('');
const fieldOf = (message: MessageModel, label: string) => {
  const field = message.fields?.find(([name]) => name === label);
  return field ? textOf(field[1]) : undefined;
};

describe('one rollout judge for the watcher and /rollout status', () => {
  let fixtureServer: Server;
  let kube: FakeApiserver;
  let runtime: Runtime;

  async function rolloutStatus(name: string, namespace: string, cluster: string): Promise<MessageModel> {
    const reply = await runtime.bus.dispatch('rollout', `status ${namespace}/${name} --cluster ${cluster}`, { user: 'U0ONCALL', channel: 'C0ALERTS', face: 'console' });
    if (reply.kind !== 'message') throw new Error('expected a message');
    return reply.message;
  }

  beforeAll(async () => {
    fixtureServer = await startFixtureApiserver();
    kube = await startFakeApiserver();
    for (const [kind, name] of [['Deployment', 'web'], ['DaemonSet', 'edge'], ['StatefulSet', 'db']] as const) {
      kube.upsert({ apiVersion: 'apps/v1', kind, metadata: { name, namespace: 'shop', labels: { app: name } }, spec: spec(name, kind === 'DaemonSet' ? undefined : 2, kind === 'StatefulSet' ? { serviceName: name } : {}) });
    }
    const dir = mkdtempSync(join(tmpdir(), 'dw-judge-'));
    const ca = Buffer.from(kube.ca).toString('base64');
    writeFileSync(
      join(dir, 'kubeconfig'),
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fixtures\n  cluster:\n    server: http://127.0.0.1:${(fixtureServer.address() as AddressInfo).port}\n    insecure-skip-tls-verify: true`,
        `- name: fake\n  cluster:\n    server: ${kube.url}\n    certificate-authority-data: ${ca}`,
        'users:',
        `- name: bot\n  user:\n    token: ${kube.token}`,
        'contexts:',
        '- name: fixtures\n  context:\n    cluster: fixtures\n    user: bot',
        '- name: fake\n  context:\n    cluster: fake\n    user: bot',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    process.env.KUBECONFIG = join(dir, 'kubeconfig');
    runtime = new Runtime(
      parseConfig({
        store: { path: join(dir, 'db.sqlite') },
        clusters: [{ name: 'fixtures', context: 'fixtures' }, { name: 'fake', context: 'fake' }],
        workloads: [
          ...fixtures.map((fixture) => ({ cluster: 'fixtures', namespace: NS, kind: fixture.kind, name: fixture.name })),
          { cluster: 'fake', namespace: 'shop', kind: 'Deployment', name: 'web' },
          { cluster: 'fake', namespace: 'shop', kind: 'DaemonSet', name: 'edge' },
          { cluster: 'fake', namespace: 'shop', kind: 'StatefulSet', name: 'db' },
        ],
      }),
      { clock: new ManualClock(), log: createLogger({ level: 'silent' }) },
    );
  }, 30_000);

  afterAll(async () => {
    await runtime?.stop(500);
    await new Promise<void>((resolve) => (fixtureServer ? fixtureServer.close(() => resolve()) : resolve()));
    await kube?.close();
  });

  it.each(fixtures)('$kind $name: the watcher and /rollout status both say "$expected"', async (fixture) => {
    const watcher = rolloutOf(objectOf(fixture) as RolloutInput, fixture.kind);
    const status = await rolloutStatus(fixture.name, NS, 'fixtures');
    expect(phaseWords[watcher.phase]).toBe(fixture.expected);
    expect(textOf(status.title)).toBe(`${fixture.kind} ${NS}/${fixture.name} (cluster fixtures): rollout ${fixture.expected}`);
    // Not only the verdict: the reason and the counts are the same words.
    expect(fieldOf(status, 'Why')).toBe(watcher.progress.reason);
    expect(fieldOf(status, 'Pods')).toBe(`${watcher.state.updated}/${watcher.state.desired} updated, ${watcher.state.ready} ready`);
  });

  it('says why: the controller has not seen it, old pods, paused, the deadline', async () => {
    expect(fieldOf(await rolloutStatus('deploy-no-generation', NS, 'fixtures'), 'Why')).toBe('waiting for the controller to see the change');
    expect(fieldOf(await rolloutStatus('deploy-old-pods', NS, 'fixtures'), 'Why')).toBe('1 old pods still terminating');
    expect(fieldOf(await rolloutStatus('deploy-paused', NS, 'fixtures'), 'Why')).toBe('paused; 1 of 2 pods updated');
    expect(fieldOf(await rolloutStatus('deploy-deadline', NS, 'fixtures'), 'Why')).toBe('ProgressDeadlineExceeded: ReplicaSet "e-1" has timed out progressing.');
    expect(fieldOf(await rolloutStatus('sts-old-pods', NS, 'fixtures'), 'Why')).toBe('1 pods still on the old revision');
  });

  it('a real rollout in the sandbox apiserver: in progress with old pods left, then complete, in both paths', async () => {
    const cluster = runtime.cluster('fake');
    const targets = [['Deployment', 'web'], ['DaemonSet', 'edge'], ['StatefulSet', 'db']] as const;
    for (const [kind, name] of targets) await cluster.patchContainerImage(kind, 'shop', name, 'app', `registry.test/${name}:3`);
    expect(kube.pendingRollouts()).toBe(3);
    for (const [kind, name] of targets) {
      const watcher = rolloutOf((await cluster.getWorkload(kind, 'shop', name))!, kind);
      const status = await rolloutStatus(name, 'shop', 'fake');
      expect(phaseWords[watcher.phase]).toBe('in progress');
      expect(textOf(status.title)).toContain('rollout in progress');
      expect(fieldOf(status, 'Why')).toBe(watcher.progress.reason);
    }
    kube.advanceRollouts();
    for (const [kind, name] of targets) {
      const watcher = rolloutOf((await cluster.getWorkload(kind, 'shop', name))!, kind);
      const status = await rolloutStatus(name, 'shop', 'fake');
      expect(phaseWords[watcher.phase]).toBe('complete');
      expect(textOf(status.title)).toContain('rollout complete');
    }
  });
});
