import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Store, StoreError } from '../src/store/index.js';
import { ConfigError, parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger, redact } from '../src/log.js';
import { migrations } from '../src/store/migrations.js';
import { postgresMigrations } from '../src/store/migrations-postgres.js';
import type { IncidentRecord, ProblemRecord } from '../src/domain/model.js';
import type { MessageModel } from '../src/domain/messages.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './support/postgres.js';

// Epoch milliseconds past 2^31: PostgreSQL keeps them in BIGINT and must hand back numbers.
const T0 = 1_764_000_000_000;
const message = (title: string): MessageModel => ({ tone: 'info', title: [title] });

type Dialect = 'sqlite' | 'postgres';
const dialects: Dialect[] = postgresAvailable() ? ['sqlite', 'postgres'] : ['sqlite'];

let server: TestPostgres | undefined;
beforeAll(async () => {
  if (dialects.includes('postgres')) server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const opened: Store[] = [];
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
});

/** A fresh, empty store of the dialect, and where it lives. */
async function freshLocation(dialect: Dialect): Promise<string> {
  return dialect === 'sqlite' ? join(mkdtempSync(join(tmpdir(), 'dw-store-')), 'driftwatch.db') : server!.createDatabase();
}

async function fresh(dialect: Dialect): Promise<Store> {
  const store = Store.open(await freshLocation(dialect));
  opened.push(store);
  return store;
}

const problem = (overrides: Partial<ProblemRecord> = {}): ProblemRecord => ({
  subject: 'worker:relay',
  kind: 'worker_pods_failing',
  severity: 'critical',
  state: 'pending',
  badStreak: 1,
  goodStreak: 0,
  firstBadAt: T0,
  lastAt: T0,
  summary: 'CrashLoopBackOff',
  detail: { fields: [['Pods', '0/2 Ready']] },
  incidentId: null,
  ...overrides,
});

const incident = (overrides: Partial<Omit<IncidentRecord, 'id'>> = {}): Omit<IncidentRecord, 'id'> => ({
  status: 'open',
  primarySubject: 'worker:relay',
  severity: 'critical',
  channel: 'C0ALERTS',
  title: 'worker relay: worker pods failing',
  firstBadAt: T0,
  openedAt: T0 + 1000,
  acknowledgedAt: null,
  acknowledgedBy: null,
  resolvedAt: null,
  resolvedBy: null,
  lastActivityAt: T0 + 1000,
  correlation: null,
  stormId: null,
  ...overrides,
});

it('both dialects have the same numbered list of migrations', () => {
  expect(postgresMigrations.length, 'every migration in migrations.ts needs its PostgreSQL spelling in migrations-postgres.ts').toBe(migrations.length);
});

it('opens a SQLite file written by the previous version (its schema and rows as they were)', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'dw-store-')), 'old.db');
  const old = new Database(path);
  for (const migration of migrations) old.exec(migration);
  old.pragma(`user_version = ${migrations.length}`);
  old.prepare("INSERT INTO outbox (key, channel, kind, incident_id, role, message, created_at, next_attempt_at) VALUES ('root-1', 'C0ALERTS', 'post', 1, 'root', ?, ?, 0)").run(JSON.stringify(message('from before')), T0);
  old.prepare('INSERT INTO digests (ref, digest, platforms, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)').run('docker.io/library/nginx:latest', 'sha256:aa', '{}', T0, T0);
  old.close();
  const store = Store.open(path);
  opened.push(store);
  expect(store.outbox.pending().map((row) => [row.key, row.message.title])).toEqual([['root-1', ['from before']]]);
  expect(store.digests.historyOf('nginx').map((sighting) => sighting.digest)).toEqual(['sha256:aa']);
});

