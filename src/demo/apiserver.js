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
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_CA_CERT, DEMO_SERVER_CERT, DEMO_SERVER_KEY } from './certs.js';
const resources = [
    { kind: 'Namespace', plural: 'namespaces', group: '', version: 'v1', namespaced: false, shortNames: ['ns'] },
    { kind: 'Pod', plural: 'pods', group: '', version: 'v1', namespaced: true, shortNames: ['po'] },
    { kind: 'Deployment', plural: 'deployments', group: 'apps', version: 'v1', namespaced: true, shortNames: ['deploy'] },
    { kind: 'DaemonSet', plural: 'daemonsets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['ds'] },
    { kind: 'StatefulSet', plural: 'statefulsets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['sts'] },
    { kind: 'ReplicaSet', plural: 'replicasets', group: 'apps', version: 'v1', namespaced: true, shortNames: ['rs'] },
];
const byKind = new Map(resources.map((r) => [r.kind, r]));
const apiVersionOf = (r) => (r.group ? `${r.group}/${r.version}` : r.version);
function resourceOf(kind) {
    const info = byKind.get(kind);
    if (!info)
        throw new Error(`fake apiserver: unsupported kind ${kind}`);
    return info;
}
/** Parses a label selector (`a=b,c!=d,e in (x,y),!f,g`). */
export function parseLabelSelector(selector) {
    if (!selector)
        return [];
    const parts = [];
    let depth = 0;
    let current = '';
    for (const ch of selector) {
        if (ch === '(')
            depth++;
        if (ch === ')')
            depth--;
        if (ch === ',' && depth === 0) {
            parts.push(current);
            current = '';
        }
        else
            current += ch;
    }
    parts.push(current);
    return parts
        .map((p) => p.trim())
        .filter(Boolean)
        .map((part) => {
        let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
        if (m)
            return { key: m[1], op: m[2], values: m[3].split(',').map((v) => v.trim()) };
        m = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(part);
        if (m)
            return { key: m[1], op: m[2] === '!=' ? '!=' : '=', values: [m[3]] };
        if (part.startsWith('!'))
            return { key: part.slice(1).trim(), op: '!exists', values: [] };
        return { key: part, op: 'exists', values: [] };
    });
}
function matchesRequirements(labels, reqs) {
    const l = labels ?? {};
    return reqs.every((r) => {
        const has = Object.prototype.hasOwnProperty.call(l, r.key);
        switch (r.op) {
            case '=':
                return has && l[r.key] === r.values[0];
            case '!=':
                return !has || l[r.key] !== r.values[0];
            case 'in':
                return has && r.values.includes(l[r.key]);
            case 'notin':
                return !has || !r.values.includes(l[r.key]);
            case 'exists':
                return has;
            case '!exists':
                return !has;
        }
    });
}
/** Field selectors the apiserver supports for every kind: metadata.name and metadata.namespace. */
function matchesFieldSelector(obj, selector) {
    if (!selector)
        return true;
    return selector.split(',').every((part) => {
        const m = /^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
        if (!m)
            return false;
        const actual = m[1] === 'metadata.name' ? obj.metadata.name : m[1] === 'metadata.namespace' ? obj.metadata.namespace : undefined;
        return m[2] === '!=' ? actual !== m[3] : actual === m[3];
    });
}
const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
const isPlainObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
/** RFC 7386 JSON merge patch: objects merge, null deletes, arrays replace. */
export function mergePatch(target, patch) {
    if (!isPlainObject(patch))
        return clone(patch);
    const out = isPlainObject(target) ? clone(target) : {};
    for (const [key, value] of Object.entries(patch)) {
        if (value === null)
            delete out[key];
        else
            out[key] = mergePatch(out[key], value);
    }
    return out;
}
/** Merge keys of the lists strategic merge patch merges instead of replacing (core/v1 + apps/v1). */
const strategicMergeKeys = {
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
export function strategicMergePatch(target, patch, field) {
    if (Array.isArray(patch)) {
        const mergeKey = field ? strategicMergeKeys[field] : undefined;
        if (!mergeKey || !Array.isArray(target))
            return clone(patch.filter((p) => !(isPlainObject(p) && p.$patch === 'delete')));
        const out = clone(target);
        for (const item of patch) {
            if (!isPlainObject(item))
                continue;
            const index = out.findIndex((existing) => isPlainObject(existing) && existing[mergeKey] === item[mergeKey]);
            if (item.$patch === 'delete') {
                if (index >= 0)
                    out.splice(index, 1);
            }
            else if (index >= 0)
                out[index] = strategicMergePatch(out[index], item);
            else
                out.push(strategicMergePatch({}, item));
        }
        return out;
    }
    if (!isPlainObject(patch))
        return clone(patch);
    if (patch.$patch === 'replace') {
        const { $patch: _ignored, ...rest } = patch;
        return clone(rest);
    }
    const out = isPlainObject(target) ? clone(target) : {};
    for (const [key, value] of Object.entries(patch)) {
        if (key.startsWith('$setElementOrder/') || key === '$retainKeys' || key === '$patch')
            continue;
        if (key.startsWith('$deleteFromPrimitiveList/')) {
            const list = key.slice('$deleteFromPrimitiveList/'.length);
            if (Array.isArray(out[list]) && Array.isArray(value))
                out[list] = out[list].filter((v) => !value.includes(v));
            continue;
        }
        if (value === null)
            delete out[key];
        else
            out[key] = strategicMergePatch(out[key], value, key);
    }
    return out;
}
class PatchError extends Error {
    code;
    constructor(message, code) {
        super(message);
        this.code = code;
    }
}
/** RFC 6902 JSON patch. */
export function jsonPatch(target, ops) {
    if (!Array.isArray(ops))
        throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch', 400);
    let doc = clone(target);
    const parse = (pointer) => pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const parentOf = (path) => {
        let node = doc;
        for (const seg of path.slice(0, -1)) {
            node = Array.isArray(node) ? node[Number(seg)] : node?.[seg];
            if (node === undefined || node === null)
                throw new PatchError(`doc is missing path: "/${path.join('/')}": missing value`, 422);
        }
        return { parent: node, key: path[path.length - 1] };
    };
    const read = (path) => {
        let node = doc;
        for (const seg of path) {
            node = Array.isArray(node) ? node[Number(seg)] : node?.[seg];
            if (node === undefined)
                throw new PatchError(`doc is missing path: "/${path.join('/')}": missing value`, 422);
        }
        return node;
    };
    const add = (path, value) => {
        if (path.length === 0) {
            doc = clone(value);
            return;
        }
        const { parent, key } = parentOf(path);
        if (Array.isArray(parent))
            parent.splice(key === '-' ? parent.length : Number(key), 0, clone(value));
        else
            parent[key] = clone(value);
    };
    const remove = (path) => {
        const { parent, key } = parentOf(path);
        if (Array.isArray(parent))
            parent.splice(Number(key), 1);
        else if (key in parent)
            delete parent[key];
        else
            throw new PatchError(`doc is missing path: "/${path.join('/')}": missing value`, 422);
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
                if (path.length === 0)
                    doc = clone(op.value);
                else {
                    const { parent, key } = parentOf(path);
                    if (Array.isArray(parent))
                        parent[Number(key)] = clone(op.value);
                    else
                        parent[key] = clone(op.value);
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
                if (JSON.stringify(read(path)) !== JSON.stringify(op.value))
                    throw new PatchError('testing value failed', 422);
                break;
            default:
                throw new PatchError(`Unexpected kind: ${String(op.op)}`, 400);
        }
    }
    return doc;
}
/** Splits an image reference into the repository (no tag, no digest) kubelet puts before `@` in imageID. */
export function imageRepository(image) {
    const at = image.indexOf('@');
    const noDigest = at >= 0 ? image.slice(0, at) : image;
    const lastSlash = noDigest.lastIndexOf('/');
    const colon = noDigest.lastIndexOf(':');
    const repo = colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
    const first = repo.split('/')[0];
    const hasRegistry = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
    if (hasRegistry)
        return repo;
    return repo.includes('/') ? `docker.io/${repo}` : `docker.io/library/${repo}`;
}
const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
export async function startFakeApiserver(options = {}) {
    const tls = options.tls ?? { ca: DEMO_CA_CERT, key: DEMO_SERVER_KEY, cert: DEMO_SERVER_CERT };
    const caPem = { cert: tls.ca };
    const serverPem = { key: tls.key, cert: tls.cert };
    const token = `fake-token-${randomBytes(12).toString('hex')}`;
    const nodeCount = options.nodes ?? 1;
    const objects = new Map();
    const history = [];
    let rv = 1;
    /** Watches from a resourceVersion below this get 410 Gone (history compacted). */
    let compactedBelow = 0;
    let httpGoneOnce = false;
    let holdNewWatches = false;
    const heldRequests = new Set();
    const streams = new Set();
    const sockets = new Set();
    const patchLog = [];
    const requestLog = [];
    const forbidden = new Set();
    const digests = new Map();
    const failing = new Map();
    const logs = new Map();
    const pending = new Map();
    const tempDirs = [];
    let nameCounter = 0;
    let uidCounter = 0;
    const key = (kind, ns, name) => `${kind}/${ns ?? ''}/${name}`;
    const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const newUid = () => {
        uidCounter++;
        const hex = createHash('sha256').update(`uid-${uidCounter}-${token}`).digest('hex');
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    };
    const suffix = (length) => {
        nameCounter++;
        const h = createHash('sha256').update(`name-${nameCounter}`).digest();
        let s = '';
        for (let i = 0; i < length; i++)
            s += nameAlphabet[h[i] % nameAlphabet.length];
        return s;
    };
    const templateHash = (template) => {
        const h = createHash('sha256').update(JSON.stringify(template ?? {})).digest();
        let s = '';
        for (let i = 0; i < 10; i++)
            s += nameAlphabet[h[i] % nameAlphabet.length];
        return s;
    };
    /* ---------------- storage and events ---------------- */
    function write(type, obj, previous) {
        rv++;
        obj.metadata.resourceVersion = String(rv);
        const k = key(obj.kind, obj.metadata.namespace, obj.metadata.name);
        if (type === 'DELETED')
            objects.delete(k);
        else
            objects.set(k, obj);
        const entry = { rv, type, object: clone(obj), previous: previous && clone(previous) };
        history.push(entry);
        for (const stream of streams)
            deliver(stream, entry);
        return clone(obj);
    }
    function ensureNamespace(ns) {
        if (!ns || objects.has(key('Namespace', undefined, ns)))
            return;
        write('ADDED', {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: ns, uid: newUid(), creationTimestamp: now(), labels: { 'kubernetes.io/metadata.name': ns } },
            spec: { finalizers: ['kubernetes'] },
            status: { phase: 'Active' },
        });
    }
    function store(obj) {
        const info = resourceOf(obj.kind);
        const next = clone(obj);
        next.apiVersion = apiVersionOf(info);
        if (!info.namespaced)
            delete next.metadata.namespace;
        else
            next.metadata.namespace ??= 'default';
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
    function wants(stream, obj) {
        if (!obj || obj.kind !== stream.resource.kind)
            return false;
        if (stream.namespace && obj.metadata.namespace !== stream.namespace)
            return false;
        return matchesRequirements(obj.metadata.labels, stream.labels) && matchesFieldSelector(obj, stream.fieldSelector);
    }
    /** An object entering or leaving a filtered watch shows up as ADDED or DELETED, as the real apiserver does. */
    function eventFor(stream, entry) {
        const now = wants(stream, entry.object);
        if (entry.type === 'DELETED')
            return now ? { type: 'DELETED', object: entry.object } : undefined;
        const before = entry.type === 'MODIFIED' && wants(stream, entry.previous);
        if (now && before)
            return { type: 'MODIFIED', object: entry.object };
        if (now)
            return { type: 'ADDED', object: entry.object };
        if (before)
            return { type: 'DELETED', object: entry.object };
        return undefined;
    }
    function deliver(stream, entry) {
        if (stream.silent)
            return;
        const event = eventFor(stream, entry);
        if (event)
            stream.res.write(`${JSON.stringify(event)}\n`);
    }
    function endStream(stream) {
        clearTimeout(stream.timer);
        streams.delete(stream);
        if (!stream.res.writableEnded)
            stream.res.end();
    }
    /* ---------------- rollout controller ---------------- */
    function podsOwnedBy(ns, ownerUid) {
        return [...objects.values()].filter((o) => o.kind === 'Pod' && o.metadata.namespace === ns && o.metadata.ownerReferences?.some((r) => r.uid === ownerUid));
    }
    function replicaSetsOf(deploy) {
        return [...objects.values()].filter((o) => o.kind === 'ReplicaSet' &&
            o.metadata.namespace === deploy.metadata.namespace &&
            o.metadata.ownerReferences?.some((r) => r.uid === deploy.metadata.uid));
    }
    function imageIdFor(image) {
        if (image.includes('@sha256:'))
            return image.includes('/') || image.includes('.') ? `${imageRepository(image)}@${image.split('@')[1]}` : image;
        const digest = digests.get(image) ?? digests.get(imageRepository(image)) ?? `sha256:${createHash('sha256').update(image).digest('hex')}`;
        return `${imageRepository(image)}@${digest}`;
    }
    function containerStatus(container, phase, startedAt) {
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
    function podStatus(template, phase, startedAt) {
        const statuses = (template.spec?.containers ?? []).map((c) => containerStatus(c, phase, startedAt));
        const ready = phase === 'running' && statuses.every((s) => s.ready);
        const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
        return {
            phase: phase === 'starting' || statuses.some((s) => s.state.waiting?.reason === 'ImagePullBackOff' || s.state.waiting?.reason === 'ErrImagePull') ? 'Pending' : 'Running',
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
    function createPod(ns, name, template, owner, extraLabels, phase) {
        const startedAt = now();
        store({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
                name,
                namespace: ns,
                labels: { ...(template.metadata?.labels ?? {}), ...extraLabels },
                annotations: { ...(template.metadata?.annotations ?? {}) },
                ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true }],
            },
            spec: { ...clone(template.spec ?? {}), nodeName: 'fake-node-1', restartPolicy: 'Always' },
            status: podStatus(template, phase, startedAt),
        });
        return name;
    }
    function desiredReplicas(workload) {
        if (workload.kind === 'DaemonSet')
            return nodeCount;
        return workload.spec?.replicas ?? 1;
    }
    /**
     * Called after a workload is stored: when its pod template differs from what its pods run,
     * start a rollout — immediately settled for a workload's first revision, pending otherwise.
     */
    function reconcile(kind, ns, name, firstRevision) {
        const workload = objects.get(key(kind, ns, name));
        if (!workload)
            return;
        const template = workload.spec?.template ?? {};
        const hash = templateHash(template);
        const replicas = desiredReplicas(workload);
        const existingPending = pending.get(key(kind, ns, name));
        if (existingPending) {
            clearTimeout(existingPending.timer);
            pending.delete(key(kind, ns, name));
        }
        let owner = workload;
        let podLabels = {};
        let podName = () => `${name}-${suffix(5)}`;
        const allPods = () => {
            if (kind !== 'Deployment')
                return podsOwnedBy(ns, workload.metadata.uid);
            return replicaSetsOf(workload).flatMap((rs) => podsOwnedBy(ns, rs.metadata.uid));
        };
        const current = allPods().filter((p) => p.metadata.labels?.['pod-template-hash'] === hash || p.metadata.labels?.['controller-revision-hash'] === `${name}-${hash}`);
        if (current.length >= replicas && !existingPending)
            return; // nothing changed for the pods
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
                    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: workload.metadata.uid, controller: true }],
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
            podName = () => `${rs.metadata.name}-${suffix(5)}`;
            // The deployment carries the revision of its newest ReplicaSet.
            const fresh = objects.get(key(kind, ns, name));
            const before = clone(fresh);
            fresh.metadata.annotations = { ...(fresh.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(revision) };
            write('MODIFIED', fresh, before);
        }
        else if (kind === 'StatefulSet') {
            podLabels = { 'controller-revision-hash': `${name}-${hash}` };
            podName = (i) => `${name}-${i}`;
        }
        else {
            podLabels = { 'controller-revision-hash': hash, 'pod-template-generation': String(workload.metadata.generation ?? 1) };
        }
        const oldPods = allPods()
            .filter((p) => !current.includes(p))
            .map((p) => p.metadata.name);
        const newPods = current.map((p) => p.metadata.name);
        const phase = firstRevision ? 'running' : 'starting';
        if (kind === 'DaemonSet') {
            // One pod per node and no surge: the old pod goes before its replacement starts.
            for (const podName of oldPods.splice(0))
                remove('Pod', ns, podName);
        }
        for (let i = current.length; i < replicas; i++) {
            const podNameI = podName(i);
            if (kind === 'StatefulSet' && objects.has(key('Pod', ns, podNameI))) {
                // StatefulSet pods keep their names: the old pod goes, the new one takes its place.
                remove('Pod', ns, podNameI);
                const j = oldPods.indexOf(podNameI);
                if (j >= 0)
                    oldPods.splice(j, 1);
            }
            newPods.push(createPod(ns, podNameI, template, owner, podLabels, phase));
        }
        const rollout = { kind, namespace: ns, name, newPods, oldPods };
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
    function finishRollout(rollout) {
        const { kind, namespace: ns, name } = rollout;
        const workload = objects.get(key(kind, ns, name));
        if (!workload)
            return;
        const template = workload.spec?.template ?? {};
        let failed = false;
        for (const podName of rollout.newPods) {
            const pod = objects.get(key('Pod', ns, podName));
            if (!pod)
                continue;
            const before = clone(pod);
            pod.status = podStatus(template, 'running', now());
            if (pod.status.conditions.find((c) => c.type === 'Ready')?.status !== 'True')
                failed = true;
            write('MODIFIED', pod, before);
        }
        // Old pods go only when the new ones are Ready (maxUnavailable 0: a failing rollout keeps them).
        if (!failed)
            for (const podName of rollout.oldPods)
                remove('Pod', ns, podName);
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
    function updateWorkloadStatus(kind, ns, name, state) {
        const workload = objects.get(key(kind, ns, name));
        if (!workload)
            return;
        const previous = clone(workload);
        const hash = templateHash(workload.spec?.template ?? {});
        const pods = kind === 'Deployment'
            ? replicaSetsOf(workload).flatMap((rs) => podsOwnedBy(ns, rs.metadata.uid))
            : podsOwnedBy(ns, workload.metadata.uid);
        const isUpdated = (p) => p.metadata.labels?.['pod-template-hash'] === hash ||
            p.metadata.labels?.['controller-revision-hash'] === hash ||
            p.metadata.labels?.['controller-revision-hash'] === `${name}-${hash}`;
        const isReady = (p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
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
        }
        else if (kind === 'DaemonSet') {
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
        }
        else {
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
    function remove(kind, ns, name) {
        const k = key(kind, byKind.get(kind)?.namespaced ? ns : undefined, name);
        const existing = objects.get(k);
        if (!existing)
            return;
        write('DELETED', clone(existing));
        if (kind === 'Deployment' || kind === 'DaemonSet' || kind === 'StatefulSet') {
            pending.delete(k);
            const owned = kind === 'Deployment' ? replicaSetsOf(existing) : [];
            for (const rs of owned) {
                for (const pod of podsOwnedBy(rs.metadata.namespace, rs.metadata.uid))
                    remove('Pod', pod.metadata.namespace, pod.metadata.name);
                remove('ReplicaSet', rs.metadata.namespace, rs.metadata.name);
            }
            for (const pod of podsOwnedBy(ns, existing.metadata.uid))
                remove('Pod', pod.metadata.namespace, pod.metadata.name);
        }
    }
    function upsert(obj) {
        const info = resourceOf(obj.kind);
        const ns = info.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
        const existed = objects.has(key(obj.kind, ns, obj.metadata.name));
        const stored = store(obj);
        if (obj.kind === 'Deployment' || obj.kind === 'DaemonSet' || obj.kind === 'StatefulSet') {
            reconcile(obj.kind, ns, obj.metadata.name, !existed);
            return clone(objects.get(key(obj.kind, ns, obj.metadata.name)));
        }
        return stored;
    }
    /* ---------------- HTTP ---------------- */
    function send(res, code, body) {
        const text = JSON.stringify(body);
        res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
    }
    function sendStatus(res, code, reason, message, details) {
        send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
    }
    const statusReasons = {
        400: 'BadRequest',
        401: 'Unauthorized',
        403: 'Forbidden',
        404: 'NotFound',
        405: 'MethodNotAllowed',
        410: 'Expired',
        415: 'UnsupportedMediaType',
        422: 'Invalid',
    };
    function discovery(path) {
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
        if (!groupVersion)
            return undefined;
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
    function route(path) {
        const m = /^\/(?:api\/v1|apis\/(apps)\/v1)\/(.+)$/.exec(path);
        if (!m)
            return undefined;
        const group = m[1] ?? '';
        const segs = m[2].split('/').filter(Boolean).map(decodeURIComponent);
        let namespace;
        if (segs[0] === 'namespaces' && segs.length >= 3) {
            namespace = segs[1];
            segs.splice(0, 2);
        }
        const resource = resources.find((r) => r.plural === segs[0] && r.group === group);
        if (!resource)
            return undefined;
        if (segs.length > 3)
            return undefined;
        if (namespace && !resource.namespaced)
            return undefined;
        return { resource, namespace, name: segs[1], sub: segs[2] };
    }
    function verbFor(method, name, watch) {
        if (method === 'PATCH')
            return 'patch';
        if (watch)
            return 'watch';
        return name ? 'get' : 'list';
    }
    function scopeText(namespace) {
        return namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
    }
    function handleWatch(res, r, query) {
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
        const stream = {
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
            for (const obj of objects.values())
                if (wants(stream, obj))
                    res.write(`${JSON.stringify({ type: 'ADDED', object: obj })}\n`);
        }
        else {
            for (const entry of history)
                if (entry.rv > Number(fromRv))
                    deliver(stream, entry);
        }
        const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
        if (timeoutSeconds > 0)
            stream.timer = setTimeout(() => endStream(stream), timeoutSeconds * 1000);
    }
    function handlePatch(req, res, r, body) {
        const path = new URL(req.url ?? '/', 'https://x').pathname;
        const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim();
        let parsed;
        try {
            parsed = JSON.parse(body);
        }
        catch {
            parsed = body;
        }
        patchLog.push({ path, contentType, body: parsed });
        const kinds = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
        if (!kinds.includes(contentType)) {
            sendStatus(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${kinds.join(', ')}`);
            return;
        }
        const existing = objects.get(key(r.resource.kind, r.namespace, r.name));
        if (!existing) {
            sendStatus(res, 404, 'NotFound', `${r.resource.plural}${r.resource.group ? `.${r.resource.group}` : ''} "${r.name}" not found`, { name: r.name, group: r.resource.group, kind: r.resource.plural });
            return;
        }
        if (typeof parsed === 'string') {
            sendStatus(res, 400, 'BadRequest', `error decoding patch: invalid character in ${contentType} body`);
            return;
        }
        let next;
        try {
            next =
                contentType === 'application/json-patch+json'
                    ? jsonPatch(existing, parsed)
                    : contentType === 'application/merge-patch+json'
                        ? mergePatch(existing, parsed)
                        : strategicMergePatch(existing, parsed);
        }
        catch (err) {
            const code = err instanceof PatchError ? err.code : 500;
            sendStatus(res, code, statusReasons[code] ?? 'InternalError', err.message);
            return;
        }
        // Identity and bookkeeping fields are the server's, whatever the patch said.
        next.kind = existing.kind;
        next.apiVersion = existing.apiVersion;
        next.metadata = { ...next.metadata, name: existing.metadata.name, namespace: existing.metadata.namespace, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp };
        const templateChanged = JSON.stringify(existing.spec?.template) !== JSON.stringify(next.spec?.template);
        const kind = r.resource.kind;
        store(next);
        if ((kind === 'Deployment' || kind === 'DaemonSet' || kind === 'StatefulSet') && templateChanged)
            reconcile(kind, r.namespace, r.name, false);
        send(res, 200, objects.get(key(kind, r.namespace, r.name)));
    }
    function handleLogs(res, ns, podName, query) {
        const pod = objects.get(key('Pod', ns, podName));
        if (!pod) {
            sendStatus(res, 404, 'NotFound', `pods "${podName}" not found`, { name: podName, kind: 'pods' });
            return;
        }
        const containers = (pod.spec?.containers ?? []).map((c) => c.name);
        let container = query.get('container') ?? undefined;
        if (!container) {
            if (containers.length !== 1) {
                sendStatus(res, 400, 'BadRequest', `a container name must be specified for pod ${podName}, choose one of: [${containers.join(' ')}]`);
                return;
            }
            container = containers[0];
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
            if (lines[lines.length - 1] === '')
                lines.pop();
            const n = Math.max(0, Number(tail));
            text = lines.slice(Math.max(0, lines.length - n)).map((l) => `${l}\n`).join('');
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
    }
    function handle(req, res, body) {
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
            if (options.onPatch && patchLog.length > before)
                options.onPatch(clone(patchLog[patchLog.length - 1]), res.statusCode);
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
            .filter((o) => o.kind === r.resource.kind &&
            (!r.namespace || o.metadata.namespace === r.namespace) &&
            matchesRequirements(o.metadata.labels, labels) &&
            matchesFieldSelector(o, fieldSelector))
            .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
            // List items carry no kind/apiVersion, as the real apiserver sends them.
            .map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
        send(res, 200, { kind: `${r.resource.kind}List`, apiVersion: apiVersionOf(r.resource), metadata: { resourceVersion: String(rv) }, items });
    }
    const server = createServer({ key: serverPem.key, cert: serverPem.cert }, (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            try {
                handle(req, res, Buffer.concat(chunks).toString('utf8'));
            }
            catch (err) {
                if (!res.headersSent)
                    sendStatus(res, 500, 'InternalError', `fake apiserver: ${err.message}`);
                else
                    res.destroy();
            }
        });
    });
    server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
    });
    // TLS handshakes cut by stop() are expected.
    server.on('tlsClientError', () => { });
    const listen = (port) => new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
        });
    });
    await listen(0);
    const port = server.address().port;
    const url = `https://127.0.0.1:${port}`;
    let running = true;
    function cutEverything() {
        for (const stream of [...streams]) {
            clearTimeout(stream.timer);
            streams.delete(stream);
        }
        heldRequests.clear();
        for (const socket of sockets)
            socket.destroy();
        sockets.clear();
    }
    function kubeconfig(context = 'fake') {
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
    const api = {
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
            if (!pod)
                throw new Error(`fake apiserver: no pod ${ns}/${name}`);
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
                for (const stream of [...streams])
                    endStream(stream);
                return;
            }
            for (const stream of [...streams]) {
                const gone = { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 } };
                stream.res.write(`${JSON.stringify(gone)}\n`);
                endStream(stream);
            }
        },
        endWatches() {
            for (const stream of [...streams])
                endStream(stream);
        },
        silenceWatches(opts = {}) {
            for (const stream of streams)
                stream.silent = true;
            if (opts.alsoNew)
                holdNewWatches = true;
        },
        resumeWatches() {
            holdNewWatches = false;
            for (const res of heldRequests)
                res.destroy();
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
            if (!running)
                return;
            running = false;
            const closed = new Promise((resolve) => server.close(() => resolve()));
            cutEverything();
            await closed;
        },
        async restart() {
            if (running)
                return;
            await listen(port);
            running = true;
        },
        async close() {
            for (const rollout of pending.values())
                clearTimeout(rollout.timer);
            pending.clear();
            if (running)
                await api.stop();
            for (const dir of tempDirs)
                rmSync(dir, { recursive: true, force: true });
        },
        seedWorker(seed) {
            const namespace = seed.namespace ?? 'confighub';
            if (seed.digest)
                api.setImageDigest(seed.image, seed.digest);
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
