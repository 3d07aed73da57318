/**
 * How a command's change and its rollout are told, against the fake apiserver with the real
 * client-node, command bus, follower, incident engine and store: which incident a change belongs
 * to, what the follower's reports count for in the summary, `/rollout status` per pod, and
 * `/rollout` on a workload `discover:` found.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createLogger, setLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import type { CommandContext, CommandReply } from '../src/commands/types.js';
import type { Line, MessageModel } from '../src/domain/messages.js';
import { renderSummary, summaryFigures } from '../src/incidents/summary.js';
import { renderRoot } from '../src/incidents/render.js';
import { KubeCluster } from '../src/clients/kube.js';
import { KubeWatcher } from '../src/watchers/kube.js';
import { buttonCommand } from '../src/slack/app.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { RecordingService } from './support/recording-service.js';
import { waitUntil } from './support/wait-until.js';

const quiet = createLogger({ level: 'silent' });
beforeAll(() => setLogger(quiet));

const CHANNEL = 'C0ALERTS';
const ONCALL = 'U0ONCALL';

const waitFor = <T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 10_000): Promise<T> => waitUntil(what, probe, timeoutMs);

function deployment(namespace: string, name: string, image: string, replicas = 1) {
  const selector = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: selector },
    spec: { replicas, progressDeadlineSeconds: 600, selector: { matchLabels: selector }, template: { metadata: { labels: selector }, spec: { containers: [{ name: 'app', image }] } } },
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  fake: FakeApiserver;
  runtime: Runtime;
  service: RecordingService;
  /** `/rollout <text>` as ONCALL; a plan is confirmed at once. The answer's text. */
  rollout(text: string): Promise<string>;
  /** `/<family> <text>` as ONCALL in `threadTs`, without confirming: the answer or the preview, as text. */
  ask(family: string, text: string, threadTs?: string): Promise<{ text: string; confirm?: () => Promise<string> }>;
}

const lineText = (line: Line) => line.map((part) => (typeof part === 'string' ? part : 'code' in part ? part.code : 'user' in part ? `<@${part.user}>` : 'at' in part ? String(part.at) : '')).join('');
const messageText = (message: MessageModel) => [lineText(message.title), ...(message.fields ?? []).map(([label, value]) => `${label}: ${lineText(value)}`), ...(message.lines ?? []).map(lineText)].join('\n');

