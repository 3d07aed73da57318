/**
 * The cluster-changing commands end to end: the real Bolt app against the fake Slack (slash
 * commands, buttons, ephemerals), the real @kubernetes/client-node against the fake apiserver
 * (the exact PATCH, rollouts through not-ready pods), the real Debian registry for digest checks.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { judgeRollout } from '../src/kube/rollout.js';
import { gitopsManager } from '../src/kube/gitops.js';
import { parseDigestArg, resolvePrefix, workerCommands } from '../src/commands/worker.js';
import { rolloutCommands } from '../src/commands/rollout.js';
import { serviceVerdict, versionCommands, workloadVerdict } from '../src/commands/version.js';
import { shortDigest } from '../src/domain/image-ref.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { registryAvailable, registryUnavailableReason, startRegistry, type TestRegistry } from './support/registry.js';
import { freePort } from './support/product.js';

const BOT = 'xoxb-1111-2222-test-bot-token';
const APP = 'xapp-1-A0TEST-3333-test-app-token';
const CHANNEL = 'C0ALERTS';
const OTHER_CHANNEL = 'C0RANDOM';
const ONCALL = 'U0ONCALL';
const SRE_MEMBER = 'U0SREMEMBER';
const STRANGER = 'U0STRANGER';
const SRE_GROUP = 'S0SRE';
const WORKER = 'cost-optimizer-worker';
const BRIDGE = 'bridge-worker';

describe('pure decisions', () => {
  it('reads digests as written, with or without sha256:, and refuses the rest', () => {
    const hex = 'ab'.repeat(32);
    expect(parseDigestArg(undefined)).toEqual({ kind: 'last-good' });
    expect(parseDigestArg('previous')).toEqual({ kind: 'previous' });
    expect(parseDigestArg(hex)).toEqual({ kind: 'full', digest: `sha256:${hex}` });
    expect(parseDigestArg(`SHA256:${hex.toUpperCase()}`)).toEqual({ kind: 'full', digest: `sha256:${hex}` });
    expect(parseDigestArg('abababab')).toEqual({ kind: 'prefix', prefix: 'abababab' });
    expect(() => parseDigestArg('abab')).toThrow(/too short/);
    expect(() => parseDigestArg('sha512:abababab')).toThrow(/is not a digest/);
    expect(() => parseDigestArg('$(reboot)')).toThrow(/is not a digest/);
  });

  it('resolves a prefix only when exactly one known digest starts with it', () => {
    const a = `sha256:8b96908d${'1'.repeat(56)}`;
    const b = `sha256:8b96908d${'2'.repeat(56)}`;
    const c = `sha256:c4331a2f${'3'.repeat(56)}`;
    expect(resolvePrefix('c4331a2f', [a, b, c], 'ghcr.io/x/y')).toBe(c);
    expect(resolvePrefix('8b96908d2', [a, b, c], 'ghcr.io/x/y')).toBe(b);
    expect(() => resolvePrefix('8b96908d', [a, b, c], 'ghcr.io/x/y')).toThrow(/ambiguous.*8b96908d1111.*8b96908d2222/);
    expect(() => resolvePrefix('deadbeef', [a, c], 'ghcr.io/x/y')).toThrow(/No known digest of ghcr.io\/x\/y starts with "deadbeef".*sha256:8b96908d, sha256:c4331a2f/);
  });

  it('judges rollouts as kubectl does and names GitOps owners', () => {
    const deployment = (status: object, generation = 2) => ({ metadata: { generation }, spec: { replicas: 2 }, status: { observedGeneration: 2, ...status } });
    expect(judgeRollout('Deployment', deployment({ updatedReplicas: 2, replicas: 2, availableReplicas: 2 })).state).toBe('done');
    expect(judgeRollout('Deployment', deployment({ updatedReplicas: 2, replicas: 3, availableReplicas: 2 })).state).toBe('progressing');
    expect(judgeRollout('Deployment', deployment({ updatedReplicas: 2, replicas: 2, availableReplicas: 2 }, 3)).reason).toMatch(/controller/);
    expect(judgeRollout('Deployment', deployment({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' }] })).state).toBe('failed');
    expect(judgeRollout('DaemonSet', { metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 } }).state).toBe('progressing');
    expect(gitopsManager({ labels: { 'argocd.argoproj.io/instance': 'workers' } })?.tool).toBe('Argo CD');
    expect(gitopsManager({ labels: { 'helm.toolkit.fluxcd.io/name': 'w' } })?.tool).toBe('Flux');
    expect(gitopsManager({ annotations: { 'confighub.com/UnitSlug': 'worker-unit' } })?.where).toBe('ConfigHub unit "worker-unit"');
    expect(gitopsManager({ labels: { app: 'x' } })).toBeUndefined();
  });

  it('gives version verdicts: current, stale, split, down', () => {
    const d1 = `sha256:${'1'.repeat(64)}`;
    const d2 = `sha256:${'2'.repeat(64)}`;
    expect(workloadVerdict(d1, [{ digest: d1, ready: true }, { digest: d1, ready: false }])).toBe('current');
    expect(workloadVerdict(d2, [{ digest: d1, ready: true }])).toBe('stale');
    expect(workloadVerdict(d1, [{ digest: d1, ready: true }, { digest: d2, ready: true }])).toBe('split');
    expect(workloadVerdict(d1, [{ digest: d1, ready: false }])).toBe('down');
    const up = (version: string | null) => ({ name: 'e', up: true, seen: true, version });
    expect(serviceVerdict('0.2.0', [up('0.2.0'), up('0.2.0')])).toBe('current');
    expect(serviceVerdict('0.2.0', [up('0.1.0')])).toBe('stale');
    expect(serviceVerdict('0.2.0', [up(null)])).toBe('stale');
    expect(serviceVerdict('0.2.0', [up('0.2.0'), up('0.1.0')])).toBe('split');
    expect(serviceVerdict('0.2.0', [{ name: 'e', up: false, seen: true, version: '0.2.0' }])).toBe('down');
  });
});

describe.skipIf(!registryAvailable())(`cluster-changing commands through Slack${registryAvailable() ? '' : ` (skipped: ${registryUnavailableReason()})`}`, () => {
  let registry: TestRegistry;
  let kube: FakeApiserver;
  let fake: FakeSlack;
  let runtime: Runtime;
  let app: App;
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 3, 0, 0));
  let workerRef: string;
  let bridgeRef: string;
  let good: string;
  let bad: string;
  let bridgeOld: string;
  let bridgeNew: string;
  let rootTs: string;
  let restartButton: { action_id: string; value: string };

  const workerSubject = `worker:${WORKER}`;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'none' });
    workerRef = `${registry.host}/confighubai/confighub-worker:latest`;
    bridgeRef = `${registry.host}/confighubai/bridge-worker:latest`;
    good = (await registry.pushImage('confighubai/confighub-worker', 'latest', { seed: 'good' })).digest;
    bad = (await registry.pushImage('confighubai/confighub-worker', 'latest', { seed: 'bad' })).digest;
    bridgeOld = (await registry.pushImage('confighubai/bridge-worker', 'latest', { seed: 'b1' })).digest;
    bridgeNew = (await registry.pushImage('confighubai/bridge-worker', 'latest', { seed: 'b2' })).digest;

    kube = await startFakeApiserver();
    // The cluster as it is at 3 a.m.: the worker crashes on the new digest (seed 000).
    kube.failImage(workerRef, 'CrashLoopBackOff', 'failed to get bridge worker slug: 404');
    kube.seedWorker({ name: WORKER, image: workerRef, digest: bad, replicas: 1 });
    const bridge = kube.seedWorker({ name: BRIDGE, image: bridgeRef, digest: bridgeOld, replicas: 1 });
    kube.upsert({ ...bridge, metadata: { ...bridge.metadata, labels: { ...bridge.metadata.labels, 'argocd.argoproj.io/instance': 'confighub-workers' } } });
    seedWorkload('relay', 'relay', 'DaemonSet', `${registry.host}/clevertree/relay:sha-39a4e17`);
    seedWorkload('traderx', 'reference-data', 'Deployment', `${registry.host}/finos/reference-data:1.0`);
    seedWorkload('default', 'reference-data', 'Deployment', `${registry.host}/finos/reference-data:1.0`);
    seedWorkload('traderx', 'trade-feed', 'Deployment', `${registry.host}/finos/trade-feed:v1`);

    // One kubeconfig, two contexts: prod (the fake) and edge (a port nothing listens on).
    const deadPort = await freePort();
    const ca = Buffer.from(kube.ca).toString('base64');
    const dir = mkdtempSync(join(tmpdir(), 'dw-commands-'));
    writeFileSync(
      join(dir, 'kubeconfig'),
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: prod\n  cluster:\n    server: ${kube.url}\n    certificate-authority-data: ${ca}`,
        `- name: edge\n  cluster:\n    server: https://127.0.0.1:${deadPort}\n    certificate-authority-data: ${ca}`,
        'users:',
        `- name: bot\n  user:\n    token: ${kube.token}`,
        'contexts:',
        '- name: prod-admin\n  context:\n    cluster: prod\n    user: bot',
        '- name: edge-admin\n  context:\n    cluster: edge\n    user: bot',
        'current-context: prod-admin',
        '',
      ].join('\n'),
    );
    process.env.KUBECONFIG = join(dir, 'kubeconfig');

    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    fake.setUsergroup(SRE_GROUP, [SRE_MEMBER]);
    let lookup: ((group: string) => Promise<string[]>) | undefined;
    runtime = new Runtime(
      parseConfig({
        slack: { channel: CHANNEL },
        store: { path: join(dir, 'db.sqlite') },
        clusters: [{ name: 'prod', context: 'prod-admin' }, { name: 'edge', context: 'edge-admin' }],
        registries: { [registry.host]: { insecure: true } },
        workers: [{ name: WORKER, cluster: 'prod' }, { name: BRIDGE, cluster: 'prod' }, { name: 'edge-worker', cluster: 'edge' }],
        workloads: [
          { cluster: 'prod', namespace: 'relay', kind: 'DaemonSet', name: 'relay' },
          { cluster: 'prod', namespace: 'traderx', name: 'reference-data' },
          { cluster: 'prod', namespace: 'default', name: 'reference-data' },
          { cluster: 'prod', namespace: 'traderx', name: 'trade-feed' },
        ],
        endpoints: [
          { name: 'relay-dfw1', service: 'relay', url: 'https://node-dfw1.relaynet.online/', versionHeader: 'X-Relay-Version', expect: '0.2.0', workload: 'prod/relay/DaemonSet/relay' },
          { name: 'relay-ord1', service: 'relay', url: 'https://node-ord1.relaynet.online/', versionHeader: 'X-Relay-Version', expect: '0.2.0', workload: 'prod/relay/DaemonSet/relay' },
        ],
        access: {
          'worker pin': { users: [ONCALL], groups: [SRE_GROUP], channels: [CHANNEL] },
          'worker unpin': { users: [ONCALL] },
          'rollout restart': { users: [ONCALL] },
          'rollout undo': { users: [ONCALL] },
        },
        alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 },
      }),
      { clock, log: createLogger({ level: 'silent' }), poster: { baseBackoffMs: 100 }, groupMembers: (group) => lookup?.(group) ?? Promise.resolve([]) },
    );
    const follow = { pollMs: 25, timeoutMs: 15_000 };
    runtime.follower.configure(follow);
    // The Runtime may register these itself; register them here only when it does not.
    if (!runtime.bus.families().includes('worker')) runtime.bus.register(...workerCommands(runtime), ...rolloutCommands(runtime), ...versionCommands(runtime));
    const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
    app = created.app;
    lookup = async (group) => (await created.client.usergroups.users.list({ usergroup: group })).users ?? [];
    runtime.startDelivery(new SlackService(created.client));
    await app.start();
  }, 30_000);

  afterAll(async () => {
    if (runtime) await runtime.follower.stopAll();
    await app?.stop().catch(() => {});
    await runtime?.stop(1000);
    await fake?.close();
    await kube?.close();
    await registry?.stop();
  });

  function seedWorkload(namespace: string, name: string, kind: 'Deployment' | 'DaemonSet', image: string) {
    const labels = { app: name };
    kube.upsert({
      apiVersion: 'apps/v1',
      kind,
      metadata: { name, namespace, labels },
      spec: { ...(kind === 'Deployment' ? { replicas: 1, progressDeadlineSeconds: 600 } : {}), selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } } },
    });
  }

  /* ---------------- helpers: what a user does and sees ---------------- */

  type Body = Record<string, unknown> & { text?: string; blocks?: unknown[] };
  const textOf = (body: Body) => fake.messageText(body as never);

  async function nextResponse(send: () => Promise<unknown>): Promise<Body> {
    const before = fake.responses().length;
    await send();
    await waitFor(() => fake.responses().length > before, { what: 'an answer through response_url' });
    return fake.responses()[before]!.body as Body;
  }

  const slash = (command: string, text: string, user = ONCALL, channel = CHANNEL) =>
    nextResponse(() => fake.sendEnvelope('slash_commands', fake.slashPayload({ command, text, user_id: user, channel_id: channel })));

  function button(body: { blocks?: unknown[] }, action: string): { action_id: string; value: string } {
    for (const block of (body.blocks ?? []) as Array<{ type: string; elements?: Array<{ action_id?: string; value?: string }> }>) {
      for (const element of block.elements ?? []) if (element.action_id?.startsWith(`dw_${action}_`)) return { action_id: element.action_id, value: element.value ?? '' };
    }
    throw new Error(`no ${action} button in ${JSON.stringify(body.blocks)?.slice(0, 300)}`);
  }

  const press = (found: { action_id: string; value: string }, user = ONCALL, messageTs = '1700000000.000100', channel = CHANNEL) =>
    nextResponse(() => fake.sendEnvelope('interactive', fake.blockActionPayload({ user, channel, message_ts: messageTs, action_id: found.action_id, value: found.value })));

  const channelTexts = () => fake.channel(CHANNEL).map((message) => message.text);
  /** Roots and their thread replies: a command's outcome replies under its own message. */
  const allTexts = () => fake.channel(CHANNEL).flatMap((message) => [message.text, ...message.replies.map((reply) => reply.text)]);
  const threadTexts = (ts: string) => fake.thread(CHANNEL, ts).map((reply) => reply.text);
  const deployment = (name: string, namespace = 'confighub') => kube.get('Deployment', namespace, name)!;

  /* ---------------- the tests ---------------- */

  it('opens the crashing worker incident with a "Pin to … (last good)" button (the seed-000 setup)', async () => {
    const sink = runtime.sink();
    const spec = { containers: [{ name: 'worker', image: workerRef, imagePullPolicy: 'Always' }] };
    sink.state(workerSubject, 'spec', spec);
    sink.tagDigest(workerRef, good, {});
    sink.tagDigest(bridgeRef, bridgeOld, {});
    sink.running(workerSubject, [{ pod: `${WORKER}-6d4f-abcde`, container: 'worker', image: workerRef, digest: good, ready: true }]);
    clock.advance(6 * 60_000);
    sink.running(workerSubject, [{ pod: `${WORKER}-6d4f-abcde`, container: 'worker', image: workerRef, digest: good, ready: true }]);
    clock.advance(60_000);
    sink.tagDigest(workerRef, bad, {});
    sink.tagDigest(bridgeRef, bridgeNew, {});
    sink.notice({ subject: `image:${workerRef}`, kind: 'tag_moved', summary: `${workerRef} moved: ${shortDigest(good)} → ${shortDigest(bad)}`, data: { from: good, to: bad } });
    clock.advance(60_000);
    sink.running(workerSubject, [{ pod: `${WORKER}-7f8c-fghij`, container: 'worker', image: workerRef, digest: bad, ready: false }]);
    sink.check({ subject: workerSubject, problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff: failed to get bridge worker slug: 404' });
    const root = await waitFor(() => fake.channel(CHANNEL).find((message) => message.text.startsWith(`#1 worker ${WORKER}`)), { what: 'incident root' });
    rootTs = root.ts;
    restartButton = button(root, 'rollout_restart');
    expect(button(root, 'worker_pin').value).toContain(good);
    expect(fake.messageText(root)).toContain(`Pin to ${shortDigest(good)} (last good)`);
  });

  it('refuses a user outside access: the answer names the rule, nothing is patched, the attempt is audited', async () => {
    const clusterRequests = kube.requests().length;
    const answer = await slash('/worker', `pin ${WORKER}`, STRANGER);
    expect(textOf(answer)).toContain('Not allowed: "worker pin" is allowed for <@U0ONCALL>, <!subteam^S0SRE>');
    // Refused before anything is looked up: not even a read reaches the cluster.
    expect(kube.requests().length).toBe(clusterRequests);
    expect(answer.response_type).toBe('ephemeral');
    expect(kube.patches()).toHaveLength(0);
    expect(runtime.store.audit.all().at(-1)).toMatchObject({ actor: STRANGER, action: 'worker pin', result: expect.stringMatching(/^denied/) });
  });

  it('pins the crashing worker to its last good digest with one button and a confirmation, and follows the rollout in the thread', async () => {
    const pin = button(fake.message(CHANNEL, rootTs)!, 'worker_pin');
    const preview = await press(pin, ONCALL, rootTs);
    const previewText = textOf(preview);
    const pinned = `${registry.host}/confighubai/confighub-worker@${good}`;
    expect(previewText).toContain(`Pin worker ${WORKER} to ${shortDigest(good)}?`);
    expect(previewText).toContain(workerRef); // before
    expect(previewText).toContain(pinned); // after
    expect(previewText).toMatch(/Cluster\*?\s+prod/);
    expect(previewText).toMatch(/Namespace\*?\s+confighub/);
    expect(previewText).toContain('last good: its own pods ran it while Ready');
    expect(previewText).toContain('Incident: #1');
    expect(previewText).not.toContain('a sync may revert');
    expect(kube.patches()).toHaveLength(0);

    const done = await press(button(preview, 'confirm'), ONCALL, rootTs);
    expect(textOf(done)).toContain(`Pinned worker ${WORKER} to ${shortDigest(good)}`);
    const patches = kube.patches();
    expect(patches).toHaveLength(1);
    expect(patches[0]!.path).toBe(`/apis/apps/v1/namespaces/confighub/deployments/${WORKER}`);
    expect(patches[0]!.contentType).toBe('application/strategic-merge-patch+json');
    expect(patches[0]!.body).toEqual({
      metadata: {
        annotations: {
          'driftwatch.io/pinned-from': workerRef,
          'driftwatch.io/pinned-by': ONCALL,
          'driftwatch.io/pinned-at': new Date(clock.now()).toISOString(),
          'driftwatch.io/pin-reason': 'incident #1',
        },
      },
      spec: { template: { spec: { containers: [{ name: 'worker', image: pinned }] } } },
    });
    // The other fields of the container survive the merge.
    const container = deployment(WORKER).spec.template.spec.containers[0];
    expect(container).toMatchObject({ name: 'worker', image: pinned, imagePullPolicy: 'Always' });
    expect(container.env).toHaveLength(2);

    await waitFor(() => threadTexts(rootTs).some((text) => text.includes(`📌 Pinned worker ${WORKER} to ${shortDigest(good)} by <@${ONCALL}>`)), { what: 'pin in the thread' });
    await waitFor(() => kube.pendingRollouts() === 1, { what: 'rollout pending' });
    expect(threadTexts(rootTs).some((text) => text.includes('Rollout finished'))).toBe(false);
    kube.advanceRollouts();
    await waitFor(() => threadTexts(rootTs).some((text) => text.includes(`Rollout finished: worker ${WORKER} (pin to ${shortDigest(good)}) — 1/1 new pods Ready`)), { what: 'rollout finished in the thread' });

    // The watchers now see healthy pods: the incident resolves in the same thread.
    const sink = runtime.sink();
    sink.running(workerSubject, [{ pod: `${WORKER}-8a9b-klmno`, container: 'worker', image: pinned, digest: good, ready: true }]);
    sink.check({ subject: workerSubject, problem: 'worker_pods_failing', ok: true, summary: '1/1 pods Ready' });
    await waitFor(() => threadTexts(rootTs).some((text) => text.includes('Resolved after')), { what: 'resolution in the thread' });

    const timeline = textOf(await slash('/incident', 'timeline #1'));
    const pinLine = timeline.split('\n').find((line) => line.includes('· pin: '));
    expect(pinLine).toContain(`pin: 📌 Pinned worker ${WORKER} to ${shortDigest(good)} by <@${ONCALL}>`);
    expect(pinLine).toContain('last good: its own pods ran it while Ready');
    expect(pinLine).toMatch(new RegExp(`\\(@${ONCALL}\\)$`)); // the author
    expect(timeline).toContain('rollout finished');
    const audit = runtime.store.audit.all().filter((entry) => entry.action === 'worker pin' && entry.result === 'patched');
    expect(audit).toEqual([expect.objectContaining({ actor: ONCALL, before: workerRef, after: pinned, incidentId: 1 })]);
  });

  it('allows a member of an allowed user group, and warns that Argo CD may revert the pin', async () => {
    const preview = await slash('/worker', `pin ${BRIDGE} previous`, SRE_MEMBER);
    const text = textOf(preview);
    expect(text).toContain(`Pin worker ${BRIDGE} to ${shortDigest(bridgeOld)}?`);
    expect(text).toContain('Managed by Argo CD: a sync may revert this; the lasting change belongs in the Git source of Argo CD application "confighub-workers"');
    const cancelled = await press(button(preview, 'cancel'), SRE_MEMBER);
    expect(textOf(cancelled)).toContain('Cancelled; nothing was changed.');
    expect(kube.patches()).toHaveLength(1);
  });

  it('refuses a rule limited to one channel when used from another', async () => {
    const answer = await slash('/worker', `pin ${BRIDGE} previous`, ONCALL, OTHER_CHANNEL);
    expect(textOf(answer)).toContain(`Not allowed: "worker pin" may only be used in <#${CHANNEL}>`);
    expect(kube.patches()).toHaveLength(1);
  });

  it('lets only the requester confirm, and not after five minutes', async () => {
    const preview = await slash('/worker', `pin ${BRIDGE} previous`);
    const confirm = button(preview, 'confirm');
    expect(textOf(await press(confirm, SRE_MEMBER))).toContain(`Only <@${ONCALL}> can confirm this; nothing was changed.`);
    clock.advance(6 * 60_000);
    expect(textOf(await press(confirm, ONCALL))).toContain('This confirmation expired (they last 5 minutes); nothing was changed.');
    expect(kube.patches()).toHaveLength(1);
  });

  it('acts once on a double click; with no incident open the rollout is told in the channel', async () => {
    const prefix = bridgeOld.slice('sha256:'.length, 'sha256:'.length + 10);
    const preview = await slash('/worker', `pin ${BRIDGE} ${prefix}`);
    expect(textOf(preview)).toContain(`prefix ${prefix}`);
    const confirm = button(preview, 'confirm');
    const before = fake.responses().length;
    await Promise.all([1, 2].map(() => fake.sendEnvelope('interactive', fake.blockActionPayload({ user: ONCALL, channel: CHANNEL, message_ts: '1700000000.000200', action_id: confirm.action_id, value: confirm.value }))));
    await waitFor(() => fake.responses().length >= before + 2, { what: 'two answers' });
    const answers = fake.responses().slice(before).map((response) => textOf(response.body as Body));
    expect(answers.filter((text) => text.includes(`Pinned worker ${BRIDGE}`))).toHaveLength(1);
    expect(answers.filter((text) => text.includes('already used'))).toHaveLength(1);
    expect(kube.patches()).toHaveLength(2);
    expect(deployment(BRIDGE).metadata.annotations?.['driftwatch.io/pin-reason']).toBe('manual');

    await waitFor(() => channelTexts().some((text) => text.includes(`📌 Pinned worker ${BRIDGE} to ${shortDigest(bridgeOld)} by <@${ONCALL}>`)), { what: 'pinned notice in the channel' });
    await waitFor(() => kube.pendingRollouts() === 1, { what: 'rollout pending' });
    kube.advanceRollouts();
    await waitFor(() => allTexts().some((text) => text.includes(`Rollout finished: worker ${BRIDGE}`)), { what: 'finished notice' });
  });

  it('/worker list shows pins, pods and running digests', async () => {
    const text = textOf(await slash('/worker', 'list'));
    expect(text).toContain(`📌 ${WORKER}: pinned from ${workerRef} by <@${ONCALL}>`);
    expect(text).toContain('(incident #1)');
    expect(text).toMatch(new RegExp(`${WORKER}\\s+pin ${good.slice(7, 15)}\\s+1/1\\s+${good.slice(7, 15)} 1/1✓`));
    expect(text).toContain('edge-worker'); // unreachable: shown as last seen
  });

  it('unpin restores the recorded image and removes the pin annotations', async () => {
    const preview = await slash('/worker', `unpin ${BRIDGE}`);
    expect(textOf(preview)).toContain(`Unpin worker ${BRIDGE}?`);
    expect(textOf(preview)).toContain(bridgeRef);
    await press(button(preview, 'confirm'));
    const patch = kube.patches().at(-1)!;
    expect(patch.contentType).toBe('application/strategic-merge-patch+json');
    expect(patch.body.spec).toEqual({ template: { spec: { containers: [{ name: 'worker', image: bridgeRef }] } } });
    const now = deployment(BRIDGE);
    expect(now.spec.template.spec.containers[0].image).toBe(bridgeRef);
    expect(Object.keys(now.metadata.annotations ?? {}).filter((key) => key.startsWith('driftwatch.io/'))).toEqual([]);
    expect(now.metadata.labels!['argocd.argoproj.io/instance']).toBe('confighub-workers');
    await waitFor(() => kube.pendingRollouts() === 1, { what: 'rollout pending' });
    kube.advanceRollouts();
    await waitFor(() => allTexts().some((text) => text.includes(`Rollout finished: worker ${BRIDGE} (unpin to ${bridgeRef})`)), { what: 'unpin rollout finished' });
    expect(textOf(await slash('/worker', `unpin ${BRIDGE}`))).toContain(`Worker ${BRIDGE} is not pinned by Driftwatch`);
  });

  it('/rollout restart replaces the pods of a DaemonSet and follows it', async () => {
    const preview = await slash('/rollout', 'restart relay');
    expect(textOf(preview)).toContain('Restart DaemonSet relay/relay (cluster prod)?');
    const patchesBefore = kube.patches().length;
    await press(button(preview, 'confirm'));
    const patch = kube.patches()[patchesBefore]!;
    expect(patch.path).toBe('/apis/apps/v1/namespaces/relay/daemonsets/relay');
    expect(patch.body).toEqual({ spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z') } } } } });
    const restarting = await waitFor(() => fake.channel(CHANNEL).find((message) => message.text.includes(`🔄 Restarting DaemonSet relay/relay (cluster prod) (asked by <@${ONCALL}>)`)), { what: 'restart notice' });
    await waitFor(() => kube.pendingRollouts() === 1, { what: 'rollout pending' });
    kube.advanceRollouts();
    // With no incident open, the outcome goes into the thread of the command's own message.
    await waitFor(() => threadTexts(restarting.ts).some((text) => text.includes('Rollout finished: DaemonSet relay/relay (cluster prod) (restart)')), { what: 'restart finished in its thread' });
    expect(channelTexts().filter((text) => text.includes('Rollout finished: DaemonSet relay/relay'))).toEqual([]);
  });

  it('the "Restart rollout" button and the status commands speak of the same workloads', async () => {
    const preview = await press(restartButton, ONCALL, rootTs);
    expect(textOf(preview)).toContain(`Restart worker ${WORKER}?`);
    expect(textOf(preview)).not.toContain('may pull whatever the tag points at'); // pinned by digest now
    expect(textOf(await press(button(preview, 'cancel'), ONCALL, rootTs))).toContain('Cancelled');
    const status = textOf(await slash('/rollout', 'status relay'));
    expect(status).toContain('DaemonSet relay/relay (cluster prod): rollout complete');
    expect(status).toMatch(/1\/1 updated, 1 ready/);
    const worker = textOf(await slash('/worker', `status ${WORKER}`));
    expect(worker).toContain(`Worker ${WORKER} (pinned)`);
    expect(worker).toContain(`✅ ${WORKER}-`);
    expect(worker).toContain(shortDigest(good));
  });

  it('/rollout undo puts the previous revision of a Deployment back', async () => {
    const feed = kube.get('Deployment', 'traderx', 'trade-feed')!;
    feed.spec.template.spec.containers[0].image = `${registry.host}/finos/trade-feed:v2`;
    kube.upsert(feed);
    kube.advanceRollouts();
    expect(kube.get('Deployment', 'traderx', 'trade-feed')!.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');

    const preview = await slash('/rollout', 'undo trade-feed');
    expect(textOf(preview)).toContain('Undo Deployment traderx/trade-feed (cluster prod): revision 2 → 1?');
    expect(textOf(preview)).toContain('trade-feed:v1');
    await press(button(preview, 'confirm'));
    expect(kube.patches().at(-1)!.contentType).toBe('application/json-patch+json');
    await waitFor(() => kube.pendingRollouts() === 1, { what: 'rollout pending' });
    kube.advanceRollouts();
    await waitFor(() => allTexts().some((text) => text.includes('Rollout finished: Deployment traderx/trade-feed (cluster prod) (undo to revision 1)')), { what: 'undo finished' });
    expect(kube.get('Deployment', 'traderx', 'trade-feed')!.spec.template.spec.containers[0].image).toBe(`${registry.host}/finos/trade-feed:v1`);
  });

  it('an undo the admission policy refuses names the policy, and nothing is half-done', async () => {
    const feed = kube.get('Deployment', 'traderx', 'trade-feed')!;
    feed.spec.template.spec.containers[0].image = `${registry.host}/finos/trade-feed:v3`;
    kube.upsert(feed);
    kube.advanceRollouts();
    const before = kube.get('Deployment', 'traderx', 'trade-feed')!;
    const revision = before.metadata.annotations?.['deployment.kubernetes.io/revision'];
    const patchesBefore = kube.patches().length;
    const textsBefore = allTexts().length;
    const denial = "deployments.apps \"trade-feed\" is forbidden: ValidatingAdmissionPolicy 'driftwatch-image-and-restart-only' with binding 'driftwatch-image-and-restart-only' denied request: Driftwatch may change only the image of a pod template's containers";
    kube.setFault((request) => (request.method === 'PATCH' && request.path.endsWith('/trade-feed') ? { status: 403, reason: 'Forbidden', message: denial } : undefined));
    try {
      const preview = await slash('/rollout', 'undo trade-feed');
      const answer = textOf(await press(button(preview, 'confirm')));
      expect(answer).toContain("admission policy driftwatch-image-and-restart-only refused the undo of Deployment traderx/trade-feed");
      expect(answer).toContain('may change only the image');
      expect(answer).toContain('Nothing was changed');
    } finally {
      kube.setFault(undefined);
    }
    const afterIt = kube.get('Deployment', 'traderx', 'trade-feed')!;
    expect(afterIt.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe(revision);
    expect(afterIt.spec.template).toEqual(before.spec.template);
    expect(kube.patches().length).toBe(patchesBefore);
    // No "Undoing…" in the channel and no rollout followed.
    expect(allTexts().slice(textsBefore).filter((text) => /Undoing|Rollout/.test(text))).toEqual([]);
    expect(runtime.store.audit.all().at(-1)!.result).toContain('failed: ');
  });

  it('reports a rollout that fails, with the reason', async () => {
    kube.failImage(`${registry.host}/finos/reference-data:1.0`, 'ImagePullBackOff', 'pull access denied for finos/reference-data, repository does not exist or may require authorization');
    const ambiguous = textOf(await slash('/rollout', 'restart reference-data'));
    expect(ambiguous).toContain('"reference-data" names 2 workloads');
    expect(ambiguous).toContain('workload:prod/traderx/Deployment/reference-data');
    expect(ambiguous).toContain('workload:prod/default/Deployment/reference-data');
    const preview = await slash('/rollout', 'restart reference-data -n traderx');
    await press(button(preview, 'confirm'));
    await waitFor(() => kube.pendingRollouts() === 1, { what: 'rollout pending' });
    kube.advanceRollouts();
    const failed = await waitFor(() => allTexts().find((text) => text.includes('Rollout failed: Deployment traderx/reference-data')), { what: 'failure notice' });
    expect(failed).toMatch(/ImagePullBackOff — pull access denied|ProgressDeadlineExceeded/);
    expect(runtime.store.audit.all().at(-1)).toMatchObject({ action: 'rollout restart rollout', result: expect.stringMatching(/^failed: /) });
  });

  it('answers bad input with the problem and the valid choices, and changes nothing', async () => {
    const patches = kube.patches().length;
    const cases: Array<[string, string, RegExp]> = [
      ['/worker', 'pin nope', /Unknown worker "nope"\. Workers: cost-optimizer-worker, bridge-worker, edge-worker/],
      ['/worker', 'pin relay;rm -rf /', /Unknown worker "relay;rm"/],
      ['/worker', 'pin $(reboot) `id` |cat', /Unknown worker "\$\(reboot\)"/],
      ['/worker', `pin ${BRIDGE} not-a-digest`, /"not-a-digest" is not a digest/],
      ['/worker', `pin ${BRIDGE} abc`, /too short/],
      ['/worker', `pin ${BRIDGE} deadbeefdead`, /No known digest of .*bridge-worker starts with "deadbeefdead"\. Known digests of .*sha256:/],
      ['/worker', `pin ${BRIDGE} sha256:${'f'.repeat(64)}`, /is not in .*confighubai\/bridge-worker \(the registry answered 404\)/],
      ['/worker', 'pin edge-worker previous', /Cluster edge is unreachable/],
      ['/rollout', 'restart relay -n nowhere', /Namespace "nowhere" is not one the config names\. Namespaces: confighub, relay, traderx, default/],
      ['/rollout', 'restart relay --cluster mars', /Cluster "mars" is not in the config\. Clusters: prod, edge/],
      ['/rollout', 'restart -n relay relay', /Put the workload first, then flags/],
      ['/rollout', 'restart relay --force', /Unknown flag "--force"/],
      ['/rollout', 'restart relay extra', /Only one workload at a time/],
      ['/rollout', 'undo relay', /works on Deployments; DaemonSet relay\/relay \(cluster prod\) is a DaemonSet/],
      ['/rollout', 'restart workload:prod/kube-system/Deployment/coredns', /Unknown workload "workload:prod\/kube-system\/Deployment\/coredns"/],
      ['/version', 'status nosuch', /Unknown service "nosuch"\. Services and endpoints: relay/],
    ];
    // The prefix case lists the digests the watchers know: wait until they know bridge-worker's.
    await waitFor(async () => /Known digests/.test(textOf(await slash('/worker', `pin ${BRIDGE} deadbeefdead`))), { timeoutMs: 15_000, what: "bridge-worker's digests known" });
    for (const [command, text, expected] of cases) {
      const answer = textOf(await slash(command, text));
      expect(answer, `${command} ${text}`).toMatch(expected);
      expect(answer).not.toMatch(/at \w+ \(|node_modules|Confirm/);
    }
    expect(kube.patches()).toHaveLength(patches);
  });

  it('/version status shows desired vs running vs served with a verdict per row', async () => {
    const sink = runtime.sink();
    const pinned = `${registry.host}/confighubai/confighub-worker@${good}`;
    sink.state(workerSubject, 'spec', { containers: [{ name: 'worker', image: pinned, imagePullPolicy: 'Always' }] });
    sink.state(`worker:${BRIDGE}`, 'spec', { containers: [{ name: 'worker', image: bridgeRef }] });
    sink.tagDigest(bridgeRef, bridgeNew, {});
    sink.state(`image:${bridgeRef}`, 'version', { version: '1.4.2', digest: bridgeNew, at: clock.now() });
    sink.running(`worker:${BRIDGE}`, [{ pod: `${BRIDGE}-1`, container: 'worker', image: bridgeRef, digest: bridgeOld, ready: true }]);
    const served = (version: string | null) => ({ version, up: true, seen: true, since: clock.now(), latencyMs: 20, checkedAt: clock.now(), url: 'https://node', expected: '0.2.0', expectedSource: 'config' });
    sink.state('endpoint:relay-dfw1', 'served', served('0.2.0'));
    sink.state('endpoint:relay-ord1', 'served', served(null));
    const answer = await slash('/version', 'status');
    const text = textOf(answer);
    const g = good.slice(7, 15);
    expect(text).toMatch(new RegExp(`${WORKER}\\s+pin ${g}\\s+${g} 1/1✓\\s+current`));
    expect(text).toMatch(new RegExp(`${BRIDGE}\\s+${bridgeNew.slice(7, 15)} \\(1\\.4\\.2\\)\\s+${bridgeOld.slice(7, 15)} 1/1✓\\s+stale`));
    expect(text).toMatch(/svc relay\s+0\.2\.0\s+dfw1 0\.2\.0, ord1 none\s+split/);
    expect(text).toContain('svc relay: expected 0.2.0 (config)');
    expect(text).toContain('relay-ord1 sends no version header');
    expect(text).toMatch(/relay\/relay\s+\?\s+no pods\s+unknown/);
    expect(runtime.versionStatus().table?.rows.length).toBe(8);
    const one = textOf(await slash('/version', 'status relay'));
    expect(one).toContain('Version status of relay');
    expect(one).not.toContain(BRIDGE);
  });
});

