// Kubernetes watcher benchmark: 5000 pods across 50 Deployments in the fake apiserver (HTTPS, the
// real client-node), watched by the real KubeWatcher.
//   1. RSS and heap once everything is listed and judged;
//   2. time from a pod status change to the watcher's observation of it (p50/p99), with the
//      default 250 ms settle window and without it (the raw watch → judgement path);
//   3. 500 pods entering CrashLoopBackOff within 5 s, through the real engine and outbox into a
//      recording channel → exactly one incident per workload, at most 2 outbox messages per
//      workload in the first minute, every transition on the timeline.
// Run after `npm run build`:  node --expose-gc bench/kube.mjs
// (The fake apiserver is the demo sandbox's, src/sandbox/apiserver.ts, with its embedded loopback certificate.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeCluster } from '../dist/clients/kube.js';
import { startFakeApiserver } from '../dist/sandbox/apiserver.js';
import { parseConfig } from '../dist/config.js';
import { createLogger, setLogger } from '../dist/log.js';
import { Runtime } from '../dist/runtime.js';
import { messageToPlainText } from '../dist/domain/messages.js';
import { KubeWatcher } from '../dist/watchers/kube.js';

const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 50);
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 100);
const CRASHING = Number(process.env.BENCH_CRASHING ?? 500);
const CRASH_WITHIN_MS = 5_000;
const OBSERVE_MS = Number(process.env.BENCH_OBSERVE_MS ?? 60_000);
const RECHECK_MS = Number(process.env.BENCH_RECHECK_MS ?? 30_000);
const SAMPLES_RAW = Number(process.env.BENCH_SAMPLES ?? 200);
const SAMPLES_SETTLED = Math.max(10, Math.round(SAMPLES_RAW / 5));
const NS = 'bench';

const quiet = createLogger({ level: 'silent' });
setLogger(quiet);
const cleanups = [];
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const gc = () => globalThis.gc?.();

