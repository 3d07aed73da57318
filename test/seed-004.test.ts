import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '@slack/bolt';
import { parseConfig } from '../src/config.js';
import { createLogger, setLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { KubeWatcher } from '../src/watchers/kube.js';
import { RegistryWatcher } from '../src/watchers/registry.js';
import { EndpointWatcher } from '../src/watchers/endpoints.js';
import { Prober } from '../src/clients/probe.js';
import { startFakeApiserver } from './support/fake-apiserver.js';
import { startEndpoint } from './support/endpoint-server.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';
import { startFakeSlack, waitFor } from './support/fake-slack.js';

const BOT = 'xoxb-4040-5050-seed004-bot-token';
const APP = 'xapp-1-A0TEST-6060-seed004-app-token';
const CHANNEL = 'C0ALERTS';

let registry: TestRegistry | undefined;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
let app: App | undefined;

beforeAll(async () => {
  // The kube client logs its watch restarts through the process logger: quiet in tests.
  setLogger(createLogger({ level: 'silent' }));
  if (registryAvailable()) registry = await startRegistry({ auth: 'none' });
  return async () => registry?.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await app?.stop().catch(() => {});
});

describe.skipIf(!registryAvailable())('seed 004 end to end: published but never applied', () => {
  it('the newest image says 0.2.0, the edge serves no header, the cluster API is unreachable → stale deploy, pointed at the cluster incident, resolved in its thread', async () => {
    const kube = await startFakeApiserver();
    cleanups.push(() => kube.close());
    const edge = await startEndpoint();
    cleanups.push(() => edge.close());
    const fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    cleanups.push(() => fake.close());
    process.env.KUBECONFIG = kube.kubeconfigFile('edge-admin');

    // Built and published: the tag's newest image carries version 0.2.0; the DaemonSet still runs v0.1.0.
    await registry!.pushImage('lumen/edge-relay', 'latest', { version: '0.1.0', seed: 'old' });
    await registry!.pushImage('lumen/edge-relay', 'latest', { version: '0.2.0', seed: 'new' });
    const labels = { app: 'edge-relay' };
    kube.upsert({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'edge-relay', namespace: 'edge', labels },
      spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'relay', image: `${registry!.host}/lumen/edge-relay:v0.1.0` }] } } },
    });
    edge.setVersion('X-Edge-Version', undefined);

    const config = parseConfig({
      slack: { channel: CHANNEL },
      store: { path: join(mkdtempSync(join(tmpdir(), 'dw-seed004-')), 'db.sqlite') },
      clusters: [{ name: 'lumen', context: 'edge-admin', unreachableAfter: '1s' }],
      registries: { [registry!.host]: { insecure: true } },
      workloads: [{ cluster: 'lumen', namespace: 'edge', kind: 'DaemonSet', name: 'edge-relay' }],
      endpoints: [
        {
          name: 'edge-ams1',
          service: 'edge-relay',
          url: `${edge.url}/hooks/lib/sources/tmdb.js`,
          versionHeader: 'X-Edge-Version',
          expectFrom: { image: `${registry!.host}/lumen/edge-relay:latest` },
          workload: 'lumen/edge/DaemonSet/edge-relay',
          every: '1s',
        },
      ],
    });
    const runtime = new Runtime(config, { log: createLogger({ level: 'silent' }), poster: { baseBackoffMs: 50 } });
    const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
    app = created.app;
    runtime.startDelivery(new SlackService(created.client));
    await app.start();
    cleanups.push(() => runtime.stop(500));
    const sink = runtime.sink();
    const log = createLogger({ level: 'silent' });
    const kubeWatcher = new KubeWatcher({ config, sink, cluster: (name) => runtime.cluster(name), log, recheckEveryMs: 300, settleMs: 50, backoffMinMs: 100, backoffMaxMs: 300 });
    kubeWatcher.start();
    cleanups.push(() => kubeWatcher.stop());
    const registryWatcher = new RegistryWatcher({ config, sink, client: runtime.registry(), log });
    const prober = new Prober({ timeoutMs: 2000 });
    cleanups.push(() => prober.close());
    const endpoints = new EndpointWatcher({ config, sink, prober, log });

    await waitFor(() => runtime.store.subjects.state('workload:lumen/edge/DaemonSet/edge-relay', 'spec'), { what: 'the DaemonSet seen' });
    await registryWatcher.runCycle();
    expect(runtime.store.subjects.state<{ version: string }>(`image:${registry!.host}/lumen/edge-relay:latest`, 'version')?.value.version).toBe('0.2.0');

    // The cluster API goes away (seed 004: the apply never happened).
    await kube.stop();
    const clusterRoot = await waitFor(() => fake.channel(CHANNEL).find((message) => message.text.includes('cluster lumen: cluster API unreachable')), { timeoutMs: 15_000, what: 'cluster unreachable incident' });

    await endpoints.runCycle();
    await endpoints.runCycle();
    const staleRoot = await waitFor(() => fake.channel(CHANNEL).find((message) => message.text.includes('endpoint edge-ams1: stale deploy')), { what: 'stale deploy incident' });
    const staleText = fake.messageText(fake.message(CHANNEL, staleRoot.ts)!);
    expect(staleText).toContain('serves no X-Edge-Version header; expected 0.2.0');
    expect(staleText).toContain(`image label of ${registry!.host}/lumen/edge-relay:latest`);
    const clusterId = /#(\d+)/.exec(clusterRoot.text)![1];
    await waitFor(() => fake.thread(CHANNEL, staleRoot.ts).some((reply) => reply.text.includes(`Cluster lumen's API is unreachable: see incident #${clusterId}`)), { what: 'pointer to the cluster incident' });
    await waitFor(() => fake.thread(CHANNEL, clusterRoot.ts).some((reply) => reply.text.includes('Open on this cluster: incident #')), { what: 'pointer back' });

    // The apply finally happens: the API is back and the edge serves 0.2.0.
    await kube.restart();
    edge.setVersion('X-Edge-Version', '0.2.0');
    await endpoints.runCycle();
    await endpoints.runCycle();
    await waitFor(() => fake.thread(CHANNEL, staleRoot.ts).some((reply) => /Resolved after \d/.test(reply.text)), { what: 'stale resolved in its thread' });
    expect(fake.thread(CHANNEL, staleRoot.ts).some((reply) => reply.text.includes('edge-ams1 now serves 0.2.0'))).toBe(true);
    await waitFor(() => fake.thread(CHANNEL, clusterRoot.ts).some((reply) => /Resolved after/.test(reply.text)), { timeoutMs: 15_000, what: 'cluster incident resolved' });
    expect(fake.channel(CHANNEL).filter((message) => message.text.includes('edge-ams1: stale deploy'))).toHaveLength(1);
  });
});
