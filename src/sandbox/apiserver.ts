/**
 * A protocol-faithful small Kubernetes apiserver: the sandbox behind `driftwatch demo`, and the
 * fake the tests use (test/support/fake-apiserver.ts re-exports it with a fresh certificate per
 * test). HTTPS (the embedded demo certificate unless `tls` is given), bearer-token auth, JSON everywhere, errors as `kind: Status`, LIST + WATCH with a global
 * resourceVersion and a replayable history, three patch types, pod logs, and a small rollout
 * controller (ReplicaSet revisions, pods that start not-ready and become Ready on
 * `advanceRollouts()`, images that fail on purpose). The real @kubernetes/client-node talks to it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_CA_CERT, DEMO_SERVER_CERT, DEMO_SERVER_KEY } from './certs.js';

export type Json = any;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
    [key: string]: Json;
  };
  spec?: Json;
  status?: Json;
  [key: string]: Json;
}

export type WorkloadKind = 'Deployment' | 'DaemonSet' | 'StatefulSet';
export type Kind = WorkloadKind | 'ReplicaSet' | 'Pod' | 'Namespace';

export interface PatchRecord {
  /** Request path without the query, e.g. /apis/apps/v1/namespaces/confighub/deployments/w. */
  path: string;
  contentType: string;
  body: Json;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
}

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
  logsFor?: (pod: KubeObject, container: string, previous: boolean) => string | undefined;
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
  /** A kubeconfig YAML (caData, server URL, bearer token) whose current context is `context`. */
  kubeconfig(context?: string): string;
  /** The same kubeconfig written to a temp file (removed by close()); returns its path. */
  kubeconfigFile(context?: string): string;
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
  seedWorker(seed: SeedWorker): KubeObject;
}

/* ------------------------------------------------------------------------------------------ */
/* Resources                                                                                  */

interface ResourceInfo {
  kind: Kind;
  plural: string;
  group: '' | 'apps';
  version: 'v1';
  namespaced: boolean;
  shortNames?: string[];
}

const resources: ResourceInfo[] = [
  { kind: 'Namespace', plural: 'namespaces', group: '', version: 'v1', namespaced: false, shortNames: ['ns'] },
  { kind: 'Pod', plural: 'pods', group: '', version: 'v1', namespaced: true, shortNames: ['po'] },
  { kind: 'Deployment', plural: 'deployments', group: 'apps', version: 'v1', namespaced: true, shortNames: ['deploy'] },
  { kind: 'DaemonSet', plural: 'daemonsets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['ds'] },
  { kind: 'StatefulSet', plural: 'statefulsets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['sts'] },
  { kind: 'ReplicaSet', plural: 'replicasets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['rs'] },
];
const byKind = new Map(resources.map((r) => [r.kind, r]));
const apiVersionOf = (r: ResourceInfo): string => (r.group ? `${r.group}/${r.version}` : r.version);

function resourceOf(kind: string): ResourceInfo {
  const info = byKind.get(kind as Kind);
  if (!info) throw new Error(`fake apiserver: unsupported kind ${kind}`);
  return info;
}

/* ------------------------------------------------------------------------------------------ */
/* Pure helpers: selectors, patches                                                           */

type Requirement = { key: string; op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists'; values: string[] };

/** Parses a label selector (`a=b,c!=d,e in (x,y),!f,g`). */
export function parseLabelSelector(selector: string | undefined): Requirement[] {
  if (!selector) return [];
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts
    .map((p) => p.trim())
    .filter(Boolean)
    .map((part): Requirement => {
      let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
      if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) };
      m = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(part);
      if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
      if (part.startsWith('!')) return { key: part.slice(1).trim(), op: '!exists', values: [] };
      return { key: part, op: 'exists', values: [] };
    });
}

function matchesRequirements(labels: Record<string, string> | undefined, reqs: Requirement[]): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case '=':
        return has && l[r.key] === r.values[0];
      case '!=':
        return !has || l[r.key] !== r.values[0];
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
      case 'exists':
        return has;
      case '!exists':
        return !has;
    }
  });
}

/** Field selectors the apiserver supports for every kind: metadata.name and metadata.namespace. */
function matchesFieldSelector(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((part) => {
    const m = /^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) return false;
    const actual = m[1] === 'metadata.name' ? obj.metadata.name : m[1] === 'metadata.namespace' ? obj.metadata.namespace : undefined;
    return m[2] === '!=' ? actual !== m[3] : actual === m[3];
  });
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));
const isPlainObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch: objects merge, null deletes, arrays replace. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, Json> = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** Merge keys of the lists strategic merge patch merges instead of replacing (core/v1 + apps/v1). */
const strategicMergeKeys: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
};

/** Strategic merge patch as the apiserver applies it for built-in kinds (the common directives). */
export function strategicMergePatch(target: Json, patch: Json, field?: string): Json {
  if (Array.isArray(patch)) {
    const mergeKey = field ? strategicMergeKeys[field] : undefined;
    if (!mergeKey || !Array.isArray(target)) return clone(patch.filter((p) => !(isPlainObject(p) && p.$patch === 'delete')));
    const out: Json[] = clone(target);
    for (const item of patch) {
      if (!isPlainObject(item)) continue;
      const index = out.findIndex((existing) => isPlainObject(existing) && existing[mergeKey] === item[mergeKey]);
      if (item.$patch === 'delete') {
        if (index >= 0) out.splice(index, 1);
      } else if (index >= 0) out[index] = strategicMergePatch(out[index], item);
      else out.push(strategicMergePatch({}, item));
    }
    return out;
  }
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return clone(rest);
  }
  const out: Record<string, Json> = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$setElementOrder/') || key === '$retainKeys' || key === '$patch') continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const list = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[list]) && Array.isArray(value)) out[list] = out[list].filter((v: Json) => !value.includes(v));
      continue;
    }
    if (value === null) delete out[key];
    else out[key] = strategicMergePatch(out[key], value, key);
  }
  return out;
}

