import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type Compilable,
  type Dialect,
} from 'kysely';
import { migrations } from './migrations.js';
import { postgresMigrations } from './migrations-postgres.js';
import type { Executor } from './executor.js';
import { SqliteExecutor } from './sqlite-executor.js';
import { PostgresExecutor } from './postgres-executor.js';
import type { Database as Tables } from './schema.js';
import { StoreError } from './errors.js';

export { StoreError } from './errors.js';

/** Kysely as a query compiler only: its driver never connects, the executor runs the text. */
function compilerFor(dialect: Executor['dialect']): Kysely<Tables> {
  const compiling: Dialect =
    dialect === 'sqlite'
      ? { createAdapter: () => new SqliteAdapter(), createDriver: () => new DummyDriver(), createIntrospector: (db) => new SqliteIntrospector(db), createQueryCompiler: () => new SqliteQueryCompiler() }
      : { createAdapter: () => new PostgresAdapter(), createDriver: () => new DummyDriver(), createIntrospector: (db) => new PostgresIntrospector(db), createQueryCompiler: () => new PostgresQueryCompiler() };
  return new Kysely<Tables>({ dialect: compiling });
}

/**
 * One database, whichever the dialect: queries are written once with `q` (typed against the
 * tables in schema.ts), compiled for the dialect and run synchronously by its executor.
 */
export class Db {
  readonly q: Kysely<Tables>;
  constructor(readonly executor: Executor) {
    this.q = compilerFor(executor.dialect);
    warmUp(this.q);
  }

  get dialect(): Executor['dialect'] {
    return this.executor.dialect;
  }

  get open(): boolean {
    return this.executor.open;
  }

  all<R>(query: Compilable<R>): R[] {
    const { sql, parameters } = query.compile();
    return this.executor.execute(sql, parameters).rows as R[];
  }

  first<R>(query: Compilable<R>): R | undefined {
    return this.all(query)[0];
  }

  /** Runs a write; returns how many rows it changed. */
  run(query: Compilable<unknown>): number {
    const { sql, parameters } = query.compile();
    return this.executor.execute(sql, parameters).changes;
  }

  transaction<T>(work: () => T): T {
    return this.executor.transaction(work);
  }

  close(): void {
    this.executor.close();
  }
}

/**
 * Compiles one query of each shape the modules use, at open. The first compile of a shape costs
 * a millisecond or more while V8 warms up; paid here it stays out of the first real writes — such
 * as the poster's "sent" mark right after a post, where a crash makes the message go out again.
 */
function warmUp(q: Kysely<Tables>): void {
  q.selectFrom('outbox').selectAll().where('id', '=', 0).where('status', '=', '').orderBy('id', 'desc').limit(1).compile();
  q.selectFrom('outbox').select((row) => [row.fn.countAll<number>().as('n'), row.fn.min('next_attempt_at').as('next')]).compile();
  q.selectFrom('links').select('b as other').where('a', '=', '').union(q.selectFrom('links').select('a as other').where('b', '=', '')).compile();
  q.insertInto('audit').values({ at: 0, actor: '', action: '', target: '', result: '' }).returning('id').compile();
  q.insertInto('links').values({ a: '', b: '', source: '' }).onConflict((conflict) => conflict.doNothing()).compile();
  q.insertInto('mutes').values({ subject: '', until: 0, by: '' }).onConflict((conflict) => conflict.column('subject').doUpdateSet((row) => ({ until: row.ref('excluded.until') }))).compile();
  q.insertInto('subject_state').values({ subject: '', key: '', value: '', updated_at: 0 }).onConflict((conflict) => conflict.columns(['subject', 'key']).doUpdateSet((row) => ({ value: row.ref('excluded.value') }))).compile();
  q.updateTable('outbox').set({ status: '', error: null }).where('id', '=', 0).compile();
  q.updateTable('outbox').set((row) => ({ attempts: row('attempts', '+', 1) })).where('id', '=', 0).compile();
  q.deleteFrom('mutes').where((row) => row(row('until', '-', row.ref('until')), '<', 0)).compile();
}

