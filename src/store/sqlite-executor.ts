import type Database from 'better-sqlite3';
import type { Executor, Outcome } from './executor.js';

/** SQLite through better-sqlite3: synchronous by nature, each SQL text prepared once. */
export class SqliteExecutor implements Executor {
  readonly dialect = 'sqlite';
  private readonly prepared = new Map<string, Database.Statement>();

  /** `writerLock`: the connection holding the store's writer lock, closed with the store. */
  constructor(
    readonly db: Database.Database,
    private readonly writerLock?: Database.Database,
  ) {}

  get open(): boolean {
    return this.db.open;
  }

  execute(sql: string, parameters: readonly unknown[]): Outcome {
    let statement = this.prepared.get(sql);
    if (!statement) {
      // Preparing is most of the cost of a small query.
      statement = this.db.prepare(sql);
      this.prepared.set(sql, statement);
    }
    if (statement.reader) return { rows: statement.all(...parameters) as Record<string, unknown>[], changes: 0 };
    return { rows: [], changes: statement.run(...parameters).changes };
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  close(): void {
    if (this.db.open) this.db.close();
    if (this.writerLock?.open) this.writerLock.close();
  }
}
