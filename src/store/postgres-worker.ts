/**
 * The worker thread behind `PostgresExecutor`: it owns one `pg` connection and answers the main
 * thread's statements one at a time, in order. It is JavaScript source run with `eval`, so the
 * same text works from `dist/` and from the TypeScript sources under test (a worker cannot load a
 * .ts file); `pg` is required by the absolute path the main thread resolved.
 *
 * Protocol: the main thread posts `{ id, sql, parameters, tx, deadline }` and blocks on `signal`;
 * the worker posts `{ id, rows, changes }` or `{ id, error, code, connectionLost }`, then sets
 * `signal` to 1 and notifies. `{ reset: true, upTo }` (sent when the main thread gave up waiting
 * for call `upTo`) destroys the connection at once, starts a new queue and marks every call up to
 * `upTo` abandoned: an abandoned or expired call is never run, so nothing the caller was told
 * failed happens later.
 *
 * Connections: a lost connection is replaced on the next statement, so a PostgreSQL restart
 * becomes failed calls for a while, then works again without restarting the process. While the
 * server is out of reach (a failed connect, a statement with no answer) calls fail at once and the
 * worker reconnects in the background. A transaction never continues on a new connection: its
 * remaining statements fail (the server already rolled it back), so an observation is applied
 * entirely or not at all; and an autocommit statement never runs on a connection left inside a
 * transaction (it would be rolled back with it).
 */
