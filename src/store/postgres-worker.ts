/**
 * The worker thread behind `PostgresExecutor`: it owns one `pg` connection and answers the main
 * thread's statements one at a time, in order. It is JavaScript source run with `eval`, so the
 * same text works from `dist/` and from the TypeScript sources under test (a worker cannot load a
 * .ts file); `pg` is required by the absolute path the main thread resolved.
 *
 * Protocol: the main thread posts `{ id, sql, parameters, tx }` and blocks on `signal`; the worker
 * posts `{ id, rows, changes }` or `{ id, error, code, connectionLost }`, then sets `signal` to 1 and notifies.
 * `{ reset: true }` (sent when the main thread gave up waiting) drops the connection at once.
 *
 * Connections: a lost connection is replaced on the next statement, so a PostgreSQL restart
 * becomes failed calls for a while, then works again without restarting the process. A
 * transaction never continues on a new connection: its remaining statements fail (the server
 * already rolled it back), so an observation is applied entirely or not at all.
 */
export const postgresWorkerSource = String.raw`
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const { port, signal, url, connectTimeoutMs } = workerData;

// int8 (counts, BIGINT epoch milliseconds and ids) as numbers, as SQLite gives them.
pg.types.setTypeParser(20, (text) => Number(text));

let client = null;      // the live connection, or null when it must be (re)opened
let connecting = null;  // the connection being opened
let txClient = null;    // the connection the open transaction began on

function drop(which) {
  if (client === which) client = null;
  if (txClient === which) txClient = 'lost';
  which.removeAllListeners('error');
  which.on('error', () => {});
  which.end().catch(() => {});
}

// After a failed connect, calls fail at once with its error for a while (1 s, doubling up to
// 10 s) instead of each blocking the main thread on another attempt: a host that drops packets
// holds each attempt for the whole connect timeout.
let connectFailure = null;
let connectAgainAt = 0;
let connectBackoffMs = 1000;

async function connection() {
  if (client) return client;
  if (connectFailure && Date.now() < connectAgainAt) throw connectFailure;
  if (!connecting) {
    const fresh = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: 'driftwatch' });
    fresh.on('error', () => drop(fresh));
    fresh.on('end', () => { if (client === fresh) client = null; if (txClient === fresh) txClient = 'lost'; });
    connecting = fresh.connect().then(
      () => { client = fresh; connectFailure = null; connectBackoffMs = 1000; return fresh; },
      (error) => {
        drop(fresh);
        connectFailure = error;
        connectAgainAt = Date.now() + connectBackoffMs;
        connectBackoffMs = Math.min(10000, connectBackoffMs * 2);
        throw error;
      },
    ).finally(() => { connecting = null; });
  }
  return connecting;
}

// The connection (not the statement) failed: a socket error (no SQLSTATE, or ECONNREFUSED and
// the like), or SQLSTATE class 08 (connection), 57 (shutdown, cancel), 53 (resources), 58, XX.
const connectionLost = (error) => !error.code || /^(08|57|53|58|XX|E[A-Z])/.test(error.code);

async function run(message) {
  const inside = message.tx === 'in' || message.tx === 'end';
  if (inside && (txClient === 'lost' || (txClient && txClient !== client))) {
    const ending = message.tx === 'end';
    if (ending) txClient = null;
    if (ending && /^ROLLBACK/.test(message.sql)) return { rows: [], changes: 0 };
    throw Object.assign(new Error('the connection was lost inside a transaction (the server rolled it back)'), { code: '08006' });
  }
  const used = await connection();
  if (message.tx === 'begin') txClient = used;
  try {
    const result = await used.query({ text: message.sql, values: message.parameters });
    return { rows: result.rows ?? [], changes: result.rowCount ?? 0 };
  } catch (error) {
    if (connectionLost(error)) drop(used);
    throw error;
  } finally {
    if (message.tx === 'end') txClient = null;
  }
}

function answer(reply) {
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

let queue = Promise.resolve();
port.on('message', (message) => {
  if (message.reset) {
    if (client) drop(client);
    if (txClient) txClient = 'lost';
    return;
  }
  if (message.close) {
    queue = queue.then(async () => { if (client) await client.end().catch(() => {}); port.close(); });
    return;
  }
  queue = queue.then(() => run(message)).then(
    (outcome) => answer({ id: message.id, ...outcome }),
    (error) => answer({ id: message.id, error: String(error && error.message || error), code: error && error.code, connectionLost: connectionLost(error || {}) }),
  );
});
`;
