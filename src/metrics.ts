import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every figure an operator graphs, named driftwatch_*. One registry per process. */
export class Metrics {
  readonly registry = new Registry();
  readonly observations = new Counter({ name: 'driftwatch_observations_total', help: 'Observations reported by watchers', labelNames: ['kind'], registers: [this.registry] });
  readonly alerts = new Counter({ name: 'driftwatch_alerts_total', help: 'Incident edges: opened, reopened, resolved', labelNames: ['edge'], registers: [this.registry] });
  readonly slackCalls = new Counter({ name: 'driftwatch_slack_calls_total', help: 'Deliveries to Slack by outcome', labelNames: ['kind', 'outcome'], registers: [this.registry] });
  readonly slackRetries = new Counter({ name: 'driftwatch_slack_retries_total', help: 'Deliveries that will be retried', registers: [this.registry] });
  readonly outboxDepth = new Gauge({ name: 'driftwatch_outbox_depth', help: 'Messages waiting in the outbox', registers: [this.registry] });
  readonly outboxFailed = new Gauge({ name: 'driftwatch_outbox_failed', help: 'Messages Slack refused for good', registers: [this.registry] });
  readonly outboxRefused = new Gauge({ name: 'driftwatch_outbox_refused', help: 'Messages kept because Slack refuses the channel (not_in_channel…), per channel', labelNames: ['channel'], registers: [this.registry] });
  readonly registryRateLimit = new Gauge({ name: 'driftwatch_registry_ratelimit_remaining', help: 'ratelimit-remaining reported by a registry', labelNames: ['image'], registers: [this.registry] });
  readonly probeLatency = new Histogram({ name: 'driftwatch_probe_latency_seconds', help: 'Endpoint probe latency', labelNames: ['endpoint'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly watchRestarts = new Counter({ name: 'driftwatch_watch_restarts_total', help: 'Kubernetes watches restarted', labelNames: ['cluster'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'driftwatch_process_' });
  }
}
