import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export class StoreError extends Error {}

/** The OS or SQLite reason of a failure, short: `EACCES: permission denied, mkdir '/x'`. */
const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Why the nearest existing ancestor of `folder` can't take a new folder: Node's recursive mkdir
 * reports ENOENT on a read-only mount, the ancestor's own access check says EROFS/EACCES.
 */
function ancestorProblem(folder: string): unknown {
  let current = folder;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  try {
    accessSync(current, constants.W_OK);
    return undefined;
  } catch (error) {
    return error;
  }
}

/**
 * Opens the SQLite file (creating its folder), takes the exclusive lock, switches to WAL and
 * applies pending migrations. A file that isn't a database, or one written by a newer
 * Driftwatch, is refused with a clear error: it is never reset, because the timeline and the
 * outbox in it are the user's. A file another Driftwatch holds is refused too: two writers on
 * one outbox post every message twice.
 */
export function openDb(path: string): Db {
  if (path !== ':memory:') {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw new StoreError(`store ${path}: cannot create its folder ${dirname(path)} (${reasonOf(ancestorProblem(dirname(path)) ?? error)})`);
    }
  }
  if (path !== ':memory:') {
    // SQLite only says "unable to open database file"; the OS says why (EACCES, EROFS…).
    for (const target of existsSync(path) ? [dirname(path), path] : [dirname(path)]) {
      try {
        accessSync(target, constants.R_OK | constants.W_OK);
      } catch (error) {
        throw new StoreError(`store ${path}: ${target === path ? 'the file' : `its folder ${target}`} is not writable (${reasonOf(error)})`);
      }
    }
  }
  let db: Db;
  try {
    db = new Database(path);
  } catch (error) {
    throw new StoreError(`store ${path}: cannot open the database (${reasonOf(error)}); check that the folder ${dirname(path)} exists and is writable`);
  }
  try {
    // Fail at once rather than wait: a held lock means another process owns this file.
    db.pragma('busy_timeout = 0');
    // Taken on the first access and held until close (or the process dies): one writer per file.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (error) {
    db.close();
    const shaped = error as { code?: string };
    if (shaped.code === 'SQLITE_BUSY' || shaped.code === 'SQLITE_LOCKED') throw new StoreError(`store ${path} is in use by another Driftwatch`);
    const reason = reasonOf(error);
    if (/not a database|malformed/i.test(reason)) throw new StoreError(`store ${path}: the file is not a valid Driftwatch database (${reason}); it was left untouched — move it aside to start afresh`);
    throw new StoreError(`store ${path}: cannot open the database (${reason}${shaped.code ? `, ${shaped.code}` : ''}); check that the file and its folder ${dirname(path)} are writable`);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  let version: number;
  try {
    version = db.pragma('user_version', { simple: true }) as number;
    db.pragma('quick_check');
  } catch (error) {
    db.close();
    throw new StoreError(`store ${path}: the file is not a valid Driftwatch database (${reasonOf(error)}); it was left untouched — move it aside to start afresh`);
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

/** SQLite result codes that mean the store can't take writes now (read-only, full, I/O). */
export function isStoreFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(READONLY|FULL|IOERR|CANTOPEN|CORRUPT|BUSY|LOCKED|NOTADB)/.test(code);
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
