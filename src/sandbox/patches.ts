/**
 * The three PATCH content types the apiserver accepts: RFC 6902 JSON patch, RFC 7386 merge patch
 * and strategic merge patch (with the list merge keys of the built-in kinds). Pure functions over
 * JSON; failures throw a PatchError carrying the HTTP code the apiserver answers with.
 */
import { clone, isPlainObject, type Json } from './kube-objects.js';

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

export class PatchError extends Error {
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

