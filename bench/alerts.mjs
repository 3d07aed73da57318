// Alerts as fast as the events (PRODUCTION.md), side by side with their floors:
//   1. pod status change → incident root delivered to the message service, p50/p99 over 200
//      crash loops, with the DEFAULT config (no recheck, settle or threshold override), beside
//      the floor: the same change seen by a bare client-node Watch on the same fake apiserver;
//   2. storm: 500 pods in 50 workloads entering CrashLoopBackOff within 5 s → Slack write calls
//      (post, update, upload; failed attempts included) in the first minute, beside the floor of
//      calls no design can avoid (one root per incident before the storm trips, plus the storm root).
// Run after `npm run build`:  node bench/alerts.mjs
// Each crash loop opens a new incident; the default storm mode (more than 10 in 5 minutes) would
// thread them, so the 200 samples run as 20 rounds of 10 workloads, each round with a fresh store.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { KubeCluster } from '../dist/clients/kube.js';
import { startFakeApiserver } from '../dist/sandbox/apiserver.js';
import { parseConfig } from '../dist/config.js';
import { createLogger, setLogger } from '../dist/log.js';
import { Runtime } from '../dist/runtime.js';
import { KubeWatcher } from '../dist/watchers/kube.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const PER_ROUND = 10;
const STORM_WORKLOADS = Number(process.env.BENCH_STORM_WORKLOADS ?? 50);
const STORM_REPLICAS = 10;
const STORM_MINUTE_MS = Number(process.env.BENCH_STORM_MS ?? 60_000);
const BUDGET_P99_MS = 2_000;
const BUDGET_CALLS = 20;

const quiet = createLogger({ level: 'silent' });
setLogger(quiet);
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (v) => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;
const crashStatus = JSON.parse(readFileSync(new URL('../test/fixtures/pods/crashloop-backoff.json', import.meta.url), 'utf8')).status;

