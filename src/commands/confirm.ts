import { randomUUID } from 'node:crypto';
import type { Plan } from './types.js';

const LIFETIME_MS = 5 * 60_000;

export type TakeOutcome =
  | { kind: 'ok'; plan: Plan }
  | { kind: 'missing' }
  | { kind: 'expired'; requester: string; plan: Plan }
  | { kind: 'not-requester'; requester: string; plan: Plan };

/** Plans waiting for their requester's Confirm; each can be taken once. */
export class Confirmations {
  private readonly waiting = new Map<string, { requester: string; plan: Plan; createdAt: number }>();

  /** `onExpire` hears of every plan that expired unpressed, so the audit trail has it. */
  constructor(private readonly onExpire: (requester: string, plan: Plan) => void = () => {}) {}

  create(requester: string, plan: Plan, now: number): string {
    this.expire(now);
    const id = randomUUID();
    this.waiting.set(id, { requester, plan, createdAt: now });
    return id;
  }

  take(id: string, user: string, now: number): TakeOutcome {
    const entry = this.waiting.get(id);
    if (!entry) return { kind: 'missing' };
    if (now - entry.createdAt > LIFETIME_MS) {
      this.waiting.delete(id);
      return { kind: 'expired', requester: entry.requester, plan: entry.plan };
    }
    if (entry.requester !== user) return { kind: 'not-requester', requester: entry.requester, plan: entry.plan };
    // Deleted before acting, so a double click acts once.
    this.waiting.delete(id);
    return { kind: 'ok', plan: entry.plan };
  }

  /** Drops the plans older than their lifetime, telling `onExpire` of each. */
  expire(now: number): void {
    for (const [id, entry] of this.waiting) {
      if (now - entry.createdAt <= LIFETIME_MS) continue;
      this.waiting.delete(id);
      this.onExpire(entry.requester, entry.plan);
    }
  }
}
