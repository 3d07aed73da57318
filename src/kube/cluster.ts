/**
 * What the Kubernetes watcher says about a cluster that does not answer and a workload that is not
 * where it was expected: pure wording, no I/O.
 */
import { classifyKubeError, type KubeError, type WorkloadKind } from '../clients/kube.js';
import { formatDuration } from '../domain/duration.js';

/** `Deployment reference-data not found in traderx; found in default`. */
export function describeMissing(kind: WorkloadKind, namespace: string, name: string, elsewhere: string[] | undefined): string {
  const head = `${kind} ${name} not found in ${namespace}`;
  if (elsewhere === undefined) return head;
  if (elsewhere.length === 0) return `${head} (nor in any other namespace)`;
  return `${head}; found in ${elsewhere.join(', ')}`;
}

/** The apiserver's or the network's own words, without our "cluster x: … doing …:" prefix. */
export function errorReason(error: KubeError | undefined): string {
  if (!error) return 'no answer';
  if (error.cause !== undefined) return classifyKubeError(error.cause).detail;
  return error.message.replace(/^cluster [^:]+: /, '');
}

/** `cluster prod: API unreachable for 1m 5s: connect ECONNREFUSED 10.0.0.1:6443`. */
export function describeUnreachable(cluster: string, forMs: number, error: KubeError | undefined): string {
  const reason = errorReason(error);
  const duration = formatDuration(forMs);
  if (error?.kind === 'unauthorized') return `cluster ${cluster}: API rejects our credentials (401) for ${duration}: ${reason}`;
  if (error?.kind === 'forbidden') return `cluster ${cluster}: API forbids every watch (403) for ${duration}: ${reason}`;
  return `cluster ${cluster}: API unreachable for ${duration}: ${reason}`;
}
