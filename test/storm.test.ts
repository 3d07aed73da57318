/**
 * The storm digest (PRODUCTION.md "Storm"): 500 pods in 50 workloads enter CrashLoopBackOff
 * within 5 s. Real client-node watches on the fake apiserver, the real engine, the real Bolt app
 * against the fake Slack, the default config. One storm root is posted and edited; the Slack
 * calls that post, edit or upload stay within 20; every incident is on its timeline and in
 * `/incident list`, paged with a "More" button.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { KubeCluster } from '../src/clients/kube.js';
import { parseConfig } from '../src/config.js';
import { createLogger, setLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { KubeWatcher } from '../src/watchers/kube.js';
import { startFakeApiserver } from './support/fake-apiserver.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { podFixture } from './support/pod-fixtures.js';

const BOT = 'xoxb-7777-8888-storm-bot-token';
const APP = 'xapp-1-A0TEST-9999-storm-app-token';
const CHANNEL = 'C0ALERTS';
const WORKLOADS = 50;
const REPLICAS = 10;
/** Calls that post or edit messages or upload files (failed attempts included: the fake records every call). */
export const isWriteCall = (method: string) => /^chat\.(postMessage|update)$|^files\.(upload|uploadV2|getUploadURLExternal|completeUploadExternal)$/.test(method);

const quiet = createLogger({ level: 'silent' });
beforeAll(() => setLogger(quiet));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function deployment(name: string) {
  const labels = { app: name };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop', labels }, spec: { replicas: REPLICAS, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'alpine:latest' }] } } } };
}

describe('alert storm', () => {
  it('500 pods in 50 workloads crash-looping within 5 s: one storm root edited, at most 20 Slack calls, every incident on record and in a paged /incident list', async () => {
    const apiserver = await startFakeApiserver();
    cleanups.push(() => apiserver.close());
    const names = Array.from({ length: WORKLOADS }, (_, i) => `svc-${String(i + 1).padStart(2, '0')}`);
    for (const name of names) apiserver.upsert(deployment(name));
    const dir = mkdtempSync(join(tmpdir(), 'storm-test-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fake: FakeSlack = await startFakeSlack({ botToken: BOT, appToken: APP });
    cleanups.push(() => fake.close());
    const config = parseConfig({
      slack: { channel: CHANNEL },
      store: { path: join(dir, 'db.sqlite') },
      clusters: [{ name: 'prod', context: 'prod-admin' }],
      workloads: names.map((name) => ({ cluster: 'prod', namespace: 'shop', name })),
    });
    const runtime = new Runtime(config, { log: quiet });
    cleanups.push(() => runtime.stop(2_000));
    const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
    const app: App = created.app;
    cleanups.push(async () => {
      await app.stop().catch(() => undefined);
    });
    runtime.startDelivery(new SlackService(created.client));
    await app.start();
    const kubeconfigPath = apiserver.kubeconfigFile('prod-admin');
    const watcher = new KubeWatcher({ config, sink: runtime.sink(), cluster: (name) => new KubeCluster({ name, context: 'prod-admin', kubeconfigPath, requestTimeoutMs: 5_000 }), log: quiet, backoffMinMs: 50, backoffMaxMs: 300 });
    watcher.start();
    cleanups.push(() => watcher.stop());

    // All 500 pods Ready and judged healthy first.
    await waitFor(() => apiserver.list('Pod', 'shop').filter((pod) => pod.status?.containerStatuses?.[0]?.ready === true).length === WORKLOADS * REPLICAS, { timeoutMs: 60_000, what: '500 Ready pods' });
    await waitFor(() => names.every((name) => runtime.store.incidents.problem(`workload:prod/shop/Deployment/${name}`, 'workload_failing')?.state === 'ok'), { timeoutMs: 60_000, what: 'every workload judged healthy' });
    const before = fake.calls.length;

    // The storm: every pod enters CrashLoopBackOff (a captured status) within 5 s.
    const status = podFixture('crashloop-backoff').status as Record<string, unknown>;
    const stormStart = Date.now();
    const pods = apiserver.list('Pod', 'shop');
    for (const [index, pod] of pods.entries()) {
      apiserver.setPodStatus('shop', pod.metadata.name, status);
      if (index % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 450));
    }
    // ~5 s of feeding (longer on a loaded machine: the storm window is minutes, so it changes nothing).

    await waitFor(() => runtime.store.incidents.openIncidents(CHANNEL).filter((incident) => incident.primarySubject !== 'storm').length === WORKLOADS, { timeoutMs: 30_000, what: '50 incidents' });
    const storm = await waitFor(() => fake.channel(CHANNEL).find((message) => message.text.includes('Alert storm')), { what: 'storm root' });
    await waitFor(() => fake.messageText(fake.message(CHANNEL, storm.ts)!).includes(`${WORKLOADS} incidents, ${WORKLOADS} open`), { timeoutMs: 15_000, what: 'storm root lists all 50' });
    const rootText = fake.messageText(fake.message(CHANNEL, storm.ts)!);
    expect(rootText).toContain(`${WORKLOADS} CrashLoopBackOff`);

    const writes = fake.calls.slice(before).filter((call) => isWriteCall(call.method));
    expect(writes.length, writes.map((call) => call.method).join(', ')).toBeLessThanOrEqual(20);
    expect(Date.now() - stormStart).toBeLessThan(60_000);
    // One storm root only, and no reply per incident.
    expect(fake.channel(CHANNEL).filter((message) => message.text.includes('Alert storm'))).toHaveLength(1);

    // Every incident is on record: its own timeline, and /incident list page by page.
    const incidents = runtime.store.incidents.openIncidents(CHANNEL).filter((incident) => incident.primarySubject !== 'storm');
    for (const incident of incidents) expect(runtime.store.events.forIncident(incident.id).some((event) => event.type === 'incident.opened')).toBe(true);
    const listed = new Set<number>();
    const idsIn = (text: string) => [...text.matchAll(/#(\d+) open/g)].map((match) => Number(match[1]));
    const seen = fake.responses().length;
    await fake.sendEnvelope('slash_commands', fake.slashPayload({ command: '/incident', text: 'list', user_id: 'U0LEAD', channel_id: CHANNEL }));
    let response = await waitFor(() => fake.responses()[seen], { what: 'the list' });
    for (let page = 0; page < 5; page++) {
      const body = response.body as { blocks?: Array<{ elements?: Array<{ action_id?: string; value?: string }> }> };
      for (const id of idsIn(fake.messageText(body as never))) listed.add(id);
      const more = (body.blocks ?? []).flatMap((block) => block.elements ?? []).find((element) => element.action_id?.startsWith('dw_incident_list_more'));
      if (!more) break;
      const count = fake.responses().length;
      await fake.sendEnvelope('interactive', fake.blockActionPayload({ user: 'U0LEAD', channel: CHANNEL, message_ts: storm.ts, action_id: more.action_id!, value: more.value! }));
      response = await waitFor(() => fake.responses()[count], { what: `page ${page + 2}` });
    }
    for (const incident of incidents) expect(listed.has(incident.id)).toBe(true);
  }, 180_000);
});
