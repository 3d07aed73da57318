/**
 * A small OCI distribution client: what a tag points at (per platform), whether a digest still
 * exists, and an image's version label. Anonymous first, then the registry's own challenge
 * (Bearer token or Basic), with tokens cached per registry and scope.
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'undici';
import { logger, registerSecret } from '../log.js';
import { DOCKER_HUB_REGISTRY, isDigest, type ImageRef } from '../domain/image-ref.js';
import { formatMs } from '../domain/duration.js';
import { basicHeader, parseChallenge, readDockerConfigAuths, type Challenge, type Credentials, type RegistrySettings } from './registry-auth.js';
import { readCapped } from './body.js';

export type { RegistrySettings } from './registry-auth.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** All four, so the registry answers with the tag's own manifest (an index stays an index). */
const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', ');
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const MANIFEST_TYPES = new Set<string>(Object.values(MEDIA_TYPES));

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
const MAX_CACHE_ENTRIES = 1000;
const DEFAULT_TOKEN_TTL_S = 60;

export type RegistryErrorKind = 'not_found' | 'auth' | 'rate_limited' | 'server' | 'timeout' | 'network' | 'malformed';

export class RegistryError extends Error {
  override name = 'RegistryError';
  readonly kind: RegistryErrorKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  constructor(kind: RegistryErrorKind, message: string, extra: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.kind = kind;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
  }
}

export interface RegistryClientOptions {
  registries?: Record<string, RegistrySettings>;
  /** Default `~/.docker/config.json`; its `auths` entries (base64 `auth`) are used when a registry has no username. */
  dockerConfigPath?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  userAgent?: string;
  /** Clock for token expiry; default Date.now. */
  now?: () => number;
}

export interface TagState {
  digest: string;
  mediaType: string;
  /** For an index/list: the child manifest digest of each requested platform present in it. */
  platformDigests?: Record<string, string>;
  rateLimitRemaining?: number;
}

export interface RegistryStats {
  /** Every HTTP request, token requests included. */
  requests: number;
  tokenRequests: number;
  byMethod: Record<string, number>;
}

/** One registry call, described well enough to name it in an error. */
interface Call {
  method: 'HEAD' | 'GET';
  ref: ImageRef;
  path: string;
  /** `team/app:latest`, `team/app@sha256:…`, `team/app blob sha256:…` */
  target: string;
  accept?: string;
  maxBytes?: number;
  /** Blobs may redirect to storage elsewhere. */
  followRedirects?: boolean;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface ParsedManifest {
  mediaType: string;
  manifests?: Array<{ digest?: unknown; platform?: { os?: unknown; architecture?: unknown; variant?: unknown } }>;
  config?: { digest?: unknown };
}

export class RegistryClient {
  private readonly registries: Record<string, RegistrySettings>;
  private readonly dockerConfigPath: string;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly now: () => number;
  private readonly agent: Agent;
  private readonly log = logger().child({ component: 'registry' });

  private dockerAuths: Map<string, Credentials> | undefined;
  /** `registry scope` → token and when it stops being used. */
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  /** Token fetches under way, so concurrent calls for one scope share a single request. */
  private readonly pendingTokens = new Map<string, Promise<string>>();
  /** The last challenge each registry answered with, so later calls can authenticate up front. */
  private readonly challenges = new Map<string, Challenge>();
  /** Index digest → every platform's child digest (an index never changes under its digest). */
  private readonly indexPlatforms = new Map<string, Record<string, string>>();
  /** `digest platform` → version label (or undefined when the image has none). */
  private readonly versionLabels = new Map<string, string | undefined>();
  private readonly counters: RegistryStats = { requests: 0, tokenRequests: 0, byMethod: {} };

  constructor(options: RegistryClientOptions = {}) {
    this.registries = options.registries ?? {};
    this.dockerConfigPath = options.dockerConfigPath ?? join(homedir(), '.docker', 'config.json');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.userAgent = options.userAgent ?? 'driftwatch';
    this.now = options.now ?? Date.now;
    this.agent = new Agent({
      connectTimeout: this.timeoutMs,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 30_000,
      connections: 8,
    });
    for (const settings of Object.values(this.registries)) registerSecret(settings.password);
  }

