import { canonicalImage } from './image-ref.js';

/** Human names for subjects, shared by every message. */
export function describeSubject(subject: string): string {
  const colon = subject.indexOf(':');
  const type = colon === -1 ? subject : subject.slice(0, colon);
  const rest = colon === -1 ? '' : subject.slice(colon + 1);
  switch (type) {
    case 'worker':
      return `worker ${rest}`;
    case 'workload': {
      const [cluster, namespace, kind, name] = rest.split('/');
      return `${kind} ${namespace}/${name} (cluster ${cluster})`;
    }
    case 'endpoint':
      return `endpoint ${rest}`;
    case 'service':
      return `service ${rest}`;
    case 'cluster':
      return `cluster ${rest}`;
    case 'image':
      return rest;
    case 'confighub':
      return 'ConfigHub';
    default:
      return subject;
  }
}

export const subjectOf = {
  worker: (name: string) => `worker:${name}`,
  endpoint: (name: string) => `endpoint:${name}`,
  service: (name: string) => `service:${name}`,
  cluster: (name: string) => `cluster:${name}`,
  // However the config or a pod spec writes an image, it is one subject.
  image: (ref: string) => `image:${canonicalImage(ref)}`,
};
