// Idle memory benchmark: the product watching 1000 image tags (on the real `docker-registry`) and
// 2000 endpoints (loopback HTTP servers), measured between cycles, after a GC — beside its floor,
// a bare Node process that loads the same libraries (Bolt, client-node, undici, better-sqlite3,
// fastify, pino, zod) and does nothing. Budget: product minus floor < 60 MB, and flat from the
// 3rd cycle to the last (the first cycles may grow: caches, JIT, SQLite pages).
// Each side runs in its own process. Run after `npm run build`:  node bench/idle.mjs [--cycles 20]
import { fork, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 1000);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 2000);
const at = process.argv.indexOf('--cycles');
const CYCLES = at === -1 ? Number(process.env.BENCH_CYCLES ?? 20) : Number(process.argv[at + 1]);
process.env.BENCH_CYCLES = String(CYCLES); // the product child reads it
const mb = (bytes) => Math.round(bytes / 1024 / 1024);

async function settledRss() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return process.memoryUsage().rss;
}

/** Child: the libraries the product loads, and nothing else. */
async function floor() {
  await import('@slack/bolt');
  await import('@kubernetes/client-node');
  await import('undici');
  await import('better-sqlite3');
  await import('fastify');
  await import('pino');
  await import('zod');
  process.send({ rss: await settledRss() });
  process.on('disconnect', () => process.exit(0));
}

/** Child: the product's runtime (with the Slack app module loaded), registry and endpoint watchers, cycle after cycle. */
async function product(registryHost, ports) {
  await import('../dist/slack/app.js');
  const { parseConfig } = await import('../dist/config.js');
  const { Runtime } = await import('../dist/runtime.js');
  const { createLogger, setLogger } = await import('../dist/log.js');
  const { RegistryWatcher } = await import('../dist/watchers/registry.js');
  const { EndpointWatcher } = await import('../dist/watchers/endpoints.js');
  const { Prober } = await import('../dist/clients/probe.js');
  const log = createLogger({ level: 'warn' });
  setLogger(log);
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-idle-'));
  const images = Array.from({ length: IMAGES }, (_, i) => ({ ref: `${registryHost}/bench/app${String(i % 20).padStart(2, '0')}:t${Math.floor(i / 20)}` }));
  const endpoints = Array.from({ length: ENDPOINTS }, (_, i) => ({ name: `ep-${i}`, service: `svc-${i % 100}`, url: `http://127.0.0.1:${ports[i % ports.length]}/e/${i}`, expect: '1.0.0' }));
  const config = parseConfig({ store: { path: join(dir, 'db.sqlite') }, registries: { [registryHost]: { insecure: true } }, images, endpoints });
  const runtime = new Runtime(config, { log });
  const registry = new RegistryWatcher({ config, sink: runtime.sink(), client: runtime.registry(), log });
  const prober = new Prober();
  const watcher = new EndpointWatcher({ config, sink: runtime.sink(), prober, log });
  const rss = [];
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    await Promise.all([registry.runCycle(), watcher.runCycle()]);
    rss.push(await settledRss());
  }
  process.send({ rss, heads: runtime.registry().stats().byMethod.HEAD, probes: prober.stats().probes });
  process.on('disconnect', async () => {
    await prober.close();
    await runtime.stop(0);
    await runtime.registry().close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

/** Child: loopback servers answering every endpoint with a version header. */
async function serve() {
  const ports = [];
  for (let i = 0; i < 4; i++) {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'x-version': '1.0.0' }).end());
    server.keepAliveTimeout = 60_000;
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push(server.address().port);
  }
  process.send({ ports });
  process.on('disconnect', () => process.exit(0));
}

