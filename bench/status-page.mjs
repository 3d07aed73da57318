/**
 * Status page benchmark: server time and bytes for `/` with 500 matrix rows and 200 incidents
 * (200 open), and for `/incidents/<id>` with 5000 events; requests per second for `/api/status`.
 *
 *   npm run build && node bench/status-page.mjs [--runs 20] [--seconds 5] [--connections 16]
 *
 * The pages read a real SQLite store (the version matrix is computed from the watchers' states
 * on every request, as in production). Server time is the request handled in-process
 * (`inject`, no socket), best and median of the runs, every run a fresh reading of the store.
 * Requests per second for `/api/status` as served (one reading answers for up to a second); the
 * floor: Fastify answering a static JSON of the same size, on the same loopback, same load.
 * Budget: `/`, `/incidents` and `/api/status` under 200 ms server time (median).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const RUNS = option('runs', 20);
const SECONDS = option('seconds', 5);
const CONNECTIONS = option('connections', 16);
const T0 = Date.UTC(2026, 10, 30, 6, 0, 0);
const MINUTE = 60_000;
const digest = (n) => `sha256:${n.toString(16).padStart(8, '0').repeat(8)}`;

const [{ parseConfig }, { Store }, { versionMatrix }, { createWebApp, listen }, { registerStatusPage }, { formatTime }] = await Promise.all([
  import('../dist/config.js'),
  import('../dist/store/index.js'),
  import('../dist/commands/version.js'),
  import('../dist/web/server.js'),
  import('../dist/web/status/index.js'),
  import('../dist/domain/duration.js'),
]);

const dir = mkdtempSync(join(tmpdir(), 'dw-bench-status-'));
const store = Store.open(join(dir, 'driftwatch.db'));

// 250 workloads and 250 single-endpoint services: 500 matrix rows.
const workloads = Array.from({ length: 250 }, (_, i) => ({ cluster: 'prod', namespace: `team-${i % 25}`, kind: 'Deployment', name: `app-${i}` }));
const endpoints = Array.from({ length: 250 }, (_, i) => ({ name: `edge-${i}`, url: `http://127.0.0.1:1/e${i}`, versionHeader: 'X-Version', expect: '1.2.0', every: '30s' }));
const config = parseConfig({ clusters: [{ name: 'prod' }], workloads, endpoints });
for (const [i, workload] of workloads.entries()) {
  const subject = `workload:prod/${workload.namespace}/Deployment/${workload.name}`;
  store.subjects.setState(subject, 'spec', { containers: [{ name: 'app', image: `registry.example/app-${i}@${digest(i)}` }] }, T0);
  store.subjects.setState(subject, 'running', [0, 1, 2].map((pod) => ({ pod: `app-${i}-${pod}`, container: 'app', image: `registry.example/app-${i}@${digest(i)}`, digest: digest(i + (i % 17 === 0 && pod === 2 ? 1 : 0)), ready: pod !== 1 || i % 9 !== 0 })), T0);
}
for (const [i, endpoint] of endpoints.entries()) {
  store.subjects.setState(`endpoint:${endpoint.name}`, 'served', { version: i % 11 === 0 ? '1.1.9' : '1.2.0', up: i % 23 !== 0, seen: true, error: i % 23 === 0 ? 'connect ECONNREFUSED' : undefined }, T0);
}

// 200 open incidents with a few events each, and one with 5000 events.
const incident = (n, extra = {}) => ({
  status: 'open',
  primarySubject: `endpoint:edge-${n}`,
  severity: 'warning',
  channel: 'C0ALERTS',
  title: `#${n} endpoint edge-${n}: stale deploy`,
  firstBadAt: T0 + n * MINUTE,
  openedAt: T0 + n * MINUTE + 5000,
  acknowledgedAt: null,
  acknowledgedBy: null,
  resolvedAt: null,
  resolvedBy: null,
  lastActivityAt: T0 + n * MINUTE,
  correlation: null,
  stormId: null,
  ...extra,
});
store.db.transaction(() => {
  for (let n = 1; n <= 200; n++) {
    const id = store.incidents.createIncident(incident(n));
    store.events.append({ at: T0 + n * MINUTE, subject: `endpoint:edge-${n}`, type: 'problem.opened', incidentId: id, actor: null, summary: 'stale deploy: serves 1.1.9; expected 1.2.0 (config)', data: { ok: false } });
    store.events.append({ at: T0 + n * MINUTE + 5000, subject: `endpoint:edge-${n}`, type: 'incident.opened', incidentId: id, actor: null, summary: `#${id} endpoint edge-${n}: stale deploy`, data: {} });
  }
  const big = store.incidents.createIncident(incident(201, { status: 'resolved', primarySubject: 'worker:cost-optimizer-worker', severity: 'critical', title: '#201 worker cost-optimizer-worker: worker pods failing', resolvedAt: T0 + 7 * 24 * 60 * MINUTE }));
  const subject = 'worker:cost-optimizer-worker';
  const add = (at, type, summary, extra = {}) => store.events.append({ at, subject, type, incidentId: big, actor: null, summary, data: {}, ...extra });
  add(T0, 'problem.opened', 'worker pods failing: CrashLoopBackOff, 2 restarts', { data: { ok: false } });
  add(T0 + MINUTE, 'incident.opened', '#201 worker cost-optimizer-worker: worker pods failing');
  for (let index = 0; index < 4996; index++) {
    const at = T0 + 2 * MINUTE + index * 2 * MINUTE;
    if (index % 50 === 7) add(at, 'human.note', `looked at shard ${index} — nothing yet`, { actor: 'U0ONCALL' });
    else if (index % 3 === 0) add(at, 'problem.recovering', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
    else add(at, 'problem.relapsed', `worker pods failing: CrashLoopBackOff, ${index + 3} restarts`, { data: { ok: false } });
  }
  add(T0 + 7 * 24 * 60 * MINUTE - MINUTE, 'problem.resolved', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
  add(T0 + 7 * 24 * 60 * MINUTE, 'incident.resolved', 'resolved');
})();

const deps = {
  incidents: store.incidents,
  events: store.events,
  rootPostedAt: (id) => store.outbox.byKey(`inc-${id}-root`)?.sentAt,
  versionMatrix: () => versionMatrix({ config, store }),
  now: () => T0 + 8 * 24 * 60 * MINUTE,
  formatTime: (at) => formatTime(at, 'UTC'),
};
// Server time is measured on fresh readings (no reuse); the load runs against the product as configured.
const app = createWebApp();
registerStatusPage(app, { ...deps, reuseMs: 0 });
await app.ready();
const served = createWebApp();
registerStatusPage(served, deps);

async function serverTime(url) {
  const times = [];
  let bytes = 0;
  let status = 0;
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const answer = await app.inject({ url });
    times.push(performance.now() - started);
    bytes = answer.rawPayload.length;
    status = answer.statusCode;
  }
  times.sort((a, b) => a - b);
  return { status, best: times[0], median: times[Math.floor(times.length / 2)], bytes };
}

// The 200 ms budget is for the matrix and the incident lists; a 5000-event page is reported only.
const pages = [
  ['/ (500 rows, 200 open incidents)', '/', true],
  ['/incidents (200 incidents)', '/incidents', true],
  ['/incidents/201 (5000 events)', '/incidents/201', false],
  ['/api/status (500 rows, 200 open incidents)', '/api/status', true],
];
const rows = [];
for (const [label, url, budgeted] of pages) {
  const figure = await serverTime(url);
  rows.push({ '': label, status: figure.status, 'best ms': round(figure.best), 'median ms': round(figure.median), KB: Math.round(figure.bytes / 1024), 'budget 200 ms': !budgeted ? '—' : figure.median < 200 ? 'ok' : 'OVER' });
}
console.table(rows);

/** Requests per second at CONNECTIONS concurrent keep-alive connections for SECONDS. */
async function load(port, path, seconds) {
  const { Agent } = await import('node:http');
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let failed = 0;
  const one = () =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) done++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (performance.now() < deadline) await one();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  agent.destroy();
  return { rps: done / ((performance.now() - started) / 1000), failed };
}

