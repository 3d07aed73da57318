/**
 * A protocol-faithful small Kubernetes apiserver: the sandbox behind `driftwatch demo`, and the
 * fake the tests use (test/support/fake-apiserver.ts re-exports it with a fresh certificate per
 * test). HTTPS (the embedded demo certificate unless `tls` is given), bearer-token auth (one token
 * per client, so a test can cut one replica off), JSON everywhere, errors as `kind: Status`, LIST
 * + WATCH with a global resourceVersion and a replayable history, three patch types, pod logs,
 * Leases, and a small rollout controller. The real @kubernetes/client-node talks to it.
 *
 * This file is the server: routing, auth, faults and the test-facing API. The parts live beside
 * it: kube-objects (model), object-store (storage, resourceVersion, history), selectors, patches,
 * watch-streams, object-writes (PATCH/POST/PUT/DELETE), leases (validation), rollout-controller
 * and pod-status (what controllers and the kubelet report), pod-logs, discovery, status, kubeconfig.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_CA_CERT, DEMO_SERVER_CERT, DEMO_SERVER_KEY } from './certs.js';
import { ClientFaults, DEFAULT_CLIENT, type FaultHook, type RequestInfo } from './client-faults.js';
import { discovery, route, type Route } from './discovery.js';
import { apiVersionOf, clone, type Json, type Kind, type KubeObject } from './kube-objects.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { ObjectStore } from './object-store.js';
import { acceptsWrites, handleCreate, handleDelete, handlePatch, handleReplace, type PatchRecord, type WriteContext } from './object-writes.js';
import { handleLogs, logKey, type LogsFor } from './pod-logs.js';
import { RolloutController } from './rollout-controller.js';
import { matchesFieldSelector, matchesLabels, parseLabelSelector } from './selectors.js';
import { send, sendNotFound, sendStatus } from './status.js';
import { WatchStreams } from './watch-streams.js';

export type { Json, Kind, KubeObject, WorkloadKind } from './kube-objects.js';
export type { PatchRecord } from './object-writes.js';
export { parseLabelSelector } from './selectors.js';
export { jsonPatch, mergePatch, strategicMergePatch } from './patches.js';
export { imageRepository } from './pod-status.js';
export type { FaultHook, RequestFault, RequestInfo } from './client-faults.js';

/** A request as the fake apiserver logged it: what a fault hook sees (`client` is `default` for the kubeconfig's own token). */
export type RequestRecord = RequestInfo;

export interface FakeApiserverOptions {
  /** When set, pending rollouts advance by themselves this many ms after they start. */
  autoAdvanceMs?: number;
  /** Nodes a DaemonSet schedules onto (one pod each). Default 1. */
  nodes?: number;
  /** The server's certificate and the CA that signed it. Default: the embedded demo-only loopback pair. */
  tls?: { ca: string; key: string; cert: string };
  /** Called after each PATCH was applied (or refused), with what was asked. */
  onPatch?: (patch: PatchRecord, status: number) => void;
  /**
   * Logs for a pod container nobody set with `setLogs`: how a sandbox gives every pod it creates
   * (restarts included) the log lines of the image it runs. Undefined: no such log.
   */
  logsFor?: LogsFor;
  /** Decides a fault for each request (see `setFault`). */
  fault?: FaultHook;
}

export interface SeedWorker {
  namespace?: string;
  name: string;
  image: string;
  digest?: string;
  replicas?: number;
}

