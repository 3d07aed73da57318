import type { Correlation, HealthyDigest, IncidentRecord, LastGoodSource, ProblemKind } from '../domain/model.js';

/** The cluster named in a subject, if any (`workload:prod/ns/Deployment/x` → prod). */
export function clusterOfSubject(subject: string): string | undefined {
  if (subject.startsWith('cluster:')) return subject.slice('cluster:'.length);
  if (subject.startsWith('workload:')) return subject.slice('workload:'.length).split('/')[0];
  return undefined;
}

export function namespaceOfSubject(subject: string): string | undefined {
  if (subject.startsWith('workload:')) return subject.slice('workload:'.length).split('/')[1];
  return undefined;
}

/**
 * Which open incident a new problem joins: one whose primary subject is the problem's subject
 * or directly linked to it (one hop, never chained); the oldest wins. A cluster-unreachable
 * problem is always an incident of its own.
 */
export function chooseIncident(
  problem: { subject: string; kind: ProblemKind },
  openIncidents: Array<Pick<IncidentRecord, 'id' | 'primarySubject' | 'openedAt'>>,
  linkedSubjects: ReadonlySet<string>,
): number | undefined {
  if (problem.kind === 'cluster_unreachable') {
    return openIncidents.find((incident) => incident.primarySubject === problem.subject)?.id;
  }
  const candidates = openIncidents
    .filter((incident) => !incident.primarySubject.startsWith('cluster:'))
    .filter((incident) => incident.primarySubject === problem.subject || linkedSubjects.has(incident.primarySubject))
    .sort((a, b) => a.openedAt - b.openedAt || a.id - b.id);
  return candidates[0]?.id;
}

export interface TagMove {
  ref: string;
  from: string;
  to: string;
  at: number;
}

/** The latest move of an image the subject uses, within `window` before the failure began. */
export function correlatedMove(moves: TagMove[], firstBadAt: number, windowMs: number): TagMove | undefined {
  return moves
    .filter((move) => move.at <= firstBadAt && firstBadAt - move.at <= windowMs)
    .sort((a, b) => b.at - a.at)[0];
}


/**
 * DESIGN.md's last good digest, in order: what the subject's own pods ran while Ready for
 * `healthyFor`; else what other healthy workloads of the same repository run; else the tag's
 * previous digest in the registry history.
 */
export function lastGoodDigest(input: {
  subject: string;
  repository: string;
  failingDigest?: string;
  healthy: HealthyDigest[];
  healthyForMs: number;
  /** The tag's digests, newest first. */
  tagHistory: string[];
}): Correlation['lastGood'] | undefined {
  const qualifies = (row: HealthyDigest) =>
    row.repository === input.repository && row.lastReadyAt - row.readySince >= input.healthyForMs && row.digest !== input.failingDigest;
  const newestFirst = (a: HealthyDigest, b: HealthyDigest) => b.lastReadyAt - a.lastReadyAt;
  const pick = (rows: HealthyDigest[], source: LastGoodSource) => {
    const best = rows.filter(qualifies).sort(newestFirst)[0];
    return best ? { digest: best.digest, repository: input.repository, source } : undefined;
  };
  return (
    pick(input.healthy.filter((row) => row.subject === input.subject), 'own pods') ??
    pick(input.healthy.filter((row) => row.subject !== input.subject), 'other workloads') ??
    (input.tagHistory[1] ? { digest: input.tagHistory[1], repository: input.repository, source: 'registry history' as const } : undefined)
  );
}
