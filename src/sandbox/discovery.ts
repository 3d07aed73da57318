/**
 * The apiserver's map: discovery documents (`/version`, `/api`, `/apis`, resource lists) and
 * the parsing of a resource path into resource, namespace, name and subresource. Pure.
 */
import { apiVersionOf, resources, type Json, type ResourceInfo } from './kube-objects.js';

export interface Route {
  resource: ResourceInfo;
  namespace?: string;
  name?: string;
  sub?: string;
}

const groups = [...new Set(resources.map((r) => r.group).filter((g) => g !== ''))];

/** The discovery document at `path`, or undefined when `path` is no discovery endpoint. */
export function discovery(path: string): Json | undefined {
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
      groups: groups.map((name) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' } })),
    };
  }
  const groupVersion = path === '/api/v1' ? 'v1' : groups.map((g) => `${g}/v1`).find((gv) => path === `/apis/${gv}`);
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

/** Parses `/api/v1/...` and `/apis/{apps,coordination.k8s.io}/v1/...` into a resource, namespace, name and subresource. */
export function route(path: string): Route | undefined {
  const m = /^\/(?:api\/v1|apis\/(apps|coordination\.k8s\.io)\/v1)\/(.+)$/.exec(path);
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
