import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config.js';
import { createLogger, setLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { KubeWatcher } from '../src/watchers/kube.js';
import { RegistryWatcher } from '../src/watchers/registry.js';
import { ConfigHubWatcher } from '../src/watchers/confighub.js';
import { ConfigHubClient } from '../src/clients/confighub.js';
import { shortDigest } from '../src/domain/image-ref.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { NEVER_SEEN, startFakeConfigHub, type FakeConfigHub } from './support/fake-confighub.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';

const BOT = 'xoxb-1212-3434-seed000-bot-token';
const APP = 'xapp-1-A0TEST-5656-seed000-app-token';
const CHANNEL = 'C0ALERTS';
const CONFIGHUB_TOKEN = 'ch_testtoken0123456789';
const CRASH_LOG = [
  '2026/11/24 03:10:31 Starting worker with ID: 5f0c2a9e-3b1d-4c7e-9a55-1f2e3d4c5b6a',
  '2026/11/24 03:10:32 [ERROR] Failed to get bridge worker slug: server returned status 404: 404 Not Found',
  '2026/11/24 03:10:32 Error starting worker: failed to get bridge worker slug: server returned status 404: 404 Not Found',
].join('\n');

let registry: TestRegistry | undefined;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  // The kube client logs its watch restarts through the process logger: quiet in tests.
  setLogger(createLogger({ level: 'silent' }));
  if (registryAvailable()) registry = await startRegistry({ auth: 'none' });
  return async () => registry?.stop();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Story {
  runtime: Runtime;
  fake: FakeSlack;
  kube: FakeApiserver;
  hub: FakeConfigHub;
  registryWatcher: RegistryWatcher;
  confighub: ConfigHubWatcher;
  image: string;
  roots: () => Array<{ ts: string; text: string }>;
}

/** The real watchers and engine, with the real registry, the fake apiserver, ConfigHub and Slack. */
async function tell(workers: Array<{ name: string; space?: string }>, repository: string): Promise<Story> {
  const kube = await startFakeApiserver();
  cleanups.push(() => kube.close());
  const hub = await startFakeConfigHub({ token: CONFIGHUB_TOKEN });
  cleanups.push(() => hub.close());
  const fake = await startFakeSlack({ botToken: BOT, appToken: APP });
  cleanups.push(() => fake.close());
  process.env.KUBECONFIG = kube.kubeconfigFile('prod-admin');
  const config = parseConfig({
    slack: { channel: CHANNEL },
    store: { path: join(mkdtempSync(join(tmpdir(), 'dw-seed000-')), 'db.sqlite') },
    clusters: [{ name: 'prod', context: 'prod-admin' }],
    registries: { [registry!.host]: { insecure: true } },
    confighub: { url: hub.url, tokenEnv: 'SEED000_CONFIGHUB_TOKEN', every: '1s' },
    workers: workers.map((worker) => ({ name: worker.name, cluster: 'prod', ...(worker.space ? { space: worker.space } : {}) })),
    alerting: { healthyFor: '1s' },
  });
  const runtime = new Runtime(config, { log: createLogger({ level: 'silent' }), poster: { baseBackoffMs: 50 } });
  const { app, client } = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
  runtime.startDelivery(new SlackService(client));
  await app.start();
  cleanups.push(async () => {
    await app.stop().catch(() => {});
    await runtime.stop(500);
  });
  const sink = runtime.sink();
  const log = createLogger({ level: 'silent' });
  const kubeWatcher = new KubeWatcher({ config, sink, cluster: (name) => runtime.cluster(name), log, recheckEveryMs: 300, settleMs: 50 });
  kubeWatcher.start();
  cleanups.push(() => kubeWatcher.stop());
  const registryWatcher = new RegistryWatcher({ config, sink, client: runtime.registry(), log });
  const confighub = new ConfigHubWatcher({ config, sink, client: new ConfigHubClient({ url: hub.url, token: CONFIGHUB_TOKEN }), log });
  const image = `${registry!.host}/${repository}:latest`;
  return { runtime, fake, kube, hub, registryWatcher, confighub, image, roots: () => fake.channel(CHANNEL) };
}


describe.skipIf(!registryAvailable())('seed 000 end to end: tag move → worker down → last good digest', () => {
  it('a new worker that was never healthy: one thread naming the move, the crash line, ConfigHub, and the last good digest from the other worker', async () => {
    const story = await tell([{ name: 'relay-bridge-old' }, { name: 'relay-bridge-new', space: 'aurora-ops' }], 'aurora/relay-bridge');
    const { kube, hub, fake, image } = story;
    const good = (await registry!.pushImage('aurora/relay-bridge', 'latest', { seed: 'good build' })).digest;
    kube.setImageDigest(image, good);
    kube.seedWorker({ name: 'relay-bridge-old', image, digest: good });
    await waitFor(() => story.runtime.engine.lastGood('worker:relay-bridge-old', image)?.digest === good, { timeoutMs: 15_000, what: 'old worker healthy for healthyFor' });
    await story.registryWatcher.runCycle();

    // The tag moves under everyone.
    const bad = (await registry!.pushImage('aurora/relay-bridge', 'latest', { seed: 'broken build' })).digest;
    await story.registryWatcher.runCycle();
    const moved = await waitFor(() => fake.channel(CHANNEL).find((message) => message.text.includes('moved:')), { what: 'tag move notice' });
    const notice = fake.messageText(moved);
    expect(notice).toContain(`${shortDigest(good)} → ${shortDigest(bad)}`);
    expect(notice).toContain(`relay-bridge-old: imagePullPolicy Always, runs ${shortDigest(good)}`);

    // A new worker is installed: it pulls the new digest and crashes with seed 000's line.
    hub.addSpace('aurora-ops');
    hub.addWorker('aurora-ops', 'relay-bridge-new', { condition: 'Disconnected', lastSeenAt: NEVER_SEEN });
    kube.setImageDigest(image, bad);
    kube.failImage(image, 'CrashLoopBackOff', 'back-off 5m0s restarting failed container=worker');
    kube.seedWorker({ name: 'relay-bridge-new', image, digest: bad });
    for (const pod of kube.list('Pod', 'confighub').filter((candidate) => candidate.metadata.labels?.app === 'relay-bridge-new')) {
      kube.setLogs('confighub', pod.metadata.name, 'worker', CRASH_LOG, { previous: true });
    }
    await story.confighub.poll();
    await story.confighub.poll();

    const incident = await waitFor(() => {
      const root = fake.channel(CHANNEL).find((message) => message.text.includes('worker relay-bridge-new'));
      const text = root ? fake.messageText(fake.message(CHANNEL, root.ts)!) : '';
      return text.includes('failed to get bridge worker slug') && text.includes('ConfigHub: Disconnected') ? text : undefined;
    }, { timeoutMs: 20_000, what: 'one incident with both sides' });
    expect(incident).toContain(`${shortDigest(good)} → ${shortDigest(bad)}`);
    expect(incident).toContain('server returned status 404: 404 Not Found');
    expect(incident).toContain('ConfigHub: Disconnected, created, never seen');
    expect(incident).toContain(`Last good digest: ${shortDigest(good)} (from other workloads)`);
    expect(incident).toContain(`Pin to ${shortDigest(good)} (last good)`);
    const incidentRoots = fake.channel(CHANNEL).filter((message) => /^#\d+ /.test(message.text));
    expect(incidentRoots).toHaveLength(1);
    expect(story.runtime.store.incidents.openIncidents()[0]!.title).toMatch(/worker relay-bridge-new: (worker pods failing|rollout stuck|worker not Ready in ConfigHub)/);
    expect(story.runtime.store.incidents.openIncidents()).toHaveLength(1);
  });

  it('a worker that was healthy on the old digest: its own pods give the last good digest', async () => {
    const story = await tell([{ name: 'ledger-bridge' }], 'aurora/ledger-bridge');
    const { kube, fake, image } = story;
    const good = (await registry!.pushImage('aurora/ledger-bridge', 'latest', { seed: 'ledger good' })).digest;
    kube.setImageDigest(image, good);
    kube.seedWorker({ name: 'ledger-bridge', image, digest: good });
    await waitFor(() => story.runtime.engine.lastGood('worker:ledger-bridge', image)?.source === 'own pods', { timeoutMs: 15_000, what: 'healthy on its own pods' });
    await story.registryWatcher.runCycle();
    const bad = (await registry!.pushImage('aurora/ledger-bridge', 'latest', { seed: 'ledger broken' })).digest;
    await story.registryWatcher.runCycle();
    kube.setImageDigest(image, bad);
    kube.failImage(image, 'CrashLoopBackOff', 'back-off 10s restarting failed container=worker');
    await story.runtime.cluster('prod').restartRollout('Deployment', 'confighub', 'ledger-bridge', new Date());
    await waitFor(() => kube.pendingRollouts() > 0, { what: 'rollout pending' });
    for (const pod of kube.list('Pod', 'confighub')) kube.setLogs('confighub', pod.metadata.name, 'worker', CRASH_LOG, { previous: true });
    kube.advanceRollouts();
    const incident = await waitFor(() => {
      const root = fake.channel(CHANNEL).find((message) => /^#\d+ worker ledger-bridge/.test(message.text));
      return root ? fake.messageText(fake.message(CHANNEL, root.ts)!) : undefined;
    }, { timeoutMs: 20_000, what: 'worker incident' });
    expect(incident).toContain(`${shortDigest(good)} → ${shortDigest(bad)}`);
    expect(incident).toContain(`Last good digest: ${shortDigest(good)} (from own pods)`);
  });
});
