/**
 * The apiserver's write verbs: PATCH (three content types, any kind), and for the kinds that
 * support it (Leases) POST (create), PUT (replace, with the `resourceVersion` precondition) and
 * DELETE. Each answers as the real apiserver does, Status errors included.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { qualifiedPlural, type Json, type KubeObject } from './kube-objects.js';
import { leaseRejection } from './leases.js';
import type { Route } from './discovery.js';
import { ObjectStore } from './object-store.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patches.js';
import type { RolloutController } from './rollout-controller.js';
import { send, sendNotFound, sendStatus, statusReasons } from './status.js';

export interface PatchRecord {
  /** Request path without the query, e.g. /apis/apps/v1/namespaces/confighub/deployments/w. */
  path: string;
  contentType: string;
  body: Json;
}

export interface WriteContext {
  objects: ObjectStore;
  controller: RolloutController;
  /** Every PATCH asked for, applied or not. */
  patchLog: PatchRecord[];
}

/** Kinds clients may create, replace and delete over HTTP (the rest are the fake's to manage). */
const writableKinds = new Set(['Lease']);

export const acceptsWrites = (r: Route): boolean => writableKinds.has(r.resource.kind);

/** Refuses an object that fails its kind's validation; true when it did. */
function refuseInvalid(res: ServerResponse, obj: Json): boolean {
  const rejection = obj?.kind === 'Lease' ? leaseRejection(obj) : undefined;
  if (!rejection) return false;
  sendStatus(res, rejection.code, rejection.reason, rejection.message, rejection.details);
  return true;
}

/** The body of a POST or PUT as the object it claims to be, or a Status answered and undefined. */
function decodeObject(res: ServerResponse, r: Route, body: string): KubeObject | undefined {
  let obj: Json;
  try {
    obj = JSON.parse(body);
  } catch (err) {
    sendStatus(res, 400, 'BadRequest', `error decoding request body: ${(err as Error).message}`);
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    sendStatus(res, 400, 'BadRequest', `${r.resource.kind} in version "v1" cannot be handled as a ${r.resource.kind}: the body is no JSON object`);
    return undefined;
  }
  const expected = r.resource.group ? `${r.resource.group}/v1` : 'v1';
  if ((obj.kind !== undefined && obj.kind !== r.resource.kind) || (obj.apiVersion !== undefined && obj.apiVersion !== expected)) {
    sendStatus(res, 400, 'BadRequest', `the API version in the data (${String(obj.apiVersion)}) and kind (${String(obj.kind)}) do not match the expected ${expected} ${r.resource.kind}`);
    return undefined;
  }
  obj.kind = r.resource.kind;
  obj.apiVersion = expected;
  obj.metadata = typeof obj.metadata === 'object' && obj.metadata !== null ? obj.metadata : {};
  if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== r.namespace) {
    sendStatus(res, 400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    return undefined;
  }
  obj.metadata.namespace = r.namespace;
  return obj as KubeObject;
}

/** POST to a collection: 201 with the stored object, 409 AlreadyExists when the name is taken. */
export function handleCreate(ctx: WriteContext, res: ServerResponse, r: Route, body: string): void {
  const obj = decodeObject(res, r, body);
  if (!obj || refuseInvalid(res, obj)) return;
  const name = obj.metadata.name;
  if (ctx.objects.has(r.resource.kind, r.namespace, name)) {
    sendStatus(res, 409, 'AlreadyExists', `${qualifiedPlural(r.resource)} "${name}" already exists`, { name, group: r.resource.group, kind: r.resource.plural });
    return;
  }
  // The server assigns identity and version; what the client sent there is ignored.
  delete obj.metadata.resourceVersion;
  delete obj.metadata.uid;
  delete obj.metadata.creationTimestamp;
  send(res, 201, ctx.objects.store(obj));
}

function conflict(res: ServerResponse, r: Route, name: string): void {
  sendStatus(
    res,
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedPlural(r.resource)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: r.resource.group, kind: r.resource.plural },
  );
}

/**
 * PUT to a named object: replaces it when `metadata.resourceVersion` is absent or current (409
 * Conflict when stale); creates it when absent, as Leases allow create-on-update.
 */
export function handleReplace(ctx: WriteContext, res: ServerResponse, r: Route & { name: string }, body: string): void {
  const obj = decodeObject(res, r, body);
  if (!obj) return;
  if (obj.metadata.name !== r.name) {
    sendStatus(res, 400, 'BadRequest', `the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${r.name})`);
    return;
  }
  if (refuseInvalid(res, obj)) return;
  const existing = ctx.objects.peek(r.resource.kind, r.namespace, r.name);
  const wanted = obj.metadata.resourceVersion;
  if (existing && wanted !== undefined && wanted !== '' && wanted !== existing.metadata.resourceVersion) {
    conflict(res, r, r.name);
    return;
  }
  if (!existing && wanted !== undefined && wanted !== '') {
    // A precondition on an object that is gone cannot hold.
    sendNotFound(res, r.resource, r.name);
    return;
  }
  delete obj.metadata.uid;
  delete obj.metadata.creationTimestamp;
  send(res, existing ? 200 : 201, ctx.objects.store(obj));
}

/** DELETE of a named object: 200 with a Success Status, 404 when absent. */
export function handleDelete(ctx: WriteContext, res: ServerResponse, r: Route & { name: string }): void {
  const deleted = ctx.objects.peek(r.resource.kind, r.namespace, r.name);
  if (!deleted) {
    sendNotFound(res, r.resource, r.name);
    return;
  }
  ctx.controller.remove(r.resource.kind, r.namespace, r.name);
  send(res, 200, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name: r.name, group: r.resource.group, kind: r.resource.plural, uid: deleted.metadata.uid },
  });
}

/** PATCH of a named object, recorded in `patchLog` whatever the outcome; a changed pod template starts a rollout. */
export function handlePatch(ctx: WriteContext, req: IncomingMessage, res: ServerResponse, r: Route & { name: string }, body: string): void {
  const path = new URL(req.url ?? '/', 'https://x').pathname;
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  let parsed: Json;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = body;
  }
  ctx.patchLog.push({ path, contentType, body: parsed });
  const kinds = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
  if (!kinds.includes(contentType)) {
    sendStatus(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${kinds.join(', ')}`);
    return;
  }
  const existing = ctx.objects.peek(r.resource.kind, r.namespace, r.name);
  if (!existing) {
    sendNotFound(res, r.resource, r.name);
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
  if (kind === 'Lease') {
    // Leases are written under optimistic locking: a patch naming a resourceVersion must name the current one.
    // (A patch that does not mention it leaves the current one in place.)
    if (next.metadata?.resourceVersion !== undefined && next.metadata.resourceVersion !== existing.metadata.resourceVersion) {
      conflict(res, r, r.name);
      return;
    }
    if (refuseInvalid(res, next)) return;
  }
  ctx.objects.store(next);
  ctx.controller.afterPatch(kind, r.namespace!, r.name, templateChanged);
  send(res, 200, ctx.objects.peek(kind, r.namespace, r.name));
}
