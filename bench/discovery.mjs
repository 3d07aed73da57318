// Discovery benchmark: what `discover:` costs in memory, beside its floor.
//   A. 5000 pods in 50 Deployments; B. one namespace with 2000 Deployments and 20000 pods.
// Each side runs in a process of its own, against the same fake apiserver (HTTPS, the real
// client-node), and reports its RSS after a GC once everything is listed:
//   product: the real KubeWatcher with `discover: [{ namespaces: [bench] }]`, the real store and
//            engine, logging at info (lines counted: no per-object lines at info);
//   floor:   bare client-node informers (makeInformer, list+watch, LIST paged by 500 like the
//            product's) holding the same pods and Deployments, nothing else.
// Budget: B under 250 MB; the ratio to the floor is printed for both.
// Run after `npm run build`:  node --expose-gc bench/discovery.mjs
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NS = 'bench';
const mb = (bytes) => Math.round(bytes / 1024 / 1024);
const here = fileURLToPath(import.meta.url);

async function waitFor(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`bench/discovery: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Child: the product's watcher with discovery, until every discovered workload has its pods judged. */
async function product(kubeconfigPath, workloads, pods) {
  const { parseConfig } = await import('../dist/config.js');
  const { Runtime } = await import('../dist/runtime.js');
  const { KubeCluster } = await import('../dist/clients/kube.js');
  const { KubeWatcher } = await import('../dist/watchers/kube.js');
  const { createLogger, setLogger } = await import('../dist/log.js');
  let infoLines = 0;
  const { Writable } = await import('node:stream');
  const counting = new Writable({
    write(chunk, _encoding, done) {
      infoLines += String(chunk).split('\n').filter(Boolean).length;
      done();
    },
  });
  const log = createLogger({ level: 'info', destination: counting });
  setLogger(log);
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-discovery-'));
  const config = parseConfig({ clusters: [{ name: 'bench', context: 'bench' }], discover: [{ cluster: 'bench', namespaces: [NS] }], store: { path: join(dir, 'db.sqlite') } });
  const runtime = new Runtime(config, { log });
  const watcher = new KubeWatcher({ config, sink: runtime.sink(), cluster: (name) => new KubeCluster({ name, context: 'bench', kubeconfigPath }), log });
  const started = performance.now();
  watcher.start();
  await waitFor('every discovered workload judged', () => {
    const running = runtime.store.subjects.allStates('running');
    return running.length >= workloads && running.reduce((sum, state) => sum + (state.value?.length ?? 0), 0) >= pods;
  }, 600_000);
  const syncMs = performance.now() - started;
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 500));
  globalThis.gc?.();
  const memory = process.memoryUsage();
  process.send({ rss: memory.rss, heap: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external, syncMs, infoLines });
  process.on('disconnect', async () => {
    await watcher.stop();
    await runtime.stop(0);
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

/** Child: bare informers holding the same pods and Deployments. */
async function floor(kubeconfigPath, workloads, pods) {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  kc.setCurrentContext('bench');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  // Paged like the product's LIST (500 a page, as client-go's informers do), into one list.
  const paged = (list) => async () => {
    const items = [];
    let page;
    do {
      page = await list({ namespace: NS, limit: 500, ...(page?.metadata?._continue ? { _continue: page.metadata._continue } : {}) });
      items.push(...page.items);
    } while (page.metadata?._continue);
    return { ...page, items };
  };
  const podInformer = k8s.makeInformer(kc, `/api/v1/namespaces/${NS}/pods`, paged((params) => core.listNamespacedPod(params)));
  const deploymentInformer = k8s.makeInformer(kc, `/apis/apps/v1/namespaces/${NS}/deployments`, paged((params) => apps.listNamespacedDeployment(params)));
  const started = performance.now();
  await Promise.all([podInformer.start(), deploymentInformer.start()]);
  await waitFor('the informers to hold everything', () => podInformer.list().length >= pods && deploymentInformer.list().length >= workloads, 600_000);
  const syncMs = performance.now() - started;
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 500));
  globalThis.gc?.();
  const memory = process.memoryUsage();
  process.send({ rss: memory.rss, heap: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external, syncMs, infoLines: 0 });
  process.on('disconnect', async () => {
    await podInformer.stop();
    await deploymentInformer.stop();
    process.exit(0);
  });
}

function measure(mode, kubeconfigPath, workloads, pods) {
  const child = fork(here, [mode, kubeconfigPath, String(workloads), String(pods)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (figures) => {
      child.disconnect();
      resolve(figures);
    });
    child.once('exit', (code) => reject(new Error(`bench/discovery: ${mode} exited with ${code} before reporting`)));
  });
}

async function main() {
  const { startFakeApiserver } = await import('../dist/sandbox/apiserver.js');
  const { setLogger, createLogger } = await import('../dist/log.js');
  setLogger(createLogger({ level: 'silent' }));
  const scenarios = [
    { label: 'A: 50 Deployments × 100 pods', workloads: Number(process.env.BENCH_A_WORKLOADS ?? 50), replicas: 100, budgetMb: undefined },
    { label: 'B: 2000 Deployments × 10 pods, one namespace', workloads: Number(process.env.BENCH_B_WORKLOADS ?? 2000), replicas: 10, budgetMb: 250 },
  ];
  const rows = [];
  for (const scenario of scenarios) {
    const fake = await startFakeApiserver();
    try {
      const seeded = performance.now();
      for (let i = 0; i < scenario.workloads; i++) fake.upsert(deployment(`svc-${String(i).padStart(4, '0')}`, scenario.replicas));
      const pods = fake.list('Pod', NS).length;
      console.log(`${scenario.label}: seeded ${scenario.workloads} Deployments, ${pods} pods in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
      const kubeconfigPath = fake.kubeconfigFile('bench');
      const bare = await measure('floor', kubeconfigPath, scenario.workloads, pods);
      const ours = await measure('product', kubeconfigPath, scenario.workloads, pods);
      rows.push({
        scenario: scenario.label,
        pods,
        'product RSS MB': mb(ours.rss),
        'floor RSS MB': mb(bare.rss),
        ratio: Number((ours.rss / bare.rss).toFixed(2)),
        'product heap MB': mb(ours.heap),
        'floor heap MB': mb(bare.heap),
        'heap total MB (product/floor)': `${mb(ours.heapTotal)}/${mb(bare.heapTotal)}`,
        'external MB (product/floor)': `${mb(ours.external)}/${mb(bare.external)}`,
        'product sync s': Number((ours.syncMs / 1000).toFixed(1)),
        'floor sync s': Number((bare.syncMs / 1000).toFixed(1)),
        'info lines': ours.infoLines,
        budget: scenario.budgetMb ? `< ${scenario.budgetMb} MB ${mb(ours.rss) < scenario.budgetMb ? '✔' : '✗'}` : '—',
      });
    } finally {
      await fake.close();
    }
  }
  console.log(`discovery: product = KubeWatcher with discover (store, engine, info logging); floor = bare client-node informers holding the same pods and Deployments (Node ${process.version})`);
  console.table(rows);
  if (rows.some((row) => row.budget.includes('✗') || row['info lines'] > 10)) process.exitCode = 1;
}

function deployment(name, replicas) {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels },
    spec: { replicas, selector: { matchLabels: labels }, progressDeadlineSeconds: 600, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: `registry.example.com/bench/${name}:1.0` }] } } },
  };
}

const [mode, kubeconfigPath, workloads, pods] = process.argv.slice(2);
if (mode === 'product') await product(kubeconfigPath, Number(workloads), Number(pods));
else if (mode === 'floor') await floor(kubeconfigPath, Number(workloads), Number(pods));
else await main();
