/** `GET pods/{name}/log` as the apiserver answers it: container choice, `previous`, `tailLines`. */
import type { ServerResponse } from 'node:http';
import { clone, type Json, type KubeObject } from './kube-objects.js';
import type { ObjectStore } from './object-store.js';
import { sendStatus } from './status.js';

/** Logs for a container nobody set explicitly (see FakeApiserverOptions.logsFor). */
export type LogsFor = (pod: KubeObject, container: string, previous: boolean) => string | undefined;

/** Log texts set by the tests, by `ns/pod/container/{current,previous}`. */
export const logKey = (ns: string, pod: string, container: string, previous: boolean): string => `${ns}/${pod}/${container}/${previous ? 'previous' : 'current'}`;

export function handleLogs(objects: ObjectStore, logs: ReadonlyMap<string, string>, logsFor: LogsFor | undefined, res: ServerResponse, ns: string, podName: string, query: URLSearchParams): void {
  const pod = objects.peek('Pod', ns, podName);
  if (!pod) {
    sendStatus(res, 404, 'NotFound', `pods "${podName}" not found`, { name: podName, kind: 'pods' });
    return;
  }
  const containers: string[] = (pod.spec?.containers ?? []).map((c: Json) => c.name);
  // The apiserver serves init containers' logs too (`-c <init>`), but never picks one by default.
  const initContainers: string[] = (pod.spec?.initContainers ?? []).map((c: Json) => c.name);
  let container = query.get('container') ?? undefined;
  if (!container) {
    if (containers.length !== 1) {
      sendStatus(res, 400, 'BadRequest', `a container name must be specified for pod ${podName}, choose one of: [${containers.join(' ')}]`);
      return;
    }
    container = containers[0]!;
  }
  if (!containers.includes(container) && !initContainers.includes(container)) {
    sendStatus(res, 400, 'BadRequest', `container ${container} is not valid for pod ${podName}`);
    return;
  }
  const previous = query.get('previous') === 'true';
  let text = logs.get(logKey(ns, podName, container, previous)) ?? logsFor?.(clone(pod), container, previous);
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