async function waitFor(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`bench/kube: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function main() {
  const rssStart = process.memoryUsage().rss;
  const fake = await startFakeApiserver();
  cleanups.push(() => fake.close());
  const names = Array.from({ length: DEPLOYMENTS }, (_, i) => `web-${String(i).padStart(2, '0')}`);
  const seeded = performance.now();
  for (const name of names) fake.upsert(deployment(name, `registry.example.com/bench/${name}:1.0`, REPLICAS));
  const pods = fake.list('Pod', NS);
  const podsByApp = new Map(names.map((name) => [name, pods.filter((pod) => pod.metadata.labels?.app === name)]));
  console.log(`fake apiserver: ${DEPLOYMENTS} Deployments, ${pods.length} pods in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
  gc();
  const rssFake = process.memoryUsage().rss;

  const kubeconfigPath = fake.kubeconfigFile('bench');
  const workloads = names.map((name) => ({ cluster: 'bench', namespace: NS, name }));
  const subjectOf = (name) => `workload:bench/${NS}/Deployment/${name}`;

  /* ---------- 1 + 2: memory and latency, the watcher alone ---------- */
  const latency = async (settleMs, samples) => {
    const checks = [];
    const waiters = [];
    const sink = {
      check: (o) => {
        const entry = { at: performance.now(), ...o };
        checks.push(entry);
        for (const w of [...waiters]) if (w.match(entry)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(entry));
      },
      notice() {},
      state() {},
      links() {},
      tagDigest: () => undefined,
      running() {},
      statesOf: () => [],
      now: () => Date.now(),
    };
    const next = (match) => new Promise((resolve) => waiters.push({ match, resolve }));
    const config = parseConfig({ clusters: [{ name: 'bench', context: 'bench' }], workloads, store: { path: ':memory:' } });
    const watcher = new KubeWatcher({ config, sink, cluster: (name) => new KubeCluster({ name, context: 'bench', kubeconfigPath }), log: quiet, settleMs, recheckEveryMs: 3_600_000 });
    const started = performance.now();
    watcher.start();
    await waitFor('every workload judged', () => names.every((name) => checks.some((c) => c.subject === subjectOf(name) && c.problem === 'workload_failing' && c.ok)), 120_000);
    const syncMs = performance.now() - started;
    gc();
    const memory = process.memoryUsage();
    const times = [];
    for (let i = 0; i < samples; i++) {
      const name = names[i % names.length];
      const pod = podsByApp.get(name)[i % REPLICAS];
      const subject = subjectOf(name);
      const bad = next((c) => c.subject === subject && c.problem === 'workload_failing' && !c.ok);
      const t0 = performance.now();
      fake.setPodStatus(NS, pod.metadata.name, crashStatus(pod, 3));
      times.push((await bad).at - t0);
      const good = next((c) => c.subject === subject && c.problem === 'workload_failing' && c.ok);
      fake.setPodStatus(NS, pod.metadata.name, { phase: pod.status.phase, conditions: pod.status.conditions, containerStatuses: pod.status.containerStatuses });
      await good;
    }
    await watcher.stop();
    times.sort((a, b) => a - b);
    return { syncMs, memory, p50: pct(times, 50), p99: pct(times, 99), max: times.at(-1) };
  };

  const raw = await latency(0, SAMPLES_RAW);
  const settled = await latency(250, SAMPLES_SETTLED);
  console.log(`initial list + judgement of ${pods.length} pods: ${(raw.syncMs / 1000).toFixed(2)} s`);
  console.log(`RSS: ${mb(rssStart)} at start, ${mb(rssFake)} with the fake apiserver populated, ${mb(raw.memory.rss)} with the watcher synced (watcher share ≈ ${mb(raw.memory.rss - rssFake)}); heap used ${mb(raw.memory.heapUsed)}`);
  console.log(`pod status change → observation, no settle window (${SAMPLES_RAW} samples): p50 ${raw.p50.toFixed(1)} ms, p99 ${raw.p99.toFixed(1)} ms, max ${raw.max.toFixed(1)} ms`);
  console.log(`pod status change → observation, default 250 ms settle window (${SAMPLES_SETTLED} samples): p50 ${settled.p50.toFixed(1)} ms, p99 ${settled.p99.toFixed(1)} ms`);

  /* ---------- 3: a crash storm through the engine and the outbox ---------- */
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-bench-kube-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path: join(dir, 'db.sqlite') }, clusters: [{ name: 'bench', context: 'bench' }], workloads });
  const runtime = new Runtime(config, { log: quiet });
  const channel = new RecordingChannel();
  runtime.startDelivery(channel);
  cleanups.push(() => runtime.stop(2_000));
  const sink = runtime.sink();
  const judged = new Set();
  const watcher = new KubeWatcher({
    config,
    sink: { ...sink, check: (o) => (o.problem === 'workload_failing' && o.ok && judged.add(o.subject), sink.check(o)) },
    cluster: (name) => new KubeCluster({ name, context: 'bench', kubeconfigPath }),
    log: quiet,
    recheckEveryMs: RECHECK_MS,
  });
  watcher.start();
  cleanups.push(() => watcher.stop());
  await waitFor('every workload judged', () => judged.size === names.length, 120_000);
  const logReadsBefore = fake.requests().filter((r) => r.path.endsWith('/log')).length;

  const perWorkload = Math.ceil(CRASHING / names.length);
  const crashing = names.flatMap((name) => podsByApp.get(name).slice(0, perWorkload)).slice(0, CRASHING);
  for (const pod of crashing) fake.setLogs(NS, pod.metadata.name, 'app', 'starting\npanic: cannot reach database at db:5432: connection refused\n', { previous: true });
  const storm = Date.now();
  const step = CRASH_WITHIN_MS / crashing.length;
  for (let i = 0; i < crashing.length; i++) {
    const due = storm + i * step;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    fake.setPodStatus(NS, crashing[i].metadata.name, crashStatus(crashing[i], 4));
  }
  const stormMs = Date.now() - storm;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, storm + OBSERVE_MS - Date.now())));
  const windowEnd = storm + OBSERVE_MS;

  // The engine folds a burst of incidents into one "alert storm" message (the timelines issue's):
  // that pseudo-incident is counted apart, and each workload's own messages are its root (a post,
  // or a reply under the storm message), that root's updates, and replies in its own thread.
  const all = runtime.store.incidents.openIncidents();
  const storms = all.filter((incident) => incident.primarySubject === 'storm');
  const incidents = all.filter((incident) => incident.primarySubject !== 'storm');
  const bySubject = new Map();
  for (const incident of incidents) bySubject.set(incident.primarySubject, [...(bySubject.get(incident.primarySubject) ?? []), incident]);
  const affected = [...new Set(crashing.map((pod) => subjectOf(pod.metadata.labels.app)))];
  const oneEach = affected.every((subject) => (bySubject.get(subject) ?? []).length === 1) && incidents.length === affected.length;
  const inWindow = channel.calls.filter((c) => c.at <= windowEnd);
  const messagesPer = affected.map((subject) => {
    const incident = bySubject.get(subject)?.[0];
    if (!incident) return 0;
    const own = inWindow.filter((c) => c.key.startsWith(`inc-${incident.id}-`));
    const rootTs = own.find((c) => c.kind === 'post')?.ts;
    const replies = incident.stormId || !rootTs ? [] : inWindow.filter((c) => c.threadTs === rootTs);
    return own.length + replies.length;
  });
  const stormCalls = storms.flatMap((storm) => inWindow.filter((c) => c.key.startsWith(`inc-${storm.id}-`))).length;
  const transitions = affected.every((subject) => ['problem.pending', 'problem.opened'].every((type) => runtime.store.events.ofSubject(subject, type, 0).length === 1));
  const logReads = fake.requests().filter((r) => r.path.endsWith('/log')).length - logReadsBefore;
  const firstRoot = Math.min(...channel.calls.filter((c) => c.kind === 'post' && !c.threadTs).map((c) => c.at));
  console.log(
    `crash storm: ${crashing.length} pods of ${affected.length} Deployments into CrashLoopBackOff within ${(stormMs / 1000).toFixed(1)} s → ` +
      `${incidents.length} incidents (${oneEach ? 'exactly one per workload' : 'NOT one per workload'}); ` +
      `outbox messages per workload in the first ${OBSERVE_MS / 1000} s: max ${Math.max(...messagesPer)} ` +
      `(plus ${storms.length} alert-storm message${storms.length === 1 ? '' : 's'} with ${stormCalls} posts/updates; ${inWindow.length} Slack calls in all = ${(inWindow.length / affected.length).toFixed(2)} per workload); ` +
      `first root ${((firstRoot - storm) / 1000).toFixed(1)} s after the first crash (failuresBeforeAlert 2, recheck ${RECHECK_MS / 1000} s); ` +
      `pending+opened on every timeline: ${transitions ? 'yes' : 'NO'}; crash-log reads: ${logReads}`,
  );
  for (const incident of all.filter((i) => i.primarySubject !== 'storm' && !affected.includes(i.primarySubject))) {
    console.log(`  unexpected incident #${incident.id} ${incident.primarySubject}: ${runtime.store.incidents.problemsOfIncident(incident.id).map((p) => `${p.kind}: ${p.summary}`).join('; ')}`);
  }
  const ok = oneEach && Math.max(...messagesPer) <= 2 && transitions;
  console.log(ok ? 'budget: met' : 'budget: MISSED');
  if (!ok) process.exitCode = 1;
}

