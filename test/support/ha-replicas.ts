/**
 * Several `driftwatch run` processes as replicas of one deployment: one fake Slack (Socket Mode),
 * one fake apiserver holding the Lease (each replica with its own client token, so faults can cut
 * one off), one real PostgreSQL database, a version endpoint to go stale, and a heartbeat monitor
 * that records each replica's pings. Short lease settings, so failovers happen in seconds:
 * leaseDuration 3 s, renewDeadline 2 s, retryPeriod 500 ms (the defaults are 15 s / 10 s / 2 s).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEndpoint } from './endpoint-server.js';
import { startFakeApiserver, type FakeApiserver } from './fake-apiserver.js';
import { startFakeSlack, type FakeSlack } from './fake-slack.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { freePort, Product, writeConfig } from './product.js';

export const CHANNEL = 'C0ALERTS';
export const APP_TOKEN = 'xapp-1-A0TEST-4444-ha-app-token-value';
export const LEASE = { leaseDuration: '3s', renewDeadline: '2s', retryPeriod: '500ms' } as const;
export const LEASE_MS = { leaseDuration: 3_000, renewDeadline: 2_000, retryPeriod: 500 } as const;

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;

/** Records every GET by path (`/ping/<replica>`), with its arrival time. */
export interface PingMonitor {
  url: string;
  pings: Array<{ replica: string; at: number }>;
  close(): Promise<void>;
}

async function startPingMonitor(): Promise<PingMonitor> {
  const pings: PingMonitor['pings'] = [];
  const server: Server = createServer((request, response) => {
    pings.push({ replica: (request.url ?? '').replace(/^\/ping\//, ''), at: Date.now() });
    response.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pings,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Replica {
  name: string;
  product: Product;
  port: number;
  /** The bot token's last 4 characters, as the fake Slack records them per call. */
  tokenTail: string;
  readyz(): Promise<{ status: number; body: { ready: boolean; checks: Record<string, { ok: boolean; state: string }> } }>;
  metric(name: string): Promise<number | undefined>;
  /** When this replica's log says it started leading (wall ms from the log line), the latest first. */
  leadingSince(): number | undefined;
}

export interface HaWorld {
  slack: FakeSlack;
  apiserver: FakeApiserver;
  postgres: TestPostgres;
  databaseUrl: string;
  endpoint: Endpoint;
  monitor: PingMonitor;
  replicas: Replica[];
  /** Starts replica `name`; `extra` config keys and `env` are added to every replica's. */
  start(name: string): Promise<Replica>;
  close(): Promise<void>;
}

/** `lease`: other settings than the short test ones (the failover benchmark runs the defaults). */
export async function startHaWorld(options: { config?: Record<string, unknown>; env?: Record<string, string>; lease?: { leaseDuration: string; renewDeadline: string; retryPeriod: string } } = {}): Promise<HaWorld> {
  const [slack, apiserver, postgres, endpoint, monitor] = await Promise.all([startFakeSlack({ appToken: APP_TOKEN }), startFakeApiserver(), startPostgres(), startEndpoint(), startPingMonitor()]);
  const databaseUrl = await postgres.createDatabase();
  // The endpoint serves the expected version until a test makes it stale.
  endpoint.setVersion('X-Relay-Version', '0.2.0');
  const replicas: Replica[] = [];
  const world: HaWorld = {
    slack,
    apiserver,
    postgres,
    databaseUrl,
    endpoint,
    monitor,
    replicas,
    async start(name) {
      apiserver.addClient(name);
      const port = await freePort();
      const tail = name.slice(-4).padStart(4, 'x');
      const { path } = writeConfig({
        slack: { channel: CHANNEL },
        endpoints: [{ name: 'relay-dfw1', url: `${endpoint.url}/hooks/lib/sources/tmdb.js`, versionHeader: 'X-Relay-Version', expect: '0.2.0', every: '1s' }],
        clusters: [{ name: 'home', context: 'fake' }],
        ha: { cluster: 'home', namespace: 'driftwatch', lease: 'driftwatch-leader', identity: name, ...(options.lease ?? LEASE) },
        heartbeat: { url: `${monitor.url}/ping/${name}`, every: '1s' },
        store: { url: databaseUrl },
        server: { port },
        ...options.config,
      });
      const product = Product.start(['run', '--config', path], {
        SLACK_BOT_TOKEN: `xoxb-2222-3333-ha-bot-token-${tail}`,
        SLACK_APP_TOKEN: APP_TOKEN,
        SLACK_API_URL: slack.apiUrl,
        KUBECONFIG: apiserver.kubeconfigFile('fake', name),
        ...options.env,
      });
      const base = `http://127.0.0.1:${port}`;
      const replica: Replica = {
        name,
        product,
        port,
        tokenTail: tail,
        async readyz() {
          const response = await fetch(`${base}/readyz`);
          return { status: response.status, body: (await response.json()) as Awaited<ReturnType<Replica['readyz']>>['body'] };
        },
        async metric(metric) {
          const text = await (await fetch(`${base}/metrics`)).text();
          const line = text.split('\n').find((candidate) => candidate.startsWith(`${metric} `));
          return line === undefined ? undefined : Number(line.split(' ').at(-1));
        },
        leadingSince() {
          const lines = product.stderr.split('\n').filter((line) => line.includes(': leading (term'));
          const last = lines.at(-1);
          return last === undefined ? undefined : (JSON.parse(last) as { time: number }).time;
        },
      };
      replicas.push(replica);
      // Serving its web server is the first thing a replica does; wait for it.
      await waitUntil(async () => (await replica.readyz().catch(() => undefined)) !== undefined, 20_000, `${name} serving /readyz`, product);
      return replica;
    },
    async close() {
      await Promise.all(replicas.map((replica) => replica.product.kill()));
      await Promise.all([slack.close(), apiserver.close(), endpoint.close(), monitor.close()]);
      await postgres.stop();
    },
  };
  return world;
}

/** Polls `condition` every 25 ms; fails after `timeoutMs` with what a replica printed. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, product?: Product): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await condition()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${product ? `\n${product.stderr.slice(-4000)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The replica's `leader` readiness state (`leader (term 1, as pod-a)`, `standby (pod-a leads)`…). */
export async function role(replica: Replica): Promise<string | undefined> {
  return (await replica.readyz().catch(() => undefined))?.body.checks.leader?.state;
}

export async function isLeading(replica: Replica): Promise<boolean> {
  return (await role(replica))?.startsWith('leader') ?? false;
}
