// Registry watcher benchmark: 1000 tag references across 20 repositories on the real
// `docker-registry` (token auth, with a small ES256 token service run here).
// Budget per check cycle: exactly 1 HEAD per reference, plus 1 token per repository scope per
// token lifetime; the cycle within 1.5× its floor — a bare undici HEAD loop over the same
// references at the same concurrency (4) on the same registry, measured in the same run right
// after the product's cycle — at the first warm cycle and at the hundredth, and RSS flat between.
// Run after `npm run build`:  node --expose-gc bench/registry.mjs
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { RegistryClient } from '../dist/clients/registry.js';
import { parseConfig } from '../dist/config.js';
import { createLogger } from '../dist/log.js';
import { Runtime } from '../dist/runtime.js';
import { RegistryWatcher } from '../dist/watchers/registry.js';

const REPOSITORIES = Number(process.env.BENCH_REPOS ?? 20);
const TAGS_PER_REPOSITORY = Number(process.env.BENCH_TAGS ?? 50);
const WARM_CYCLES = Number(process.env.BENCH_CYCLES ?? 100);
/** Warm cycles shown in the table (the others only feed the trend line). */
const SHOWN = new Set([1, 2, 10, 50, WARM_CYCLES]);
const MOVES = 50;
const SERVICE = 'driftwatch-bench';
const ISSUER = 'driftwatch-bench-issuer';
const USER = 'bench';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

for (const tool of ['docker-registry', 'openssl']) {
  if (spawnSync(tool, tool === 'openssl' ? ['version'] : ['--version'], { stdio: 'ignore' }).error) {
    console.error(`bench/registry: needs ${tool} (apt-get install -y docker-registry openssl)`);
    process.exit(2);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'driftwatch-bench-registry-'));
const cleanups = [() => rmSync(dir, { recursive: true, force: true })];
try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

