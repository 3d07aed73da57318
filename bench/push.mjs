// Push benchmarks (registry webhooks), each beside its floor measured in the same run:
//
//   1. registry push → Slack notice: 100 manifest pushes to `:latest` on the real
//      `docker-registry`, which notifies Driftwatch (`/hooks/registry`) and, as the floor, a bare
//      endpoint that only notes when the notification arrives. From just before the manifest PUT
//      to chat.postMessage arriving at a minimal Slack Web API here. Budget: p99 < 2 s.
//   2. webhook requests per second with valid GitHub signatures (`/hooks/ghcr`), 2 cores: the
//      load comes from a worker thread, Driftwatch answers on the main one. Floor: a bare
//      node:http server answering the same requests 202.
//
// Driftwatch runs in this process (dist/ Runtime with the real web server, registry watcher,
// store, outbox and Slack WebClient); images are polled every hour, so only the webhook explains
// a notice. Run after `npm run build`:  node bench/push.mjs
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Pool, request } from 'undici';

const PUSHES = Number(process.env.BENCH_PUSHES ?? 100);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const REGISTRY_TOKEN = `bench-registry-${randomBytes(12).toString('hex')}`;
const GHCR_SECRET = `bench-ghcr-${randomBytes(12).toString('hex')}`;

if (!isMainThread) {
  parentPort.postMessage(await generateLoad(workerData));
} else {
  if (spawnSync('docker-registry', ['--version'], { stdio: 'ignore' }).error) {
    console.error('bench/push: needs docker-registry (apt-get install -y docker-registry)');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-bench-push-'));
  const cleanups = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    await main(dir, cleanups);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
  // Keep-alive sockets of the WebClient would keep a finished benchmark alive.
  process.exit(process.exitCode ?? 0);
}

async function main(dir, cleanups) {
  const [{ parseConfig }, { createLogger }, { Runtime }, { SlackService }, { webApi }] = await Promise.all([
    import('../dist/config.js'),
    import('../dist/log.js'),
    import('../dist/runtime.js'),
    import('../dist/slack/service.js'),
    import('@slack/bolt'),
  ]);

  const slack = await startSlackApi();
  cleanups.push(() => slack.close());
  const floor = await startFloorEndpoint();
  cleanups.push(() => floor.close());
  const productPort = await freePort();
  const registry = await startRegistry(dir, [
    { name: 'driftwatch', url: `http://127.0.0.1:${productPort}/hooks/registry`, token: REGISTRY_TOKEN },
    { name: 'floor', url: floor.url },
  ]);
  cleanups.push(() => registry.stop());

  const repo = 'bench/app';
  const ref = `${registry.host}/${repo}:latest`;
  process.env.DRIFTWATCH_REGISTRY_WEBHOOK_TOKEN = REGISTRY_TOKEN;
  process.env.DRIFTWATCH_GHCR_WEBHOOK_SECRET = GHCR_SECRET;
  const config = parseConfig({
    slack: { channel: 'C0BENCH' },
    store: { path: join(dir, 'driftwatch.db') },
    server: { host: '127.0.0.1', port: productPort },
    registries: { [registry.host]: { insecure: true }, 'ghcr.io': { url: `http://${registry.host}` } },
    images: [{ ref, every: '1h' }, { ref: 'ghcr.io/bench/ghcr-app:latest', every: '1h' }],
    webhooks: { registry: {}, ghcr: {} },
  });
  const runtime = new Runtime(config, { log: createLogger({ level: 'warn' }) });
  const client = new webApi.WebClient('xoxb-0000-bench-push-token', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
  await runtime.startServices({ service: new SlackService(client) });
  cleanups.push(() => runtime.shutdown(1000));

  // ---- 1. push → notice -------------------------------------------------------------------
  const first = await putManifest(registry.host, repo, 'latest', await pushBlobs(registry.host, repo));
  // The first sighting (through the webhook) is silent; wait until it is recorded.
  await until(() => runtime.store.digests.historyOf(ref)[0]?.digest === first, 'the first sighting');
  const latencies = [];
  const floors = [];
  const headsBefore = runtime.registry().stats().byMethod.HEAD ?? 0;
  let last = first;
  for (let i = 0; i < PUSHES; i++) {
    const blobs = await pushBlobs(registry.host, repo);
    const started = performance.now();
    const digest = await putManifest(registry.host, repo, 'latest', blobs);
    const post = await until(() => slack.posts.find((p) => p.body.includes(`${short(last)} → ${short(digest)}`)), `the notice of push ${i + 1}`);
    const arrived = await until(() => floor.arrivals.get(digest), `the floor's notification of push ${i + 1}`);
    latencies.push(post.at - started);
    floors.push(arrived - started);
    last = digest;
  }
  const heads = (runtime.registry().stats().byMethod.HEAD ?? 0) - headsBefore;
  const moves = slack.posts.filter((p) => p.body.includes(' moved: ')).length;
  const others = slack.posts.length - moves;
  const pushRow = {
    '': `registry push → Slack notice (${PUSHES} pushes)`,
    'Driftwatch p50 ms': round(percentile(latencies, 50)),
    'Driftwatch p99 ms': round(percentile(latencies, 99)),
    'floor p50 ms': round(percentile(floors, 50)),
    'floor p99 ms': round(percentile(floors, 99)),
    'ratio p50': ratio(percentile(latencies, 50), percentile(floors, 50)),
    'ratio p99': ratio(percentile(latencies, 99), percentile(floors, 99)),
    'HEADs per push': Math.round((heads / PUSHES) * 100) / 100,
  };

  // ---- 2. signed deliveries per second ------------------------------------------------------
  // ghcr.io/bench/ghcr-app is served from the local registry; its deliveries name the digest it serves.
  const served = await putManifest(registry.host, 'bench/ghcr-app', 'latest', await pushBlobs(registry.host, 'bench/ghcr-app'));
  const deliveries = [
    ['unwatched package (verify, parse, match: nothing)', packageEvent('bench', 'unwatched', served)],
    ['watched package (verify, parse, match, HEAD single-flight)', packageEvent('bench', 'ghcr-app', served)],
  ];
  const bare = await startBareServer();
  cleanups.push(() => bare.close());
  const loadRows = [];
  const bareLoad = await runLoad({ url: `${bare.url}/hooks/ghcr`, body: deliveries[0][1], secret: GHCR_SECRET });
  for (const [label, body] of deliveries) {
    const product = await runLoad({ url: `http://127.0.0.1:${productPort}/hooks/ghcr`, body, secret: GHCR_SECRET });
    loadRows.push({
      '': label,
      'Driftwatch req/s': Math.round(product.rps),
      'floor req/s (bare node:http)': Math.round(bareLoad.rps),
      ratio: ratio(product.rps, bareLoad.rps),
      'non-202': product.other,
      'p99 ms': round(product.p99),
    });
  }

  console.log(`push: real docker-registry ${registry.version}, Driftwatch in process (images polled every 1h); Node ${process.version}`);
  console.table([pushRow]);
  console.log(`notices posted: ${moves} for ${PUSHES} moves (expected exactly ${PUSHES}), other messages: ${others} (expected 0); budget p99 < 2000 ms: ${percentile(latencies, 99) < 2000 ? 'met' : 'NOT met'}`);
  console.log('(the registry posts its event before it links the tag, so a HEAD at once may still see the old digest: the webhook looks again after 10, 40, 150… ms)');
  console.log(`webhook throughput: ${CONNECTIONS} connections for ${LOAD_SECONDS} s each, load from a worker thread, valid X-Hub-Signature-256, a new X-GitHub-Delivery per request`);
  console.table(loadRows);
  if (moves !== PUSHES || others !== 0 || percentile(latencies, 99) >= 2000 || loadRows.some((row) => row['non-202'] > 0)) process.exitCode = 1;
}

// ---- load ----------------------------------------------------------------------------------

function packageEvent(namespace, name, digest) {
  return JSON.stringify({
    action: 'published',
    package: { name, namespace, package_type: 'container', owner: { login: namespace }, package_version: { container_metadata: { tag: { name: 'latest', digest } } } },
  });
}

function runLoad(job) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { ...job, seconds: LOAD_SECONDS, connections: CONNECTIONS } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** Runs in the worker: `connections` requests at a time for `seconds`; counts the answers. */
async function generateLoad({ url, body, secret, seconds, connections }) {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections, pipelining: 1 });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const times = [];
  let ok = 0;
  let other = 0;
  let sequence = 0;
  const until = performance.now() + seconds * 1000;
  const lane = async () => {
    while (performance.now() < until) {
      const started = performance.now();
      const response = await pool.request({
        method: 'POST',
        path: target.pathname,
        headers: { 'content-type': 'application/json', 'x-github-event': 'package', 'x-github-delivery': `bench-${sequence++}`, 'x-hub-signature-256': signature },
        body,
      });
      await response.body.dump();
      times.push(performance.now() - started);
      if (response.statusCode === 202) ok++;
      else other++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, lane));
  const ms = performance.now() - started;
  await pool.close();
  return { rps: ((ok + other) / ms) * 1000, ok, other, p99: percentile(times, 99) };
}

