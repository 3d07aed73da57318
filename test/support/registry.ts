/**
 * The real CNCF registry (Debian's `docker-registry`, 2.8) on 127.0.0.1 for tests: anonymous,
 * htpasswd, or token auth with a token service run here. Images are pushed over plain HTTP with
 * a config blob carrying `org.opencontainers.image.version` and one layer of seeded bytes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

export interface PushOptions {
  /** `org.opencontainers.image.version` in the image config. */
  version?: string;
  /** Bytes of the layer derive from this; a new seed gives a new digest (default: random). */
  seed?: string;
  /** Push a multi-arch index whose children (one per platform) are pushed by digest first. */
  platforms?: string[];
  /** `oci` (default) or `docker` (Docker v2 manifest / manifest list media types). */
  format?: 'oci' | 'docker';
}

export interface PushResult {
  digest: string;
  platformDigests?: Record<string, string>;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  auth: RegistryAuth;
  username?: string;
  password?: string;
  /** Requests the token service answered (token mode), the test's own pushes excluded. */
  tokenRequests(): number;
  pushImage(repo: string, tag: string, opts?: PushOptions): Promise<PushResult>;
  /** Pushes an index to `tag` that reuses `keep`'s child manifests and pushes fresh ones for `rebuild`. */
  pushIndexReusing(repo: string, tag: string, keep: Record<string, string>, rebuild: string[], opts?: Omit<PushOptions, 'platforms'>): Promise<PushResult>;
  /** Deletes a manifest by digest (the registry has no tag deletion: tags pointing at it go too). */
  deleteManifest(repo: string, digest: string): Promise<void>;
  stop(): Promise<void>;
}

const OCI = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
const DOCKER = {
  index: 'application/vnd.docker.distribution.manifest.list.v2+json',
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};
const ALL_MANIFEST_TYPES = [OCI.index, OCI.manifest, DOCKER.index, DOCKER.manifest].join(', ');

const TOOLS = { 'docker-registry': ['--version'], htpasswd: ['-h'], openssl: ['version'] } as const;

/** Why the real registry can't run here, or undefined when it can. */
export function registryUnavailableReason(): string | undefined {
  const missing = Object.entries(TOOLS)
    .filter(([tool, args]) => spawnSync(tool, [...args], { stdio: 'ignore' }).error !== undefined)
    .map(([tool]) => tool);
  if (missing.length === 0) return undefined;
  return `needs ${missing.join(', ')} (apt-get install -y docker-registry apache2-utils openssl)`;
}

let availability: boolean | undefined;
/** True when docker-registry, htpasswd and openssl are installed, or under CI (where missing tools fail); prints why not otherwise. */
export function registryAvailable(): boolean {
  if (availability === undefined) {
    const reason = registryUnavailableReason();
    // With CI=true a missing registry fails the tests that need it (starting it throws); it never skips them.
    availability = reason === undefined || Boolean(process.env.CI);
    if (reason !== undefined && !process.env.CI) console.warn(`skipping real-registry tests: ${reason}`);
  }
  return availability;
}

/** Where the registry posts its notifications (`notifications.endpoints[]`), and with which token. */
export interface RegistryNotifications {
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** How long the registry waits for an answer (default 2s). */
  timeout?: string;
  /** Failures before the registry backs off (its `threshold`, default 3) and for how long (`backoff`, default 1s). */
  threshold?: number;
  backoff?: string;
}

