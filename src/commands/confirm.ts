import { randomUUID } from 'node:crypto';
import type { StoredConfirmation } from '../store/confirmations.js';
import type { CommandContext, Plan } from './types.js';

const LIFETIME_MS = 5 * 60_000;

/** What the audit needs of a plan; all a stored confirmation knows before its plan is made again. */
export type PlanSummary = Pick<Plan, 'rule' | 'incidentId'>;

export type TakeOutcome =
  | { kind: 'ok'; plan: Plan }
  | { kind: 'missing' }
  | { kind: 'expired'; requester: string; plan: PlanSummary }
  | { kind: 'not-requester'; requester: string; plan: PlanSummary }
  /** Made again after a failover, the plan no longer matches the preview the requester saw. */
  | { kind: 'changed'; plan: PlanSummary };

/** The command a plan came from: enough to make the plan again in another process. */
export interface ConfirmationRequest {
  family: string;
  text: string;
  ctx: CommandContext;
}

/** Where confirmations outlive this process (the store's `confirmations` table). */
export interface ConfirmationPersistence {
  add(entry: StoredConfirmation): void;
  take(id: string): StoredConfirmation | undefined;
  restore(entry: StoredConfirmation): void;
  purgeOlderThan(at: number): void;
}

/** What is stored of a confirmation's command: the command and the summary the audit needs. */
interface StoredRequest extends ConfirmationRequest {
  rule: string;
  incidentId?: number;
}

/**
 * Plans waiting for their requester's Confirm; each can be taken once. With a persistence (the
 * store), a confirmation survives a failover: the plan itself is a closure and can't be stored,
 * so the next leader makes it again from the stored command and acts only if its preview is the
 * one the requester confirmed.
 */
export class Confirmations {
  private readonly waiting = new Map<string, { requester: string; plan: Plan; createdAt: number }>();
  /** Ids this process also wrote to the store (the store then says whether they are still there). */
  private readonly persistedIds = new Set<string>();
  private rebuild: ((request: ConfirmationRequest) => Promise<Plan | undefined>) | undefined;

  /** `onExpire` hears of every plan that expired unpressed, so the audit trail has it. */
  constructor(
    private readonly onExpire: (requester: string, plan: PlanSummary) => void = () => {},
    private readonly persistence?: ConfirmationPersistence,
  ) {}

  /** How a stored confirmation's plan is made again (the command bus sets this). */
  rebuildWith(rebuild: (request: ConfirmationRequest) => Promise<Plan | undefined>): void {
    this.rebuild = rebuild;
  }

  create(requester: string, plan: Plan, now: number, request?: ConfirmationRequest): string {
    this.expire(now);
    const id = randomUUID();
    this.waiting.set(id, { requester, plan, createdAt: now });
    if (this.persistence && request) {
      const stored: StoredRequest = { ...request, rule: plan.rule, ...(plan.incidentId !== undefined ? { incidentId: plan.incidentId } : {}) };
      this.persistence.add({ id, requester, request: stored, preview: plan.preview, createdAt: now });
      this.persistedIds.add(id);
    }
    return id;
  }

  async take(id: string, user: string, now: number): Promise<TakeOutcome> {
    const memory = this.waiting.get(id);
    // The store is the authority for what it holds: its row is taken atomically, so of two
    // replicas (or two clicks) one acts. Without the row in memory it may be a previous leader's.
    let stored: StoredConfirmation | undefined;
    if (this.persistence && (!memory || this.persistedIds.has(id))) {
      stored = this.persistence.take(id);
      if (!stored) {
        this.forget(id);
        return { kind: 'missing' };
      }
    }
    const request = stored?.request as StoredRequest | undefined;
    const entry = memory ?? (stored && request ? { requester: stored.requester, plan: undefined, createdAt: stored.createdAt } : undefined);
    if (!entry) return { kind: 'missing' };
    const summary: PlanSummary = entry.plan ?? { rule: request!.rule, ...(request!.incidentId !== undefined ? { incidentId: request!.incidentId } : {}) };
    if (now - entry.createdAt > LIFETIME_MS) {
      this.forget(id);
      return { kind: 'expired', requester: entry.requester, plan: summary };
    }
    if (entry.requester !== user) {
      if (stored) this.persistence!.restore(stored);
      return { kind: 'not-requester', requester: entry.requester, plan: summary };
    }
    // Deleted before acting, so a double click acts once.
    this.forget(id);
    if (entry.plan) return { kind: 'ok', plan: entry.plan };
    const plan = await this.rebuild?.(request!);
    if (!plan || JSON.stringify(plan.preview) !== JSON.stringify(stored!.preview)) return { kind: 'changed', plan: summary };
    return { kind: 'ok', plan };
  }

  /** Drops the plans older than their lifetime, telling `onExpire` of each (and the stored ones). */
  expire(now: number): void {
    for (const [id, entry] of this.waiting) {
      if (now - entry.createdAt <= LIFETIME_MS) continue;
      this.forget(id);
      this.onExpire(entry.requester, entry.plan);
    }
    this.persistence?.purgeOlderThan(now - LIFETIME_MS);
  }

  private forget(id: string): void {
    this.waiting.delete(id);
    this.persistedIds.delete(id);
  }
}