async function harness(config: Record<string, unknown>, before: (fake: FakeApiserver) => void, options: { watch?: boolean } = {}): Promise<Harness> {
  const fake = await startFakeApiserver();
  cleanups.push(() => fake.close());
  before(fake);
  process.env.KUBECONFIG = fake.kubeconfigFile('prod-admin');
  const dir = mkdtempSync(join(tmpdir(), 'rollout-story-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const runtime = new Runtime(
    parseConfig({
      slack: { channel: CHANNEL },
      store: { path: join(dir, 'db.sqlite') },
      clusters: [{ name: 'prod', context: 'prod-admin' }],
      access: { 'rollout restart': { users: [ONCALL] }, 'rollout undo': { users: [ONCALL] } },
      alerting: { failuresBeforeAlert: 1, recoveriesBeforeResolve: 1 },
      ...config,
    }),
    { log: quiet, follow: { pollMs: 30, progressEveryMs: 60_000 } },
  );
  const service = new RecordingService();
  runtime.startDelivery(service);
  cleanups.push(() => runtime.stop(2_000));
  if (options.watch) {
    // The Kubernetes watcher as the runtime runs it: it records what `discover:` finds and reports its problems.
    const kubeconfigPath = process.env.KUBECONFIG;
    const watcher = new KubeWatcher({
      config: runtime.config,
      sink: runtime.sink(),
      cluster: (name) => new KubeCluster({ name, context: 'prod-admin', ...(kubeconfigPath ? { kubeconfigPath } : {}), requestTimeoutMs: 3_000 }),
      log: quiet,
      idleTimeoutMs: 20_000,
      recheckEveryMs: 400,
      backoffMinMs: 50,
      backoffMaxMs: 300,
    });
    watcher.start();
    cleanups.push(() => watcher.stop());
  }
  const ctx: CommandContext = { user: ONCALL, channel: CHANNEL, face: 'console' };
  const ask = async (family: string, text: string, threadTs?: string) => {
    const here = { ...ctx, ...(threadTs ? { threadTs } : {}) };
    const reply: CommandReply = await runtime.bus.dispatch(family, text, here);
    if (reply.kind === 'message') return { text: messageText(reply.message) };
    return { text: messageText(reply.preview), confirm: async () => messageText(await runtime.bus.decide(reply.id, ONCALL, true, here)) };
  };
  const rollout = async (text: string) => {
    const answer = await ask('rollout', text);
    return answer.confirm ? answer.confirm() : answer.text;
  };
  return { fake, runtime, service, rollout, ask };
}

describe('the rollout follower\'s reports', () => {
  it('an outcome that joins an incident opened after the command is no acknowledgement and no mitigating change', async () => {
    const image = 'registry.example.com/shop/web:1.0';
    const subject = 'workload:prod/shop/Deployment/web';
    const h = await harness({ workloads: [{ cluster: 'prod', namespace: 'shop', name: 'web' }] }, (fake) => void fake.upsert(deployment('shop', 'web', image)));
    // Healthy, no incident: the restart is told in the channel.
    expect(await h.rollout('restart web')).toContain('Following the rollout in the channel.');
    await waitFor('the rollout to be pending', () => h.fake.pendingRollouts() === 1);
    // The new pods crash; the watcher opens an incident about the workload.
    h.fake.failImage(image, 'CrashLoopBackOff', 'back-off 10s restarting failed container=app');
    h.runtime.engine.check({ subject, problem: 'workload_failing', ok: false, summary: 'CrashLoopBackOff, 2 restarts' });
    const open = h.runtime.store.incidents.openIncidents()[0]!;
    expect(open.primarySubject).toBe(subject);
    h.fake.advanceRollouts();
    await waitFor('the follower to tell the failure', () => h.runtime.store.events.forIncident(open.id).find((event) => event.type === 'notice.rollout_failed'));
    await h.runtime.follower.idle();

    const incident = h.runtime.store.incidents.incident(open.id)!;
    const events = h.runtime.store.events.forIncident(open.id);
    const failed = events.find((event) => event.type === 'notice.rollout_failed')!;
    expect(failed.summary).toContain('❌ Rollout failed: Deployment shop/web (cluster prod) (restart)');
    const figures = summaryFigures(incident, events);
    expect(figures.acknowledged).toBeNull();
    expect(figures.acknowledgedBy).toBeNull();
    const summary = messageText(renderSummary(incident, events));
    expect(summary).toContain('Acknowledged: not yet');
    expect(summary).not.toContain(ONCALL);
    // The requester is still named: in the notice's data, not as its actor.
    expect(failed.actor).toBeNull();
    expect(failed.data.requestedBy).toBe(ONCALL);
  });
});

describe('untrusted text in a rollout\'s story', () => {
  it('a crashing image\'s message mentions no one in the incident thread the follower replies in', async () => {
    const image = 'registry.example.com/shop/web:2.0';
    const subject = 'workload:prod/shop/Deployment/web';
    const mentions = ['<!subteam^S123>', '<@U0BOSS>', '<!channel>'];
    const h = await harness({ workloads: [{ cluster: 'prod', namespace: 'shop', name: 'web' }] }, (fake) => void fake.upsert(deployment('shop', 'web', image)));
    h.runtime.engine.check({ subject, problem: 'workload_failing', ok: false, summary: 'CrashLoopBackOff, 2 restarts' });
    const incident = h.runtime.store.incidents.openIncidents()[0]!;
    expect(await h.rollout('restart web')).toContain(`Following the rollout in the thread of incident #${incident.id}.`);
    await waitFor('the rollout to be pending', () => h.fake.pendingRollouts() === 1);
    h.fake.failImage(image, 'CrashLoopBackOff', `back-off 10s restarting failed container=app: page ${mentions.join(' ')} now`);
    h.fake.advanceRollouts();
    const failed = await waitFor('the follower to tell the failure', () => h.runtime.store.events.forIncident(incident.id).find((event) => event.type === 'action.rollout_failed'));
    expect(failed.summary).toContain('CrashLoopBackOff');
    const reply = await waitFor('the failure in the thread', () => h.service.posted.find((message) => message.threadTs && message.text.includes('Rollout failed: Deployment shop/web')));
    expect(reply.text).toContain('page ');
    for (const mention of mentions) {
      expect(reply.text).not.toContain(mention);
      expect(failed.summary).not.toContain(mention);
    }
  });
});

describe('/rollout status, pod by pod', () => {
  it('shows each live pod as the watcher judges it: no Terminating or finished pods, a crash loop between two crashes named with its OOM kill', async () => {
    const image = 'registry.example.com/shop/web:3.0';
    const h = await harness({ workloads: [{ cluster: 'prod', namespace: 'shop', name: 'web' }] }, (fake) => void fake.upsert(deployment('shop', 'web', image)));
    const now = Date.now();
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    const pod = (name: string, metadata: Record<string, unknown>, status: Record<string, unknown>) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'shop', labels: { app: 'web' }, creationTimestamp: at(600_000), ...metadata },
      spec: { containers: [{ name: 'app', image }] },
      status,
    });
    h.fake.upsert(pod('web-old', { deletionTimestamp: at(1_000) }, { phase: 'Running', containerStatuses: [{ name: 'app', image, imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: at(600_000) } } }] }));
    h.fake.upsert(pod('web-migrate', {}, { phase: 'Succeeded', containerStatuses: [{ name: 'app', image, imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }));
    // Running again for a moment after its third OOM kill: still the same crash loop, not "not ready".
    h.fake.upsert(
      pod('web-oom', {}, {
        phase: 'Running',
        containerStatuses: [{ name: 'app', image, imageID: '', ready: false, restartCount: 3, state: { running: { startedAt: at(2_000) } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: at(3_000) } } }],
      }),
    );
    const status = await h.rollout('status web');
    const podLines = status.split('\n').filter((line) => /^(✅|❌|⏳) /.test(line));
    expect(podLines.some((line) => line.startsWith('❌ web-oom — OOMKilled, 3 restarts (last exit code 137: OOMKilled)'))).toBe(true);
    expect(status).not.toContain('web-old');
    expect(status).not.toContain('web-migrate');
    // The Deployment's own pod, Ready, is listed too.
    expect(podLines.filter((line) => line.startsWith('✅ web-'))).toHaveLength(1);
  });
});