// ---- the minimal Slack, the floor endpoint, the bare server ---------------------------------

async function startSlackApi() {
  const posts = [];
  let counter = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0];
      let body = Buffer.concat(chunks).toString('utf8');
      try {
        body = decodeURIComponent(body.replace(/\+/g, ' '));
      } catch {
        // keep it raw
      }
      if (method === 'chat.postMessage') posts.push({ at: performance.now(), body });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, channel: 'C0BENCH', ts: `1700000000.${String(++counter).padStart(6, '0')}`, messages: [] }));
    });
  });
  await listen(server);
  return { posts, apiUrl: `http://127.0.0.1:${server.address().port}/api/`, close: () => close(server) };
}

/** A notification endpoint that only notes when each manifest push arrives: the registry's own delay. */
async function startFloorEndpoint() {
  const arrivals = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      try {
        for (const event of JSON.parse(Buffer.concat(chunks).toString('utf8')).events ?? []) {
          if (event.action === 'push' && event.target?.tag) arrivals.set(event.target.digest, at);
        }
      } catch {
        // not ours to judge
      }
      res.writeHead(202).end();
    });
  });
  await listen(server);
  return { arrivals, url: `http://127.0.0.1:${server.address().port}/events`, close: () => close(server) };
}

async function startBareServer() {
  const server = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"ignored"}'));
  });
  await listen(server);
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => close(server) };
}

