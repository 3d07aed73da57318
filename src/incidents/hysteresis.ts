import type { ProblemRecord, Thresholds } from '../domain/model.js';

/** What one observation did to a problem: the only moments anyone is told anything. */
export type Edge = 'none' | 'pending' | 'opened' | 'changed' | 'recovering' | 'relapsed' | 'resolved' | 'cleared';

/** The problem's counters after one observation, and the edge it crossed. */
export type Step = Pick<ProblemRecord, 'state' | 'badStreak' | 'goodStreak' | 'firstBadAt'> & { edge: Edge };

/**
 * Hysteresis over one problem: N bad observations in a row before alerting, M good ones before
 * resolving. Pure, so it is tested without a database or a clock.
 */
export function step(
  previous: Pick<ProblemRecord, 'state' | 'badStreak' | 'goodStreak' | 'firstBadAt' | 'summary'> | undefined,
  observation: { ok: boolean; at: number; summary: string; immediate?: boolean; ended?: boolean },
  thresholds: Thresholds,
): Step {
  const state = previous?.state ?? 'ok';
  const failuresNeeded = observation.immediate ? 1 : thresholds.failuresBeforeAlert;
  // Ended (the subject was deleted): no further good look will come, so one is enough.
  const recoveriesNeeded = observation.ended ? 1 : thresholds.recoveriesBeforeResolve;
  if (!observation.ok) {
    const badStreak = (previous?.badStreak ?? 0) + 1;
    const firstBadAt = state === 'ok' || previous?.firstBadAt == null ? observation.at : previous.firstBadAt;
    switch (state) {
      case 'ok':
      case 'pending':
        if (badStreak >= failuresNeeded) return { state: 'alerting', badStreak, goodStreak: 0, firstBadAt, edge: 'opened' };
        return { state: 'pending', badStreak, goodStreak: 0, firstBadAt, edge: state === 'ok' ? 'pending' : 'none' };
      case 'alerting':
        return { state, badStreak, goodStreak: 0, firstBadAt, edge: previous?.summary === observation.summary ? 'none' : 'changed' };
      case 'recovering':
        return { state: 'alerting', badStreak, goodStreak: 0, firstBadAt, edge: 'relapsed' };
    }
  }
  const goodStreak = (previous?.goodStreak ?? 0) + 1;
  switch (state) {
    case 'ok':
      return { state, badStreak: 0, goodStreak, firstBadAt: null, edge: 'none' };
    case 'pending':
      return { state: 'ok', badStreak: 0, goodStreak, firstBadAt: null, edge: 'cleared' };
    case 'alerting':
    case 'recovering':
      if (goodStreak >= recoveriesNeeded) return { state: 'ok', badStreak: 0, goodStreak, firstBadAt: null, edge: 'resolved' };
      return { state: 'recovering', badStreak: 0, goodStreak, firstBadAt: previous?.firstBadAt ?? null, edge: state === 'alerting' ? 'recovering' : 'none' };
  }
}
