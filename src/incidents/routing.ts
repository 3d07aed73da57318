import type { Config } from '../config.js';
import { clusterOf as clusterOfSubject, namespaceOf } from '../domain/subjects.js';

/** The channel a subject's messages go to: the first matching route, else the default. */
export function routeFor(
  routes: Config['routes'],
  defaultChannel: string,
  subject: string,
  clusterOf: (subject: string) => string | undefined = clusterOfSubject,
  labelsOf: (subject: string) => Record<string, string> = () => ({}),
): string {
  const cluster = clusterOf(subject);
  const namespace = namespaceOf(subject);
  for (const route of routes) {
    const { match } = route;
    if (match.cluster !== undefined && match.cluster !== cluster) continue;
    if (match.namespace !== undefined && match.namespace !== namespace) continue;
    if (match.subject !== undefined && !subject.startsWith(match.subject)) continue;
    if (match.label !== undefined) {
      const [key, value] = match.label.split('=');
      if (labelsOf(subject)[key!] !== value) continue;
    }
    return route.channel;
  }
  return defaultChannel;
}