class PatchError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch', 400);
  let doc = clone(target);
  const parse = (pointer: string): string[] =>
    pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parentOf = (path: string[]): { parent: Json; key: string } => {
    let node = doc;
    for (const seg of path.slice(0, -1)) {
      node = Array.isArray(node) ? node[Number(seg)] : node?.[seg];
      if (node === undefined || node === null) throw new PatchError(`doc is missing path: "/${path.join('/')}": missing value`, 422);
    }
    return { parent: node, key: path[path.length - 1]! };
  };
  const read = (path: string[]): Json => {
    let node = doc;
    for (const seg of path) {
      node = Array.isArray(node) ? node[Number(seg)] : node?.[seg];
      if (node === undefined) throw new PatchError(`doc is missing path: "/${path.join('/')}": missing value`, 422);
    }
    return node;
  };
  const add = (path: string[], value: Json) => {
    if (path.length === 0) {
      doc = clone(value);
      return;
    }
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, clone(value));
    else parent[key] = clone(value);
  };
  const remove = (path: string[]) => {
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else if (key in parent) delete parent[key];
    else throw new PatchError(`doc is missing path: "/${path.join('/')}": missing value`, 422);
  };
  for (const op of ops) {
    const path = parse(String(op.path ?? ''));
    switch (op.op) {
      case 'add':
        add(path, op.value);
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        read(path);
        if (path.length === 0) doc = clone(op.value);
        else {
          const { parent, key } = parentOf(path);
          if (Array.isArray(parent)) parent[Number(key)] = clone(op.value);
          else parent[key] = clone(op.value);
        }
        break;
      case 'move': {
        const from = parse(String(op.from));
        const value = read(from);
        remove(from);
        add(path, value);
        break;
      }
      case 'copy':
        add(path, read(parse(String(op.from))));
        break;
      case 'test':
        if (JSON.stringify(read(path)) !== JSON.stringify(op.value)) throw new PatchError('testing value failed', 422);
        break;
      default:
        throw new PatchError(`Unexpected kind: ${String(op.op)}`, 400);
    }
  }
  return doc;
}

/** Splits an image reference into the repository (no tag, no digest) kubelet puts before `@` in imageID. */
export function imageRepository(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const repo = colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
  const first = repo.split('/')[0]!;
  const hasRegistry = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return repo;
  return repo.includes('/') ? `docker.io/${repo}` : `docker.io/library/${repo}`;
}

/* ------------------------------------------------------------------------------------------ */
/* The server                                                                                 */

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  previous?: KubeObject;
}

interface WatchStream {
  res: ServerResponse;
  resource: ResourceInfo;
  namespace?: string;
  labels: Requirement[];
  fieldSelector?: string;
  silent: boolean;
  timer?: NodeJS.Timeout;
}

