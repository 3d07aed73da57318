/**
 * Endpoint watcher benchmark (issue 7). Budget: 2000 endpoints probed every 30 s, a cycle under
 * 10 s on 2 cores, p99 schedule drift under 1 s; the cycle within 1.5× its floor — a bare undici
 * HEAD loop over the same 2000 URLs at the prober's concurrency (64), measured in the same run
 * right after the product's cycle — at the first warm cycle and the hundredth, RSS flat between.
 *
 *   npm run build && node --expose-gc bench/endpoints.mjs [--endpoints 2000] [--servers 4] [--cycles 100]
 *                                              [--drift-every 2s] [--drift-for 20s] [--drift-endpoints 2000]
 *
 * The HTTP servers run in a child process so the CPU figures are the watcher's alone (probes,
 * decisions, the real incident engine and SQLite store). Schedule drift at `every: 30s` would
 * take minutes to sample, so it is measured with a shorter period (default every 2 s for 20 s,
 * i.e. 15 times the probe rate of the real budget): drift = how late each Scheduler timer fired
 * after the moment it was set for (the Scheduler's own jitter is intended and not counted).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const STALE_EVERY = 50; // every 50th endpoint serves no version header: incidents get opened too

/** Child: a few HTTP servers, any path; /e/<i> answers the version header unless i is a stale one. */
async function serve(count) {
  const ports = [];
  for (let i = 0; i < count; i++) {
    const server = http.createServer((req, res) => {
      const index = Number((req.url ?? '').split('/')[2]);
      const headers = { 'content-type': 'text/plain' };
      if (index % STALE_EVERY !== 0) headers['x-version'] = '1.0.0';
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : 'ok\n');
    });
    server.keepAliveTimeout = 60_000;
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push(server.address().port);
  }
  process.send({ ports });
  process.on('disconnect', () => process.exit(0));
}

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const ms = (value) => `${value.toFixed(0)} ms`;