export const postgresWorkerSource = String.raw`
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const { port, signal, url, connectTimeoutMs, timeoutMs, readOnly } = workerData;

// int8 (counts, BIGINT epoch milliseconds and ids) as numbers, as SQLite gives them.
pg.types.setTypeParser(20, (text) => Number(text));

let client = null;      // the live connection, or null when it must be (re)opened
let connecting = null;  // { client, promise, waitUntil }: the connection being opened
let txClient = null;    // the connection the open transaction began on, or 'lost'
let abandonedUpTo = 0;  // the main thread stopped waiting for every call up to this id
let queue = Promise.resolve();
const SKIPPED = Symbol('skipped');

// Destroys the socket rather than saying goodbye: on a silently dropped network a polite end()
// waits behind the hung statement until TCP gives up, minutes later.
function drop(which) {
  if (client === which) client = null;
  if (txClient === which) txClient = 'lost';
  which.removeAllListeners('error');
  which.on('error', () => {});
  try { which.connection.stream.destroy(); } catch {}
  which.end().catch(() => {});
}

// While the server is out of reach, calls fail at once with 'outage' instead of each blocking
// the main thread (and the event loop) for a connect or a timeout; the worker tries to connect
// again in the background (after 0.5 s, doubling up to 5 s) until it succeeds.
let outage = null;
let retryTimer = null;
let backoffMs = 500;

function scheduleRetry() {
  if (retryTimer || connecting || client) return;
  retryTimer = setTimeout(() => { retryTimer = null; if (!client && !connecting) startConnect(0); }, backoffMs);
  backoffMs = Math.min(5000, backoffMs * 2);
}

/** Opens a connection; calls wait for it at most 'waitMs' (0: it runs in the background). */
function startConnect(waitMs) {
  const fresh = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: 'driftwatch',
    // The server stops a statement nobody waits for any more; the client gives up on one whose
    // answer never comes (the connection is then dropped, see run); TCP keepalive notices a dead
    // peer on an idle connection.
    statement_timeout: timeoutMs + 500,
    query_timeout: timeoutMs + 1000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10000,
  });
  fresh.on('error', () => drop(fresh));
  fresh.on('end', () => { if (client === fresh) client = null; if (txClient === fresh) txClient = 'lost'; });
  const attempt = { client: fresh, waitUntil: Date.now() + waitMs, promise: null };
  attempt.promise = (async () => {
    await fresh.connect();
    // Per connection, so a reconnect keeps it: 'driftwatch audit' can't write by mistake.
    if (readOnly) await fresh.query('SET default_transaction_read_only = on');
    return fresh;
  })().then(
    () => {
      if (attempt.cancelled) { drop(fresh); return null; } // by a reset or close
      if (connecting === attempt) connecting = null;
      client = fresh;
      outage = null;
      backoffMs = 500;
      return fresh;
    },
    (error) => {
      drop(fresh);
      if (attempt.cancelled) return null;
      if (connecting === attempt) connecting = null;
      outage = error;
      scheduleRetry();
      return null;
    },
  );
  connecting = attempt;
  return attempt;
}

function cancelConnect() {
  if (!connecting) return;
  connecting.cancelled = true;
  drop(connecting.client);
  connecting = null;
}

async function connection() {
  if (client) return client;
  // A little beyond the driver's own connect timeout, so its error (which says why) comes first.
  if (!connecting && !outage) startConnect(Math.min(connectTimeoutMs + 200, timeoutMs - 100));
  const attempt = connecting;
  if (attempt && Date.now() < attempt.waitUntil) {
    let timer;
    const gaveUp = new Promise((resolve) => { timer = setTimeout(resolve, attempt.waitUntil - Date.now(), null); });
    await Promise.race([attempt.promise, gaveUp]);
    clearTimeout(timer);
    if (client) return client;
    if (connecting === attempt) attempt.waitUntil = 0; // later calls fail at once while it goes on
  }
  if (client) return client;
  if (!outage) outage = new Error('cannot connect within ' + connectTimeoutMs + ' ms');
  scheduleRetry();
  throw outage;
}

// The connection (not the statement) failed: a socket error (no SQLSTATE, or ECONNREFUSED and
// the like), or SQLSTATE class 08 (connection), 57 (shutdown, cancel), 53 (resources), 58, XX.
const connectionLost = (error) => !error.code || /^(08|57|53|58|XX|E[A-Z])/.test(error.code);

// A statement the main thread stopped waiting for never runs: it would run after the caller
// was told it failed (a BEGIN left open on a fresh connection swallows every later write).
const stale = (message) => message.id <= abandonedUpTo || Date.now() >= message.deadline;

async function run(message) {
  if (stale(message)) return SKIPPED;
  const inside = message.tx === 'in' || message.tx === 'end';
  if (inside && (txClient === 'lost' || (txClient && txClient !== client))) {
    const ending = message.tx === 'end';
    if (ending) txClient = null;
    if (ending && /^ROLLBACK/.test(message.sql)) return { rows: [], changes: 0 };
    throw Object.assign(new Error('the connection was lost inside a transaction (the server rolled it back)'), { code: '08006' });
  }
  const used = await connection();
  if (stale(message)) return SKIPPED;
  // Outside the main thread's transaction the connection must be idle: one left inside a
  // transaction nobody owns would swallow autocommit writes and lose them at its rollback.
  if (!inside && used.getTransactionStatus() !== 'I' && txClient !== used) {
    drop(used);
    throw Object.assign(new Error('the connection was found inside a transaction nobody began; it is replaced'), { code: '08006' });
  }
  if (message.tx === 'begin') txClient = used;
  try {
    const result = await used.query({ text: message.sql, values: message.parameters });
    return { rows: result.rows ?? [], changes: result.rowCount ?? 0 };
  } catch (error) {
    // 25P02 outside a transaction of ours: the connection is stuck in an aborted one; replace it.
    if (connectionLost(error) || (error.code === '25P02' && !inside && message.tx !== 'begin')) {
      drop(used);
      if (error.code === '25P02') error.code = '08006';
    }
    throw error;
  } finally {
    if (message.tx === 'end' && txClient === used) txClient = null;
  }
}

function answer(reply) {
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

port.on('message', (message) => {
  if (message.reset) {
    // The main thread gave up on call 'upTo': cut the connection (and one being opened) at once,
    // and start a new queue so later calls don't wait behind the hung statement. Calls fail at
    // once while a reconnect, started now, is under way — unless it succeeds within a moment.
    abandonedUpTo = Math.max(abandonedUpTo, message.upTo);
    if (client) drop(client);
    cancelConnect();
    if (txClient) txClient = 'lost';
    queue = Promise.resolve();
    outage = Object.assign(new Error('no answer within ' + timeoutMs + ' ms; reconnecting'), { code: '08006' });
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    startConnect(Math.min(500, connectTimeoutMs));
    return;
  }
  if (message.close) {
    if (retryTimer) clearTimeout(retryTimer);
    cancelConnect();
    queue = queue.then(async () => { if (client) await client.end().catch(() => {}); port.close(); });
    return;
  }
  queue = queue.then(() => run(message)).then(
    (outcome) => { if (outcome !== SKIPPED) answer({ id: message.id, ...outcome }); },
    (error) => {
      if (message.id <= abandonedUpTo) return; // nobody waits for it
      answer({ id: message.id, error: String(error && error.message || error), code: error && error.code, connectionLost: connectionLost(error || {}) });
    },
  );
});
`;