  /** What `ref`'s tag points at now, and for an index the child digest of each requested platform. */
  async headTag(ref: ImageRef, platforms: string[]): Promise<TagState> {
    const reference = ref.tag ?? ref.digest;
    if (reference === undefined) throw new Error(`image ${ref.text}: no tag or digest to look up`);
    const call: Call = {
      method: 'HEAD',
      ref,
      path: manifestPath(ref, reference),
      target: targetOf(ref, reference),
      accept: MANIFEST_ACCEPT,
    };
    const answer = await this.exchange(call);
    if (answer.status !== 200) throw this.statusError(call, answer);

    const state: TagState = { digest: '', mediaType: '' };
    const remaining = parseRateLimitRemaining(header(answer.headers, 'ratelimit-remaining'));
    if (remaining !== undefined) state.rateLimitRemaining = remaining;

    const contentType = mediaTypeOf(answer.headers);
    if (contentType !== undefined && !MANIFEST_TYPES.has(contentType)) {
      throw this.malformed(call, `answered ${contentType}, not an image manifest`);
    }
    const digestHeader = header(answer.headers, 'docker-content-digest');
    let indexBody: ParsedManifest | undefined;
    if (digestHeader !== undefined && contentType !== undefined) {
      if (!isDigest(digestHeader)) throw this.malformed(call, `Docker-Content-Digest "${digestHeader.slice(0, 80)}" is not sha256:<64 hex>`);
      state.digest = digestHeader;
      state.mediaType = contentType;
    } else {
      // No digest (or type) on HEAD: the digest is the sha256 of the manifest bytes.
      const got = await this.getManifest(ref, reference);
      if (digestHeader !== undefined && digestHeader !== got.digest) {
        throw this.malformed(call, `Docker-Content-Digest ${digestHeader.slice(0, 80)} does not match the manifest's sha256 ${got.digest}`);
      }
      state.digest = got.digest;
      state.mediaType = got.manifest.mediaType;
      indexBody = got.manifest;
    }

    if (INDEX_TYPES.has(state.mediaType)) {
      let all = this.indexPlatforms.get(state.digest);
      if (all === undefined) {
        indexBody ??= (await this.getManifest(ref, state.digest)).manifest;
        all = platformsOfIndex(indexBody);
        remember(this.indexPlatforms, state.digest, all);
      }
      const platformDigests: Record<string, string> = {};
      for (const platform of platforms) {
        const child = pickPlatform(all, platform);
        if (child !== undefined) platformDigests[platform] = child;
      }
      state.platformDigests = platformDigests;
    }
    return state;
  }

  /** Whether the manifest `digest` still exists in `ref`'s repository (404 → false). */
  async manifestExists(ref: ImageRef, digest: string): Promise<boolean> {
    if (!isDigest(digest)) throw new Error(`image ${ref.text}: "${digest}" is not a sha256 digest`);
    const call: Call = { method: 'HEAD', ref, path: manifestPath(ref, digest), target: targetOf(ref, digest), accept: MANIFEST_ACCEPT };
    const answer = await this.exchange(call);
    if (answer.status === 200) return true;
    if (answer.status === 404) return false;
    throw this.statusError(call, answer);
  }

  /**
   * The `org.opencontainers.image.version` label of the image `digest` (for an index: its child
   * for `platform`); undefined when the image has no such label. Cached by digest and platform.
   */
  async versionLabel(ref: ImageRef, digest: string, platform: string): Promise<string | undefined> {
    if (!isDigest(digest)) throw new Error(`image ${ref.text}: "${digest}" is not a sha256 digest`);
    const key = `${digest} ${platform}`;
    if (this.versionLabels.has(key)) return this.versionLabels.get(key);

    let { manifest } = await this.getManifest(ref, digest);
    if (INDEX_TYPES.has(manifest.mediaType)) {
      const child = pickPlatform(platformsOfIndex(manifest), platform);
      if (child === undefined) {
        throw new RegistryError('not_found', `registry ${ref.registry}: ${targetOf(ref, digest)} has no ${platform} image`);
      }
      manifest = (await this.getManifest(ref, child)).manifest;
    }
    const configDigest = manifest.config?.digest;
    if (typeof configDigest !== 'string' || !isDigest(configDigest)) {
      throw new RegistryError('malformed', `registry ${ref.registry}: manifest of ${targetOf(ref, digest)} has no valid config digest`);
    }
    const call: Call = {
      method: 'GET',
      ref,
      path: `/v2/${ref.repository}/blobs/${configDigest}`,
      target: `${ref.repository} blob ${configDigest}`,
      maxBytes: MAX_CONFIG_BYTES,
      followRedirects: true,
    };
    const answer = await this.exchange(call);
    if (answer.status !== 200) throw this.statusError(call, answer);
    if (sha256(answer.body) !== configDigest) throw this.malformed(call, 'blob content does not match its digest');
    let config: unknown;
    try {
      config = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw this.malformed(call, 'image config is not JSON');
    }
    const labels = (config as { config?: { Labels?: unknown } } | null)?.config?.Labels;
    const value = labels !== null && typeof labels === 'object' ? (labels as Record<string, unknown>)['org.opencontainers.image.version'] : undefined;
    const version = typeof value === 'string' && value !== '' ? value : undefined;
    remember(this.versionLabels, key, version);
    return version;
  }