async function main() {
  const tokens = await startTokenService();
  cleanups.push(() => tokens.stop());
  const registry = await startRegistry(tokens);
  cleanups.push(() => registry.stop());

  const refs = [];
  const pushStarted = performance.now();
  for (let r = 0; r < REPOSITORIES; r++) {
    const repo = `bench/app${String(r).padStart(2, '0')}`;
    const blobs = await pushBaseBlobs(registry, tokens, repo);
    for (let t = 0; t < TAGS_PER_REPOSITORY; t++) {
      await putManifest(registry, tokens, repo, `t${t}`, blobs, 'v1');
      refs.push({ repo, tag: `t${t}`, ref: `${registry.host}/${repo}:t${t}` });
    }
  }
  const pushMs = performance.now() - pushStarted;

  const config = parseConfig({
    slack: { channel: 'C0BENCH' },
    store: { path: join(dir, 'driftwatch.db') },
    registries: { [registry.host]: { insecure: true } },
    images: refs.map(({ ref }) => ({ ref })),
  });
  const log = createLogger({ level: 'silent' });
  const runtime = new Runtime(config, { log });
  cleanups.push(() => runtime.stop(0));
  const client = new RegistryClient({
    registries: { [registry.host]: { insecure: true, username: USER, password: PASSWORD } },
    dockerConfigPath: '/nonexistent',
  });
  cleanups.push(() => client.close());
  const watcher = new RegistryWatcher({ config, sink: runtime.sink(), client, log });

  const rows = [];
  const cycle = async (label) => {
    const before = client.stats();
    const tokensBefore = tokens.requests;
    globalThis.gc?.();
    const started = performance.now();
    await watcher.runCycle();
    const ms = performance.now() - started;
    const after = client.stats();
    const heads = (after.byMethod.HEAD ?? 0) - (before.byMethod.HEAD ?? 0);
    const gets = (after.byMethod.GET ?? 0) - (before.byMethod.GET ?? 0) - (after.tokenRequests - before.tokenRequests);
    rows.push({
      cycle: label,
      refs: refs.length,
      HEAD: heads,
      'GET (manifests)': gets,
      tokens: tokens.requests - tokensBefore,
      'ms': Math.round(ms),
      'refs/s': Math.round((refs.length / ms) * 1000),
      'RSS MB': Math.round(process.memoryUsage().rss / 1024 / 1024),
      'heap MB': Math.round(process.memoryUsage().heapUsed / 1024 / 1024),
    });
  };

  // The floor: the same HEADs with a bare undici loop, 4 at a time, bearer tokens issued up front.
  const floorAgent = new Agent({ connections: 8, keepAliveTimeout: 30_000 });
  cleanups.push(() => floorAgent.close());
  // Tokens live 5 minutes, so each floor run gets fresh ones (issued before its clock starts).
  const issueAll = () => new Map(refs.map(({ repo }) => [repo, `Bearer ${tokens.issue(USER, [{ type: 'repository', name: repo, actions: ['pull'] }])}`]));
  const accept = ['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');
  const floor = async () => {
    const bearer = issueAll();
    globalThis.gc?.();
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < refs.length) {
        const { repo, tag } = refs[next++];
        const response = await request(`http://${registry.host}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept, authorization: bearer.get(repo) }, dispatcher: floorAgent });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`floor: HEAD ${repo}:${tag} answered ${response.statusCode}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return performance.now() - started;
  };

  await cycle('1 (cold: first sightings, tokens)');
  const trend = [];
  for (let i = 1; i <= WARM_CYCLES; i++) {
    await cycle(`${i + 1} (warm #${i})`);
    const row = rows.at(-1);
    trend.push({ ms: row.ms, rss: row['RSS MB'] });
    if (SHOWN.has(i)) {
      const floorMs = await floor();
      row['floor ms'] = Math.round(floorMs);
      row.ratio = Number((row.ms / floorMs).toFixed(2));
    } else rows.pop();
  }
  // Move some tags: the cycle after them reports MOVES notices.
  for (let i = 0; i < MOVES; i++) {
    const { repo, tag } = refs[(i * 97) % refs.length];
    await putManifest(registry, tokens, repo, tag, await pushBaseBlobs(registry, tokens, repo), 'v2');
  }
  await cycle(`${WARM_CYCLES + 2} (${MOVES} tags moved)`);

  // The same HEADs straight from the client (4 at a time, no store, no engine): what the
  // registry itself costs, so the watcher's own share of a cycle is the difference.
  {
    const { Limiter } = await import('../dist/clients/limiter.js');
    const { parseImageRef } = await import('../dist/domain/image-ref.js');
    const limiter = new Limiter(4);
    const parsed = refs.map(({ ref }) => parseImageRef(ref));
    const before = client.stats();
    const started = performance.now();
    await Promise.all(parsed.map((ref) => limiter.run(() => client.headTag(ref, ['linux/amd64']))));
    const ms = performance.now() - started;
    rows.push({
      cycle: 'client only (no watcher)',
      refs: refs.length,
      HEAD: client.stats().byMethod.HEAD - before.byMethod.HEAD,
      'GET (manifests)': 0,
      tokens: 0,
      ms: Math.round(ms),
      'refs/s': Math.round((refs.length / ms) * 1000),
      'RSS MB': Math.round(process.memoryUsage().rss / 1024 / 1024),
      'heap MB': Math.round(process.memoryUsage().heapUsed / 1024 / 1024),
    });
  }

  const notices = runtime.store.outbox.depth();
  const avg = (list) => Math.round(list.reduce((sum, value) => sum + value, 0) / list.length);
  const first10 = trend.slice(0, 10);
  const last10 = trend.slice(-10);
  console.log(`registry watcher: ${refs.length} tag references in ${REPOSITORIES} repositories on docker-registry (token auth), limiter 4 per registry`);
  console.log(`(pushing the fixtures took ${Math.round(pushMs)} ms; Node ${process.version})`);
  console.table(rows);
  console.log(`trend over ${WARM_CYCLES} warm cycles: first 10 avg ${avg(first10.map((t) => t.ms))} ms, RSS ${avg(first10.map((t) => t.rss))} MB; last 10 avg ${avg(last10.map((t) => t.ms))} ms, RSS ${avg(last10.map((t) => t.rss))} MB`);
  const ratios = rows.filter((row) => row.ratio !== undefined);
  console.log(`ratio to the floor: first warm ${ratios[0]?.ratio}×, warm #${WARM_CYCLES} ${ratios.at(-1)?.ratio}× (budget ≤ 1.5×): ${ratios.every((row) => row.ratio <= 1.5) ? 'met' : 'NOT met'}`);
  const warm = rows.filter((row) => String(row.cycle).includes('warm'));
  const budgetOk =
    rows[0].tokens === REPOSITORIES &&
    warm.every((row) => row.HEAD === refs.length && row.tokens === 0 && row['GET (manifests)'] === 0) &&
    rows.at(-2).HEAD === refs.length;
  console.log(`budget (1 HEAD per reference per warm cycle, 1 token per repository scope): ${budgetOk ? 'met' : 'NOT met'}`);
  console.log(`cold cycle: ${rows[0].HEAD - refs.length} extra HEADs (the first request of each repository scope is challenged with 401 before its token is fetched)`);
  console.log(`notices queued after the moves: ${notices} (expected ${MOVES})`);
  if (!budgetOk || notices !== MOVES) process.exitCode = 1;
}

// ---- pushing -------------------------------------------------------------------------------

async function call(registry, tokens, method, repo, path, headers = {}, body) {
  const authorization = `Bearer ${tokens.issue(USER, [{ type: 'repository', name: repo, actions: ['pull', 'push'] }])}`;
  const response = await request(path.startsWith('http') ? path : `http://${registry.host}${path}`, {
    method,
    headers: { ...headers, authorization },
    body: body ?? null,
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text };
}

function sha256(bytes) {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function pushBlob(registry, tokens, repo, bytes) {
  const digest = sha256(bytes);
  const started = await call(registry, tokens, 'POST', repo, `/v2/${repo}/blobs/uploads/`);
  if (started.status !== 202) throw new Error(`${started.status} starting upload to ${repo}: ${started.text}`);
  const location = new URL(String(started.headers.location), `http://${registry.host}`);
  location.searchParams.set('digest', digest);
  const put = await call(registry, tokens, 'PUT', repo, location.toString(), { 'content-type': 'application/octet-stream' }, bytes);
  if (put.status !== 201) throw new Error(`${put.status} uploading ${digest} to ${repo}: ${put.text}`);
  return { digest, size: bytes.length };
}

async function pushBaseBlobs(registry, tokens, repo) {
  const layer = Buffer.from(`layer ${repo} ${randomUUID()}\n`);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: {} }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  return { config: await pushBlob(registry, tokens, repo, config), layer: await pushBlob(registry, tokens, repo, layer) };
}

async function putManifest(registry, tokens, repo, tag, blobs, generation) {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blobs.config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blobs.layer }],
    annotations: { 'bench.tag': `${tag} ${generation}` }, // a distinct digest per tag
  };
  const put = await call(registry, tokens, 'PUT', repo, `/v2/${repo}/manifests/${tag}`, { 'content-type': manifest.mediaType }, Buffer.from(JSON.stringify(manifest)));
  if (put.status !== 201) throw new Error(`${put.status} putting ${repo}:${tag}: ${put.text}`);
}

