/**
 * The sandbox's image registry: just enough OCI distribution over plain HTTP for Driftwatch's
 * registry client (configured `insecure: true`). It serves manifests by tag and by digest with
 * Docker-Content-Digest, multi-platform images as an OCI index of per-platform manifests, config
 * blobs carrying the `org.opencontainers.image.version` label, and lets the demo move a tag.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface DemoImageOptions {
  /** `org.opencontainers.image.version` in every platform's config. */
  version?: string;
  /** What makes this image's bytes (and so its digests) differ from another build. */
  seed: string;
  /** One manifest per platform under an OCI index. Default: a single manifest for linux/amd64. */
  platforms?: string[];
}

export interface DemoImage {
  /** The digest the tag points at: the index's when there are several platforms. */
  digest: string;
  platformDigests: Record<string, string>;
}

export interface DemoRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** Builds an image in `repo` and points `tag` at it. */
  push(repo: string, tag: string, image: DemoImageOptions): DemoImage;
  /** Points `tag` at a manifest already in `repo` (a tag move). */
  tag(repo: string, tag: string, digest: string): void;
  /** What `tag` points at now. */
  resolve(repo: string, tag: string): string | undefined;
  /** Manifest and blob requests so far, as `METHOD path`. */
  requests(): string[];
  close(): Promise<void>;
}

interface Stored {
  body: Buffer;
  mediaType: string;
}

const sha256 = (body: Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

export async function startDemoRegistry(): Promise<DemoRegistry> {
  /** repo → digest → manifest; repo → tag → digest; digest → blob (blobs are content-addressed, shared). */
  const manifests = new Map<string, Map<string, Stored>>();
  const tags = new Map<string, Map<string, string>>();
  const blobs = new Map<string, Stored>();
  const log: string[] = [];
  const sockets = new Set<Socket>();

  const repoManifests = (repo: string) => {
    let byDigest = manifests.get(repo);
    if (!byDigest) manifests.set(repo, (byDigest = new Map()));
    return byDigest;
  };
  const putManifest = (repo: string, mediaType: string, value: unknown): { digest: string; size: number } => {
    const body = json(value);
    const digest = sha256(body);
    repoManifests(repo).set(digest, { body, mediaType });
    return { digest, size: body.length };
  };
  const putBlob = (body: Buffer, mediaType: string): { digest: string; size: number } => {
    const digest = sha256(body);
    blobs.set(digest, { body, mediaType });
    return { digest, size: body.length };
  };

  function buildPlatform(repo: string, platform: string, image: DemoImageOptions): { digest: string; size: number } {
    const [os, architecture, variant] = platform.split('/');
    const layer = putBlob(Buffer.from(`${repo} ${image.seed} ${platform}\n`), OCI_LAYER);
    const config = putBlob(
      json({
        architecture,
        os,
        ...(variant ? { variant } : {}),
        config: { Labels: { ...(image.version ? { 'org.opencontainers.image.version': image.version } : {}), 'org.opencontainers.image.source': `https://example.invalid/${repo}` } },
        rootfs: { type: 'layers', diff_ids: [sha256(Buffer.from(image.seed))] },
      }),
      OCI_CONFIG,
    );
    return putManifest(repo, OCI_MANIFEST, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...config },
      layers: [{ mediaType: OCI_LAYER, ...layer }],
    });
  }

  function setTag(repo: string, tag: string, digest: string) {
    let byTag = tags.get(repo);
    if (!byTag) tags.set(repo, (byTag = new Map()));
    byTag.set(tag, digest);
  }

  const sendError = (res: ServerResponse, status: number, code: string, message: string) => {
    const body = json({ errors: [{ code, message }] });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
  };

  const send = (req: IncomingMessage, res: ServerResponse, stored: Stored, digest: string) => {
    res.writeHead(200, { 'content-type': stored.mediaType, 'content-length': String(stored.body.length), 'docker-content-digest': digest });
    res.end(req.method === 'HEAD' ? undefined : stored.body);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://registry').pathname;
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'UNSUPPORTED', 'the demo registry is read-only');
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (manifest || blob) log.push(`${req.method} ${path}`);
    if (manifest) {
      const [, repo, reference] = manifest as unknown as [string, string, string];
      if (!manifests.has(repo)) return sendError(res, 404, 'NAME_UNKNOWN', `repository name not known to registry: ${repo}`);
      const digest = reference.startsWith('sha256:') ? reference : tags.get(repo)?.get(reference);
      const stored = digest ? manifests.get(repo)!.get(digest) : undefined;
      if (!digest || !stored) return sendError(res, 404, 'MANIFEST_UNKNOWN', `manifest unknown: ${repo}:${reference}`);
      return send(req, res, stored, digest);
    }
    if (blob) {
      const stored = blobs.get(blob[2]!);
      if (!stored || !manifests.has(blob[1]!)) return sendError(res, 404, 'BLOB_UNKNOWN', `blob unknown to registry: ${blob[2]}`);
      return send(req, res, stored, blob[2]!);
    }
    sendError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${path}`);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    host,
    push(repo, tag, image) {
      const platforms = image.platforms ?? ['linux/amd64'];
      const children = platforms.map((platform) => ({ platform, ...buildPlatform(repo, platform, image) }));
      const platformDigests = Object.fromEntries(children.map((child) => [child.platform, child.digest]));
      let digest = children[0]!.digest;
      if (platforms.length > 1 || image.platforms) {
        digest = putManifest(repo, OCI_INDEX, {
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: children.map((child) => {
            const [os, architecture, variant] = child.platform.split('/');
            return { mediaType: OCI_MANIFEST, digest: child.digest, size: child.size, platform: { architecture, os, ...(variant ? { variant } : {}) } };
          }),
        }).digest;
      }
      setTag(repo, tag, digest);
      return { digest, platformDigests };
    },
    tag(repo, tag, digest) {
      if (!manifests.get(repo)?.has(digest)) throw new Error(`demo registry: ${repo} has no manifest ${digest}`);
      setTag(repo, tag, digest);
    },
    resolve: (repo, tag) => tags.get(repo)?.get(tag),
    requests: () => [...log],
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
