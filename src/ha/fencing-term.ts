/**
 * The term that fences the leader's writes, kept monotonic by the store. The Lease's
 * `leaseTransitions` starts again at 0 when the Lease is deleted or recreated, but rows claimed
 * under terms 1…N stay in the outbox, and a claim under a lower term loses: the alerts would wait
 * until the Lease counted past N. So each new leadership takes a term above every term the store
 * has seen (the recorded high-water mark, and the outbox's claims from before it was recorded),
 * and records it before acting.
 */

/** What this needs from the store: one state value, and the highest term that claimed an outbox row. */
export interface TermStore {
  subjects: {
    setState(subject: string, key: string, value: unknown, at: number): void;
    state<T>(subject: string, key: string): { value: T; updatedAt: number } | undefined;
  };
  outbox: { maxClaimedTerm(): number | undefined };
}

const SUBJECT = 'ha';
const KEY = 'fencingTerm';

/** The term a new leadership fences with: the Lease's, unless the store has seen that term or a higher one. */
export function nextFencingTerm(leaseTerm: number, highWater: number | undefined): number {
  return highWater === undefined ? leaseTerm : Math.max(leaseTerm, highWater + 1);
}

/** Starts a leadership of Lease term `leaseTerm`: returns the fencing term, recorded as the new high-water mark. */
export function beginFencingTerm(store: TermStore, leaseTerm: number, now: number): number {
  const recorded = store.subjects.state<number>(SUBJECT, KEY)?.value;
  const claimed = store.outbox.maxClaimedTerm();
  const highWater = recorded === undefined ? claimed : claimed === undefined ? recorded : Math.max(recorded, claimed);
  const term = nextFencingTerm(leaseTerm, highWater);
  store.subjects.setState(SUBJECT, KEY, term, now);
  return term;
}
