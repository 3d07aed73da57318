/**
 * A throwaway PostgreSQL server for tests: `initdb` into a temp dir, started on a free port of
 * 127.0.0.1 with scram-sha-256 password auth over TCP (as a real deployment connects), stopped
 * and removed after. PostgreSQL refuses to run as root and CI runs as root, so the server's
 * commands run as the `postgres` user (`runuser`) with the data dir chowned to it.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { freePort } from './product.js';

export interface TestPostgres {
  /** `postgres://driftwatch:<password>@127.0.0.1:<port>/<database>` for a fresh, empty database (ICU en-US collation). */
  createDatabase(): Promise<string>;
  /** Runs SQL as the superuser in `database`. */
  query(database: string, sql: string): Promise<pg.QueryResult>;
  /** Stops the server (fast shutdown: sessions are cut, as in a crash or a failover) without blocking the event loop. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

const ROLE = 'driftwatch';
const PASSWORD = 'test-db-password-4711';
const SUPERUSER_PASSWORD = 'test-superuser-password';

/** The newest installed PostgreSQL's bin folder, or why there is none. */
function binaries(): { bin: string } | { missing: string } {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((version) => existsSync(join(root, version, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) return { missing: `needs PostgreSQL (${root}/*/bin/initdb): apt-get install -y postgresql` };
  return { bin: join(root, versions[0]!, 'bin') };
}

/**
 * Whether the PostgreSQL suites run. With CI=true they always do, so a missing PostgreSQL fails
 * them instead of skipping them silently.
 */
export function postgresAvailable(): boolean {
  const found = binaries();
  if ('missing' in found && !process.env.CI) console.warn(`skipping PostgreSQL tests: ${found.missing}`);
  return !('missing' in found) || Boolean(process.env.CI);
}

export async function startPostgres(): Promise<TestPostgres> {
  const found = binaries();
  if ('missing' in found) throw new Error(found.missing);
  const asRoot = process.getuid?.() === 0;
  const postgresUid = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  const postgresGid = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : undefined;
  const home = mkdtempSync(join(tmpdir(), 'driftwatch-pg-'));
  const data = join(home, 'data');
  const passwordFile = join(home, 'pwfile');
  writeFileSync(passwordFile, `${SUPERUSER_PASSWORD}\n`);
  if (asRoot) {
    chownSync(home, postgresUid!, postgresGid!);
    chownSync(passwordFile, postgresUid!, postgresGid!);
  }
  const commandFor = (tool: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(found.bin, tool), ...args]] : [join(found.bin, tool), args]);
  const run = (tool: string, args: string[]) => {
    const result = spawnSync(...commandFor(tool, args), { encoding: 'utf8', cwd: home });
    if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout || result.error?.message}`);
  };
  // The event loop keeps turning meanwhile, so a test can go on applying observations.
  const runInBackground = (tool: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      execFile(...commandFor(tool, args), { cwd: home }, (error, stdout, stderr) => (error ? reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr || stdout || error.message}`)) : resolve()));
    });
  run('initdb', ['-D', data, '-U', 'postgres', `--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${home} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const startArgs = ['-D', data, '-l', join(home, 'server.log'), '-w', '-t', '30', 'start', '-o', options];
  const stopArgs = ['-D', data, '-w', '-m', 'fast', 'stop'];
  run('pg_ctl', startArgs);

  const superuser = (database: string) => new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: SUPERUSER_PASSWORD, database });
  const query = async (database: string, sql: string) => {
    const client = superuser(database);
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await query('postgres', `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  let databases = 0;
  return {
    async createDatabase() {
      const name = `driftwatch_${++databases}`;
      // A natural-language collation, as a production database usually has (not the C of initdb here).
      await query('postgres', `CREATE DATABASE ${name} OWNER ${ROLE} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
      return `postgres://${ROLE}:${PASSWORD}@127.0.0.1:${port}/${name}`;
    },
    query,
    stopServer: () => runInBackground('pg_ctl', stopArgs),
    startServer: () => runInBackground('pg_ctl', startArgs),
    async stop() {
      try {
        run('pg_ctl', stopArgs);
      } catch {
        // already stopped
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy in front of the test server that can black-hole the network: every byte in both
 * directions (on open connections and on new ones, whose TCP handshake still completes) is
 * dropped and nothing is closed, as when a route silently disappears. It runs in a worker thread
 * because the store blocks the test's main thread while it waits for an answer.
 */
export interface BlackHoleProxy {
  /** `url` with the proxy's port. */
  readonly url: string;
  blackHole(): Promise<void>;
  /** Forwards again; connections that were black-holed are cut (their lost bytes are gone for good). */
  restore(): Promise<void>;
  close(): Promise<void>;
}

const proxySource = String.raw`
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const pairs = new Set();
let holing = false;
const server = net.createServer((down) => {
  const up = net.connect(workerData.port, '127.0.0.1');
  const pair = { down, up, holed: holing };
  pairs.add(pair);
  const cut = () => { pairs.delete(pair); down.destroy(); up.destroy(); };
  down.on('data', (chunk) => { if (!pair.holed) up.write(chunk); });
  up.on('data', (chunk) => { if (!pair.holed) down.write(chunk); });
  // A black hole passes no FIN either: the far side learns nothing until the route is back.
  for (const side of [down, up]) {
    side.on('error', () => {});
    side.on('close', () => { if (!pair.holed) cut(); });
  }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (command) => {
  if (command === 'hole') {
    holing = true;
    for (const pair of pairs) pair.holed = true;
  } else if (command === 'restore') {
    holing = false;
    for (const pair of [...pairs]) if (pair.holed) { pairs.delete(pair); pair.down.destroy(); pair.up.destroy(); }
  } else if (command === 'close') {
    for (const pair of pairs) { pair.down.destroy(); pair.up.destroy(); }
    server.close();
  }
  parentPort.postMessage({ done: command });
});
`;

export async function startBlackHoleProxy(url: string): Promise<BlackHoleProxy> {
  const target = new URL(url);
  const worker = new Worker(proxySource, { eval: true, workerData: { port: Number(target.port) } });
  const next = () => new Promise<{ port?: number; done?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const { port } = await next();
  const command = async (name: string) => {
    const answer = next();
    worker.postMessage(name);
    await answer;
  };
  const proxied = new URL(url);
  proxied.port = String(port);
  return {
    url: proxied.toString(),
    blackHole: () => command('hole'),
    restore: () => command('restore'),
    async close() {
      await command('close');
      await worker.terminate();
    },
  };
}
