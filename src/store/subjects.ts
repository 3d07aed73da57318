import type { Db } from './db.js';

/** Last-known state per subject (what `/version status` and the renderers read) and links. */
export class SubjectStore {
  constructor(private readonly db: Db) {}

  setState(subject: string, key: string, value: unknown, at: number): void {
    const { db } = this;
    db.run(
      db.q
        .insertInto('subject_state')
        .values({ subject, key, value: JSON.stringify(value), updated_at: at })
        .onConflict((conflict) => conflict.columns(['subject', 'key']).doUpdateSet((row) => ({ value: row.ref('excluded.value'), updated_at: row.ref('excluded.updated_at') }))),
    );
  }

  state<T>(subject: string, key: string): { value: T; updatedAt: number } | undefined {
    const { db } = this;
    const row = db.first(db.q.selectFrom('subject_state').select(['value', 'updated_at']).where('subject', '=', subject).where('key', '=', key));
    return row ? { value: JSON.parse(row.value) as T, updatedAt: row.updated_at } : undefined;
  }

  allStates<T>(key: string): Array<{ subject: string; value: T; updatedAt: number }> {
    const { db } = this;
    return db
      .all(db.q.selectFrom('subject_state').select(['subject', 'value', 'updated_at']).where('key', '=', key).orderBy('subject'))
      .map((row) => ({ subject: row.subject, value: JSON.parse(row.value) as T, updatedAt: row.updated_at }));
  }

  /** Replaces the links that `source` knows from `subject` (links are symmetric when read). */
  setLinks(subject: string, source: string, others: string[]): void {
    const { db } = this;
    db.transaction(() => {
      db.run(db.q.deleteFrom('links').where('a', '=', subject).where('source', '=', source));
      for (const other of others) {
        if (other !== subject) db.run(db.q.insertInto('links').values({ a: subject, b: other, source }).onConflict((conflict) => conflict.doNothing()));
      }
    });
  }

  linked(subject: string): Set<string> {
    const { db } = this;
    const rows = db.all(
      db.q
        .selectFrom('links')
        .select('b as other')
        .where('a', '=', subject)
        .union(db.q.selectFrom('links').select('a as other').where('b', '=', subject)),
    );
    return new Set(rows.map((row) => row.other));
  }
}