  stats(): RegistryStats {
    return { requests: this.counters.requests, tokenRequests: this.counters.tokenRequests, byMethod: { ...this.counters.byMethod } };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  // ---- manifests -------------------------------------------------------------------------

  private async getManifest(ref: ImageRef, reference: string): Promise<{ digest: string; manifest: ParsedManifest }> {
    const call: Call = {
      method: 'GET',
      ref,
      path: manifestPath(ref, reference),
      target: targetOf(ref, reference),
      accept: MANIFEST_ACCEPT,
      maxBytes: MAX_MANIFEST_BYTES,
    };
    const answer = await this.exchange(call);
    if (answer.status !== 200) throw this.statusError(call, answer);
    const digest = sha256(answer.body);
    if (isDigest(reference) && digest !== reference) throw this.malformed(call, `manifest content has digest ${digest}, not the one asked for`);
    const contentType = mediaTypeOf(answer.headers);
    if (contentType !== undefined && !MANIFEST_TYPES.has(contentType) && contentType !== 'application/json') {
      throw this.malformed(call, `answered ${contentType}, not an image manifest`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw this.malformed(call, 'manifest is not JSON');
    }
    const body = parsed as { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown; config?: unknown } | null;
    if (body === null || typeof body !== 'object' || body.schemaVersion !== 2) throw this.malformed(call, 'not a schema 2 manifest');
    const mediaType =
      (typeof body.mediaType === 'string' ? body.mediaType : undefined) ??
      (contentType !== 'application/json' ? contentType : undefined) ??
      (Array.isArray(body.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
    if (!MANIFEST_TYPES.has(mediaType)) throw this.malformed(call, `unsupported manifest type ${mediaType}`);
    if (INDEX_TYPES.has(mediaType) && !Array.isArray(body.manifests)) throw this.malformed(call, 'index without a manifests list');
    return { digest, manifest: { ...(body as object), mediaType } as ParsedManifest };
  }

  // ---- HTTP, auth ------------------------------------------------------------------------

  /** Sends `call`, authenticating when the registry asks to, and retrying once with credentials. */
  private async exchange(call: Call): Promise<Answer> {
    const registry = call.ref.registry;
    const scope = `repository:${call.ref.repository}:pull`;
    const upfront = this.knownAuthorization(registry, scope);
    let answer = await this.send(call, upfront);
    if (answer.status !== 401) return answer;

    const challenge = parseChallenge(header(answer.headers, 'www-authenticate'));
    if (challenge === undefined) return answer;
    this.challenges.set(registry, challenge);
    if (upfront !== undefined) this.tokens.delete(`${registry} ${scope}`); // expired or revoked: fetch anew
    const authorization = await this.authorize(call, scope, challenge);
    if (authorization === undefined) return answer;
    answer = await this.send(call, authorization);
    return answer;
  }

  /** An Authorization header for a registry whose challenge is already known, when one is at hand. */
  private knownAuthorization(registry: string, scope: string): string | undefined {
    const challenge = this.challenges.get(registry);
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = this.credentialsFor(registry);
      return creds === undefined ? undefined : basicHeader(creds);
    }
    const cached = this.tokens.get(`${registry} ${scope}`);
    if (cached !== undefined && cached.expiresAt > this.now()) return `Bearer ${cached.token}`;
    return undefined;
  }

  private async authorize(call: Call, scope: string, challenge: Challenge): Promise<string | undefined> {
    const registry = call.ref.registry;
    const creds = this.credentialsFor(registry);
    if (challenge.scheme === 'basic') return creds === undefined ? undefined : basicHeader(creds);

    const key = `${registry} ${scope}`;
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > this.now()) return `Bearer ${cached.token}`;
    let pending = this.pendingTokens.get(key);
    if (pending === undefined) {
      pending = this.fetchToken(call, key, scope, challenge, creds).finally(() => this.pendingTokens.delete(key));
      this.pendingTokens.set(key, pending);
    }
    return `Bearer ${await pending}`;
  }

  private async fetchToken(call: Call, key: string, scope: string, challenge: Challenge, creds: Credentials | undefined): Promise<string> {
    const registry = call.ref.registry;
    if (challenge.realm === undefined) {
      throw new RegistryError('auth', `registry ${registry}: Bearer challenge without a realm on ${call.method} ${call.target}`, { status: 401 });
    }
    let url: URL;
    try {
      url = new URL(challenge.realm);
    } catch {
      throw new RegistryError('auth', `registry ${registry}: token realm is not a URL on ${call.method} ${call.target}`, { status: 401 });
    }
    if (challenge.service !== undefined) url.searchParams.set('service', challenge.service);
    url.searchParams.set('scope', challenge.scope ?? scope);

    const what = `token request for ${challenge.scope ?? scope}`;
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json' };
    if (creds !== undefined) headers.authorization = basicHeader(creds);
    this.count('GET', true);
    const issuedAt = this.now();
    let status: number;
    let body: Buffer;
    try {
      const response = await request(url, { method: 'GET', headers, dispatcher: this.agent, signal: AbortSignal.timeout(this.timeoutMs) });
      status = response.statusCode;
      body = await readLimited(response.body, 1024 * 1024);
    } catch (error) {
      throw this.transportError(registry, what, error);
    }
    if (status === 401 || status === 403) throw new RegistryError('auth', `registry ${registry}: ${status} on ${what}`, { status });
    if (status === 429) throw new RegistryError('rate_limited', `registry ${registry}: 429 on ${what}`, { status });
    if (status !== 200) throw new RegistryError('server', `registry ${registry}: ${status} on ${what}`, { status });
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown } | null;
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      // Deliberately not the parser's message: it may quote the body, and the body holds a token.
      throw new RegistryError('auth', `registry ${registry}: token service answered something that is not JSON on ${what}`);
    }
    const token = typeof parsed?.token === 'string' && parsed.token !== '' ? parsed.token : parsed?.access_token;
    if (typeof token !== 'string' || token === '') throw new RegistryError('auth', `registry ${registry}: token service gave no token on ${what}`);
    registerSecret(token);
    const ttlS = typeof parsed?.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_TTL_S;
    remember(this.tokens, key, { token, expiresAt: issuedAt + ttlS * 1000 });
    this.log.debug({ registry, scope, ttlS, anonymous: creds === undefined }, 'registry token fetched');
    return token;
  }