// ---- the registry ----------------------------------------------------------------------------

async function startRegistry(dir, endpoints) {
  const port = await freePort();
  const configPath = join(dir, 'registry.yml');
  const notifications = endpoints
    .map(
      (endpoint) =>
        `    - name: ${endpoint.name}\n      url: ${JSON.stringify(endpoint.url)}\n` +
        (endpoint.token ? `      headers:\n        Authorization: [${JSON.stringify(`Bearer ${endpoint.token}`)}]\n` : '') +
        `      timeout: 2s\n      threshold: 5\n      backoff: 1s\n`,
    )
    .join('');
  writeFileSync(
    configPath,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  maintenance:\n    uploadpurging:\n      enabled: false\n` +
      `http:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString('hex')}\n` +
      `notifications:\n  endpoints:\n${notifications}`,
  );
  const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('docker-registry exited before answering');
    try {
      const response = await request(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(1000) });
      await response.body.dump();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('docker-registry did not answer within 15s');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  const version = spawnSync('docker-registry', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').at(-1);
  return {
    host: `127.0.0.1:${port}`,
    version,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function pushBlob(host, repo, bytes) {
  const digest = sha256(bytes);
  const started = await request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await started.body.dump();
  if (started.statusCode !== 202) throw new Error(`${started.statusCode} starting upload to ${repo}`);
  const location = new URL(String(started.headers.location), `http://${host}`);
  location.searchParams.set('digest', digest);
  const put = await request(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`${put.statusCode} uploading ${digest} to ${repo}`);
  return { digest, size: bytes.length };
}

async function pushBlobs(host, repo) {
  const layer = Buffer.from(`layer ${repo} ${randomUUID()}\n`);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: {} }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  return { config: await pushBlob(host, repo, config), layer: await pushBlob(host, repo, layer) };
}

/** PUTs a manifest to `tag`; returns its digest. */
async function putManifest(host, repo, tag, blobs) {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blobs.config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blobs.layer }],
    }),
  );
  const put = await request(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`${put.statusCode} putting ${repo}:${tag}`);
  return sha256(manifest);
}

// ---- small helpers ---------------------------------------------------------------------------

async function until(probe, what, timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`bench/push: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function sha256(bytes) {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function short(digest) {
  return digest.slice(0, 'sha256:'.length + 8);
}

/** Nearest-rank percentile. */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function round(ms) {
  return Math.round(ms * 10) / 10;
}

function ratio(a, b) {
  return `${(a / b).toFixed(2)}×`;
}

async function freePort() {
  const server = createNetServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function listen(server) {
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
}

function close(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}
