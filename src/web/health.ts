/** /healthz (the process answers), /readyz (each component and its state), /metrics (Prometheus). */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { clip } from '../domain/text.js';

export interface ReadinessCheck {
  ok: boolean;
  /** A short public state (`3 pending, 0 refused by Slack`, `last valid event at …`). */
  state?: string;
  /** Error text for logs and people with access; never served, it may name hosts or carry secrets. */
  detail?: string;
}

export interface HealthDeps {
  metrics: Metrics;
  /** Component name → its check, read on every /readyz. */
  checks: () => Record<string, ReadinessCheck>;
  /** Brings gauges up to date before a scrape. */
  beforeScrape?: () => void;
}

/** What /readyz shows: components and states only (PRODUCTION.md, "Listeners"). */
export function readinessBody(checks: Record<string, ReadinessCheck>): { ready: boolean; checks: Record<string, { ok: boolean; state: string }> } {
  const shown: Record<string, { ok: boolean; state: string }> = {};
  // States are short public words; redacted and cut anyway, so a careless state cannot leak.
  for (const [name, check] of Object.entries(checks)) shown[name] = { ok: check.ok, state: clip(check.state ?? (check.ok ? 'ok' : 'not ready'), 120) };
  return { ready: Object.values(checks).every((check) => check.ok), checks: shown };
}

export function registerHealth(app: FastifyInstance, deps: HealthDeps): void {
  app.get('/healthz', async (_request, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_request, reply) => {
    const body = readinessBody(deps.checks());
    return reply.code(body.ready ? 200 : 503).send(body);
  });
  app.get('/metrics', async (_request, reply) => {
    deps.beforeScrape?.();
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