  /** The settings of a registry name; Docker Hub may be configured as `docker.io`. */
  private settingsFor(registry: string): RegistrySettings | undefined {
    return this.registries[registry] ?? (registry === DOCKER_HUB_REGISTRY ? this.registries['docker.io'] : undefined);
  }

  private credentialsFor(registry: string): Credentials | undefined {
    const settings = this.settingsFor(registry);
    if (settings?.username !== undefined && settings.password !== undefined) return { username: settings.username, password: settings.password };
    return this.dockerConfigAuths().get(registry);
  }

  /** `auths` of the docker config, read once. */
  private dockerConfigAuths(): Map<string, Credentials> {
    const auths = this.dockerAuths ?? readDockerConfigAuths(this.dockerConfigPath, () => this.log.warn({ path: this.dockerConfigPath }, 'docker config is not valid JSON; using no credentials from it'));
    this.dockerAuths = auths;
    return auths;
  }

  private async send(call: Call, authorization: string | undefined): Promise<Answer> {
    let url = new URL(`${baseUrl(call.ref.registry, this.settingsFor(call.ref.registry))}${call.path}`);
    const origin = url.origin;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent };
      if (call.accept !== undefined) headers.accept = call.accept;
      // Credentials go to the registry only, never to storage a blob redirects to.
      if (authorization !== undefined && url.origin === origin) headers.authorization = authorization;
      this.count(call.method, false);
      let answer: Answer;
      try {
        const response = await request(url, {
          method: call.method,
          headers,
          dispatcher: this.agent,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const body =
          call.method === 'HEAD' || response.statusCode !== 200
            ? await drain(response.body)
            : await readLimited(response.body, call.maxBytes ?? MAX_MANIFEST_BYTES);
        answer = { status: response.statusCode, headers: response.headers, body };
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        if (error instanceof BodyTooLarge) throw this.malformed(call, `answer larger than ${error.limit} bytes`);
        throw this.transportError(call.ref.registry, `${call.method} ${call.target}`, error);
      }
      const location = header(answer.headers, 'location');
      if (call.followRedirects === true && [301, 302, 303, 307, 308].includes(answer.status) && location !== undefined && hop < 3) {
        url = new URL(location, url);
        continue;
      }
      return answer;
    }
  }

  private count(method: string, token: boolean): void {
    this.counters.requests++;
    if (token) this.counters.tokenRequests++;
    this.counters.byMethod[method] = (this.counters.byMethod[method] ?? 0) + 1;
  }