interface PendingRollout {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** Pods of the new revision, created not-ready. */
  newPods: string[];
  /** Pods of older revisions, deleted when the rollout succeeds. */
  oldPods: string[];
  timer?: NodeJS.Timeout;
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

export async function startFakeApiserver(options: FakeApiserverOptions = {}): Promise<FakeApiserver> {
  const tls = options.tls ?? { ca: DEMO_CA_CERT, key: DEMO_SERVER_KEY, cert: DEMO_SERVER_CERT };
  const caPem = { cert: tls.ca };
  const serverPem = { key: tls.key, cert: tls.cert };
  const token = `fake-token-${randomBytes(12).toString('hex')}`;
  const nodeCount = options.nodes ?? 1;

  const objects = new Map<string, KubeObject>();
  const history: HistoryEntry[] = [];
  let rv = 1;
  /** Watches from a resourceVersion below this get 410 Gone (history compacted). */
  let compactedBelow = 0;
  let httpGoneOnce = false;
  let holdNewWatches = false;
  const heldRequests = new Set<ServerResponse>();
  const streams = new Set<WatchStream>();
  const sockets = new Set<Socket>();
  const patchLog: PatchRecord[] = [];
  const requestLog: RequestRecord[] = [];
  const forbidden = new Set<string>();
  const digests = new Map<string, string>();
  const failing = new Map<string, { reason: string; message: string }>();
  const logs = new Map<string, string>();
  const pending = new Map<string, PendingRollout>();
  const tempDirs: string[] = [];
  let nameCounter = 0;
  let uidCounter = 0;

  const key = (kind: string, ns: string | undefined, name: string) => `${kind}/${ns ?? ''}/${name}`;
  const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const newUid = () => {
    uidCounter++;
    const hex = createHash('sha256').update(`uid-${uidCounter}-${token}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
  const suffix = (length: number) => {
    nameCounter++;
    const h = createHash('sha256').update(`name-${nameCounter}`).digest();
    let s = '';
    for (let i = 0; i < length; i++) s += nameAlphabet[h[i]! % nameAlphabet.length];
    return s;
  };
  const templateHash = (template: Json) => {
    const h = createHash('sha256').update(JSON.stringify(template ?? {})).digest();
    let s = '';
    for (let i = 0; i < 10; i++) s += nameAlphabet[h[i]! % nameAlphabet.length];
    return s;
  };

  /* ---------------- storage and events ---------------- */

  function write(type: HistoryEntry['type'], obj: KubeObject, previous?: KubeObject): KubeObject {
    rv++;
    obj.metadata.resourceVersion = String(rv);
    const k = key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') objects.delete(k);
    else objects.set(k, obj);
    const entry: HistoryEntry = { rv, type, object: clone(obj), previous: previous && clone(previous) };
    history.push(entry);
    for (const stream of streams) deliver(stream, entry);
    return clone(obj);
  }

  function ensureNamespace(ns: string | undefined) {
    if (!ns || objects.has(key('Namespace', undefined, ns))) return;
    write('ADDED', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, uid: newUid(), creationTimestamp: now(), labels: { 'kubernetes.io/metadata.name': ns } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  function store(obj: KubeObject): KubeObject {
    const info = resourceOf(obj.kind);
    const next = clone(obj);
    next.apiVersion = apiVersionOf(info);
    if (!info.namespaced) delete next.metadata.namespace;
    else next.metadata.namespace ??= 'default';
    ensureNamespace(next.metadata.namespace);
    const k = key(next.kind, next.metadata.namespace, next.metadata.name);
    const previous = objects.get(k);
    next.metadata.uid = previous?.metadata.uid ?? next.metadata.uid ?? newUid();
    next.metadata.creationTimestamp = previous?.metadata.creationTimestamp ?? next.metadata.creationTimestamp ?? now();
    if (info.group === 'apps' && info.kind !== 'ReplicaSet') {
      const specChanged = JSON.stringify(previous?.spec) !== JSON.stringify(next.spec);
      next.metadata.generation = previous ? (previous.metadata.generation ?? 1) + (specChanged ? 1 : 0) : (next.metadata.generation ?? 1);
    }
    return write(previous ? 'MODIFIED' : 'ADDED', next, previous);
  }

  /* ---------------- watch streams ---------------- */

  function wants(stream: WatchStream, obj: KubeObject | undefined): boolean {
    if (!obj || obj.kind !== stream.resource.kind) return false;
    if (stream.namespace && obj.metadata.namespace !== stream.namespace) return false;
    return matchesRequirements(obj.metadata.labels, stream.labels) && matchesFieldSelector(obj, stream.fieldSelector);
  }

  /** An object entering or leaving a filtered watch shows up as ADDED or DELETED, as the real apiserver does. */
  function eventFor(stream: WatchStream, entry: HistoryEntry): { type: string; object: KubeObject } | undefined {
    const now = wants(stream, entry.object);
    if (entry.type === 'DELETED') return now ? { type: 'DELETED', object: entry.object } : undefined;
    const before = entry.type === 'MODIFIED' && wants(stream, entry.previous);
    if (now && before) return { type: 'MODIFIED', object: entry.object };
    if (now) return { type: 'ADDED', object: entry.object };
    if (before) return { type: 'DELETED', object: entry.object };
    return undefined;
  }

  function deliver(stream: WatchStream, entry: HistoryEntry) {
    if (stream.silent) return;
    const event = eventFor(stream, entry);
    if (event) stream.res.write(`${JSON.stringify(event)}\n`);
  }

  function endStream(stream: WatchStream) {
    clearTimeout(stream.timer);
    streams.delete(stream);
    if (!stream.res.writableEnded) stream.res.end();
  }

  /* ---------------- rollout controller ---------------- */

  function podsOwnedBy(ns: string, ownerUid: string): KubeObject[] {
    return [...objects.values()].filter(
      (o) => o.kind === 'Pod' && o.metadata.namespace === ns && o.metadata.ownerReferences?.some((r) => r.uid === ownerUid),
    );
  }

  function replicaSetsOf(deploy: KubeObject): KubeObject[] {
    return [...objects.values()].filter(
      (o) =>
        o.kind === 'ReplicaSet' &&
        o.metadata.namespace === deploy.metadata.namespace &&
        o.metadata.ownerReferences?.some((r) => r.uid === deploy.metadata.uid),
    );
  }

  function imageIdFor(image: string): string {
    if (image.includes('@sha256:')) return image.includes('/') || image.includes('.') ? `${imageRepository(image)}@${image.split('@')[1]}` : image;
    const digest =
      digests.get(image) ?? digests.get(imageRepository(image)) ?? `sha256:${createHash('sha256').update(image).digest('hex')}`;
    return `${imageRepository(image)}@${digest}`;
  }

  function containerStatus(container: Json, phase: 'starting' | 'running', startedAt: string): Json {
    const failure = failing.get(container.image);
    const base = { name: container.name, image: container.image, restartCount: 0 };
    if (phase === 'starting') {
      return { ...base, imageID: '', ready: false, started: false, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} };
    }
    if (failure) {
      const pulled = failure.reason === 'CrashLoopBackOff';
      return {
        ...base,
        imageID: pulled ? imageIdFor(container.image) : '',
        ready: false,
        started: false,
        restartCount: pulled ? 5 : 0,
        state: { waiting: { reason: failure.reason, message: failure.message } },
        lastState: pulled
          ? { terminated: { exitCode: 1, reason: 'Error', startedAt, finishedAt: startedAt, containerID: `containerd://${suffix(12)}` } }
          : {},
      };
    }
    return {
      ...base,
      imageID: imageIdFor(container.image),
      containerID: `containerd://${createHash('sha256').update(`${container.name}-${suffix(8)}`).digest('hex')}`,
      ready: true,
      started: true,
      state: { running: { startedAt } },
      lastState: {},
    };
  }

