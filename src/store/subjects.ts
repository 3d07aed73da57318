import type { Db } from './db.js';

/** Last-known state per subject (what `/version status` and the renderers read) and links. */
export class SubjectStore {
  private readonly putState;
  private readonly getState;
  private readonly stateByKey;
  private readonly deleteLinks;
  private readonly insertLink;
  private readonly linksOf;
  constructor(private readonly db: Db) {
    this.putState = db.prepare('INSERT INTO subject_state (subject, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(subject, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at');
    this.getState = db.prepare<[string, string], { value: string; updated_at: number }>('SELECT value, updated_at FROM subject_state WHERE subject = ? AND key = ?');
    this.stateByKey = db.prepare<[string], { subject: string; value: string; updated_at: number }>('SELECT subject, value, updated_at FROM subject_state WHERE key = ? ORDER BY subject');
    this.deleteLinks = db.prepare('DELETE FROM links WHERE a = ? AND source = ?');
    this.insertLink = db.prepare('INSERT OR IGNORE INTO links (a, b, source) VALUES (?, ?, ?)');
    this.linksOf = db.prepare<[string, string], { other: string }>('SELECT b AS other FROM links WHERE a = ? UNION SELECT a AS other FROM links WHERE b = ?');
  }

  setState(subject: string, key: string, value: unknown, at: number): void {
    this.putState.run(subject, key, JSON.stringify(value), at);
  }

  state<T>(subject: string, key: string): { value: T; updatedAt: number } | undefined {
    const row = this.getState.get(subject, key);
    return row ? { value: JSON.parse(row.value) as T, updatedAt: row.updated_at } : undefined;
  }

  allStates<T>(key: string): Array<{ subject: string; value: T; updatedAt: number }> {
    return this.stateByKey.all(key).map((row) => ({ subject: row.subject, value: JSON.parse(row.value) as T, updatedAt: row.updated_at }));
  }

  /** Replaces the links that `source` knows from `subject` (links are symmetric when read). */
  setLinks(subject: string, source: string, others: string[]): void {
    this.db.transaction(() => {
      this.deleteLinks.run(subject, source);
      for (const other of others) if (other !== subject) this.insertLink.run(subject, other, source);
    })();
  }

  linked(subject: string): Set<string> {
    return new Set(this.linksOf.all(subject, subject).map((row) => row.other));
  }
}