describe('/rollout on a workload discover: found', () => {
  it('the "Restart rollout" button of its incident restarts it and tells the story in its thread; status and undo find it too', async () => {
    const image = 'ghcr.io/finos/traderx/reference-data:latest';
    const subject = 'workload:prod/traderx/Deployment/reference-data';
    const h = await harness(
      { discover: [{ cluster: 'prod', namespaces: ['traderx'] }] },
      (fake) => {
        fake.failImage(image, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=app');
        fake.upsert(deployment('traderx', 'reference-data', image));
      },
      { watch: true },
    );
    const incident = await waitFor('the discovered workload incident', () => h.runtime.store.incidents.openIncidents().find((one) => one.primarySubject === subject), 20_000);
    const root = await waitFor('the incident root', () => h.service.roots().find((message) => message.text.includes(`#${incident.id} `)));
    // The root's button, as Slack turns a press into a command.
    const button = renderRoot(incident, h.runtime.store.incidents.problemsOfIncident(incident.id), { now: Date.now() }).buttons?.find((one) => one.action === 'rollout_restart');
    expect(button).toBeDefined();
    const command = buttonCommand(button!.action, button!.value)!;
    const preview = await h.ask(command.family, command.text, root.ts);
    expect(preview.text).toContain('Restart Deployment traderx/reference-data (cluster prod)?');
    expect(preview.text).toContain(`Incident: #${incident.id}`);
    const patchesBefore = h.fake.patches().length;
    expect(await preview.confirm!()).toContain(`Following the rollout in the thread of incident #${incident.id}.`);
    const patch = h.fake.patches()[patchesBefore]!;
    expect(patch.path).toBe('/apis/apps/v1/namespaces/traderx/deployments/reference-data');
    await waitFor('the restart in the incident thread', () => h.service.thread(root.ts).find((message) => message.text.includes('🔄 Restarting Deployment traderx/reference-data (cluster prod)')));
    // By name, as people type it, too.
    expect(await h.rollout('status reference-data')).toContain('Deployment traderx/reference-data (cluster prod): rollout');
    expect((await h.ask('rollout', 'undo traderx/reference-data -n traderx')).text).not.toContain('Unknown workload');
    expect(await h.rollout('status nosuch')).toContain('Unknown workload "nosuch". Workloads: traderx/reference-data');
  });
});
