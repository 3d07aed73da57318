/**
 * Postmortem benchmark: the summary (message + Block Kit), its Markdown, the timeline reply and
 * the timeline chart (model → SVG → PNG) for incidents of 10, 1000 and 5000 events.
 *
 *   npm run build && node bench/postmortem.mjs [--sizes 10,1000,5000] [--runs 5]
 *
 * Each size runs in a child process so its peak RSS is its own. The floor, in the same child:
 * an empty chart rendered to PNG (the rasteriser's fixed cost) plus the events serialised as
 * JSON (the cheapest pass over them). Budget: under 2 s for 5000 events; PNG under 300 KB.
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}

/** A week-long flapping worker with people acting on it now and then: `size` events. */
function incidentOf(size) {
  const subject = 'worker:cost-optimizer-worker';
  const span = Math.max(15 * MINUTE, (size / 5000) * 7 * 24 * 60 * MINUTE);
  const events = [];
  const add = (at, type, summary, extra = {}) => events.push({ id: events.length + 1, at, type, subject, incidentId: 1, actor: null, summary, data: {}, ...extra });
  add(T0, 'notice.tag_moved', 'ghcr.io/confighubai/confighub-worker:latest moved: sha256:8b96908d → sha256:c4338b51', { subject: 'image:ghcr.io/confighubai/confighub-worker:latest', data: { from: `sha256:${'8b96908d'.padEnd(64, '1')}`, to: `sha256:${'c4338b51'.padEnd(64, '2')}` } });
  add(T0 + MINUTE, 'problem.opened', 'worker pods failing: CrashLoopBackOff, 2 restarts', { data: { ok: false, restarts: 2 } });
  add(T0 + MINUTE, 'incident.opened', '#1 worker cost-optimizer-worker: worker pods failing');
  const middle = size - 5;
  for (let index = 0; index < middle; index++) {
    const at = T0 + 2 * MINUTE + ((span - 4 * MINUTE) * index) / Math.max(1, middle);
    if (index % 50 === 7) add(at, 'human.note', `looked at shard ${index} — nothing yet`, { actor: index % 100 === 7 ? 'U0LEAD' : 'U0ONCALL' });
    else if (index % 3 === 0) add(at, 'problem.recovering', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
    else if (index % 3 === 1) add(at, 'problem.relapsed', `worker pods failing: CrashLoopBackOff, ${index + 3} restarts`, { data: { ok: false, restarts: index + 3 } });
    else add(at, 'problem.changed', `worker pods failing: CrashLoopBackOff, ${index + 4} restarts`, { data: { ok: false, restarts: index + 4 } });
  }
  add(T0 + span - 2 * MINUTE, 'action.pin', '📌 Pinned worker cost-optimizer-worker to sha256:8b96908d by <@U0ONCALL>', { actor: 'U0ONCALL' });
  add(T0 + span - MINUTE, 'problem.resolved', 'worker pods failing: 1 pod Ready', { data: { ok: true } });
  add(T0 + span, 'incident.resolved', 'resolved');
  const incident = { id: 1, status: 'resolved', primarySubject: subject, severity: 'critical', channel: 'C0ALERTS', title: '#1 worker cost-optimizer-worker: worker pods failing', firstBadAt: T0, openedAt: T0 + MINUTE, acknowledgedAt: null, acknowledgedBy: null, resolvedAt: T0 + span, resolvedBy: null, lastActivityAt: T0 + span, correlation: null, stormId: null };
  return { incident, events };
}

async function child(size, runs) {
  const { renderSummary, summaryMarkdown } = await import('../dist/incidents/summary.js');
  const { renderTimeline } = await import('../dist/incidents/timeline.js');
  const { chartModel } = await import('../dist/incidents/chart.js');
  const { renderChartSvg } = await import('../dist/incidents/chart-svg.js');
  const { svgToPng } = await import('../dist/report/chart-png.js');
  const { toSlack } = await import('../dist/slack/render.js');
  const { formatTime } = await import('../dist/domain/duration.js');
  const { incident, events } = incidentOf(size);
  const names = { U0LEAD: 'Lena', U0ONCALL: 'Omar' };
  const nameOf = (id) => names[id] ?? id;
  const utc = (at) => formatTime(at, 'UTC');
  const bare = { ...incident, status: 'open' };
  const opening = [events[2]];
  let product = Infinity;
  let floor = Infinity;
  let pngBytes = 0;
  let blocks = 0;
  for (let run = 0; run < runs; run++) {
    let started = performance.now();
    blocks = toSlack(renderSummary(incident, events, T0 + MINUTE, nameOf)).blocks.length;
    summaryMarkdown(incident, events, utc, T0 + MINUTE, nameOf);
    toSlack(renderTimeline(incident, events));
    pngBytes = svgToPng(renderChartSvg(chartModel(incident, events, { now: T0, rootPostedAt: T0 + MINUTE, nameOf, formatTime: utc }))).length;
    product = Math.min(product, performance.now() - started);
    started = performance.now();
    svgToPng(renderChartSvg(chartModel(bare, opening, { now: T0 + MINUTE, formatTime: utc })));
    JSON.stringify(events);
    floor = Math.min(floor, performance.now() - started);
  }
  process.send({ size, product, floor, pngBytes, blocks, maxRssMb: process.resourceUsage().maxRSS / 1024 });
}

async function main() {
  const sizes = option('sizes', '10,1000,5000').split(',').map(Number);
  const runs = Number(option('runs', '5'));
  const rows = [];
  for (const size of sizes) {
    const result = await new Promise((resolve, reject) => {
      const worker = fork(fileURLToPath(import.meta.url), ['--child', String(size), '--runs', String(runs)]);
      worker.on('message', resolve);
      worker.on('error', reject);
      worker.on('exit', (code) => code !== 0 && reject(new Error(`size ${size}: child exited ${code}`)));
    });
    rows.push(result);
  }
  console.log('events | summary+markdown+timeline+PNG | floor (empty chart PNG + events as JSON) | ratio | peak RSS | PNG size | summary blocks');
  console.log('---:|---:|---:|---:|---:|---:|---:');
  let over = false;
  for (const row of rows) {
    console.log(`${row.size} | ${row.product.toFixed(0)} ms | ${row.floor.toFixed(0)} ms | ${(row.product / row.floor).toFixed(1)}× | ${row.maxRssMb.toFixed(0)} MB | ${(row.pngBytes / 1024).toFixed(0)} KB | ${row.blocks}`);
    if (row.product > 2000 || row.pngBytes >= 300 * 1024 || row.blocks > 50) over = true;
  }
  if (over) {
    console.error('over budget: 2 s, 300 KB, 50 blocks');
    process.exitCode = 1;
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) await child(Number(process.argv[childAt + 1]), Number(option('runs', '5')));
else await main();