async function waitFor(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`bench/alerts: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A message service that records when each call arrived (a Slack that answers at once). */
class TimedChannel {
  posts = [];
  calls = [];
  counter = 0;
  async post(delivery) {
    this.calls.push({ kind: 'post', at: performance.now() });
    const ts = `${Date.now()}.${String(++this.counter).padStart(6, '0')}`;
    this.posts.push({ at: performance.now(), key: delivery.key, threadTs: delivery.threadTs, ts });
    return { ts };
  }
  async update() {
    this.calls.push({ kind: 'update', at: performance.now() });
  }
  async upload() {
    this.calls.push({ kind: 'upload', at: performance.now() });
  }
  async findByKey() {
    return undefined;
  }
}

function deployment(namespace, name, replicas) {
  const labels = { app: name };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace, labels }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'alpine:latest' }] } } } };
}

function world(fake, dir, namespace, names) {
  const config = parseConfig({
    slack: { channel: 'C0ALERTS' },
    store: { path: join(dir, `${namespace}.sqlite`) },
    clusters: [{ name: 'bench', context: 'bench' }],
    workloads: names.map((name) => ({ cluster: 'bench', namespace, name })),
  });
  const runtime = new Runtime(config, { log: quiet });
  const channel = new TimedChannel();
  runtime.startDelivery(channel);
  const kubeconfigPath = fake.kubeconfigFile('bench');
  // As the runtime builds it: the defaults (30 s look-again, 250 ms settle).
  const watcher = new KubeWatcher({ config, sink: runtime.sink(), cluster: (name) => new KubeCluster({ name, context: 'bench', kubeconfigPath }), log: quiet });
  watcher.start();
  return { config, runtime, channel, watcher };
}

/** The floor: a bare client-node Watch on the namespace's pods, noting when each pod's CrashLoopBackOff arrives. */
async function bareWatch(fake, namespace) {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig('bench'));
  const seen = new Map();
  const watch = new Watch(kc);
  const req = await watch.watch(`/api/v1/namespaces/${namespace}/pods`, {}, (type, pod) => {
    if (pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff' && !seen.has(pod.metadata.name)) seen.set(pod.metadata.name, performance.now());
  }, () => {});
  return { seen, stop: () => req.abort() };
}

async function latencyRounds(fake, dir) {
  const product = [];
  const floor = [];
  for (let round = 0; round < ROUNDS; round++) {
    const namespace = `r${String(round).padStart(2, '0')}`;
    const names = Array.from({ length: PER_ROUND }, (_, i) => `app-${i}`);
    for (const name of names) fake.upsert(deployment(namespace, name, 1));
    const w = world(fake, dir, namespace, names);
    const bare = await bareWatch(fake, namespace);
    await waitFor('healthy looks', () => names.every((name) => w.runtime.store.incidents.problem(`workload:bench/${namespace}/Deployment/${name}`, 'workload_failing')?.state === 'ok'));
    for (const name of names) {
      const pod = fake.list('Pod', namespace).find((p) => p.metadata.labels?.app === name);
      const before = w.channel.posts.length;
      const changed = performance.now();
      fake.setPodStatus(namespace, pod.metadata.name, crashStatus);
      const root = await waitFor(`root for ${namespace}/${name}`, () => w.channel.posts.slice(before).find((p) => p.key.endsWith('-root') && !p.threadTs), 30_000);
      const seen = await waitFor('bare watch event', () => bare.seen.get(pod.metadata.name));
      product.push(root.at - changed);
      floor.push(seen - changed);
    }
    bare.stop();
    await w.watcher.stop();
    await w.runtime.stop(1_000);
  }
  return { product: product.sort((a, b) => a - b), floor: floor.sort((a, b) => a - b) };
}

async function storm(fake, dir) {
  const namespace = 'storm';
  const names = Array.from({ length: STORM_WORKLOADS }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
  for (const name of names) fake.upsert(deployment(namespace, name, STORM_REPLICAS));
  const w = world(fake, dir, namespace, names);
  await waitFor('healthy looks', () => names.every((name) => w.runtime.store.incidents.problem(`workload:bench/${namespace}/Deployment/${name}`, 'workload_failing')?.state === 'ok'), 120_000);
  // Production ticks the engine every 30 s (reminders, storm digests).
  const ticker = setInterval(() => w.runtime.tick(), 30_000);
  const callsBefore = w.channel.calls.length;
  const start = performance.now();
  const pods = fake.list('Pod', namespace);
  for (const [index, pod] of pods.entries()) {
    fake.setPodStatus(namespace, pod.metadata.name, crashStatus);
    if (index % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 450));
  }
  const spread = performance.now() - start;
  // Half-way through the minute the kubelet restarts them again: restart counts change.
  await new Promise((resolve) => setTimeout(resolve, 25_000));
  for (const pod of fake.list('Pod', namespace)) {
    const status = structuredClone(crashStatus);
    status.containerStatuses[0].restartCount = 4;
    fake.setPodStatus(namespace, pod.metadata.name, status);
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, STORM_MINUTE_MS - (performance.now() - start))));
  clearInterval(ticker);
  const calls = w.channel.calls.slice(callsBefore).filter((call) => call.at - start <= STORM_MINUTE_MS);
  const incidents = w.runtime.store.incidents.openIncidents().filter((incident) => incident.primarySubject !== 'storm');
  const onTimeline = incidents.filter((incident) => w.runtime.store.events.forIncident(incident.id).some((event) => event.type === 'incident.opened')).length;
  const floor = w.config.alerting.storm.incidents + 1;
  await w.watcher.stop();
  await w.runtime.stop(1_000);
  return { spread, calls, incidents: incidents.length, onTimeline, floor };
}

async function main() {
  const fake = await startFakeApiserver();
  const dir = mkdtempSync(join(tmpdir(), 'bench-alerts-'));
  try {
    const { product, floor } = await latencyRounds(fake, dir);
    const p50 = pct(product, 50);
    const p99 = pct(product, 99);
    const f50 = pct(floor, 50);
    const f99 = pct(floor, 99);
    console.log(`\npod status change → Slack root, ${product.length} crash loops, default config`);
    console.log('| measure | p50 | p99 | budget |');
    console.log('|---|---|---|---|');
    console.log(`| Driftwatch: change → root posted | ${ms(p50)} | ${ms(p99)} | p99 < ${BUDGET_P99_MS} ms ${p99 < BUDGET_P99_MS ? '✓' : '✗'} |`);
    console.log(`| floor: change → bare client-node watch event | ${ms(f50)} | ${ms(f99)} | |`);
    console.log(`| ratio | ${(p50 / Math.max(0.1, f50)).toFixed(0)}× | ${(p99 / Math.max(0.1, f99)).toFixed(1)}× | |`);

    const s = await storm(fake, dir);
    const byKind = s.calls.reduce((acc, call) => ({ ...acc, [call.kind]: (acc[call.kind] ?? 0) + 1 }), {});
    console.log(`\nstorm: ${STORM_WORKLOADS * STORM_REPLICAS} pods in ${STORM_WORKLOADS} workloads into CrashLoopBackOff within ${(s.spread / 1000).toFixed(1)} s, restart counts changing at 25 s`);
    console.log('| measure | first minute | budget |');
    console.log('|---|---|---|');
    console.log(`| Driftwatch: Slack write calls | ${s.calls.length} (${Object.entries(byKind).map(([k, n]) => `${n} ${k}`).join(', ')}) | ≤ ${BUDGET_CALLS} ${s.calls.length <= BUDGET_CALLS ? '✓' : '✗'} |`);
    console.log(`| floor: a root per incident before the storm trips + the storm root | ${s.floor} | |`);
    console.log(`| ratio | ${(s.calls.length / s.floor).toFixed(2)}× | |`);
    console.log(`| incidents open / on their timeline | ${s.incidents} / ${s.onTimeline} | ${STORM_WORKLOADS} |`);
    if (p99 >= BUDGET_P99_MS || s.calls.length > BUDGET_CALLS || s.incidents !== STORM_WORKLOADS) process.exitCode = 1;
  } finally {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
