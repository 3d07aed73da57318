import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../src/store/index.js';
import { postgresMigrations } from '../src/store/migrations-postgres.js';
import { printAudit } from '../src/audit-cli.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './support/postgres.js';

const databaseOf = (url: string) => new URL(url).pathname.slice(1);

function record(store: Store, action: string): void {
  store.audit.record({ at: Date.now(), actor: 'U0ONCALL', action, target: 'worker:relay', before: null, after: null, result: 'ok', incidentId: null });
}

describe.skipIf(!postgresAvailable())('driftwatch audit on PostgreSQL reads only', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const collect = () => {
    const lines: string[] = [];
    const out = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }) as unknown as NodeJS.WritableStream;
    return { lines, out };
  };
  const versionOf = async (url: string) => (await server.query(databaseOf(url), 'SELECT max(version) AS version FROM driftwatch_schema')).rows[0].version as number;

  it('reads the trail of a store of its own schema, and cannot write to it', async () => {
    const url = await server.createDatabase();
    const writer = Store.open(url);
    record(writer, 'worker pin');
    writer.close();
    const { lines, out } = collect();
    expect(printAudit(url, '1h', out)).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ actor: 'U0ONCALL', action: 'worker pin' });
    const reader = Store.open(url, { readOnly: true });
    try {
      expect(() => record(reader, 'sneaked in')).toThrow(/read-only transaction/);
    } finally {
      reader.close();
    }
    expect((await server.query(databaseOf(url), 'SELECT count(*)::int AS n FROM audit')).rows[0].n).toBe(1);
  });

  it('refuses a store of an older or a newer schema, and a database without one, and never migrates', async () => {
    const url = await server.createDatabase();
    Store.open(url).close();
    const database = databaseOf(url);
    const known = postgresMigrations.length;

    await server.query(database, `UPDATE driftwatch_schema SET version = ${known - 1}`);
    expect(() => printAudit(url, '1h', collect().out)).toThrow(
      new RegExp(`^store postgres://driftwatch@127\\.0\\.0\\.1:\\d+/${database}: written by an older Driftwatch \\(schema ${known - 1}, this version knows ${known}\\); a reader never migrates it`),
    );
    expect(await versionOf(url), 'the older schema was left as it was').toBe(known - 1);

    await server.query(database, 'UPDATE driftwatch_schema SET version = 99');
    expect(() => printAudit(url, '1h', collect().out)).toThrow(/written by a newer Driftwatch \(schema 99, this version knows \d+\); upgrade Driftwatch or use another store\.url$/);
    expect(await versionOf(url)).toBe(99);

    const empty = await server.createDatabase();
    expect(() => printAudit(empty, '1h', collect().out)).toThrow(/holds no Driftwatch store \(no driftwatch_schema table\)/);
    const tables = await server.query(databaseOf(empty), "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    expect(tables.rows[0].n, 'nothing was created').toBe(0);
  });
});
