/**
 * ConfigHub API client: just what the worker watcher needs — server info, space by slug and the
 * bridge workers of a space with their condition. Asks for the fields it uses with `select=` so
 * a worker's Secret never travels, and never puts the token in an error or a log line.
 */
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { logger, registerSecret } from '../log.js';
import { readCapped } from './body.js';

export interface ConfigHubClientOptions {
  /** The origin (`https://hub.confighub.com`); a trailing `/api` is accepted. */
  url: string;
  token: string;
  /** Deadline for each request (each page of a list). */
  timeoutMs?: number;
  /** `limit` asked per page; servers before 0.8.2 ignore it and send everything. */
  pageSize?: number;
  /** Extra CA certificates (PEM) trusted for an https ConfigHub. */
  ca?: string | string[];
  /** The largest answer read (default 16 MiB): a bigger one is refused, never held in memory whole. */
  maxBodyBytes?: number;
}

/** Far above a page of 1000 workers (~1 MiB), far below the pod's 384 Mi limit. */
export const CONFIGHUB_MAX_BODY_BYTES = 16 * 1024 * 1024;

const mebibytes = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;

export type ConfigHubErrorKind = 'unauthorized' | 'not_found' | 'server' | 'unreachable' | 'malformed' | 'rejected';

/** `rejected`: a request ConfigHub (or this client, before sending) refused as invalid, e.g. a 400. */
export class ConfigHubError extends Error {
  override readonly name = 'ConfigHubError';
  constructor(
    readonly kind: ConfigHubErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type BridgeWorkerCondition = 'Ready' | 'NotReady' | 'Unresponsive' | 'Disconnected' | (string & {});

export interface BridgeWorkerStatus {
  id: string;
  slug: string;
  spaceId: string;
  condition: BridgeWorkerCondition;
  /** Undefined when ConfigHub has never seen the worker (LastSeenAt 0001-01-01T00:00:00Z). */
  lastSeenAt?: string;
  lastMessage?: string;
  ipAddress?: string;
}

export interface ConfigHubSpace {
  id: string;
  slug: string;
  displayName?: string;
}

export interface ConfigHubInfo {
  /** From the `ConfigHub-Version` header; older servers don't send it. */
  serverVersion?: string;
  body: unknown;
}

const WORKER_FIELDS = ['BridgeWorkerID', 'Slug', 'SpaceID', 'Condition', 'LastSeenAt', 'LastMessage', 'IPAddress'] as const;
const MAX_PAGES = 1000;

const spaceEnvelopes = z.array(
  z.object({
    Space: z.object({ SpaceID: z.string().min(1), Slug: z.string(), DisplayName: z.string().optional() }),
  }),
);

const workerEnvelopes = z.array(
  z.object({
    BridgeWorker: z.object({
      BridgeWorkerID: z.string().min(1),
      Slug: z.string(),
      SpaceID: z.string(),
      Condition: z.string(),
      LastSeenAt: z.string().optional(),
      LastMessage: z.string().optional(),
      IPAddress: z.string().optional(),
    }),
  }),
);

const errorBody = z.object({ Code: z.union([z.string(), z.number()]).optional(), Message: z.string().optional() });

/** ConfigHub's zero time means "never"; anything before year 2 is that. */
export function lastSeenFrom(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms) || new Date(ms).getUTCFullYear() <= 1) return undefined;
  return raw;
}

/** `https://hub.example/api/` → `https://hub.example` (keeping any path prefix before /api). */
export function apiBase(url: string): URL {
  const parsed = new URL(url);
  parsed.pathname = parsed.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
  parsed.search = '';
  parsed.hash = '';
  return parsed;
}

/** A ConfigHub filter literal; the server refuses `'` inside one, so we refuse it first. */
export function whereSlug(slug: string): string {
  if (slug.includes("'")) throw new ConfigHubError('rejected', `confighub: slug ${JSON.stringify(slug)} contains a single quote, which ConfigHub filters cannot express`);
  return `Slug = '${slug}'`;
}

