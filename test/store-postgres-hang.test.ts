import { createRequire } from 'node:module';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store, StoreError } from '../src/store/index.js';
import { postgresWorkerSource } from '../src/store/postgres-worker.js';
import { postgresAvailable, startBlackHoleProxy, startPostgres, type BlackHoleProxy, type TestPostgres } from './support/postgres.js';

const TIMEOUT_MS = 1500;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const databaseOf = (url: string) => new URL(url).pathname.slice(1);

function record(store: Store, action: string): void {
  store.audit.record({ at: Date.now(), actor: 'U0ONCALL', action, target: 'worker:relay', before: null, after: null, result: 'ok', incidentId: null });
}

/** How long `work` took and what it threw (it must throw). */
function failure(work: () => unknown): { ms: number; error: unknown } {
  const started = performance.now();
  try {
    work();
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
  throw new Error('expected the call to fail');
}

/** Retries `work` (each try fails at once during the outage) until it succeeds or the deadline passes. */
async function untilWorks<T>(work: () => T, deadlineMs = 20_000): Promise<T> {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    try {
      return work();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await wait(100);
    }
  }
}

let server: TestPostgres;
beforeAll(async () => {
  if (postgresAvailable()) server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!postgresAvailable())('store on PostgreSQL: the network silently drops the connection', () => {
  const proxies: BlackHoleProxy[] = [];
  const stores: Store[] = [];
  afterAll(async () => {
    for (const store of stores) store.close();
    for (const proxy of proxies) await proxy.close();
  });

  async function openThroughProxy(): Promise<{ url: string; proxy: BlackHoleProxy; store: Store }> {
    const url = await server.createDatabase();
    const proxy = await startBlackHoleProxy(url);
    proxies.push(proxy);
    const store = Store.open(proxy.url, { timeoutMs: TIMEOUT_MS });
    stores.push(store);
    return { url, proxy, store };
  }

  const actions = async (url: string) => (await server.query(databaseOf(url), 'SELECT action FROM audit ORDER BY id')).rows.map((row) => row.action as string);

  it('the hung call fails within the timeout, later calls fail at once, and the same store works again after; nothing is applied twice', async () => {
    const { url, proxy, store } = await openThroughProxy();
    record(store, 'before');
    await proxy.blackHole();

    const hung = failure(() => record(store, 'into the black hole'));
    expect(hung.error).toBeInstanceOf(StoreError);
    expect((hung.error as Error).message).toMatch(/no answer within 1500 ms; the connection is reset$/);
    expect(hung.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(hung.ms).toBeLessThan(TIMEOUT_MS + 1000);
    expect(store.db.open, 'the health check sees the outage').toBe(false);

    // While the route is gone, calls fail without waiting out the timeout: the event loop turns.
    const later: number[] = [];
    for (let index = 0; index < 12; index++) {
      const call = failure(() => record(store, `during the outage ${index}`));
      expect(call.error).toBeInstanceOf(StoreError);
      later.push(call.ms);
      await wait(100);
    }
    // The first may wait briefly for the reconnect started at the reset; none waits the timeout.
    expect(Math.max(...later)).toBeLessThan(TIMEOUT_MS / 2);
    expect(later.slice(1).every((ms) => ms < 100), `each later call fails at once: ${later.map(Math.round).join(', ')} ms`).toBe(true);
    expect(store.db.open).toBe(false);

    await proxy.restore();
    await untilWorks(() => record(store, 'after'));
    expect(store.db.open, 'and sees it back').toBe(true);
    record(store, 'after, again');
    expect(await actions(url), 'what the caller was told failed never happened').toEqual(['before', 'after', 'after, again']);
  }, 45_000);

  it('a BEGIN with no answer never leaves the next connection inside a transaction; an autocommit write after the outage is durable', async () => {
    const { url, proxy, store } = await openThroughProxy();
    await proxy.blackHole();
    const begin = failure(() => store.transaction(() => record(store, 'in the lost transaction')));
    expect((begin.error as Error).message).toMatch(/no answer within 1500 ms/);
    // Transactions during the outage fail at once too.
    await wait(1200);
    expect(failure(() => store.transaction(() => record(store, 'in another lost transaction'))).ms).toBeLessThan(100);
    await proxy.restore();

    const transactionId = await untilWorks(() => store.db.executor.execute('SELECT txid_current_if_assigned() AS txid', []).rows[0]!.txid);
    expect(transactionId, 'the connection is not inside a transaction').toBeNull();
    record(store, 'autocommit after the outage');
    // An error on the same connection rolls nothing back: the write was committed on its own.
    expect(() => store.db.executor.execute('SELECT 1/0', [])).toThrow(/division by zero/);
    expect(await actions(url)).toEqual(['autocommit after the outage']);
    const sessions = await server.query('postgres', `SELECT state FROM pg_stat_activity WHERE datname = '${databaseOf(url)}' AND application_name = 'driftwatch'`);
    expect(sessions.rows.map((row) => row.state)).not.toContain('idle in transaction');
    expect(sessions.rows.map((row) => row.state)).not.toContain('idle in transaction (aborted)');
    store.transaction(() => record(store, 'a transaction after the outage'));
    expect(await actions(url)).toEqual(['autocommit after the outage', 'a transaction after the outage']);
  }, 45_000);
});

type Answer = { id: number; rows?: Record<string, unknown>[]; error?: string; code?: string };

/** The bridge's worker on its own, driven by hand: the messages the executor would post. */
function bridgeWorker(url: string) {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(postgresWorkerSource, {
    eval: true,
    workerData: { pgPath: createRequire(import.meta.url).resolve('pg'), port: port2, signal: new Int32Array(new SharedArrayBuffer(4)), url, timeoutMs: TIMEOUT_MS, readOnly: false, connectTimeoutMs: 1000 },
    transferList: [port2],
  });
  const answers: Answer[] = [];
  (port1 as MessagePort).on('message', (answer: Answer) => answers.push(answer));
  let id = 0;
  const post = (sql: string, options: { tx?: string; deadline?: number; id?: number } = {}) => {
    const message = { id: options.id ?? ++id, sql, parameters: [], tx: options.tx, deadline: options.deadline ?? Date.now() + TIMEOUT_MS };
    port1.postMessage(message);
    return message.id;
  };
  const answerTo = async (wanted: number) => {
    const deadline = performance.now() + 5000;
    for (;;) {
      const found = answers.find((answer) => answer.id === wanted);
      if (found) return found;
      if (performance.now() > deadline) throw new Error(`no answer to call ${wanted}`);
      await wait(10);
    }
  };
  return { post, answerTo, answers, reset: (upTo: number) => port1.postMessage({ reset: true, upTo }), stop: () => worker.terminate() };
}

describe.skipIf(!postgresAvailable())('the bridge never runs a statement its caller gave up on', () => {

  it('skips a call past its deadline and the calls a reset abandoned; a connection left inside a transaction is replaced, never written through', async () => {
    const url = await server.createDatabase();
    Store.open(url).close();
    const bridge = bridgeWorker(url);
    try {
      const expired = bridge.post('BEGIN', { tx: 'begin', deadline: Date.now() - 1 });
      const abandoned = bridge.post("INSERT INTO audit (at, actor, action, target, result) VALUES (1, 'U1', 'abandoned', 't', 'ok')");
      bridge.reset(abandoned);
      const check = bridge.post('SELECT txid_current_if_assigned() AS txid');
      expect((await bridge.answerTo(check)).rows).toEqual([{ txid: null }]);
      expect(bridge.answers.map((answer) => answer.id), 'the abandoned calls got no answer: they never ran').not.toContain(expired);
      expect(bridge.answers.map((answer) => answer.id)).not.toContain(abandoned);

      // A BEGIN the worker was not told about (as one run after its caller gave up would be):
      // the next autocommit write must not land inside it.
      await bridge.answerTo(bridge.post('BEGIN'));
      const write = await bridge.answerTo(bridge.post("INSERT INTO audit (at, actor, action, target, result) VALUES (2, 'U1', 'swallowed?', 't', 'ok')"));
      expect(write.error).toMatch(/inside a transaction nobody began/);
      const after = await bridge.answerTo(bridge.post("INSERT INTO audit (at, actor, action, target, result) VALUES (3, 'U1', 'durable', 't', 'ok')"));
      expect(after.error).toBeUndefined();
      await bridge.answerTo(bridge.post('SELECT 1/0'));
      const rows = await server.query(databaseOf(url), 'SELECT action FROM audit ORDER BY id');
      expect(rows.rows.map((row) => row.action)).toEqual(['durable']);
    } finally {
      await bridge.stop();
    }
  });
});