// ---- the registry and its token service -----------------------------------------------------

async function freePort() {
  const server = createNetServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRegistry(tokens) {
  const port = await freePort();
  const configPath = join(dir, 'registry.yml');
  writeFileSync(
    configPath,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  maintenance:\n    uploadpurging:\n      enabled: false\n` +
      `http:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString('hex')}\n` +
      `auth:\n  token:\n    realm: ${tokens.realm}\n    service: ${SERVICE}\n    issuer: ${ISSUER}\n    rootcertbundle: ${tokens.certPath}\n`,
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
  return {
    host: `127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startTokenService() {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=driftwatch-bench'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  const key = createPrivateKey(readFileSync(keyPath));
  const certDer = readFileSync(certPath, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const issue = (subject, access) => {
    const now = Math.floor(Date.now() / 1000);
    const body = `${b64({ typ: 'JWT', alg: 'ES256', x5c: [certDer] })}.${b64({ iss: ISSUER, sub: subject, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access })}`;
    return `${body}.${sign('sha256', Buffer.from(body), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const service = { requests: 0, realm: '', certPath, issue, stop: undefined };
  const server = createServer((req, res) => {
    service.requests++;
    const url = new URL(req.url ?? '/', 'http://token');
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access = url.searchParams.getAll('scope').map((scope) => {
      const [type, name, actions] = scope.split(':');
      return { type, name, actions: actions.split(',') };
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: issue(USER, access), expires_in: 300 }));
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  service.realm = `http://127.0.0.1:${server.address().port}/token`;
  service.stop = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return service;
}
