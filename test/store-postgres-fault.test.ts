import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { StoreError } from '../src/store/index.js';
import type { CheckObservation } from '../src/domain/model.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './support/postgres.js';

const quiet = createLogger({ level: 'silent' });

/** Three workers that fail for three checks and recover for three, over and over: incidents open, get replies, resolve. */
function observations(count: number): CheckObservation[] {
  const subjects = ['worker:relay', 'worker:billing', 'worker:search'];
  return Array.from({ length: count }, (_, index) => {
    const subject = subjects[index % subjects.length]!;
    const round = Math.floor(index / subjects.length);
    const ok = round % 6 >= 3;
    return { subject, problem: 'worker_pods_failing', ok, summary: ok ? 'all pods Ready' : `CrashLoopBackOff, ${round} restarts` };
  });
}

/**
 * What the store holds after a run, without ids: PostgreSQL's sequences are not transactional,
 * so a transaction cut by the restart leaves a gap in the ids (and in keys made of them) that
 * SQLite doesn't. Random parts of keys (update ids) are left out too.
 */
function contents(runtime: Runtime) {
  const { store } = runtime;
  const rows = store.outbox.all();
  const outbox = rows.map((row) => ({ key: row.key.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/, 'uuid').replace(/\d+/g, '#'), kind: row.kind, role: row.role, status: row.status, message: JSON.stringify(row.message).replace(/#\d+/g, '#') }));
  const incidents = store.incidents.recentIncidents(1000).map(({ status, title, openedAt, resolvedAt }) => ({ status, title, openedAt, resolvedAt }));
  const events = store.incidents.recentIncidents(1000).flatMap((incident) => store.events.forIncident(incident.id).map(({ at, subject, type, summary }) => ({ at, subject, type, summary })));
  const problems = ['worker:relay', 'worker:billing', 'worker:search'].map((subject) => store.incidents.problem(subject, 'worker_pods_failing'));
  return { outbox, incidents, events, problems: problems.map((problem) => problem && { ...problem, incidentId: null }), keys: rows.map((row) => row.key) };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!postgresAvailable())('store on PostgreSQL: the server restarts while observations are applied', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('calls during the outage fail as StoreErrors, the same process carries on after it, and nothing is lost or applied twice', async () => {
    const url = await server.createDatabase();
    const alerting = { failuresBeforeAlert: 2, recoveriesBeforeResolve: 2, reopenWithin: '1m' };
    const clock = new ManualClock();
    const runtime = new Runtime(parseConfig({ slack: { channel: 'C0ALERTS' }, store: { url }, alerting }), { clock, log: quiet });
    const all = observations(180);
    const failures: unknown[] = [];
    let outage: Promise<void> | undefined;
    let restarted = false;
    let outageReported = false;
    try {
      // A watcher's loop: an observation that could not be applied is tried again (the next cycle
      // sees the same state); the clock moves on only once it was applied.
      for (let index = 0; index < all.length; ) {
        if (index === 60 && !outage) outage = server.stopServer();
        try {
          runtime.sink().check(all[index]!);
          index++;
          clock.advance(10_000);
        } catch (error) {
          failures.push(error);
          if (!runtime.store.db.open) outageReported = true;
          // Bring it back once the outage has been seen a few times.
          if (failures.length === 5 && !restarted) {
            restarted = true;
            outage = outage!.then(() => server.startServer());
          }
        }
        await wait(failures.length > 0 && !restarted ? 20 : 1);
      }
      await outage;
      expect(failures.length, 'the outage was seen').toBeGreaterThanOrEqual(5);
      expect(outageReported, 'the health check saw the store out of reach').toBe(true);
      expect(runtime.store.db.open, 'and sees it back').toBe(true);
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(StoreError);
        expect((failure as Error).message).toMatch(/^store postgres:\/\/driftwatch@127\.0\.0\.1:\d+\/driftwatch_\d+: /);
        expect((failure as Error).message).not.toContain(new URL(url).password);
      }
      const afterFault = contents(runtime);

      // The same observations at the same times, on SQLite without any fault: the same store.
      const referenceClock = new ManualClock();
      const referenceRuntime = new Runtime(parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-ref-')), 'db.sqlite') }, alerting }), { clock: referenceClock, log: quiet });
      for (const observation of all) {
        referenceRuntime.sink().check(observation);
        referenceClock.advance(10_000);
      }
      const expected = contents(referenceRuntime);
      await referenceRuntime.stop(0);

      expect(expected.incidents.length, 'the workload opens incidents').toBeGreaterThanOrEqual(9);
      expect(afterFault.incidents).toEqual(expected.incidents);
      expect(afterFault.problems).toEqual(expected.problems);
      expect(afterFault.events).toEqual(expected.events);
      expect(afterFault.outbox).toEqual(expected.outbox);
      expect(new Set(afterFault.keys).size, 'no message doubled').toBe(afterFault.keys.length);
    } finally {
      await outage?.catch(() => {});
      await runtime.stop(0);
    }
  }, 120_000);
});