export interface FakeApiserver {
  readonly url: string;
  readonly port: number;
  /** PEM of the CA that signed the server certificate. */
  readonly ca: string;
  readonly token: string;
  /** A kubeconfig YAML (caData, server URL, bearer token) whose current context is `context`; `client` picks the token (see `addClient`). */
  kubeconfig(context?: string, client?: string): string;
  /** The same kubeconfig written to a temp file (removed by close()); returns its path. */
  kubeconfigFile(context?: string, client?: string): string;
  /** A new client with its own bearer token (for `kubeconfig(context, client)`), so faults can target it. Returns the token. */
  addClient(client: string): string;
  upsert(obj: KubeObject): KubeObject;
  get(kind: Kind, namespace: string | undefined, name: string): KubeObject | undefined;
  list(kind: Kind, namespace?: string): KubeObject[];
  remove(kind: Kind, namespace: string | undefined, name: string): void;
  /** Merges `status` into the pod's status (top-level keys replaced), as the kubelet would report. */
  setPodStatus(namespace: string, name: string, status: Json): void;
  setLogs(namespace: string, pod: string, container: string, text: string, opts?: { previous?: boolean }): void;
  /** What the registry serves for `imageRef` (tag or repo): new pods report `repo@digest` as imageID. */
  setImageDigest(imageRef: string, digest: string): void;
  /** Pods running `image` never become Ready: they wait with `reason`. */
  failImage(image: string, reason: 'CrashLoopBackOff' | 'ImagePullBackOff' | 'ErrImagePull', message: string): void;
  healImage(image: string): void;
  /** Finishes every pending rollout (new pods Ready or failing, old pods gone). Returns how many. */
  advanceRollouts(): number;
  pendingRollouts(): number;
  patches(): PatchRecord[];
  requests(): RequestRecord[];
  /** Watch streams currently open. */
  openWatches(): number;
  /** Open watches get `ERROR 410 Gone` and end; older resourceVersions are compacted away. `http: true` answers the next watches with HTTP 410 instead. */
  expireWatches(opts?: { http?: boolean }): void;
  /** Ends every open watch stream cleanly. */
  endWatches(): void;
  /** Open watch streams stay open but never carry another byte; with `alsoNew`, new watch requests are never answered either. */
  silenceWatches(opts?: { alsoNew?: boolean }): void;
  resumeWatches(): void;
  /** Open watch streams receive garbage: a non-JSON line and a JSON line that is no watch event. */
  garbageWatch(): void;
  /** Every request touching `resource` (plural, e.g. "pods") gets 403 Forbidden. */
  forbid(resource: string): void;
  allow(resource: string): void;
  /** The apiserver disappears: the port refuses connections, open connections are cut. */
  stop(): Promise<void>;
  /** Comes back on the same port with the same state. */
  restart(): Promise<void>;
  close(): Promise<void>;
  /**
   * The apiserver becomes unreachable — for every client, or only `client`: with `hang` (or
   * `true`) requests are never answered and open watches go silent; with `reset` connections are
   * cut and new requests reset. `false` makes it reachable again (hung requests and silenced
   * watches are cut, so clients reconnect).
   */
  setUnreachable(mode: boolean | 'hang' | 'reset', opts?: { client?: string }): void;
  /** Sets (or with undefined, clears) the hook that may fault each request, e.g. by path. */
  setFault(hook: FaultHook | undefined): void;
  seedWorker(seed: SeedWorker): KubeObject;
}

