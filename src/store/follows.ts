import type { Db } from './db.js';

export interface StoredFollow {
  id: string;
  /** The follow job (JSON-able). */
  job: unknown;
  startedAt: number;
  timeoutMs: number | null;
}

/** Rollouts being followed, so the next leader follows them on after a failover. */
export class FollowStore {
  constructor(private readonly db: Db) {}

  add(entry: StoredFollow): void {
    const { db } = this;
    db.run(db.q.insertInto('rollout_follows').values({ id: entry.id, job: JSON.stringify(entry.job), started_at: entry.startedAt, timeout_ms: entry.timeoutMs }).onConflict((conflict) => conflict.doNothing()));
  }

  /** True when this call removed it: the one replica that may tell the follow's outcome. */
  remove(id: string): boolean {
    const { db } = this;
    return db.run(db.q.deleteFrom('rollout_follows').where('id', '=', id)) === 1;
  }

  all(): StoredFollow[] {
    const { db } = this;
    return db.all(db.q.selectFrom('rollout_follows').selectAll().orderBy('started_at')).map((row) => ({ id: row.id, job: JSON.parse(row.job) as unknown, startedAt: row.started_at, timeoutMs: row.timeout_ms }));
  }
}
