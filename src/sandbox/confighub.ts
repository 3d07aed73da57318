/**
 * A small ConfigHub API with the real shapes (TESTING.md), for tests and `driftwatch demo`: `/api` under the origin, Bearer token
 * on every call but `/api/info`, slugs resolved through `where=Slug = '…'`, list answers as
 * envelopes, `select=` honoured, paging with `limit` + `ConfigHub-Continue`, errors as
 * `{Code, Message}`, a `ConfigHub-Version` header on every `/api` answer.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const NEVER_SEEN = '0001-01-01T00:00:00Z';

export interface FakeSpace {
  SpaceID: string;
  OrganizationID: string;
  Slug: string;
  DisplayName: string;
  Labels: Record<string, string>;
  CreatedAt: string;
  UpdatedAt: string;
}

export interface FakeBridgeWorker {
  BridgeWorkerID: string;
  OrganizationID: string;
  SpaceID: string;
  Slug: string;
  DisplayName: string;
  Condition: string;
  LastSeenAt: string;
  LastMessage: string;
  IPAddress: string;
  Secret: string;
  CreatedAt: string;
  UpdatedAt: string;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  status: number;
  /** The response body exactly as sent. */
  body: string;
}

export interface WorkerState {
  condition?: string;
  lastSeenAt?: string;
  lastMessage?: string;
  ipAddress?: string;
}

export interface FakeConfigHub {
  /** The origin, e.g. `http://127.0.0.1:PORT` (clients add `/api`). */
  url: string;
  token: string;
  addSpace(slug: string): string;
  addWorker(spaceSlug: string, slug: string, state?: WorkerState): FakeBridgeWorker;
  setCondition(spaceSlug: string, workerSlug: string, condition: string, state?: Omit<WorkerState, 'condition'>): void;
  /** Every `/api` call answers this status with an error body until cleared with undefined. */
  failWith(status: number | undefined): void;
  requests(): FakeRequest[];
  close(): Promise<void>;
}

export interface FakeConfigHubOptions {
  token?: string;
  /** `ConfigHub-Version` header value; null for an older server that doesn't send it. */
  version?: string | null;
  /** False for a server older than 0.8.2 that ignores `limit` and sends everything. */
  paging?: boolean;
}