  private statusError(call: Call, answer: Answer): RegistryError {
    const status = answer.status;
    const context = `registry ${call.ref.registry}: ${status} on ${call.method} ${call.target}`;
    if (status === 401 || status === 403) return new RegistryError('auth', context, { status });
    if (status === 404) return new RegistryError('not_found', context, { status });
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(header(answer.headers, 'retry-after'), this.now());
      const suffix = retryAfterMs === undefined ? '' : ` (retry after ${Math.ceil(retryAfterMs / 1000)}s)`;
      return new RegistryError('rate_limited', `${context}${suffix}`, retryAfterMs === undefined ? { status } : { status, retryAfterMs });
    }
    return new RegistryError('server', context, { status });
  }

  private malformed(call: Call, why: string): RegistryError {
    return new RegistryError('malformed', `registry ${call.ref.registry}: ${call.method} ${call.target} ${why}`);
  }

  private transportError(registry: string, what: string, error: unknown): RegistryError {
    const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
    const timedOut =
      err?.name === 'TimeoutError' ||
      err?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
      err?.code === 'UND_ERR_BODY_TIMEOUT' ||
      err?.code === 'UND_ERR_CONNECT_TIMEOUT';
    if (timedOut) {
      return new RegistryError('timeout', `registry ${registry}: no answer within ${formatMs(this.timeoutMs)} on ${what}`, { cause: error });
    }
    const code = err?.code ?? err?.cause?.code;
    const detail = code ?? err?.cause?.message ?? err?.message ?? String(error);
    return new RegistryError('network', `registry ${registry}: ${detail} on ${what}`, { cause: error });
  }
}

// ---- pure helpers --------------------------------------------------------------------------

class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
  }
}

async function readLimited(body: AsyncIterable<Buffer | Uint8Array> & { destroy(): void }, limit: number): Promise<Buffer> {
  const bytes = await readCapped(body, limit);
  if (bytes === undefined) throw new BodyTooLarge(limit);
  return bytes;
}

/** Reads and discards an answer we won't use (so the connection can be reused). */
async function drain(body: { dump(opts?: { limit: number }): Promise<void> }): Promise<Buffer> {
  await body.dump({ limit: 64 * 1024 });
  return Buffer.alloc(0);
}

/** `https://ghcr.io`, `http://127.0.0.1:5000` for an insecure one, or the configured `url` (no trailing slash). */
export function baseUrl(registry: string, settings: RegistrySettings | undefined): string {
  if (settings?.url !== undefined) return settings.url.replace(/\/+$/, '');
  return `${settings?.insecure === true ? 'http' : 'https'}://${registry}`;
}

function manifestPath(ref: ImageRef, reference: string): string {
  return `/v2/${ref.repository}/manifests/${reference}`;
}

function targetOf(ref: ImageRef, reference: string): string {
  return isDigest(reference) ? `${ref.repository}@${reference}` : `${ref.repository}:${reference}`;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (Array.isArray(value)) return value[0];
  return value === undefined || value === '' ? undefined : value;
}

function mediaTypeOf(headers: IncomingHttpHeaders): string | undefined {
  const value = header(headers, 'content-type');
  return value?.split(';')[0]?.trim().toLowerCase() || undefined;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Docker Hub's `ratelimit-remaining: 100;w=21600` → 100. */
export function parseRateLimitRemaining(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number.parseInt(value.split(';')[0]!.trim(), 10);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** `Retry-After` as seconds or an HTTP date → milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function platformsOfIndex(index: ParsedManifest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of index.manifests ?? []) {
    const p = entry.platform;
    if (typeof entry.digest !== 'string' || !isDigest(entry.digest)) continue;
    if (typeof p?.os !== 'string' || typeof p.architecture !== 'string') continue;
    const key = typeof p.variant === 'string' && p.variant !== '' ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
    out[key] ??= entry.digest; // the first entry for a platform wins, as with docker pull
  }
  return out;
}

/** `linux/arm64` also matches `linux/arm64/v8`; `linux/arm64/v8` also matches a variant-less `linux/arm64`. */
export function pickPlatform(all: Record<string, string>, wanted: string): string | undefined {
  if (all[wanted] !== undefined) return all[wanted];
  const parts = wanted.split('/');
  if (parts.length === 2) {
    const key = Object.keys(all).find((k) => k.startsWith(`${wanted}/`));
    return key === undefined ? undefined : all[key];
  }
  if (parts.length === 3) return all[`${parts[0]}/${parts[1]}`];
  return undefined;
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_CACHE_ENTRIES) map.delete(map.keys().next().value as string);
}