const port = await listen(served, '127.0.0.1', 0);
const statusJson = (await app.inject({ url: '/api/status' })).body;
const floorApp = createWebApp();
floorApp.get('/api/status', async (_request, reply) => reply.type('application/json; charset=utf-8').send(statusJson));
const floorPort = await listen(floorApp, '127.0.0.1', 0);
// Alternating slices, so both see the same share of a shared machine.
const floor = { rps: 0, failed: 0 };
const product = { rps: 0, failed: 0 };
const SLICES = 4;
for (let slice = 0; slice < SLICES; slice++) {
  for (const [target, into] of [[floorPort, floor], [port, product]]) {
    const result = await load(target, '/api/status', SECONDS / SLICES);
    into.rps += result.rps / SLICES;
    into.failed += result.failed;
  }
}
console.table([
  {
    '': `/api/status, ${CONNECTIONS} connections, ${SECONDS} s (${Math.round(statusJson.length / 1024)} KB)`,
    'Driftwatch req/s': Math.round(product.rps),
    'floor req/s (static JSON)': Math.round(floor.rps),
    ratio: `${(product.rps / floor.rps).toFixed(2)}×`,
    failed: product.failed + floor.failed,
  },
]);

await app.close();
await served.close();
await floorApp.close();
store.close();
rmSync(dir, { recursive: true, force: true });

function round(value) {
  return Math.round(value * 10) / 10;
}
