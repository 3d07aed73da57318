/** Correlation: the tag move that preceded a failure, and the last good digest to pin back to. */
import type { Correlation, HealthyDigest, LastGoodSource } from '../domain/model.js';

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