  function podStatus(template: Json, phase: 'starting' | 'running', startedAt: string): Json {
    const statuses = (template.spec?.containers ?? []).map((c: Json) => containerStatus(c, phase, startedAt));
    const ready = phase === 'running' && statuses.every((s: Json) => s.ready);
    const notReady = statuses.filter((s: Json) => !s.ready).map((s: Json) => s.name);
    return {
      phase: phase === 'starting' || statuses.some((s: Json) => s.state.waiting?.reason === 'ImagePullBackOff' || s.state.waiting?.reason === 'ErrImagePull') ? 'Pending' : 'Running',
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          lastTransitionTime: startedAt,
          ...(ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${notReady.join(' ')}]` }),
        },
        {
          type: 'ContainersReady',
          status: ready ? 'True' : 'False',
          lastTransitionTime: startedAt,
          ...(ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${notReady.join(' ')}]` }),
        },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: startedAt },
      ],
      hostIP: '10.0.0.10',
      podIP: `10.244.0.${(nameCounter % 250) + 2}`,
      startTime: startedAt,
      containerStatuses: statuses,
      qosClass: 'BestEffort',
    };
  }

  function createPod(ns: string, name: string, template: Json, owner: KubeObject, extraLabels: Record<string, string>, phase: 'starting' | 'running'): string {
    const startedAt = now();
    store({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        labels: { ...(template.metadata?.labels ?? {}), ...extraLabels },
        annotations: { ...(template.metadata?.annotations ?? {}) },
        ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid!, controller: true }],
      },
      spec: { ...clone(template.spec ?? {}), nodeName: 'fake-node-1', restartPolicy: 'Always' },
      status: podStatus(template, phase, startedAt),
    });
    return name;
  }

  function desiredReplicas(workload: KubeObject): number {
    if (workload.kind === 'DaemonSet') return nodeCount;
    return workload.spec?.replicas ?? 1;
  }

  /**
   * Called after a workload is stored: when its pod template differs from what its pods run,
   * start a rollout — immediately settled for a workload's first revision, pending otherwise.
   */
  function reconcile(kind: WorkloadKind, ns: string, name: string, firstRevision: boolean) {
    const workload = objects.get(key(kind, ns, name));
    if (!workload) return;
    const template = workload.spec?.template ?? {};
    const hash = templateHash(template);
    const replicas = desiredReplicas(workload);
    const existingPending = pending.get(key(kind, ns, name));
    if (existingPending) {
      clearTimeout(existingPending.timer);
      pending.delete(key(kind, ns, name));
    }

    let owner: KubeObject = workload;
    let podLabels: Record<string, string> = {};
    let podName: (i: number) => string = () => `${name}-${suffix(5)}`;
    const allPods = () => {
      if (kind !== 'Deployment') return podsOwnedBy(ns, workload.metadata.uid!);
      return replicaSetsOf(workload).flatMap((rs) => podsOwnedBy(ns, rs.metadata.uid!));
    };
    const current = allPods().filter((p) => p.metadata.labels?.['pod-template-hash'] === hash || p.metadata.labels?.['controller-revision-hash'] === `${name}-${hash}`);
    if (current.length >= replicas && !existingPending) return; // nothing changed for the pods

    if (kind === 'Deployment') {
      const sets = replicaSetsOf(workload);
      const maxRevision = Math.max(0, ...sets.map((rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0)));
      let rs = sets.find((s) => s.metadata.labels?.['pod-template-hash'] === hash);
      const revision = rs && Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision']) === maxRevision ? maxRevision : maxRevision + 1;
      const rsTemplate = clone(template);
      rsTemplate.metadata = { ...(rsTemplate.metadata ?? {}), labels: { ...(rsTemplate.metadata?.labels ?? {}), 'pod-template-hash': hash } };
      rs = store({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace: ns,
          labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash },
          annotations: {
            'deployment.kubernetes.io/desired-replicas': String(replicas),
            'deployment.kubernetes.io/max-replicas': String(replicas + 1),
            'deployment.kubernetes.io/revision': String(revision),
          },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: workload.metadata.uid!, controller: true }],
        },
        spec: {
          replicas,
          selector: { matchLabels: { ...(workload.spec?.selector?.matchLabels ?? {}), 'pod-template-hash': hash } },
          template: rsTemplate,
        },
        status: { replicas: 0, observedGeneration: 1 },
      });
      owner = rs;
      podLabels = { 'pod-template-hash': hash };
      podName = () => `${rs!.metadata.name}-${suffix(5)}`;
      // The deployment carries the revision of its newest ReplicaSet.
      const fresh = objects.get(key(kind, ns, name))!;
      const before = clone(fresh);
      fresh.metadata.annotations = { ...(fresh.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(revision) };
      write('MODIFIED', fresh, before);
    } else if (kind === 'StatefulSet') {
      podLabels = { 'controller-revision-hash': `${name}-${hash}` };
      podName = (i) => `${name}-${i}`;
    } else {
      podLabels = { 'controller-revision-hash': hash, 'pod-template-generation': String(workload.metadata.generation ?? 1) };
    }

    const oldPods = allPods()
      .filter((p) => !current.includes(p))
      .map((p) => p.metadata.name);
    const newPods: string[] = current.map((p) => p.metadata.name);
    const phase = firstRevision ? 'running' : 'starting';
    if (kind === 'DaemonSet') {
      // One pod per node and no surge: the old pod goes before its replacement starts.
      for (const podName of oldPods.splice(0)) remove('Pod', ns, podName);
    }
    for (let i = current.length; i < replicas; i++) {
      const podNameI = podName(i);
      if (kind === 'StatefulSet' && objects.has(key('Pod', ns, podNameI))) {
        // StatefulSet pods keep their names: the old pod goes, the new one takes its place.
        remove('Pod', ns, podNameI);
        const j = oldPods.indexOf(podNameI);
        if (j >= 0) oldPods.splice(j, 1);
      }
      newPods.push(createPod(ns, podNameI, template, owner, podLabels, phase));
    }
    const rollout: PendingRollout = { kind, namespace: ns, name, newPods, oldPods };
    if (firstRevision) {
      finishRollout(rollout);
      return;
    }
    pending.set(key(kind, ns, name), rollout);
    updateWorkloadStatus(kind, ns, name, { progressing: true });
    if (options.autoAdvanceMs !== undefined) {
      rollout.timer = setTimeout(() => {
        if (pending.get(key(kind, ns, name)) === rollout) {
          pending.delete(key(kind, ns, name));
          finishRollout(rollout);
        }
      }, options.autoAdvanceMs);
    }
  }

  function finishRollout(rollout: PendingRollout) {
    const { kind, namespace: ns, name } = rollout;
    const workload = objects.get(key(kind, ns, name));
    if (!workload) return;
    const template = workload.spec?.template ?? {};
    let failed = false;
    for (const podName of rollout.newPods) {
      const pod = objects.get(key('Pod', ns, podName));
      if (!pod) continue;
      const before = clone(pod);
      pod.status = podStatus(template, 'running', now());
      if (pod.status.conditions.find((c: Json) => c.type === 'Ready')?.status !== 'True') failed = true;
      write('MODIFIED', pod, before);
    }
    // Old pods go only when the new ones are Ready (maxUnavailable 0: a failing rollout keeps them).
    if (!failed) for (const podName of rollout.oldPods) remove('Pod', ns, podName);
    if (kind === 'Deployment' && !failed) {
      for (const rs of replicaSetsOf(workload)) {
        const isNew = rs.metadata.labels?.['pod-template-hash'] === templateHash(template);
        const replicas = isNew ? desiredReplicas(workload) : 0;
        if (rs.spec.replicas !== replicas || rs.status?.replicas !== replicas) {
          const prev = clone(rs);
          rs.spec.replicas = replicas;
          rs.status = { replicas, readyReplicas: replicas, availableReplicas: replicas, fullyLabeledReplicas: replicas, observedGeneration: 1 };
          write('MODIFIED', rs, prev);
        }
      }
    }
    updateWorkloadStatus(kind, ns, name, { progressing: false, failed });
  }

  function updateWorkloadStatus(kind: WorkloadKind, ns: string, name: string, state: { progressing: boolean; failed?: boolean }) {
    const workload = objects.get(key(kind, ns, name));
    if (!workload) return;
    const previous = clone(workload);
    const hash = templateHash(workload.spec?.template ?? {});
    const pods =
      kind === 'Deployment'
        ? replicaSetsOf(workload).flatMap((rs) => podsOwnedBy(ns, rs.metadata.uid!))
        : podsOwnedBy(ns, workload.metadata.uid!);
    const isUpdated = (p: KubeObject) =>
      p.metadata.labels?.['pod-template-hash'] === hash ||
      p.metadata.labels?.['controller-revision-hash'] === hash ||
      p.metadata.labels?.['controller-revision-hash'] === `${name}-${hash}`;
    const isReady = (p: KubeObject) => p.status?.conditions?.some((c: Json) => c.type === 'Ready' && c.status === 'True');
    const total = pods.length;
    const updated = pods.filter(isUpdated).length;
    const ready = pods.filter(isReady).length;
    const desired = desiredReplicas(workload);
    const t = now();
    const generation = workload.metadata.generation ?? 1;
    if (kind === 'Deployment') {
      const rsName = `${name}-${hash}`;
      const progressing = state.failed
        ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` }
        : state.progressing
          ? { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` }
          : { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` };
      workload.status = {
        observedGeneration: generation,
        replicas: total,
        updatedReplicas: updated,
        readyReplicas: ready,
        availableReplicas: ready,
        ...(total - ready > 0 ? { unavailableReplicas: total - ready } : {}),
        conditions: [
          ready >= desired
            ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: t, lastTransitionTime: t }
            : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: t, lastTransitionTime: t },
          { ...progressing, lastUpdateTime: t, lastTransitionTime: t },
        ],
      };
    } else if (kind === 'DaemonSet') {
      workload.status = {
        observedGeneration: generation,
        desiredNumberScheduled: desired,
        currentNumberScheduled: total,
        updatedNumberScheduled: updated,
        numberReady: ready,
        numberAvailable: ready,
        ...(total - ready > 0 ? { numberUnavailable: total - ready } : {}),
        numberMisscheduled: 0,
      };
    } else {
      workload.status = {
        observedGeneration: generation,
        replicas: total,
        readyReplicas: ready,
        availableReplicas: ready,
        currentReplicas: state.progressing || state.failed ? total - updated : total,
        updatedReplicas: updated,
        currentRevision: state.progressing || state.failed ? previous.status?.currentRevision ?? `${name}-${hash}` : `${name}-${hash}`,
        updateRevision: `${name}-${hash}`,
      };
    }
    write('MODIFIED', workload, previous);
  }

  function remove(kind: Kind, ns: string | undefined, name: string) {
    const k = key(kind, byKind.get(kind)?.namespaced ? ns : undefined, name);
    const existing = objects.get(k);
    if (!existing) return;
    write('DELETED', clone(existing));
    if (kind === 'Deployment' || kind === 'DaemonSet' || kind === 'StatefulSet') {
      pending.delete(k);
      const owned = kind === 'Deployment' ? replicaSetsOf(existing) : [];
      for (const rs of owned) {
        for (const pod of podsOwnedBy(rs.metadata.namespace!, rs.metadata.uid!)) remove('Pod', pod.metadata.namespace, pod.metadata.name);
        remove('ReplicaSet', rs.metadata.namespace, rs.metadata.name);
      }
      for (const pod of podsOwnedBy(ns!, existing.metadata.uid!)) remove('Pod', pod.metadata.namespace, pod.metadata.name);
    }
  }

  function upsert(obj: KubeObject): KubeObject {
    const info = resourceOf(obj.kind);
    const ns = info.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const existed = objects.has(key(obj.kind, ns, obj.metadata.name));
    const stored = store(obj);
    if (obj.kind === 'Deployment' || obj.kind === 'DaemonSet' || obj.kind === 'StatefulSet') {
      reconcile(obj.kind, ns!, obj.metadata.name, !existed);
      return clone(objects.get(key(obj.kind, ns, obj.metadata.name))!);
    }
    return stored;
  }

  /* ---------------- HTTP ---------------- */

  function send(res: ServerResponse, code: number, body: Json) {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function sendStatus(res: ServerResponse, code: number, reason: string, message: string, details?: Json) {
    send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
  }

  const statusReasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    405: 'MethodNotAllowed',
    410: 'Expired',
    415: 'UnsupportedMediaType',
    422: 'Invalid',
  };

  function discovery(path: string): Json | undefined {
    if (path === '/version' || path === '/version/') {
      return { major: '1', minor: '31', gitVersion: 'v1.31.0-fake', gitCommit: 'fake', gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.22.0', compiler: 'gc', platform: 'linux/amd64' };
    }
    if (path === '/api' || path === '/api/') {
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] };
    }
    if (path === '/apis' || path === '/apis/') {
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [{ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } }],
      };
    }
    const groupVersion = path === '/api/v1' ? 'v1' : path === '/apis/apps/v1' ? 'apps/v1' : undefined;
    if (!groupVersion) return undefined;
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion,
      resources: resources
        .filter((r) => apiVersionOf(r) === groupVersion)
        .flatMap((r) => [
          { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'list', 'watch', 'patch', 'create', 'update', 'delete'], shortNames: r.shortNames },
          ...(r.kind === 'Pod' ? [{ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] }] : []),
        ]),
    };
  }

  /** Parses `/api/v1/...` and `/apis/apps/v1/...` into a resource, namespace, name and subresource. */
  function route(path: string):
    | { resource: ResourceInfo; namespace?: string; name?: string; sub?: string }
    | undefined {
    const m = /^\/(?:api\/v1|apis\/(apps)\/v1)\/(.+)$/.exec(path);
    if (!m) return undefined;
    const group = m[1] ?? '';
    const segs = m[2]!.split('/').filter(Boolean).map(decodeURIComponent);
    let namespace: string | undefined;
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      namespace = segs[1];
      segs.splice(0, 2);
    }
    const resource = resources.find((r) => r.plural === segs[0] && r.group === group);
    if (!resource) return undefined;
    if (segs.length > 3) return undefined;
    if (namespace && !resource.namespaced) return undefined;
    return { resource, namespace, name: segs[1], sub: segs[2] };
  }

  function verbFor(method: string, name: string | undefined, watch: boolean): string {
    if (method === 'PATCH') return 'patch';
    if (watch) return 'watch';
    return name ? 'get' : 'list';
  }

  function scopeText(namespace: string | undefined): string {
    return namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
  }

  function handleWatch(res: ServerResponse, r: { resource: ResourceInfo; namespace?: string }, query: URLSearchParams) {
    if (holdNewWatches) {
      heldRequests.add(res);
      res.on('close', () => heldRequests.delete(res));
      return; // never answered, not even headers
    }
    if (httpGoneOnce) {
      httpGoneOnce = false;
      sendStatus(res, 410, 'Expired', 'too old resource version');
      return;
    }
    const stream: WatchStream = {
      res,
      resource: r.resource,
      namespace: r.namespace,
      labels: parseLabelSelector(query.get('labelSelector') ?? undefined),
      fieldSelector: query.get('fieldSelector') ?? undefined,
      silent: false,
    };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const fromRv = query.get('resourceVersion');
    if (fromRv && fromRv !== '0' && Number(fromRv) < compactedBelow) {
      const gone = { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${fromRv} (${compactedBelow})`, reason: 'Expired', code: 410 } };
      res.end(`${JSON.stringify(gone)}\n`);
      return;
    }
    streams.add(stream);
    res.on('close', () => endStream(stream));
    if (!fromRv || fromRv === '0') {
      for (const obj of objects.values()) if (wants(stream, obj)) res.write(`${JSON.stringify({ type: 'ADDED', object: obj })}\n`);
    } else {
      for (const entry of history) if (entry.rv > Number(fromRv)) deliver(stream, entry);
    }
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
    if (timeoutSeconds > 0) stream.timer = setTimeout(() => endStream(stream), timeoutSeconds * 1000);
  }

  function handlePatch(req: IncomingMessage, res: ServerResponse, r: { resource: ResourceInfo; namespace?: string; name?: string }, body: string) {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    let parsed: Json;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = body;
    }
    patchLog.push({ path, contentType, body: parsed });
    const kinds = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
    if (!kinds.includes(contentType)) {
      sendStatus(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${kinds.join(', ')}`);
      return;
    }
    const existing = objects.get(key(r.resource.kind, r.namespace, r.name!));
    if (!existing) {
      sendStatus(res, 404, 'NotFound', `${r.resource.plural}${r.resource.group ? `.${r.resource.group}` : ''} "${r.name}" not found`, { name: r.name, group: r.resource.group, kind: r.resource.plural });
      return;
    }
    if (typeof parsed === 'string') {
      sendStatus(res, 400, 'BadRequest', `error decoding patch: invalid character in ${contentType} body`);
      return;
    }
    let next: KubeObject;
    try {
      next =
        contentType === 'application/json-patch+json'
          ? jsonPatch(existing, parsed)
          : contentType === 'application/merge-patch+json'
            ? mergePatch(existing, parsed)
            : strategicMergePatch(existing, parsed);
    } catch (err) {
      const code = err instanceof PatchError ? err.code : 500;
      sendStatus(res, code, statusReasons[code] ?? 'InternalError', (err as Error).message);
      return;
    }
    // Identity and bookkeeping fields are the server's, whatever the patch said.
    next.kind = existing.kind;
    next.apiVersion = existing.apiVersion;
    next.metadata = { ...next.metadata, name: existing.metadata.name, namespace: existing.metadata.namespace, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp };
    const templateChanged = JSON.stringify(existing.spec?.template) !== JSON.stringify(next.spec?.template);
    const kind = r.resource.kind;
    store(next);
    if ((kind === 'Deployment' || kind === 'DaemonSet' || kind === 'StatefulSet') && templateChanged) reconcile(kind, r.namespace!, r.name!, false);
    send(res, 200, objects.get(key(kind, r.namespace, r.name!)));
  }

  function handleLogs(res: ServerResponse, ns: string, podName: string, query: URLSearchParams) {
    const pod = objects.get(key('Pod', ns, podName));
    if (!pod) {
      sendStatus(res, 404, 'NotFound', `pods "${podName}" not found`, { name: podName, kind: 'pods' });
      return;
    }
    const containers: string[] = (pod.spec?.containers ?? []).map((c: Json) => c.name);
    let container = query.get('container') ?? undefined;
    if (!container) {
      if (containers.length !== 1) {
        sendStatus(res, 400, 'BadRequest', `a container name must be specified for pod ${podName}, choose one of: [${containers.join(' ')}]`);
        return;
      }
      container = containers[0]!;
    }
    if (!containers.includes(container)) {
      sendStatus(res, 400, 'BadRequest', `container ${container} is not valid for pod ${podName}`);
      return;
    }
    const previous = query.get('previous') === 'true';
    let text = logs.get(`${ns}/${podName}/${container}/${previous ? 'previous' : 'current'}`) ?? options.logsFor?.(clone(pod), container, previous);
    if (text === undefined) {
      if (previous) {
        sendStatus(res, 400, 'BadRequest', `previous terminated container "${container}" in pod "${podName}" not found`);
        return;
      }
      text = '';
    }
    const tail = query.get('tailLines');
    if (tail !== null) {
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      const n = Math.max(0, Number(tail));
      text = lines.slice(Math.max(0, lines.length - n)).map((l) => `${l}\n`).join('');
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', 'https://fake');
    const path = url.pathname;
    const query = url.searchParams;
    const method = req.method ?? 'GET';
    requestLog.push({ method, path, query: Object.fromEntries(query.entries()) });

    if (req.headers.authorization !== `Bearer ${token}`) {
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
    if (method === 'PATCH' && r.name && !r.sub) {
      const before = patchLog.length;
      handlePatch(req, res, r, body);
      if (options.onPatch && patchLog.length > before) options.onPatch(clone(patchLog[patchLog.length - 1]!), res.statusCode);
      return;
    }
    if (method !== 'GET') {
      sendStatus(res, 405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      return;
    }
    if (r.sub === 'log' && r.resource.kind === 'Pod' && r.namespace && r.name) {
      handleLogs(res, r.namespace, r.name, query);
      return;
    }
    if (r.sub) {
      sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    if (r.name && !watch) {
      const obj = objects.get(key(r.resource.kind, r.namespace, r.name));
      if (!obj) {
        sendStatus(res, 404, 'NotFound', `${r.resource.plural}${r.resource.group ? `.${r.resource.group}` : ''} "${r.name}" not found`, { name: r.name, group: r.resource.group, kind: r.resource.plural });
        return;
      }
      send(res, 200, obj);
      return;
    }
    if (watch) {
      handleWatch(res, r, query);
      return;
    }
    const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
    const fieldSelector = query.get('fieldSelector') ?? undefined;
    const items = [...objects.values()]
      .filter(
        (o) =>
          o.kind === r.resource.kind &&
          (!r.namespace || o.metadata.namespace === r.namespace) &&
          matchesRequirements(o.metadata.labels, labels) &&
          matchesFieldSelector(o, fieldSelector),
      )
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
      // List items carry no kind/apiVersion, as the real apiserver sends them.
      .map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
    send(res, 200, { kind: `${r.resource.kind}List`, apiVersion: apiVersionOf(r.resource), metadata: { resourceVersion: String(rv) }, items });
  }

  const server: Server = createServer({ key: serverPem.key, cert: serverPem.cert }, (req, res) => {
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
    for (const stream of [...streams]) {
      clearTimeout(stream.timer);
      streams.delete(stream);
    }
    heldRequests.clear();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  }

  function kubeconfig(context = 'fake'): string {
    const caData = Buffer.from(caPem.cert).toString('base64');
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake-cluster',
      '  cluster:',
      `    server: ${url}`,
      `    certificate-authority-data: ${caData}`,
      'users:',
      '- name: fake-user',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      `- name: ${JSON.stringify(context)}`,
      '  context:',
      '    cluster: fake-cluster',
      '    user: fake-user',
      `current-context: ${JSON.stringify(context)}`,
      '',
    ].join('\n');
  }

  const api: FakeApiserver = {
    url,
    port,
    ca: caPem.cert,
    token,
    kubeconfig,
    kubeconfigFile(context) {
      const dir = mkdtempSync(join(tmpdir(), 'fake-kubeconfig-'));
      tempDirs.push(dir);
      const file = join(dir, 'config');
      writeFileSync(file, kubeconfig(context), { mode: 0o600 });
      return file;
    },
    upsert,
    get: (kind, ns, name) => clone(objects.get(key(kind, byKind.get(kind)?.namespaced ? ns : undefined, name))),
    list: (kind, ns) => [...objects.values()].filter((o) => o.kind === kind && (!ns || o.metadata.namespace === ns)).map(clone),
    remove,
    setPodStatus(ns, name, status) {
      const pod = objects.get(key('Pod', ns, name));
      if (!pod) throw new Error(`fake apiserver: no pod ${ns}/${name}`);
      const previous = clone(pod);
      pod.status = { ...(pod.status ?? {}), ...clone(status) };
      write('MODIFIED', pod, previous);
    },
    setLogs(ns, pod, container, text, opts = {}) {
      logs.set(`${ns}/${pod}/${container}/${opts.previous ? 'previous' : 'current'}`, text);
    },
    setImageDigest(imageRef, digest) {
      digests.set(imageRef, digest.startsWith('sha256:') ? digest : `sha256:${digest}`);
    },
    failImage(image, reason, message) {
      failing.set(image, { reason, message });
    },
    healImage(image) {
      failing.delete(image);
    },
    advanceRollouts() {
      const all = [...pending.values()];
      pending.clear();
      for (const rollout of all) {
        clearTimeout(rollout.timer);
        finishRollout(rollout);
      }
      return all.length;
    },
    pendingRollouts: () => pending.size,
    patches: () => clone(patchLog),
    requests: () => clone(requestLog),
    openWatches: () => streams.size,
    expireWatches(opts = {}) {
      rv++; // as if an unrelated write happened: the current resourceVersion moves past the compaction point
      compactedBelow = rv;
      if (opts.http) {
        httpGoneOnce = true;
        for (const stream of [...streams]) endStream(stream);
        return;
      }
      for (const stream of [...streams]) {
        const gone = { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 } };
        stream.res.write(`${JSON.stringify(gone)}\n`);
        endStream(stream);
      }
    },
    endWatches() {
      for (const stream of [...streams]) endStream(stream);
    },
    silenceWatches(opts = {}) {
      for (const stream of streams) stream.silent = true;
      if (opts.alsoNew) holdNewWatches = true;
    },
    resumeWatches() {
      holdNewWatches = false;
      for (const res of heldRequests) res.destroy();
      heldRequests.clear();
    },
    garbageWatch() {
      for (const stream of streams) {
        stream.res.write('<html><body>502 Bad Gateway</body></html>\n');
        stream.res.write('{"type":"MODIFIED","object":"\\u0000\\u0001garbage"}\n');
      }
    },
    forbid(resource) {
      forbidden.add(resource);
    },
    allow(resource) {
      forbidden.delete(resource);
    },
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
      for (const rollout of pending.values()) clearTimeout(rollout.timer);
      pending.clear();
      if (running) await api.stop();
      for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    },
    seedWorker(seed) {
      const namespace = seed.namespace ?? 'confighub';
      if (seed.digest) api.setImageDigest(seed.image, seed.digest);
      const labels = { app: seed.name };
      return upsert({
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
