import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export class StoreError extends Error {}

/**
 * Opens the SQLite file (creating its folder), switches to WAL and applies pending migrations.
 * A file that isn't a database, or one written by a newer Driftwatch, is refused with a clear
 * error: it is never reset, because the timeline and the outbox in it are the user's.
 */
export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (error) {
    const reason = (error as Error).message;
    const what = /not a database|malformed/i.test(reason) ? 'the file is not a valid Driftwatch database' : 'cannot open the database';
    throw new StoreError(`store ${path}: ${what} (${reason}); it was left untouched — move it aside to start afresh`);
  }
  let version: number;
  try {
    version = db.pragma('user_version', { simple: true }) as number;
    db.pragma('quick_check');
  } catch (error) {
    db.close();
    throw new StoreError(`store ${path}: the file is not a valid Driftwatch database (${(error as Error).message}); it was left untouched — move it aside to start afresh`);
  }
  if (version > migrations.length) {
    db.close();
    throw new StoreError(`store ${path}: written by a newer Driftwatch (schema ${version}, this version knows ${migrations.length}); upgrade Driftwatch or use another store.path`);
  }
  for (let index = version; index < migrations.length; index++) {
    db.transaction(() => {
      db.exec(migrations[index]!);
      db.pragma(`user_version = ${index + 1}`);
    })();
  }
  return db;
}

/** Prepares each SQL text once per database: preparing is most of the cost of a small query. */
export function statements(db: Db): <P extends unknown[] = unknown[], R = unknown>(sql: string) => Database.Statement<P, R> {
  const cache = new Map<string, Database.Statement>();
  return <P extends unknown[] = unknown[], R = unknown>(sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  };
}