const ORG_ID = randomUUID();

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeConfigHub(options: FakeConfigHubOptions = {}): Promise<FakeConfigHub> {
  const token = options.token ?? `ch_${randomBytes(12).toString('hex')}`;
  const version = options.version === undefined ? '0.9.4' : options.version;
  const paging = options.paging ?? true;
  const spaces: FakeSpace[] = [];
  const workers: FakeBridgeWorker[] = [];
  const log: FakeRequest[] = [];
  let failure: number | undefined;

  const now = () => new Date().toISOString();
  const spaceBySlug = (slug: string): FakeSpace => {
    const space = spaces.find((s) => s.Slug === slug);
    if (!space) throw new Error(`fake confighub: no space ${slug}`);
    return space;
  };
  const workerBySlug = (spaceSlug: string, slug: string): FakeBridgeWorker => {
    const space = spaceBySlug(spaceSlug);
    const worker = workers.find((w) => w.SpaceID === space.SpaceID && w.Slug === slug);
    if (!worker) throw new Error(`fake confighub: no worker ${slug} in ${spaceSlug}`);
    return worker;
  };

  /** The subset of ConfigHub's filter language we need: `Slug = 'literal'`. */
  const slugFilter = (where: string | undefined): string | undefined => {
    if (where === undefined || where === '') return undefined;
    const match = /^\s*Slug\s*=\s*'(.*)'\s*$/.exec(where);
    if (!match) throw new ApiError(400, 'InvalidArgument', `invalid where expression: ${where}`);
    if (match[1]!.includes("'")) throw new ApiError(400, 'InvalidArgument', 'string literals may not contain single quotes');
    return match[1];
  };

  const selectFields = <T extends object>(entity: T, select: string | undefined): Partial<T> => {
    if (!select) return entity;
    const wanted = new Set(select.split(',').map((f) => f.trim()).filter(Boolean));
    return Object.fromEntries(Object.entries(entity).filter(([k]) => wanted.has(k))) as Partial<T>;
  };

  /** Applies `limit`/`continue` (offset tokens) and sets `ConfigHub-Continue` while more remain. */
  const page = <T>(items: T[], query: Record<string, string>, res: http.ServerResponse): T[] => {
    if (!paging || query.limit === undefined) return items;
    const limit = Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ApiError(400, 'InvalidArgument', 'limit must be between 1 and 1000');
    let offset = 0;
    if (query.continue !== undefined) {
      offset = Number(Buffer.from(query.continue, 'base64url').toString('utf8').replace(/^offset:/, ''));
      if (!Number.isInteger(offset) || offset < 0) throw new ApiError(400, 'InvalidArgument', 'invalid continue token');
    }
    const next = offset + limit;
    if (next < items.length) res.setHeader('ConfigHub-Continue', Buffer.from(`offset:${next}`).toString('base64url'));
    return items.slice(offset, next);
  };

  const route = (method: string, path: string, query: Record<string, string>, auth: string | undefined, res: http.ServerResponse): unknown => {
    if (failure !== undefined) throw new ApiError(failure, failure >= 500 ? 'Internal' : 'Error', `injected failure ${failure}`);
    if (method === 'GET' && path === '/api/info') return { Version: version ?? '0.8.0', OrganizationID: ORG_ID };
    const worker = /^\/api\/bridge_worker\/([^/]+)\/me$/.exec(path);
    if (method === 'GET' && worker) {
      const found = workers.find((w) => w.BridgeWorkerID === worker[1]);
      if (auth !== `Bearer ${token}` && !(found && auth === `Bearer ${found.Secret}`)) throw new ApiError(401, 'Unauthenticated', 'invalid credentials');
      if (!found) throw new ApiError(404, 'NotFound', `bridge worker ${worker[1]} not found`);
      const { Secret: _secret, ...visible } = found;
      return visible;
    }
    if (auth !== `Bearer ${token}`) throw new ApiError(401, 'Unauthenticated', 'invalid or missing token');
    if (method === 'GET' && path === '/api/space') {
      const slug = slugFilter(query.where);
      const matching = spaces.filter((s) => slug === undefined || s.Slug === slug);
      return page(matching, query, res).map((space) => ({
        Space: selectFields(space, query.select),
        TotalBridgeWorkerCount: workers.filter((w) => w.SpaceID === space.SpaceID).length,
      }));
    }
    const list = /^\/api\/space\/([^/]+)\/bridge_worker$/.exec(path);
    if (method === 'GET' && list) {
      const space = spaces.find((s) => s.SpaceID === list[1]);
      if (!space) throw new ApiError(404, 'NotFound', `space ${list[1]} not found`);
      const slug = slugFilter(query.where);
      const matching = workers.filter((w) => w.SpaceID === space.SpaceID && (slug === undefined || w.Slug === slug));
      return page(matching, query, res).map((w) => ({ BridgeWorker: selectFields(w, query.select), Space: space }));
    }
    throw new ApiError(404, 'NotFound', `no route for ${method} ${path}`);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const auth = req.headers.authorization;
    let status = 200;
    let body: string;
    if (url.pathname.startsWith('/api') && version !== null) res.setHeader('ConfigHub-Version', version);
    try {
      body = JSON.stringify(route(req.method ?? 'GET', url.pathname, query, auth, res));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status = err.status;
      res.removeHeader('ConfigHub-Continue');
      body = JSON.stringify({ Code: err.code, Message: err.message });
    }
    log.push({ method: req.method ?? '', path: url.pathname, query, ...(auth !== undefined ? { authorization: auth } : {}), status, body });
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    addSpace(slug) {
      const created = now();
      const space: FakeSpace = { SpaceID: randomUUID(), OrganizationID: ORG_ID, Slug: slug, DisplayName: slug, Labels: {}, CreatedAt: created, UpdatedAt: created };
      spaces.push(space);
      return space.SpaceID;
    },
    addWorker(spaceSlug, slug, state = {}) {
      const space = spaceBySlug(spaceSlug);
      const created = now();
      const worker: FakeBridgeWorker = {
        BridgeWorkerID: randomUUID(),
        OrganizationID: ORG_ID,
        SpaceID: space.SpaceID,
        Slug: slug,
        DisplayName: slug,
        Condition: state.condition ?? 'Ready',
        LastSeenAt: state.lastSeenAt ?? created,
        LastMessage: state.lastMessage ?? '',
        IPAddress: state.ipAddress ?? '',
        Secret: `ch_${randomBytes(16).toString('hex')}`,
        CreatedAt: created,
        UpdatedAt: created,
      };
      workers.push(worker);
      return worker;
    },
    setCondition(spaceSlug, workerSlug, condition, state = {}) {
      const worker = workerBySlug(spaceSlug, workerSlug);
      worker.Condition = condition;
      if (state.lastSeenAt !== undefined) worker.LastSeenAt = state.lastSeenAt;
      if (state.lastMessage !== undefined) worker.LastMessage = state.lastMessage;
      if (state.ipAddress !== undefined) worker.IPAddress = state.ipAddress;
      worker.UpdatedAt = now();
    },
    failWith(status) {
      failure = status;
    },
    requests: () => [...log],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