export async function startRegistry(opts: { auth?: RegistryAuth; notifications?: RegistryNotifications } = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-registry-'));
  const username = 'driftwatch';
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  let tokenService: TokenService | undefined;
  let authYaml = '';

  try {
    if (auth === 'htpasswd') {
      const made = spawnSync('htpasswd', ['-Bbn', username, password], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`htpasswd failed: ${made.stderr}`);
      writeFileSync(join(dir, 'htpasswd'), made.stdout);
      authYaml = `auth:\n  htpasswd:\n    realm: driftwatch-test\n    path: ${join(dir, 'htpasswd')}\n`;
    } else if (auth === 'token') {
      tokenService = await startTokenService(dir, { username, password });
      authYaml =
        `auth:\n  token:\n    realm: ${tokenService.realm}\n    service: ${TOKEN_SERVICE}\n` +
        `    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${tokenService.certPath}\n`;
    }

    const started = await spawnRegistry(dir, authYaml + notificationsYaml(opts.notifications));
    const host = `127.0.0.1:${started.port}`;
    const base = `http://${host}`;
    const seen = new Map<string, { mediaType: string; size: number }>(); // manifest digest → for index entries

    /** Authorization for the test's own pushes (never counted as the client's token requests). */
    const authFor = (repo: string): string | undefined => {
      if (auth === 'htpasswd') return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      if (auth === 'token') return `Bearer ${tokenService!.issue(username, [{ type: 'repository', name: repo, actions: ['pull', 'push', 'delete'] }])}`;
      return undefined;
    };

    const call = async (method: string, repo: string, path: string, headers: Record<string, string>, body?: Buffer) => {
      const authorization = authFor(repo);
      const response = await request(path.startsWith('http') ? path : `${base}${path}`, {
        method: method as 'GET',
        headers: authorization === undefined ? headers : { ...headers, authorization },
        body: body ?? null,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text };
    };

    const pushBlob = async (repo: string, bytes: Buffer): Promise<{ digest: string; size: number }> => {
      const digest = sha256(bytes);
      const started = await call('POST', repo, `/v2/${repo}/blobs/uploads/`, {});
      if (started.status !== 202) throw new Error(`registry ${host}: ${started.status} starting a blob upload to ${repo}: ${started.text}`);
      const location = new URL(String(started.headers.location), base);
      location.searchParams.set('digest', digest);
      const put = await call('PUT', repo, location.toString(), { 'content-type': 'application/octet-stream' }, bytes);
      if (put.status !== 201) throw new Error(`registry ${host}: ${put.status} uploading blob ${digest} to ${repo}: ${put.text}`);
      return { digest, size: bytes.length };
    };

    const putManifest = async (repo: string, reference: string, mediaType: string, manifest: object): Promise<string> => {
      const bytes = Buffer.from(JSON.stringify(manifest));
      const digest = sha256(bytes);
      const put = await call('PUT', repo, `/v2/${repo}/manifests/${reference}`, { 'content-type': mediaType }, bytes);
      if (put.status !== 201) throw new Error(`registry ${host}: ${put.status} putting manifest ${repo}:${reference}: ${put.text}`);
      const answered = put.headers['docker-content-digest'];
      if (answered !== digest) throw new Error(`registry ${host}: manifest digest ${String(answered)} differs from ${digest}`);
      seen.set(digest, { mediaType, size: bytes.length });
      return digest;
    };

    /** One image manifest for `platform`, pushed to `reference` (a tag, or its own digest). */
    const pushSingle = async (repo: string, reference: string | undefined, platform: string, o: PushOptions): Promise<string> => {
      const types = o.format === 'docker' ? DOCKER : OCI;
      const seed = o.seed ?? randomUUID();
      const layer = Buffer.from(`layer ${repo} ${platform} ${seed}\n`);
      const [os, architecture, variant] = platform.split('/');
      const config = {
        architecture,
        os,
        ...(variant === undefined ? {} : { variant }),
        config: { Labels: o.version === undefined ? {} : { 'org.opencontainers.image.version': o.version } },
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
      };
      const configBlob = await pushBlob(repo, Buffer.from(JSON.stringify(config)));
      const layerBlob = await pushBlob(repo, layer);
      const manifest = {
        schemaVersion: 2,
        mediaType: types.manifest,
        config: { mediaType: types.config, digest: configBlob.digest, size: configBlob.size },
        layers: [{ mediaType: types.layer, digest: layerBlob.digest, size: layerBlob.size }],
      };
      const bytes = Buffer.from(JSON.stringify(manifest));
      return putManifest(repo, reference ?? sha256(bytes), types.manifest, manifest);
    };

    const pushIndex = async (repo: string, tag: string, children: Record<string, string>, format: PushOptions['format']) => {
      const types = format === 'docker' ? DOCKER : OCI;
      const manifests = [];
      for (const [platform, digest] of Object.entries(children)) {
        const known = seen.get(digest) ?? (await describeManifest(repo, digest));
        const [os, architecture, variant] = platform.split('/');
        manifests.push({
          mediaType: known.mediaType,
          digest,
          size: known.size,
          platform: { architecture, os, ...(variant === undefined ? {} : { variant }) },
        });
      }
      return putManifest(repo, tag, types.index, { schemaVersion: 2, mediaType: types.index, manifests });
    };

    const describeManifest = async (repo: string, digest: string) => {
      const got = await call('GET', repo, `/v2/${repo}/manifests/${digest}`, { accept: ALL_MANIFEST_TYPES });
      if (got.status !== 200) throw new Error(`registry ${host}: ${got.status} reading manifest ${repo}@${digest}`);
      const known = { mediaType: String(got.headers['content-type']), size: Buffer.byteLength(got.text) };
      seen.set(digest, known);
      return known;
    };

    const registry: TestRegistry = {
      host,
      auth,
      tokenRequests: () => tokenService?.requests ?? 0,
      async pushImage(repo, tag, o = {}) {
        if (o.platforms === undefined || o.platforms.length === 0) {
          return { digest: await pushSingle(repo, tag, 'linux/amd64', o) };
        }
        const platformDigests: Record<string, string> = {};
        for (const platform of o.platforms) platformDigests[platform] = await pushSingle(repo, undefined, platform, o);
        return { digest: await pushIndex(repo, tag, platformDigests, o.format), platformDigests };
      },
      async pushIndexReusing(repo, tag, keep, rebuild, o = {}) {
        const platformDigests: Record<string, string> = { ...keep };
        for (const platform of rebuild) platformDigests[platform] = await pushSingle(repo, undefined, platform, o);
        return { digest: await pushIndex(repo, tag, platformDigests, o.format), platformDigests };
      },
      async deleteManifest(repo, digest) {
        const deleted = await call('DELETE', repo, `/v2/${repo}/manifests/${digest}`, {});
        if (deleted.status !== 202) throw new Error(`registry ${host}: ${deleted.status} deleting ${repo}@${digest}: ${deleted.text}`);
      },
      async stop() {
        await started.stop();
        await tokenService?.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    if (auth !== 'none') {
      registry.username = username;
      registry.password = password;
    }
    return registry;
  } catch (error) {
    await tokenService?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

// ---- the registry process --------------------------------------------------------------------

/** The `notifications` section: one endpoint; header values are lists of strings in this config. */
function notificationsYaml(notifications: RegistryNotifications | undefined): string {
  if (notifications === undefined) return '';
  const headers = notifications.token === undefined ? '' : `      headers:\n        Authorization: [${JSON.stringify(`Bearer ${notifications.token}`)}]\n`;
  return (
    `notifications:\n  endpoints:\n    - name: driftwatch\n      url: ${JSON.stringify(notifications.url)}\n${headers}` +
    `      timeout: ${notifications.timeout ?? '2s'}\n      threshold: ${notifications.threshold ?? 3}\n      backoff: ${notifications.backoff ?? '1s'}\n`
  );
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function spawnRegistry(dir: string, authYaml: string): Promise<{ port: number; stop(): Promise<void> }> {
  // The port is chosen before the registry binds it; on the rare clash, try another.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const configPath = join(dir, 'config.yml');
    writeFileSync(
      configPath,
      `version: 0.1\n` +
        `log:\n  level: error\n  accesslog:\n    disabled: true\n` +
        `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n` +
        `  maintenance:\n    uploadpurging:\n      enabled: false\n` +
        `http:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString('hex')}\n` +
        authYaml,
    );
    const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitForRegistry(`http://127.0.0.1:${port}/v2/`, exited);
      return { port, stop: () => stopChild(child, exited) };
    } catch (error) {
      await stopChild(child, exited);
      lastError = new Error(`${(error as Error).message}\n${stderr}`);
    }
  }
  throw lastError;
}

async function waitForRegistry(url: string, exited: Promise<number | null>): Promise<void> {
  const deadline = Date.now() + 15_000;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  while (Date.now() < deadline) {
    if (gone) throw new Error('docker-registry exited before answering');
    try {
      const response = await request(url, { signal: AbortSignal.timeout(1000) });
      await response.body.dump();
      if (response.statusCode === 200 || response.statusCode === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`docker-registry did not answer ${url} within 15s`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---- token service ---------------------------------------------------------------------------

const TOKEN_SERVICE = 'driftwatch-test-registry';
const TOKEN_ISSUER = 'driftwatch-test-token-issuer';

interface Access {
  type: string;
  name: string;
  actions: string[];
}

interface TokenService {
  realm: string;
  certPath: string;
  requests: number;
  issue(subject: string, access: Access[]): string;
  stop(): Promise<void>;
}

/**
 * Issues ES256 JWTs the registry trusts: the signing key's self-signed certificate (made now with
 * openssl) is the registry's rootcertbundle and travels in the token's `x5c` header. Pull needs
 * the right Basic credentials; anonymous callers get a token with no access, as real services do.
 */
async function startTokenService(dir: string, creds: { username: string; password: string }): Promise<TokenService> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=driftwatch-test-token'],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed making the token certificate: ${made.stderr}`);
  const key = createPrivateKey(readFileSync(keyPath));
  const certDer = readFileSync(certPath, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

  const service: TokenService = {
    realm: '',
    certPath,
    requests: 0,
    issue: (subject, access) => signJwt(key, certDer, subject, access),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const expected = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    service.requests++;
    const url = new URL(req.url ?? '/', 'http://token');
    const authorization = req.headers.authorization;
    if (url.pathname !== '/token' || url.searchParams.get('service') !== TOKEN_SERVICE) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"code":"bad request"}]}');
      return;
    }
    if (authorization !== undefined && authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access: Access[] = [];
    if (authorization !== undefined) {
      for (const scope of url.searchParams.getAll('scope')) {
        const [type, name, actions] = scope.split(':');
        if (type && name && actions) access.push({ type, name, actions: actions.split(',') });
      }
    }
    const token = service.issue(authorization === undefined ? '' : creds.username, access);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  service.realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return service;
}

function signJwt(key: KeyObject, certDer: string, subject: string, access: Access[]): string {
  const now = Math.floor(Date.now() / 1000);
  const headerPart = base64url({ typ: 'JWT', alg: 'ES256', x5c: [certDer] });
  const claims = base64url({
    iss: TOKEN_ISSUER,
    sub: subject,
    aud: TOKEN_SERVICE,
    exp: now + 300,
    nbf: now - 10,
    iat: now,
    jti: randomUUID(),
    access,
  });
  const signature = sign('sha256', Buffer.from(`${headerPart}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${headerPart}.${claims}.${signature}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
