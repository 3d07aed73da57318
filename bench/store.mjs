// Store benchmark: observations applied through the real engine (one transaction each) on SQLite
// and on PostgreSQL 15, in the same run: observations per second and the latency of each
// (observation → stored, p50/p99). PostgreSQL is a throwaway local server on 127.0.0.1 over TCP
// with scram auth (as test/support/postgres.ts starts it), so the figure includes one loopback
// round trip per statement. Run after `npm run build`:  node bench/store.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ManualClock } from '../dist/domain/clock.js';
import { parseConfig } from '../dist/config.js';
import { createLogger } from '../dist/log.js';
import { Runtime } from '../dist/runtime.js';
import { PostgresExecutor } from '../dist/store/postgres-executor.js';

const OBSERVATIONS = Number(process.env.BENCH_OBSERVATIONS ?? 3000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 50);
const WARMUP = 200;

const root = '/usr/lib/postgresql';
const version = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))[0] : undefined;
if (!version) {
  console.error(`bench/store: needs PostgreSQL (${root}/*/bin/initdb): apt-get install -y postgresql`);
  process.exit(2);
}
const bin = join(root, version, 'bin');

const home = mkdtempSync(join(tmpdir(), 'driftwatch-bench-pg-'));
const cleanups = [() => rmSync(home, { recursive: true, force: true })];
try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

async function main() {
  const url = await startPostgres();
  const observations = workload(WARMUP + OBSERVATIONS);
  const results = [];
  for (const [dialect, store] of [['sqlite', { path: join(home, 'bench.db') }], ['postgres', { url }]]) {
    results.push({ dialect, ...(await measure(store, observations)) });
  }
  console.log(`\n${OBSERVATIONS} observations of ${WORKERS} workers through the engine, one transaction each (after ${WARMUP} to warm up)`);
  console.table(
    results.map((r) => ({
      store: r.dialect,
      'observations/s': Math.round(r.perSecond),
      'p50 ms': r.p50.toFixed(3),
      'p99 ms': r.p99.toFixed(3),
      'max ms': r.max.toFixed(1),
      incidents: r.incidents,
      'outbox rows': r.outbox,
    })),
  );
  // What the synchronous bridge costs: one trivial statement through it vs plain async pg.
  const roundTrips = 3000;
  const bridge = new PostgresExecutor(url, 'bench');
  bridge.execute('SELECT 1', []);
  let started = performance.now();
  for (let i = 0; i < roundTrips; i++) bridge.execute('SELECT $1::int AS v', [i]);
  const bridgeMicros = ((performance.now() - started) / roundTrips) * 1000;
  bridge.close();
  const client = new pg.Client(url);
  await client.connect();
  started = performance.now();
  for (let i = 0; i < roundTrips; i++) await client.query('SELECT $1::int AS v', [i]);
  const plainMicros = ((performance.now() - started) / roundTrips) * 1000;
  await client.end();
  console.log(`one statement round trip on loopback: ${bridgeMicros.toFixed(0)} µs through the store's synchronous bridge, ${plainMicros.toFixed(0)} µs with async pg`);
  if (results[0].incidents !== results[1].incidents || results[0].outbox !== results[1].outbox) {
    console.error('bench/store: the two stores disagree on what the same observations produced');
    process.exitCode = 1;
  }
}

/** Workers failing for three checks and recovering for three, in turn: incidents open, get replies and resolve. */
function workload(count) {
  return Array.from({ length: count }, (_, index) => {
    const round = Math.floor(index / WORKERS);
    const ok = round % 6 >= 3;
    return { subject: `worker:bench-${index % WORKERS}`, problem: 'worker_pods_failing', ok, summary: ok ? 'all pods Ready' : `CrashLoopBackOff, ${round} restarts` };
  });
}

async function measure(store, observations) {
  const clock = new ManualClock();
  const runtime = new Runtime(parseConfig({ slack: { channel: 'C0ALERTS' }, store, alerting: { reopenWithin: '1m' } }), { clock, log: createLogger({ level: 'silent' }) });
  const sink = runtime.sink();
  const latencies = [];
  let started = 0;
  for (const [index, observation] of observations.entries()) {
    if (index === WARMUP) started = performance.now();
    const before = performance.now();
    sink.check(observation);
    if (index >= WARMUP) latencies.push(performance.now() - before);
    clock.advance(1000);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const figures = {
    perSecond: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1),
    incidents: runtime.store.incidents.recentIncidents(1_000_000).length,
    outbox: runtime.store.outbox.all().length,
  };
  await runtime.stop(0);
  return figures;
}

/** A throwaway server: initdb as the `postgres` user (it refuses root), a free port, a role with a password over TCP. */
async function startPostgres() {
  const asRoot = process.getuid() === 0;
  const data = join(home, 'data');
  const password = `bench-${process.pid}-password`;
  writeFileSync(join(home, 'pwfile'), `${password}\n`);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(home, uid, gid);
    chownSync(join(home, 'pwfile'), uid, gid);
  }
  const run = (tool, args) => {
    const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    const result = spawnSync(command, argv, { encoding: 'utf8', cwd: home });
    if (result.status !== 0) throw new Error(`${tool} failed: ${result.stderr || result.stdout}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', `--pwfile=${join(home, 'pwfile')}`, '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  // Durable commits (fsync, synchronous_commit on) as in production; only the data dir is temporary.
  run('pg_ctl', ['-D', data, '-l', join(home, 'server.log'), '-w', 'start', '-o', `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${home}`]);
  cleanups.push(() => run('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']));
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  await client.query(`CREATE ROLE driftwatch LOGIN PASSWORD '${password}'`);
  await client.query('CREATE DATABASE driftwatch OWNER driftwatch');
  await client.end();
  return `postgres://driftwatch:${password}@127.0.0.1:${port}/driftwatch`;
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