/** `postgres://` or `postgresql://` selects PostgreSQL; anything else is a SQLite file path. */
export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);

/** The URL as errors may show it: without its password. */
export function describeLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const url = new URL(location);
    url.password = '';
    return url.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** The password in a database URL (for the log redactor), if it has one. */
export function passwordIn(location: string): string | undefined {
  try {
    const password = new URL(location).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

const newerSchema = (where: string, version: number, key: string) =>
  new StoreError(`store ${where}: written by a newer Driftwatch (schema ${version}, this version knows ${migrations.length}); upgrade Driftwatch or use another ${key}`);

/**
 * Opens the store at `location` (a SQLite path or a PostgreSQL URL) and applies pending
 * migrations. A database that isn't one, or one written by a newer Driftwatch, is refused with a
 * clear error: it is never reset, because the timeline and the outbox in it are the user's.
 */
export function openDb(location: string, options: { timeoutMs?: number; readOnly?: boolean } = {}): Db {
  return isPostgresUrl(location) ? openPostgres(location, options.timeoutMs, options.readOnly) : openSqlite(location, options.readOnly);
}

/**
 * One writer per SQLite store: an exclusive lock on `<path>.lock`, held by this connection until
 * it closes or the process dies (the OS drops the lock then). Two writers on one outbox would post
 * every message twice.
 */
function takeWriterLock(path: string): Database.Database {
  const lockPath = `${path}.lock`;
  let lock: Database.Database;
  try {
    lock = new Database(lockPath);
  } catch (error) {
    throw new StoreError(`store ${path}: cannot create its lock file ${lockPath} (${reasonOf(error)})`);
  }
  try {
    // Fail at once rather than wait: a held lock means another process owns this store.
    lock.pragma('busy_timeout = 0');
    // In exclusive locking mode the lock taken by the first write is kept until close.
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT');
    return lock;
  } catch (error) {
    lock.close();
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new StoreError(`store ${path} is in use by another Driftwatch`);
    throw new StoreError(`store ${path}: cannot lock ${lockPath} (${reasonOf(error)})`);
  }
}

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
 * applies pending migrations. A file another Driftwatch holds is refused: two writers on one
 * outbox post every message twice.
 */
function openSqlite(path: string, readOnly = false): Db {
  if (path !== ':memory:' && !readOnly) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw new StoreError(`store ${path}: cannot create its folder ${dirname(path)} (${reasonOf(ancestorProblem(dirname(path)) ?? error)})`);
    }
    // SQLite only says "unable to open database file"; the OS says why (EACCES, EROFS…).
    for (const target of existsSync(path) ? [dirname(path), path] : [dirname(path)]) {
      try {
        accessSync(target, constants.R_OK | constants.W_OK);
      } catch (error) {
        throw new StoreError(`store ${path}: ${target === path ? 'the file' : `its folder ${target}`} is not writable (${reasonOf(error)})`);
      }
    }
  }
  // The writer's lock lives in a file of its own, so readers (`driftwatch audit`) can still read
  // the store while the bot runs, and a second writer is refused at once.
  const lock = readOnly || path === ':memory:' ? undefined : takeWriterLock(path);
  let db: Database.Database;
  try {
    db = new Database(path, readOnly ? { readonly: true, fileMustExist: true } : {});
  } catch (error) {
    lock?.close();
    throw new StoreError(`store ${path}: cannot open the database (${reasonOf(error)}); check that the folder ${dirname(path)} exists and is writable`);
  }
  try {
    if (!readOnly) db.pragma('journal_mode = WAL');
  } catch (error) {
    db.close();
    lock?.close();
    const shaped = error as { code?: string };
    const reason = reasonOf(error);
    if (/not a database|malformed/i.test(reason)) throw new StoreError(`store ${path}: the file is not a valid Driftwatch database (${reason}); it was left untouched — move it aside to start afresh`);
    throw new StoreError(`store ${path}: cannot open the database (${reason}${shaped.code ? `, ${shaped.code}` : ''}); check that the file and its folder ${dirname(path)} are writable`);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  let version: number;
  try {
    // `user_version` counts applied migrations, as in every earlier version: old files open as they are.
    version = db.pragma('user_version', { simple: true }) as number;
    db.pragma('quick_check');
  } catch (error) {
    db.close();
    lock?.close();
    throw new StoreError(`store ${path}: the file is not a valid Driftwatch database (${(error as Error).message}); it was left untouched — move it aside to start afresh`);
  }
  if (version > migrations.length) {
    db.close();
    lock?.close();
    throw newerSchema(path, version, 'store.path');
  }
  if (readOnly) return new Db(new SqliteExecutor(db));
  for (let index = version; index < migrations.length; index++) {
    db.transaction(() => {
      db.exec(migrations[index]!);
      db.pragma(`user_version = ${index + 1}`);
    })();
  }
  return new Db(new SqliteExecutor(db, lock));
}

/** Any constant will do: it only keeps two replicas from migrating at the same time. */
const MIGRATION_LOCK = 0x64726966;

function openPostgres(url: string, timeoutMs?: number, readOnly = false): Db {
  const where = describeLocation(url);
  const executor = new PostgresExecutor(url, where, timeoutMs, readOnly);
  try {
    if (readOnly) checkSchemaForReading(executor, where);
    else migrate(executor, where);
  } catch (error) {
    executor.close();
    if (error instanceof StoreError && error.message.includes('Driftwatch (schema')) throw error;
    const reason = (error as Error).message.replace(`store ${where}: `, '');
    throw new StoreError(`store ${where}: cannot open the database (${reason})`);
  }
  return new Db(executor);
}

/** Takes the migration lock (one replica migrates at a time) and applies pending migrations. */
function migrate(executor: PostgresExecutor, where: string): void {
  executor.transaction(() => {
    executor.execute(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`, []);
    executor.execute('CREATE TABLE IF NOT EXISTS driftwatch_schema (version INTEGER NOT NULL)', []);
    const version = Number(executor.execute('SELECT max(version) AS version FROM driftwatch_schema', []).rows[0]?.version ?? 0);
    if (version > postgresMigrations.length) throw newerSchema(where, version, 'store.url');
    for (let index = version; index < postgresMigrations.length; index++) {
      executor.execute(postgresMigrations[index]!, []);
      executor.execute('DELETE FROM driftwatch_schema', []);
      executor.execute(`INSERT INTO driftwatch_schema (version) VALUES (${index + 1})`, []);
    }
  });
}

/**
 * A reader (`driftwatch audit`) never migrates: a newer CLI on a laptop would upgrade the shared
 * schema under the running replicas, which then refuse to restart. It reads only a schema of
 * exactly its own version (the worker also makes every transaction read-only).
 */
function checkSchemaForReading(executor: PostgresExecutor, where: string): void {
  const known = postgresMigrations.length;
  const table = executor.execute("SELECT to_regclass('driftwatch_schema') IS NOT NULL AS present", []).rows[0]?.present;
  if (!table) throw new StoreError(`store ${where}: holds no Driftwatch store (no driftwatch_schema table); nothing to read — check store.url`);
  const version = Number(executor.execute('SELECT max(version) AS version FROM driftwatch_schema', []).rows[0]?.version ?? 0);
  if (version > known) throw newerSchema(where, version, 'store.url');
  if (version < known) {
    throw new StoreError(
      `store ${where}: written by an older Driftwatch (schema ${version}, this version knows ${known}); a reader never migrates it — upgrade the running bot first (it migrates on start) or use the Driftwatch version the bot runs`,
    );
  }
}

/** Result codes that mean the store can't take writes now (read-only, full, I/O), either dialect. */
export function isStoreFault(error: unknown): boolean {
  if (error instanceof StoreError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(READONLY|FULL|IOERR|CANTOPEN|CORRUPT|BUSY|LOCKED|NOTADB)/.test(code);
}