async function main() {
  process.env.LOG_LEVEL ??= 'warn';
  const endpointCount = Number(option('endpoints', '2000'));
  const serverCount = Number(option('servers', '4'));
  const cycles = Number(option('cycles', '100'));
  const shown = new Set([1, 2, 10, 50, cycles]);
  const driftEvery = option('drift-every', '2s');
  const driftFor = option('drift-for', '20s');
  const driftEndpoints = Number(option('drift-endpoints', String(endpointCount)));

  const { parseConfig } = await import('../dist/config.js');
  const { parseDuration } = await import('../dist/domain/duration.js');
  const { Runtime } = await import('../dist/runtime.js');
  const { createLogger } = await import('../dist/log.js');
  const { Prober } = await import('../dist/clients/probe.js');
  const { EndpointWatcher } = await import('../dist/watchers/endpoints.js');
  const { Scheduler } = await import('../dist/watchers/scheduler.js');

  const child = fork(fileURLToPath(import.meta.url), ['serve', String(serverCount)], { stdio: 'inherit' });
  const { ports } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('error', reject);
  });

  const endpoints = (count, every) =>
    Array.from({ length: count }, (_, i) => ({
      name: `ep-${i}`,
      service: `svc-${i % 100}`,
      url: `http://127.0.0.1:${ports[i % ports.length]}/e/${i}`,
      expect: '1.0.0',
      every,
    }));
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-endpoints-'));
  const log = createLogger({ level: 'silent' });
  const results = { endpoints: endpointCount, servers: serverCount, cycles: [], drift: undefined };

  try {
    // --- full cycles ---------------------------------------------------------------------------
    {
      const config = parseConfig({ store: { path: join(dir, 'cycles.db') }, endpoints: endpoints(endpointCount, '30s') });
      const runtime = new Runtime(config, { log });
      const prober = new Prober({ timeoutMs: 10_000 });
      const watcher = new EndpointWatcher({ config, sink: runtime.sink(), prober, log });
      // The floor: the same URLs, HEAD with a bare undici loop, as many at a time as the prober allows.
      const { Agent, request } = await import('undici');
      const floorAgent = new Agent({ keepAliveTimeout: 4_000 });
      const urls = config.endpoints.map((endpoint) => endpoint.url);
      const floor = async () => {
        globalThis.gc?.();
        const started = performance.now();
        let next = 0;
        const worker = async () => {
          while (next < urls.length) {
            const response = await request(urls[next++], { method: 'HEAD', dispatcher: floorAgent });
            await response.body.dump();
          }
        };
        await Promise.all(Array.from({ length: 64 }, worker));
        return performance.now() - started;
      };
      results.trend = [];
      for (let i = 1; i <= cycles; i++) {
        globalThis.gc?.();
        const cpu = process.cpuUsage();
        const started = performance.now();
        await watcher.runCycle();
        const wall = performance.now() - started;
        const used = process.cpuUsage(cpu);
        const cpuMs = (used.user + used.system) / 1000;
        const rss = process.memoryUsage().rss;
        results.trend.push({ wallMs: Math.round(wall), rss });
        if (!shown.has(i)) continue;
        // The machine is shared: product and floor alternate three times here, medians compared.
        const walls = [wall];
        const floors = [await floor()];
        for (let extra = 0; extra < 2; extra++) {
          const again = performance.now();
          await watcher.runCycle();
          walls.push(performance.now() - again);
          floors.push(await floor());
        }
        const median = (list) => [...list].sort((a, b) => a - b)[1];
        const [wallMs, floorMs] = [median(walls), median(floors)];
        results.cycles.push({ cycle: i, wallMs: Math.round(wallMs), cpuMs: Math.round(cpuMs), cores: +(cpuMs / wall).toFixed(2), rss, floorMs: Math.round(floorMs), ratio: +(wallMs / floorMs).toFixed(2) });
      }
      await floorAgent.close();
      results.proberCycles = prober.stats();
      results.watcherCycles = watcher.stats();
      results.openIncidents = runtime.store.incidents.openIncidents().length;
      await watcher.stop();
      await prober.close();
      await runtime.stop(0);
    }

    // --- schedule drift: Scheduler-driven probes at a shorter period -----------------------------
    {
      const periodMs = parseDuration(driftEvery);
      const forMs = parseDuration(driftFor);
      const config = parseConfig({ store: { path: join(dir, 'drift.db') }, endpoints: endpoints(driftEndpoints, driftEvery) });
      const runtime = new Runtime(config, { log });
      const prober = new Prober({ timeoutMs: 10_000 });
      const drifts = [];
      // Only the Scheduler's timers are measured (found by their caller), not undici's.
      const realSetTimeout = globalThis.setTimeout;
      globalThis.setTimeout = function (fn, delay, ...args) {
        if (typeof fn === 'function' && new Error().stack?.includes('/watchers/scheduler.js')) {
          const due = performance.now() + Math.max(1, delay ?? 0);
          return realSetTimeout(() => {
            drifts.push(performance.now() - due);
            fn(...args);
          }, delay);
        }
        return realSetTimeout(fn, delay, ...args);
      };
      const scheduler = new Scheduler();
      const watcher = new EndpointWatcher({ config, sink: runtime.sink(), prober, log, scheduler });
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const cpu = process.cpuUsage();
      const started = performance.now();
      watcher.start();
      let peakRss = 0;
      while (performance.now() - started < forMs) {
        await new Promise((resolve) => realSetTimeout(resolve, 250));
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
      await scheduler.stop();
      await watcher.stop();
      const wall = performance.now() - started;
      const used = process.cpuUsage(cpu);
      loop.disable();
      globalThis.setTimeout = realSetTimeout;
      const probes = watcher.stats().probes;
      results.drift = {
        every: driftEvery,
        for: driftFor,
        endpoints: driftEndpoints,
        probes,
        probesPerSecond: Math.round(probes / (wall / 1000)),
        timers: drifts.length,
        p50Ms: +percentile(drifts, 50).toFixed(1),
        p99Ms: +percentile(drifts, 99).toFixed(1),
        maxMs: +Math.max(...drifts).toFixed(1),
        eventLoopP99Ms: +(loop.percentile(99) / 1e6).toFixed(1),
        cores: +((used.user + used.system) / 1000 / wall).toFixed(2),
        peakRss,
        inFlightMax: prober.stats().inFlightMax,
      };
      await prober.close();
      await runtime.stop(0);
    }
  } finally {
    child.disconnect();
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(`endpoint watcher: ${endpointCount} endpoints on ${serverCount} loopback HTTP servers (Node ${process.version})`);
  results.cycles.forEach((cycle) =>
    console.log(`  cycle ${cycle.cycle}: ${ms(cycle.wallMs)} wall (floor ${ms(cycle.floorMs)}, ${cycle.ratio}×; medians of 3 alternated runs), ${ms(cycle.cpuMs)} CPU (${cycle.cores} cores), RSS ${mb(cycle.rss)}${cycle.wallMs < 10_000 ? '' : '  ✗ over the 10 s budget'}`),
  );
  const avg = (list) => list.reduce((sum, value) => sum + value, 0) / list.length;
  const first10 = results.trend.slice(0, 10);
  const last10 = results.trend.slice(-10);
  console.log(`  trend over ${cycles} cycles: first 10 avg ${ms(avg(first10.map((t) => t.wallMs)))}, RSS ${mb(avg(first10.map((t) => t.rss)))}; last 10 avg ${ms(avg(last10.map((t) => t.wallMs)))}, RSS ${mb(avg(last10.map((t) => t.rss)))}`);
  const warm = results.cycles.filter((cycle) => cycle.cycle >= 2);
  console.log(`  ratio to the floor: first warm ${warm[0]?.ratio}×, cycle ${cycles} ${warm.at(-1)?.ratio}× (budget ≤ 1.5×): ${warm.every((cycle) => cycle.ratio <= 1.5) ? 'met' : 'NOT met'}`);
  delete results.trend;
  console.log(`  prober: ${results.proberCycles.probes} probes, at most ${results.proberCycles.inFlightMax} in flight; open incidents: ${results.openIncidents} (every ${STALE_EVERY}th endpoint is stale by design)`);
  const d = results.drift;
  console.log(
    `  drift (every ${d.every} for ${d.for}, ${d.endpoints} endpoints, ${d.probesPerSecond} probes/s): p50 ${d.p50Ms} ms, p99 ${d.p99Ms} ms, max ${d.maxMs} ms over ${d.timers} timers; ` +
      `event-loop delay p99 ${d.eventLoopP99Ms} ms; ${d.cores} cores; peak RSS ${mb(d.peakRss)}${d.p99Ms < 1000 ? '' : '  ✗ over the 1 s budget'}`,
  );
  console.log(JSON.stringify(results));
}

if (process.argv[2] === 'serve') await serve(Number(process.argv[3] ?? 4));
else await main();
