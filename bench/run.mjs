// Runs every benchmark in turn (`npm run bench`, after the build). Each prints its own table;
// the README's benchmark section records the figures measured on a 2-core machine.
import { spawnSync } from 'node:child_process';

const steps = [
  ['registry: 1000 tags in 20 repositories', ['node', '--expose-gc', 'bench/registry.mjs']],
  ['endpoints: 2000 endpoints on loopback', ['node', '--expose-gc', 'bench/endpoints.mjs']],
  ['kubernetes: 5000 pods in 50 Deployments', ['node', '--expose-gc', 'bench/kube.mjs']],
  ['alerts: pod status change → Slack root (200 crash loops), storm of 500 pods → Slack calls', ['node', 'bench/alerts.mjs']],
  ['discovery: RSS beside bare informers, 5000 and 20000 pods', ['node', '--expose-gc', 'bench/discovery.mjs']],
  ['idle memory: 1000 tags and 2000 endpoints beside a bare process', ['node', 'bench/idle.mjs']],
  ['postmortem: summary, Markdown and chart for 10, 1000 and 5000 events', ['node', 'bench/postmortem.mjs']],
  ['redaction: per outgoing message and per log line', ['node', 'bench/redaction.mjs']],
  ['push: registry webhook → Slack notice, signed deliveries per second', ['node', 'bench/push.mjs']],
  ['store: observations applied on SQLite vs PostgreSQL 15', ['node', 'bench/store.mjs']],
  ['status page: server time and bytes for 500 rows and 5000 events, /api/status per second', ['node', 'bench/status-page.mjs']],
  ['slack: ack latency, observation → post, outbox under 429', ['npx', 'vitest', 'run', '--config', 'bench/vitest.config.ts', 'bench/slack.bench.ts']],
  ['failover: two replicas, SIGTERM and kill -9; observation → Slack on PostgreSQL vs SQLite', ['node', 'bench/failover.mjs']],
  ['delivery: 429 storm — Slack calls per delivered message, drain time after the storm', ['node', 'bench/delivery.mjs']],
];

let failed = 0;
for (const [title, [command, ...args]] of steps) {
  process.stdout.write(`\n=== ${title}\n`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
