/**
 * Redaction benchmark (PRODUCTION.md "Secrets and untrusted text"): what redaction costs per
 * outgoing Slack message (toSlack of an incident root with a crash log, redaction included) and
 * per log line, beside a floor measured in the same run: JSON.stringify of the same message, and
 * a pino line without redaction.
 *
 *   npm run build && node bench/redaction.mjs [--messages 5000] [--lines 20000]
 */
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pino } from 'pino';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const { toSlack } = await import('../dist/slack/render.js');
const { renderRoot } = await import('../dist/incidents/render.js');
const { registerSecret } = await import('../dist/domain/redact.js');
const { createLogger } = await import('../dist/log.js');

// A production-sized secret set: tokens, registry passwords, header values.
for (let index = 0; index < 12; index++) registerSecret(`configured-secret-value-${index}-${'x'.repeat(16)}`);

const T0 = Date.UTC(2026, 10, 30, 3, 0, 0);
function incidentMessage(seed) {
  const incident = { id: seed, status: 'open', primarySubject: 'worker:cost-optimizer-worker', severity: 'critical', channel: 'C0ALERTS', title: 't', firstBadAt: T0, openedAt: T0, acknowledgedAt: null, acknowledgedBy: null, resolvedAt: null, resolvedBy: null, lastActivityAt: T0, correlation: { lastGood: { digest: `sha256:${'8b96908d'.padEnd(64, '1')}`, source: 'pin history' } }, stormId: null };
  const quote = Array.from({ length: 8 }, (_, line) => `2026/11/30 03:00:0${line} worker ${seed}: failed to get bridge worker slug: server returned status 404 (attempt ${line}) Token: ch_cjvr7QWERTY${seed}`);
  const problems = [{ subject: incident.primarySubject, kind: 'worker_pods_failing', severity: 'critical', state: 'alerting', badStreak: 3, goodStreak: 0, firstBadAt: T0, lastAt: T0, summary: `CrashLoopBackOff, ${seed % 40} restarts <@U0BOSS>`, detail: { quote, fields: [['Image', 'ghcr.io/confighubai/confighub-worker:latest']] }, incidentId: seed }];
  return renderRoot(incident, problems, { now: T0 + 60_000 });
}

function percentile(samples, p) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function timeEach(count, work) {
  const samples = new Array(count);
  for (let index = 0; index < count; index++) {
    const start = performance.now();
    work(index);
    samples[index] = performance.now() - start;
  }
  return samples;
}

const messages = option('messages', 5000);
const lines = option('lines', 20000);
const models = Array.from({ length: 200 }, (_, index) => incidentMessage(index + 1));
for (let warm = 0; warm < 500; warm++) toSlack(models[warm % models.length]);

const product = timeEach(messages, (index) => toSlack(models[index % models.length]));
const floor = timeEach(messages, (index) => JSON.stringify(models[index % models.length]));

const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });
const redacting = createLogger({ level: 'info', pretty: false, destination: sink() });
const bare = pino({ level: 'info', base: { name: 'driftwatch' } }, sink());
const fields = (index) => ({ component: 'outbox', key: `inc-${index}-root`, channel: 'C0ALERTS', attempt: index % 5, err: { message: `slack chat.postMessage: HTTP 500 for request ${index}` } });
for (let warm = 0; warm < 2000; warm++) redacting.info(fields(warm), 'delivery retried');
const logProduct = timeEach(lines, (index) => redacting.info(fields(index), `delivery of inc-${index}-root retried`));
const logFloor = timeEach(lines, (index) => bare.info(fields(index), `delivery of inc-${index}-root retried`));

const row = (name, samples, floorSamples) => {
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  const f50 = percentile(floorSamples, 50);
  const f99 = percentile(floorSamples, 99);
  return `${name.padEnd(34)} p50 ${(p50 * 1000).toFixed(1)} µs  p99 ${(p99 * 1000).toFixed(1)} µs   floor p50 ${(f50 * 1000).toFixed(1)} µs  p99 ${(f99 * 1000).toFixed(1)} µs   ratio p99 ${(p99 / f99).toFixed(1)}×`;
};
process.stdout.write(`${row(`toSlack (redacted), ${messages} messages`, product, floor)}\n`);
process.stdout.write(`${row(`log line (redacted), ${lines} lines`, logProduct, logFloor)}\n`);
process.stdout.write('floors: JSON.stringify of the same message model; a pino line without redaction to the same null stream\n');
