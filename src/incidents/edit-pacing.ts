/**
 * How soon an edit of a root message may go out. A person's action and a resolution go at once;
 * a new problem joining goes at once (a storm root: at most once a second, so a new line still
 * shows within the 2 s budget); machine-made updates (restart counts, recovering) at most once
 * per `MACHINE_EDIT_EVERY_MS` per message. The outbox keeps only the newest pending edit of a
 * root, so a burst of updates becomes one edit at the due time.
 */
import type { ProblemRecord } from '../domain/model.js';

export type EditOrigin = 'human' | 'event' | 'machine';
export const MACHINE_EDIT_EVERY_MS = 10_000;
export const STORM_EDIT_EVERY_MS = 1_000;

export class EditPacer {
  /** Per root message: when its last edit went (or goes) out, and when a pending one is due. */
  private readonly roots = new Map<number, { lastDone: number; pendingDue?: number }>();

  /** The root was just posted: machine edits count from now. */
  posted(id: number, now: number): void {
    this.roots.set(id, { lastDone: now });
  }

  /**
   * When an edit of root `id` queued now may go out. A pending edit is superseded by this one,
   * so the earlier of the two due times is kept.
   */
  due(id: number, origin: EditOrigin, now: number, eventEveryMs: number): number {
    const state = this.roots.get(id);
    const pending = state?.pendingDue !== undefined && state.pendingDue > now ? state.pendingDue : undefined;
    const lastDone = pending !== undefined ? state!.lastDone : Math.max(state?.lastDone ?? -Infinity, state?.pendingDue ?? -Infinity);
    const spacing = origin === 'machine' ? MACHINE_EDIT_EVERY_MS : origin === 'event' ? eventEveryMs : 0;
    let due = Math.max(now, lastDone + spacing);
    if (pending !== undefined) due = Math.min(due, pending);
    this.roots.set(id, { lastDone, pendingDue: due });
    return due;
  }
}

/**
 * An alerting problem whose observation changed only its quote (the crash log is read after the
 * alert went out): its root shows the lines, the first ones at once as part of the alert, later
 * ones (another crash) paced as machine updates. Undefined: the quote did not change.
 */
export function quoteEditOrigin(previous: Pick<ProblemRecord, 'detail'> | undefined, next: Pick<ProblemRecord, 'state' | 'detail'>): EditOrigin | undefined {
  if (next.state !== 'alerting' || JSON.stringify(next.detail.quote ?? []) === JSON.stringify(previous?.detail.quote ?? [])) return undefined;
  return previous?.detail.quote?.length ? 'machine' : 'event';
}