export async function startFakeApiserver(options: FakeApiserverOptions = {}): Promise<FakeApiserver> {
  const tls = options.tls ?? { ca: DEMO_CA_CERT, key: DEMO_SERVER_KEY, cert: DEMO_SERVER_CERT };
  const token = `fake-token-${randomBytes(12).toString('hex')}`;

  const objects = new ObjectStore(token);
  const controller = new RolloutController(objects, { autoAdvanceMs: options.autoAdvanceMs, nodes: options.nodes });
  const watches = new WatchStreams(objects);
  const patchLog: PatchRecord[] = [];
  const writes: WriteContext = { objects, controller, patchLog };
  const requestLog: RequestRecord[] = [];
  const forbidden = new Set<string>();
  const logs = new Map<string, string>();
  const sockets = new Set<Socket>();
  const tempDirs: string[] = [];
  const faults = new ClientFaults(token, options.fault, (client) => (client === undefined ? watches.silence() : watches.silenceClient(client)));

  function verbFor(method: string, name: string | undefined, watch: boolean): string {
    if (method === 'PATCH') return 'patch';
    if (method === 'POST') return 'create';
    if (method === 'PUT') return 'update';
    if (method === 'DELETE') return 'delete';
    if (watch) return 'watch';
    return name ? 'get' : 'list';
  }

  function scopeText(namespace: string | undefined): string {
    return namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
  }

  function list(res: ServerResponse, r: Route, query: URLSearchParams) {
    const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
    const fieldSelector = query.get('fieldSelector') ?? undefined;
    const items = objects
      .all()
      .filter(
        (o) =>
          o.kind === r.resource.kind &&
          (!r.namespace || o.metadata.namespace === r.namespace) &&
          matchesLabels(o.metadata.labels, labels) &&
          matchesFieldSelector(o, fieldSelector),
      )
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
      // List items carry no kind/apiVersion, as the real apiserver sends them.
      .map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
    // Pages as the real apiserver does with `limit`: `continue` is the offset of the next page
    // (an opaque token to clients; the snapshot is the current one, which a fake may allow itself).
    const limit = Number(query.get('limit') ?? 0);
    const offset = Number(query.get('continue') ?? 0) || 0;
    const page = limit > 0 ? items.slice(offset, offset + limit) : items;
    const more = limit > 0 && offset + limit < items.length;
    send(res, 200, { kind: `${r.resource.kind}List`, apiVersion: apiVersionOf(r.resource), metadata: { resourceVersion: String(objects.rv), ...(more ? { continue: String(offset + limit) } : {}) }, items: page });
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', 'https://fake');
    const path = url.pathname;
    const query = url.searchParams;
    const method = req.method ?? 'GET';
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const client = faults.clientOf(bearer);
    const queryRecord = Object.fromEntries(query.entries());
    requestLog.push({ method, path, query: queryRecord, ...(client !== undefined ? { client } : {}) });
    faults.track(req.socket, client);
    if (faults.apply(req, res, { method, path, query: queryRecord, client })) return;

    if (client === undefined) {
      sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    const doc = method === 'GET' ? discovery(path) : undefined;
    if (doc) {
      send(res, 200, doc);
      return;
    }
    const r = route(path);
    if (!r) {
      sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    const watch = query.get('watch') === 'true' || query.get('watch') === '1';
    const verb = verbFor(method, r.name, watch);
    const resourceName = r.sub === 'log' ? 'pods/log' : r.resource.plural;
    if (forbidden.has(r.resource.plural) || forbidden.has(resourceName)) {
      const msg = `${r.resource.plural}${r.name ? ` "${r.name}"` : ''} is forbidden: User "system:serviceaccount:driftwatch:driftwatch" cannot ${verb} resource "${resourceName}" in API group "${r.resource.group}"${scopeText(r.namespace)}`;
      sendStatus(res, 403, 'Forbidden', msg, { ...(r.name ? { name: r.name } : {}), group: r.resource.group, kind: resourceName });
      return;
    }
    const name = r.name;
    if (method === 'PATCH' && name !== undefined && !r.sub) {
      const before = patchLog.length;
      handlePatch(writes, req, res, { ...r, name }, body);
      if (options.onPatch && patchLog.length > before) options.onPatch(clone(patchLog[patchLog.length - 1]!), res.statusCode);
      return;
    }
    if (!r.sub && acceptsWrites(r)) {
      if (method === 'POST' && name === undefined && r.namespace) return handleCreate(writes, res, r, body);
      if (method === 'PUT' && name !== undefined) return handleReplace(writes, res, { ...r, name }, body);
      if (method === 'DELETE' && name !== undefined) return handleDelete(writes, res, { ...r, name });
    }
    if (method !== 'GET') {
      sendStatus(res, 405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      return;
    }
    if (r.sub === 'log' && r.resource.kind === 'Pod' && r.namespace && name) {
      handleLogs(objects, logs, options.logsFor, res, r.namespace, name, query);
      return;
    }
    if (r.sub) {
      sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    if (name && !watch) {
      const obj = objects.peek(r.resource.kind, r.namespace, name);
      if (!obj) {
        sendNotFound(res, r.resource, name);
        return;
      }
      send(res, 200, obj);
      return;
    }
    if (watch) {
      watches.open(res, r, query, client);
      return;
    }
    list(res, r, query);
  }

  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        if (!res.headersSent) sendStatus(res, 500, 'InternalError', `fake apiserver: ${(err as Error).message}`);
        else res.destroy();
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // TLS handshakes cut by stop() are expected.
  server.on('tlsClientError', () => {});

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  let running = true;

  function cutEverything() {
    watches.forgetAll();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  }

  const kubeconfig = (context?: string, client = DEFAULT_CLIENT): string => {
    const clientToken = faults.tokenOf(client);
    if (!clientToken) throw new Error(`fake apiserver: no client ${client} (addClient first)`);
    return kubeconfigYaml(url, tls.ca, clientToken, context);
  };

  const api: FakeApiserver = {
    url,
    port,
    ca: tls.ca,
    token,
    kubeconfig,
    kubeconfigFile(context, client) {
      const dir = mkdtempSync(join(tmpdir(), 'fake-kubeconfig-'));
      tempDirs.push(dir);
      const file = join(dir, 'config');
      writeFileSync(file, kubeconfig(context, client), { mode: 0o600 });
      return file;
    },
    addClient: (client) => faults.addClient(client),
    upsert: (obj) => controller.upsert(obj),
    get: (kind, ns, name) => objects.get(kind, ns, name),
    list: (kind, ns) => objects.list(kind, ns),
    remove: (kind, ns, name) => controller.remove(kind, ns, name),
    setPodStatus(ns, name, status) {
      const pod = objects.peek('Pod', ns, name);
      if (!pod) throw new Error(`fake apiserver: no pod ${ns}/${name}`);
      const previous = clone(pod);
      pod.status = { ...(pod.status ?? {}), ...clone(status) };
      objects.write('MODIFIED', pod, previous);
    },
    setLogs(ns, pod, container, text, opts = {}) {
      logs.set(logKey(ns, pod, container, opts.previous ?? false), text);
    },
    setImageDigest(imageRef, digest) {
      controller.digests.set(imageRef, digest.startsWith('sha256:') ? digest : `sha256:${digest}`);
    },
    failImage(image, reason, message) {
      controller.failing.set(image, { reason, message });
    },
    healImage(image) {
      controller.failing.delete(image);
    },
    advanceRollouts: () => controller.advance(),
    pendingRollouts: () => controller.pendingCount,
    patches: () => clone(patchLog),
    requests: () => clone(requestLog),
    openWatches: () => watches.size,
    expireWatches: (opts = {}) => watches.expire(opts),
    endWatches: () => watches.endAll(),
    silenceWatches: (opts = {}) => watches.silence(opts),
    resumeWatches: () => watches.resume(),
    garbageWatch: () => watches.garbage(),
    forbid(resource) {
      forbidden.add(resource);
    },
    allow(resource) {
      forbidden.delete(resource);
    },
    setUnreachable: (mode, opts = {}) => faults.setUnreachable(mode, opts.client),
    setFault: (hook) => faults.setHook(hook),
    async stop() {
      if (!running) return;
      running = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      cutEverything();
      await closed;
    },
    async restart() {
      if (running) return;
      await listen(port);
      running = true;
    },
    async close() {
      controller.stop();
      if (running) await api.stop();
      for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    },
    seedWorker(seed) {
      const namespace = seed.namespace ?? 'confighub';
      if (seed.digest) api.setImageDigest(seed.image, seed.digest);
      const labels = { app: seed.name };
      return controller.upsert({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: seed.name, namespace, labels },
        spec: {
          replicas: seed.replicas ?? 1,
          selector: { matchLabels: labels },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
          progressDeadlineSeconds: 600,
          revisionHistoryLimit: 10,
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: seed.name,
              containers: [
                {
                  name: 'worker',
                  image: seed.image,
                  imagePullPolicy: 'Always',
                  env: [
                    { name: 'CONFIGHUB_WORKER_ID', valueFrom: { secretKeyRef: { name: `${seed.name}-secret`, key: 'CONFIGHUB_WORKER_ID' } } },
                    { name: 'CONFIGHUB_URL', value: 'https://hub.confighub.com' },
                  ],
                },
              ],
            },
          },
        },
      });
    },
  };
  return api;
}