/** A channel that records every call with its time (Slack's place in the real bot). */
class RecordingChannel {
  calls = [];
  counter = 0;
  async post(delivery) {
    const ts = `1700000000.${String(++this.counter).padStart(6, '0')}`;
    this.calls.push({ at: Date.now(), kind: 'post', ts, key: delivery.key, threadTs: delivery.threadTs, text: messageToPlainText(delivery.message) });
    return { ts };
  }
  async update(delivery) {
    this.calls.push({ at: Date.now(), kind: 'update', ts: delivery.ts, key: delivery.key, text: messageToPlainText(delivery.message) });
  }
  async findByKey(delivery) {
    const found = this.calls.find((c) => c.kind === 'post' && c.key === delivery.key);
    return found ? { ts: found.ts } : undefined;
  }
}

function deployment(name, image, replicas) {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels },
    spec: { replicas, selector: { matchLabels: labels }, progressDeadlineSeconds: 600, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } } },
  };
}

function crashStatus(pod, restarts) {
  const image = pod.spec.containers[0].image;
  const imageID = pod.status.containerStatuses[0].imageID;
  return {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
    containerStatuses: [
      {
        name: 'app',
        image,
        imageID,
        ready: false,
        started: false,
        restartCount: restarts,
        state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 40s restarting failed container=app pod=${pod.metadata.name}` } },
        lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: new Date().toISOString() } },
      },
    ],
  };
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