describe('store.url', () => {
  it('selects PostgreSQL; anything but a postgres:// URL is refused naming the key, without echoing the value', () => {
    expect(parseConfig({ store: { url: 'postgres://driftwatch@db.internal:5432/driftwatch' } }).store).toEqual({ path: './data/driftwatch.db', url: 'postgres://driftwatch@db.internal:5432/driftwatch' });
    expect(parseConfig({}).store.url).toBeUndefined();
    let refusal: unknown;
    try {
      parseConfig({ store: { url: 'mysql://root:hunter2-secret@db/driftwatch' } });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as ConfigError).problems).toEqual([expect.stringMatching(/^store\.url: expected a PostgreSQL URL like postgres:\/\/driftwatch@db\.internal:5432\/driftwatch, got mysql:/)]);
    expect((refusal as Error).message).not.toContain('hunter2-secret');
  });
});

describe.each(dialects)('store on %s', (dialect) => {
  it('events: appended in order, read by incident and by subject and type, attached later', async () => {
    const store = await fresh(dialect);
    const first = store.events.append({ at: T0 + 5, subject: 'worker:relay', type: 'check.bad', incidentId: null, actor: null, summary: 'bad', data: { restarts: 4 } });
    const second = store.events.append({ at: T0 + 1, subject: 'worker:relay', type: 'check.bad', incidentId: null, actor: 'U1', summary: 'earlier', data: {} });
    store.events.append({ at: T0 + 9, subject: 'worker:relay', type: 'notice', incidentId: null, actor: null, summary: 'other type', data: {} });
    expect(typeof first).toBe('number');
    expect(second).toBeGreaterThan(first);

    expect(store.events.ofSubject('worker:relay', 'check.bad').map((event) => event.summary)).toEqual(['earlier', 'bad']);
    expect(store.events.ofSubject('worker:relay', 'check.bad', T0 + 2).map((event) => event.summary)).toEqual(['bad']);
    expect(store.events.forIncident(7)).toEqual([]);

    store.events.attachToIncident(first, 7);
    store.events.attachToIncident(second, 7);
    expect(store.events.forIncident(7)).toEqual([
      { id: second, at: T0 + 1, subject: 'worker:relay', type: 'check.bad', incidentId: 7, actor: 'U1', summary: 'earlier', data: {} },
      { id: first, at: T0 + 5, subject: 'worker:relay', type: 'check.bad', incidentId: 7, actor: null, summary: 'bad', data: { restarts: 4 } },
    ]);
  });

  it('subjects: state is replaced per key and listed by subject; links are symmetric and replaced per source', async () => {
    const store = await fresh(dialect);
    store.subjects.setState('worker:b', 'spec', { labels: { team: 'core' } }, T0);
    store.subjects.setState('worker:a', 'spec', { labels: {} }, T0);
    store.subjects.setState('worker:C', 'spec', { labels: {} }, T0);
    store.subjects.setState('worker:b', 'spec', { labels: { team: 'edge' } }, T0 + 10);
    expect(store.subjects.state('worker:b', 'spec')).toEqual({ value: { labels: { team: 'edge' } }, updatedAt: T0 + 10 });
    expect(store.subjects.state('worker:c', 'spec')).toBeUndefined();
    // Byte order on both (a natural-language collation would put `worker:C` last).
    expect(store.subjects.allStates('spec').map((row) => row.subject)).toEqual(['worker:C', 'worker:a', 'worker:b']);

    store.subjects.setLinks('worker:a', 'kube', ['image:x', 'image:y', 'image:y', 'worker:a']);
    store.subjects.setLinks('worker:b', 'kube', ['worker:a']);
    expect(store.subjects.linked('worker:a')).toEqual(new Set(['image:x', 'image:y', 'worker:b']));
    expect(store.subjects.linked('image:y')).toEqual(new Set(['worker:a']));
    store.subjects.setLinks('worker:a', 'kube', ['image:z']);
    expect(store.subjects.linked('worker:a')).toEqual(new Set(['image:z', 'worker:b']));
  });

  it('digests: history per canonical tag, current first (ties: the last recorded); healthy digests kept only after a long enough streak', async () => {
    const store = await fresh(dialect);
    store.digests.saw('nginx', 'sha256:aa', { 'linux/amd64': 'sha256:a1' }, T0);
    store.digests.saw('docker.io/library/nginx:latest', 'sha256:bb', {}, T0 + 100);
    store.digests.saw('nginx:latest', 'sha256:cc', {}, T0 + 100);
    store.digests.saw('ghcr.io/acme/api:1', 'sha256:dd', {}, T0);
    const history = store.digests.historyOf('nginx');
    expect(history.map((sighting) => sighting.digest)).toEqual(['sha256:cc', 'sha256:bb', 'sha256:aa']);
    expect(history[2]).toEqual({ digest: 'sha256:aa', platforms: { 'linux/amd64': 'sha256:a1' }, firstSeen: T0, lastSeen: T0 });
    store.digests.saw('nginx', 'sha256:aa', { 'linux/arm64': 'sha256:a2' }, T0 + 200);
    expect(store.digests.historyOf('nginx:latest')[0]).toEqual({ digest: 'sha256:aa', platforms: { 'linux/arm64': 'sha256:a2' }, firstSeen: T0, lastSeen: T0 + 200 });
    expect(store.digests.refs()).toHaveLength(2);

    store.digests.ready('worker:a', 'ghcr.io/acme/api', 'sha256:dd', T0);
    store.digests.ready('worker:a', 'ghcr.io/acme/api', 'sha256:dd', T0 + 60_000);
    store.digests.ready('worker:b', 'ghcr.io/acme/api', 'sha256:ee', T0);
    store.digests.notReady('worker:a', 'ghcr.io/acme/api', 'sha256:dd', 30_000); // healthy for a minute: kept
    store.digests.notReady('worker:b', 'ghcr.io/acme/api', 'sha256:ee', 30_000); // never healthy long enough: dropped
    expect(store.digests.healthyOf('ghcr.io/acme/api')).toEqual([{ subject: 'worker:a', repository: 'ghcr.io/acme/api', digest: 'sha256:dd', readySince: T0, lastReadyAt: T0 + 60_000 }]);
  });

  it('incidents: problems upserted, incidents created and updated, threads, held notices and mutes', async () => {
    const store = await fresh(dialect);
    store.incidents.saveProblem(problem());
    store.incidents.saveProblem(problem({ state: 'alerting', badStreak: 3, incidentId: 1, detail: { fields: [['Pods', '0/3 Ready']] } }));
    expect(store.incidents.problem('worker:relay', 'worker_pods_failing')).toEqual(problem({ state: 'alerting', badStreak: 3, incidentId: 1, detail: { fields: [['Pods', '0/3 Ready']] } }));
    expect(store.incidents.problem('worker:relay', 'endpoint_down')).toBeUndefined();
    store.incidents.saveProblem(problem({ kind: 'endpoint_down', firstBadAt: T0 - 5, incidentId: 1 }));
    expect(store.incidents.problemsOfIncident(1).map((row) => row.kind)).toEqual(['endpoint_down', 'worker_pods_failing']);
    expect(store.incidents.problemsOfSubject('worker:relay')).toHaveLength(2);

    const first = store.incidents.createIncident(incident({ correlation: { tagMove: { ref: 'nginx', from: 'sha256:aa', to: 'sha256:bb', at: T0 } } }));
    const second = store.incidents.createIncident(incident({ channel: 'C0OTHER', openedAt: T0 + 2000, stormId: first }));
    expect(typeof first).toBe('number');
    expect(store.incidents.incident(first)).toEqual({ id: first, ...incident({ correlation: { tagMove: { ref: 'nginx', from: 'sha256:aa', to: 'sha256:bb', at: T0 } } }) });
    const resolved = { ...store.incidents.incident(first)!, status: 'resolved' as const, resolvedAt: T0 + 9000, resolvedBy: 'U1', channel: 'C0IGNORED', correlation: null };
    store.incidents.updateIncident(resolved);
    expect(store.incidents.incident(first)).toEqual({ ...resolved, channel: 'C0ALERTS' }); // the channel never moves
    expect(store.incidents.openIncidents().map((row) => row.id)).toEqual([second]);
    expect(store.incidents.openIncidents('C0ALERTS')).toEqual([]);
    expect(store.incidents.recentIncidents(1).map((row) => row.id)).toEqual([second]);
    expect(store.incidents.recentIncidents(5, 'C0ALERTS').map((row) => row.id)).toEqual([first]);
    expect(store.incidents.openedSince(T0 + 1500).map((row) => row.id)).toEqual([second]);
    expect(store.incidents.stormMembers(first).map((row) => row.id)).toEqual([second]);
    expect(store.incidents.incident(999)).toBeUndefined();

    store.incidents.setThread(first, 'C0ALERTS', '1.000');
    store.incidents.setThread(first, 'C0ALERTS', '2.000');
    expect(store.incidents.thread(first)).toEqual({ channel: 'C0ALERTS', ts: '2.000' });
    expect(store.incidents.incidentByThread('C0ALERTS', '2.000')).toBe(first);
    expect(store.incidents.incidentByThread('C0ALERTS', '1.000')).toBeUndefined();

    store.incidents.holdNotice('image:nginx', 'worker:relay|worker_pods_failing', T0, { text: 'one' });
    store.incidents.holdNotice('image:nginx', 'worker:relay|worker_pods_failing', T0 + 1, { text: 'two' });
    expect(store.incidents.takeHeldNotices('worker:relay|worker_pods_failing')).toEqual([
      { subject: 'image:nginx', at: T0, message: { text: 'one' } },
      { subject: 'image:nginx', at: T0 + 1, message: { text: 'two' } },
    ]);
    expect(store.incidents.takeHeldNotices('worker:relay|worker_pods_failing')).toEqual([]);

    store.incidents.mute('worker:relay', T0 + 1000, 'U1');
    store.incidents.mute('worker:relay', T0 + 5000, 'U2');
    store.incidents.mute('worker:other', T0 + 100, 'U1');
    expect(store.incidents.mutedUntil('worker:relay', T0)).toBe(T0 + 5000);
    expect(store.incidents.mutedUntil('worker:relay', T0 + 5000)).toBeUndefined();
    expect(store.incidents.expiredMutes(T0 + 100)).toEqual([{ subject: 'worker:other', until: T0 + 100, by: 'U1' }]);
    expect(store.incidents.expiredMutes(T0 + 100)).toEqual([]);
  });

  it('outbox: rows in order, a key enqueued once, updates superseded, attempts and outcomes recorded', async () => {
    const store = await fresh(dialect);
    let woken = 0;
    store.outbox.onEnqueue(() => woken++);
    store.outbox.enqueue({ key: 'root-1', channel: 'C0ALERTS', kind: 'post', incidentId: 1, role: 'root', message: message('root'), at: T0 });
    store.outbox.enqueue({ key: 'root-1', channel: 'C0ALERTS', kind: 'post', incidentId: 1, role: 'root', message: message('again'), at: T0 + 1 });
    store.outbox.enqueue({ key: 'update-1', channel: 'C0ALERTS', kind: 'update', incidentId: 1, role: 'root', message: message('v1'), at: T0 + 2 });
    store.outbox.enqueue({ key: 'update-2', channel: 'C0ALERTS', kind: 'update', incidentId: 1, role: 'root', message: message('v2'), at: T0 + 3 });
    store.outbox.enqueue({ key: 'reply-1', channel: 'C0ALERTS', kind: 'post', incidentId: null, role: 'reply', message: message('reply'), at: T0 + 4, threadOf: 'cmd-1' });
    expect(woken).toBe(5);
    expect(store.outbox.pending().map((row) => [row.key, row.message.title])).toEqual([['root-1', ['root']], ['update-2', ['v2']], ['reply-1', ['reply']]]);
    expect(store.outbox.byKey('update-1')!.status).toBe('superseded');
    expect(store.outbox.byKey('reply-1')).toMatchObject({ threadOf: 'cmd-1', incidentId: null, attempts: 0, nextAttemptAt: 0, createdAt: T0 + 4, ts: null, sentAt: null });
    expect(store.outbox.depth()).toBe(3);
    expect(store.outbox.nextAttemptAt()).toBe(0);

    const [root, update, reply] = store.outbox.pending();
    store.outbox.markAttempt(root!.id);
    store.outbox.markAttempt(root!.id);
    store.outbox.markSent(root!.id, '1.000', T0 + 10);
    store.outbox.markAttempt(update!.id);
    store.outbox.retryLater(update!.id, T0 + 60_000, 'rate limited', false);
    store.outbox.retryLater(reply!.id, T0 + 30_000, 'timeout', true);
    expect(store.outbox.byKey('root-1')).toMatchObject({ status: 'sent', attempts: 2, ts: '1.000', sentAt: T0 + 10, error: null });
    expect(store.outbox.nextAttemptAt()).toBe(T0 + 30_000);
    store.outbox.markFailed(reply!.id, 'channel_not_found');
    expect(store.outbox.failedCount()).toBe(1);
    expect(store.outbox.failed().map((row) => [row.key, row.error])).toEqual([['reply-1', 'channel_not_found']]);
    expect(store.outbox.depth()).toBe(1);
    expect(store.outbox.all().map((row) => row.status)).toEqual(['sent', 'superseded', 'pending', 'failed']);
    store.outbox.markSent(update!.id, '1.000', T0 + 70_000);
    expect(store.outbox.nextAttemptAt()).toBeUndefined();
  });

  it('audit: entries kept in order, never edited', async () => {
    const store = await fresh(dialect);
    const id = store.audit.record({ at: T0, actor: 'U1', action: 'pin', target: 'worker:relay', before: 'sha256:aa', after: 'sha256:bb', result: 'ok', incidentId: 3 });
    store.audit.record({ at: T0 + 1, actor: 'U2', action: 'restart', target: 'worker:relay', before: null, after: null, result: 'refused', incidentId: null });
    expect(store.audit.all()).toEqual([
      { id, at: T0, actor: 'U1', action: 'pin', target: 'worker:relay', before: 'sha256:aa', after: 'sha256:bb', result: 'ok', incidentId: 3 },
      { id: id + 1, at: T0 + 1, actor: 'U2', action: 'restart', target: 'worker:relay', before: null, after: null, result: 'refused', incidentId: null },
    ]);
  });

  it('transactions: a throw rolls everything back; a nested one that throws rolls back only its part', async () => {
    const store = await fresh(dialect);
    expect(() =>
      store.transaction(() => {
        store.events.append({ at: T0, subject: 's', type: 't', incidentId: null, actor: null, summary: 'lost', data: {} });
        store.outbox.enqueue({ key: 'lost', channel: 'C0ALERTS', kind: 'post', incidentId: null, role: 'message', message: message('lost'), at: T0 });
        throw new Error('engine bug');
      }),
    ).toThrow('engine bug');
    expect(store.events.ofSubject('s', 't')).toEqual([]);
    expect(store.outbox.all()).toEqual([]);

    const result = store.transaction(() => {
      store.events.append({ at: T0, subject: 's', type: 't', incidentId: null, actor: null, summary: 'kept', data: {} });
      expect(() =>
        store.transaction(() => {
          store.events.append({ at: T0, subject: 's', type: 't', incidentId: null, actor: null, summary: 'inner', data: {} });
          throw new Error('inner');
        }),
      ).toThrow('inner');
      store.subjects.setLinks('a', 'src', ['b']); // nests a transaction of its own
      return 42;
    });
    expect(result).toBe(42);
    expect(store.events.ofSubject('s', 't').map((event) => event.summary)).toEqual(['kept']);
    expect(store.subjects.linked('b')).toEqual(new Set(['a']));
  });

  it('keeps its data across a reopen, and refuses a database written by a newer Driftwatch without touching it', async () => {
    const location = await freshLocation(dialect);
    const store = Store.open(location);
    store.audit.record({ at: T0, actor: 'U1', action: 'pin', target: 't', before: null, after: null, result: 'ok', incidentId: null });
    store.close();
    const again = Store.open(location);
    expect(again.audit.all()).toHaveLength(1);
    again.close();

    if (dialect === 'sqlite') {
      const db = new Database(location);
      db.pragma('user_version = 99');
      db.close();
    } else {
      await server!.query(new URL(location).pathname.slice(1), 'UPDATE driftwatch_schema SET version = 99');
    }
    let refusal: unknown;
    try {
      Store.open(location);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(StoreError);
    const key = dialect === 'sqlite' ? 'store.path' : 'store.url';
    expect((refusal as Error).message).toMatch(new RegExp(`^store .+: written by a newer Driftwatch \\(schema 99, this version knows ${migrations.length}\\); upgrade Driftwatch or use another ${key.replace('.', '\\.')}$`));
    if (dialect === 'postgres') {
      expect((refusal as Error).message).not.toContain(new URL(location).password); // errors never show the password
      await server!.query(new URL(location).pathname.slice(1), `UPDATE driftwatch_schema SET version = ${migrations.length}`);
    } else {
      const db = new Database(location);
      db.pragma(`user_version = ${migrations.length}`);
      db.close();
    }
    const reopened = Store.open(location);
    opened.push(reopened);
    expect(reopened.audit.all()).toHaveLength(1); // the refusal left the data as it was
  });
});

describe.skipIf(!dialects.includes('postgres'))('store on postgres: connection faults', () => {
  it('a server that cannot be reached is a StoreError naming the URL without its password', async () => {
    const location = (await server!.createDatabase()).replace(/:\d+\//, ':1/');
    expect(() => Store.open(location, { timeoutMs: 2000 })).toThrow(StoreError);
    expect(() => Store.open(location, { timeoutMs: 2000 })).toThrow(/^store postgres:\/\/driftwatch@127\.0\.0\.1:1\/driftwatch_\d+: cannot open the database \(.*ECONNREFUSED/);
  });

  it('a statement with no answer in time is a StoreError; the connection is replaced and the next call works', async () => {
    const store = Store.open(await server!.createDatabase(), { timeoutMs: 1500 });
    opened.push(store);
    const started = performance.now();
    expect(() => store.db.executor.execute('SELECT pg_sleep(5)', [])).toThrow(/^store postgres:\/\/driftwatch@.*: no answer within 1500 ms; the connection is reset$/);
    expect(performance.now() - started).toBeLessThan(4000);
    store.audit.record({ at: T0, actor: 'U1', action: 'pin', target: 't', before: null, after: null, result: 'ok', incidentId: null });
    expect(store.audit.all()).toHaveLength(1);
  });

  it('the runtime opens store.url and redacts its password from every log line', async () => {
    const url = await server!.createDatabase();
    const runtime = new Runtime(parseConfig({ store: { url } }), { log: createLogger({ level: 'silent' }) });
    try {
      runtime.store.audit.record({ at: T0, actor: 'U1', action: 'pin', target: 't', before: null, after: null, result: 'ok', incidentId: null });
      expect(runtime.store.audit.all()).toHaveLength(1);
      // The bare value, as a driver error or a stack might carry it (no URL around it to recognise).
      const password = decodeURIComponent(new URL(url).password);
      expect(redact(`scram exchange for ${password} failed`)).toBe('scram exchange for [redacted] failed');
    } finally {
      await runtime.stop(0);
    }
  });

  it('PG* environment variables complete the URL (PGPASSWORD, PGSSLMODE)', async () => {
    const url = new URL(await server!.createDatabase());
    const password = decodeURIComponent(url.password);
    url.password = '';
    const saved = { PGPASSWORD: process.env.PGPASSWORD, PGSSLMODE: process.env.PGSSLMODE };
    try {
      process.env.PGSSLMODE = 'require'; // the test server has no TLS: refused, so the variable is read
      expect(() => Store.open(url.toString(), { timeoutMs: 3000 })).toThrow(/cannot open the database \(.*(SSL|ssl)/);
      process.env.PGSSLMODE = 'disable';
      process.env.PGPASSWORD = password;
      const store = Store.open(url.toString());
      opened.push(store);
      expect(store.audit.all()).toEqual([]);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('a wrong password is a StoreError, and the password is not in it', async () => {
    const location = (await server!.createDatabase()).replace(/:[^:@]+@/, ':not-the-password@');
    let refusal: unknown;
    try {
      Store.open(location);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(StoreError);
    expect((refusal as Error).message).toMatch(/password authentication failed/);
    expect((refusal as Error).message).not.toContain('not-the-password');
  });
});
