import { canonicalImage } from './image-ref.js';

/**
 * Subjects name what a problem or notice is about (DESIGN.md, incident model):
 * `worker:<name>`, `workload:<cluster>/<namespace>/<kind>/<name>`, `endpoint:<name>`,
 * `service:<name>`, `cluster:<name>`, `image:<ref>`, `confighub`. Every subject is built here
 * and read here, so the spelling lives in one place.
 */
export type SubjectType = 'worker' | 'workload' | 'endpoint' | 'service' | 'cluster' | 'image' | 'confighub';

/** A workload as configured or as a command names it. */
export interface WorkloadCoordinates {
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
}

export const subjectOf = {
  worker: (name: string) => `worker:${name}`,
  /** From its parts, or from the `<cluster>/<namespace>/<kind>/<name>` path an endpoint's `workload` is written as. */
  workload: (workload: WorkloadCoordinates | string) =>
    typeof workload === 'string' ? `workload:${workload}` : `workload:${workload.cluster}/${workload.namespace}/${workload.kind}/${workload.name}`,
  endpoint: (name: string) => `endpoint:${name}`,
  service: (name: string) => `service:${name}`,
  cluster: (name: string) => `cluster:${name}`,
  // However the config or a pod spec writes an image, it is one subject.
  image: (ref: string) => `image:${canonicalImage(ref)}`,
  confighub: () => 'confighub',
};

/** True when `subject` is of `type`: `isSubject('worker:x', 'worker')`; `confighub` is a subject of its own. */
export function isSubject(subject: string, type: SubjectType): boolean {
  return type === 'confighub' ? subject === 'confighub' : subject.startsWith(`${type}:`);
}

/** What follows `<type>:` when `subject` is of that type, else undefined: `subjectName('image:nginx', 'image')` → `nginx`. */
export function subjectName(subject: string, type: Exclude<SubjectType, 'confighub'>): string | undefined {
  return isSubject(subject, type) ? subject.slice(type.length + 1) : undefined;
}

/** The cluster named in a subject, if any (`workload:prod/ns/Deployment/x` → prod, `cluster:prod` → prod). */
export function clusterOf(subject: string): string | undefined {
  const cluster = subjectName(subject, 'cluster');
  if (cluster !== undefined) return cluster;
  return subjectName(subject, 'workload')?.split('/')[0];
}

/** The namespace named in a workload subject (`workload:prod/ns/Deployment/x` → ns). */
export function namespaceOf(subject: string): string | undefined {
  return subjectName(subject, 'workload')?.split('/')[1];
}

/** Human names for subjects, shared by every message. */
export function describeSubject(subject: string): string {
  const colon = subject.indexOf(':');
  const type = colon === -1 ? subject : subject.slice(0, colon);
  const name = colon === -1 ? '' : subject.slice(colon + 1);
  switch (type) {
    case 'worker':
      return `worker ${name}`;
    case 'workload': {
      const [cluster, namespace, kind, workload] = name.split('/');
      return `${kind} ${namespace}/${workload} (cluster ${cluster})`;
    }
    case 'endpoint':
      return `endpoint ${name}`;
    case 'service':
      return `service ${name}`;
    case 'cluster':
      return `cluster ${name}`;
    case 'image':
      return name;
    case 'confighub':
      return 'ConfigHub';
    default:
      return subject;
  }
}