function queryString(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export class ConfigHubClient {
  readonly base: URL;
  /** The last `ConfigHub-Version` header seen. */
  serverVersion?: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly pageSize: number;
  private readonly agent: Agent;
  private readonly label: string;
  private readonly log = logger().child({ component: 'confighub' });

  constructor(options: ConfigHubClientOptions) {
    this.base = apiBase(options.url);
    this.label = `confighub ${this.base.host}`;
    this.token = options.token;
    registerSecret(options.token);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? CONFIGHUB_MAX_BODY_BYTES;
    this.pageSize = Math.min(1000, Math.max(1, options.pageSize ?? 500));
    const ca = options.ca === undefined ? undefined : Array.isArray(options.ca) ? options.ca : [options.ca];
    this.agent = new Agent({
      connect: {
        timeout: Math.min(this.timeoutMs, 10_000),
        // `ca` replaces Node's trust store, so the system roots go in alongside the extra CA.
        ...(ca ? { ca: [...rootCertificates, ...ca] } : {}),
      },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async info(): Promise<ConfigHubInfo> {
    const { body } = await this.get('/api/info', {});
    return { ...(this.serverVersion !== undefined ? { serverVersion: this.serverVersion } : {}), body };
  }

  async resolveSpace(slug: string): Promise<ConfigHubSpace> {
    const where = whereSlug(slug);
    const path = '/api/space';
    const { body } = await this.get(path, { where });
    const envelopes = this.parse(spaceEnvelopes, body, path);
    const space = envelopes.find((e) => e.Space.Slug === slug)?.Space;
    if (!space) throw new ConfigHubError('not_found', `${this.label}: no space with slug '${slug}'`, 404);
    return { id: space.SpaceID, slug: space.Slug, ...(space.DisplayName ? { displayName: space.DisplayName } : {}) };
  }

  /** Every bridge worker of a space (or the one with `slug`), following ConfigHub-Continue pages. */
  async listBridgeWorkers(spaceId: string, options: { slug?: string } = {}): Promise<BridgeWorkerStatus[]> {
    const path = `/api/space/${encodeURIComponent(spaceId)}/bridge_worker`;
    const where = options.slug === undefined ? undefined : whereSlug(options.slug);
    const workers: BridgeWorkerStatus[] = [];
    let continueToken: string | undefined;
    const seenTokens = new Set<string>();
    for (let pageNo = 0; pageNo < MAX_PAGES; pageNo++) {
      const { body, next } = await this.get(path, {
        where,
        select: WORKER_FIELDS.join(','),
        limit: String(this.pageSize),
        continue: continueToken,
      });
      for (const { BridgeWorker: w } of this.parse(workerEnvelopes, body, path)) {
        const lastSeenAt = lastSeenFrom(w.LastSeenAt);
        workers.push({
          id: w.BridgeWorkerID,
          slug: w.Slug,
          spaceId: w.SpaceID,
          condition: w.Condition,
          ...(lastSeenAt ? { lastSeenAt } : {}),
          ...(w.LastMessage ? { lastMessage: w.LastMessage } : {}),
          ...(w.IPAddress ? { ipAddress: w.IPAddress } : {}),
        });
      }
      if (next === undefined) return workers;
      if (seenTokens.has(next)) throw new ConfigHubError('malformed', `${this.label}: paging on GET ${path} repeated a continue token`);
      seenTokens.add(next);
      continueToken = next;
    }
    throw new ConfigHubError('malformed', `${this.label}: GET ${path} still had more pages after ${MAX_PAGES}`);
  }

  private async get(path: string, params: Record<string, string | undefined>): Promise<{ body: unknown; next?: string }> {
    const url = new URL(`${this.base.pathname.replace(/\/$/, '')}${path}${queryString(params)}`, this.base.origin);
    const where = `GET ${path}`;
    let answer;
    try {
      answer = await request(url, {
        method: 'GET',
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
        dispatcher: this.agent,
      });
    } catch (err) {
      const reason = (err as { name?: string }).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : this.scrub(describe(err));
      this.log.debug({ path, reason }, 'confighub unreachable');
      throw new ConfigHubError('unreachable', `${this.label}: unreachable on ${where} (${reason})`);
    }
    const version = header(answer.headers, 'confighub-version');
    if (version !== undefined) this.serverVersion = version;
    let text: string | undefined;
    const tooBig = () => new ConfigHubError('malformed', `${this.label}: ${where} answered ${answer.statusCode} with more than ${mebibytes(this.maxBodyBytes)}; the limit is ${mebibytes(this.maxBodyBytes)} (confighub client maxBodyBytes)`, answer.statusCode);
    const declared = Number(header(answer.headers, 'content-length'));
    if (Number.isFinite(declared) && declared > this.maxBodyBytes) {
      answer.body.destroy();
      throw tooBig();
    }
    try {
      text = (await readCapped(answer.body, this.maxBodyBytes))?.toString('utf8');
      if (text === undefined) throw tooBig();
    } catch (err) {
      if (err instanceof ConfigHubError) throw err;
      throw new ConfigHubError('unreachable', `${this.label}: ${where} broke off while reading (${this.scrub(describe(err))})`, answer.statusCode);
    }
    const status = answer.statusCode;
    if (status >= 300) {
      const detail = errorDetail(text);
      const message = this.scrub(`${this.label}: ${status} on ${where}${detail ? `: ${detail}` : ''}`);
      throw new ConfigHubError(kindForStatus(status), message, status);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ConfigHubError('malformed', `${this.label}: ${where} answered ${status} with something that is not JSON`, status);
    }
    const next = header(answer.headers, 'confighub-continue');
    return { body, ...(next ? { next } : {}) };
  }

  private parse<T>(schema: z.ZodType<T>, body: unknown, path: string): T {
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
      throw new ConfigHubError('malformed', `${this.label}: unexpected answer to GET ${path}${at}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
  }

  /** Belt and braces: a server message or a network error could echo the token back. */
  private scrub(text: string): string {
    return this.token ? text.split(this.token).join('[redacted]') : text;
  }
}

function kindForStatus(status: number): ConfigHubErrorKind {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status >= 500) return 'server';
  if (status >= 300 && status < 400) return 'malformed';
  return 'rejected';
}

function errorDetail(text: string): string | undefined {
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) {
      const { Code, Message } = parsed.data;
      if (Message) return Code !== undefined ? `${Message} (${Code})` : Message;
    }
  } catch {
    // Not JSON: a proxy's HTML page, say. Say nothing rather than paste it.
  }
  return undefined;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function describe(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: string }).code;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'DNS lookup failed';
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
    if (code?.startsWith('UND_ERR_') && code.endsWith('_TIMEOUT')) return 'timed out';
  }
  return err instanceof Error ? err.message : String(err);
}