function child(args, execArgv = ['--expose-gc']) {
  const proc = fork(here, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise((resolve, reject) => {
    proc.once('message', resolve);
    proc.once('exit', (code) => reject(new Error(`bench/idle: ${args[0]} exited with ${code} before reporting`)));
  });
  return { proc, first };
}

async function main() {
  if (spawnSync('docker-registry', ['--version'], { stdio: 'ignore' }).error) {
    console.error('bench/idle: needs docker-registry (apt-get install -y docker-registry)');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-idle-registry-'));
  const registry = await startRegistry(dir);
  const servers = child(['serve'], []);
  try {
    const pushed = performance.now();
    for (let r = 0; r < 20; r++) {
      const repo = `bench/app${String(r).padStart(2, '0')}`;
      const blobs = await pushBaseBlobs(registry.host, repo);
      for (let t = 0; t * 20 + r < IMAGES; t++) await putManifest(registry.host, repo, `t${t}`, blobs);
    }
    console.log(`pushed ${IMAGES} tags in ${((performance.now() - pushed) / 1000).toFixed(1)} s`);
    const { ports } = await servers.first;
    const bare = child(['floor']);
    const floorRss = (await bare.first).rss;
    bare.proc.disconnect();
    const ours = child(['product', registry.host, JSON.stringify(ports)]);
    const figures = await ours.first;
    ours.proc.disconnect();
    const shown = [1, 2, 3, 10, CYCLES].filter((cycle, index, list) => cycle <= CYCLES && list.indexOf(cycle) === index);
    console.log(`idle RSS: ${IMAGES} image tags + ${ENDPOINTS} endpoints, between cycles, after GC (Node ${process.version}); ${figures.heads} HEADs, ${figures.probes} probes in ${CYCLES} cycles`);
    console.table(shown.map((cycle) => ({ 'after cycle': cycle, 'product RSS MB': mb(figures.rss[cycle - 1]), 'floor RSS MB': mb(floorRss), 'product − floor MB': mb(figures.rss[cycle - 1] - floorRss), ratio: Number((figures.rss[cycle - 1] / floorRss).toFixed(2)) })));
    const over = mb(figures.rss.at(-1) - floorRss);
    const growth = mb(figures.rss.at(-1) - figures.rss[Math.min(2, figures.rss.length - 1)]);
    console.log(`product − floor after ${CYCLES} cycles: ${over} MB (budget < 60 MB) ${over < 60 ? '✔' : '✗'}; growth from cycle 3 to ${CYCLES}: ${growth} MB`);
    if (over >= 60) process.exitCode = 1;
  } finally {
    servers.proc.connected && servers.proc.disconnect();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the registry (no auth) and pushing ----------------------------------------------------------

async function startRegistry(dir) {
  const server = createNetServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  const configPath = join(dir, 'registry.yml');
  writeFileSync(configPath, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString('hex')}\n`);
  const proc = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (response.ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error('docker-registry did not answer within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { host: `127.0.0.1:${port}`, stop: async () => (proc.kill('SIGTERM'), await exited) };
}

const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function pushBlob(host, repo, bytes) {
  const started = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const location = new URL(started.headers.get('location'), `http://${host}`);
  location.searchParams.set('digest', sha256(bytes));
  const put = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  if (put.status !== 201) throw new Error(`${put.status} uploading to ${repo}`);
  return { digest: sha256(bytes), size: bytes.length };
}

async function pushBaseBlobs(host, repo) {
  const layer = Buffer.from(`layer ${repo} ${randomUUID()}\n`);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  return { config: await pushBlob(host, repo, config), layer: await pushBlob(host, repo, layer) };
}

async function putManifest(host, repo, tag, blobs) {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blobs.config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blobs.layer }],
    annotations: { 'bench.tag': tag },
  };
  const put = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': manifest.mediaType }, body: JSON.stringify(manifest) });
  if (put.status !== 201) throw new Error(`${put.status} putting ${repo}:${tag}`);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'floor') await floor();
else if (mode === 'product') await product(rest[0], JSON.parse(rest[1]));
else if (mode === 'serve') await serve();
else await main();
