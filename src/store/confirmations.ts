import type { Db } from './db.js';

export interface StoredConfirmation {
  id: string;
  requester: string;
  /** The command that made the plan (JSON-able), to make it again after a failover. */
  request: unknown;
  /** The preview the requester saw (JSON-able). */
  preview: unknown;
  createdAt: number;
}

/** Plans waiting for a Confirm, kept in the store so a failover (or a restart) keeps them. */
export class ConfirmationStore {
  constructor(private readonly db: Db) {}

  add(entry: StoredConfirmation): void {
    const { db } = this;
    db.run(db.q.insertInto('confirmations').values({ id: entry.id, requester: entry.requester, request: JSON.stringify(entry.request), preview: JSON.stringify(entry.preview), created_at: entry.createdAt }));
  }

  /** Removes and returns it: of two replicas (or two clicks) taking the same id, one gets it. */
  take(id: string): StoredConfirmation | undefined {
    const { db } = this;
    const row = db.first(db.q.deleteFrom('confirmations').where('id', '=', id).returning(['id', 'requester', 'request', 'preview', 'created_at']));
    return row ? { id: row.id, requester: row.requester, request: JSON.parse(row.request) as unknown, preview: JSON.parse(row.preview) as unknown, createdAt: row.created_at } : undefined;
  }

  /** Puts a taken one back (it was pressed by someone else than its requester). */
  restore(entry: StoredConfirmation): void {
    this.add(entry);
  }

  purgeOlderThan(at: number): void {
    const { db } = this;
    db.run(db.q.deleteFrom('confirmations').where('created_at', '<', at));
  }
}
