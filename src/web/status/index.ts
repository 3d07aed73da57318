/**
 * The status page (PRODUCTION.md, "The status page"): the version matrix and incident timelines,
 * read-only, on server.port. `/`, `/incidents`, `/incidents/<id>` as HTML that refreshes itself;
 * `/api/status` and `/api/incidents/<id>` as JSON; its own stylesheet, script and favicon.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { IncidentRecord } from '../../domain/model.js';
import type { TimelineEvent } from '../../store/events.js';
import type { VersionMatrix } from '../../commands/version.js';
import { namesOf, type PeopleDirectory } from '../../commands/people.js';
import { peopleOf, rawId } from '../../incidents/words.js';
import { redact, type Logger } from '../../log.js';
import type { ReadinessCheck } from '../health.js';
import { FAVICON_PATH, FAVICON_SVG, PAGE_SCRIPT, PAGE_SCRIPT_PATH, PAGE_STYLE, PAGE_STYLE_PATH } from './assets.js';
import { registerBasicAuth, type BasicAuth } from './access.js';
import { performance } from 'node:perf_hooks';
import { incidentSummary, incidentView, statusModel, type StatusModel } from './model.js';
import { renderErrorPage, renderIncidentPage, renderIncidentsPage, renderNotFoundPage, renderStatusPage } from './pages.js';

/** What the page reads: nothing it could write with. */
export interface StatusPageDeps {
  incidents: {
    openIncidents(): IncidentRecord[];
    recentIncidents(limit: number): IncidentRecord[];
    incident(id: number): IncidentRecord | undefined;
  };
  events: { forIncident(incidentId: number): TimelineEvent[] };
  /** When the incident's root reached the channel (detection), if it did. */
  rootPostedAt(incidentId: number): number | null | undefined;
  versionMatrix(): VersionMatrix;
  now(): number;
  formatTime(at: number): string;
  /** Display names for people on timelines (Slack's users.info); ids without it. */
  people?: () => PeopleDirectory;
  basicAuth?: BasicAuth;
  log?: Logger;
  /** STATUS_REUSE_MS unless set (the benchmark times fresh readings with 0). */
  reuseMs?: number;
}

/** `/incidents` lists this many, newest first. */
export const RECENT_INCIDENTS = 200;
/** Incident ids are row ids: digits only, and few of them (anything else is simply not found). */
const INCIDENT_ID = /^[1-9][0-9]{0,9}$/;
const PAGE_PATHS = ['/', '/incidents', '/incidents/:id', '/api/status', '/api/incidents/:id', PAGE_STYLE_PATH, PAGE_SCRIPT_PATH, FAVICON_PATH, '/favicon.ico'];
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/**
 * How long one reading of the matrix and open incidents answers `/` and `/api/status`: many
 * open pages (each refreshing every 15 s) then cost the store one read a second at most.
 */
export const STATUS_REUSE_MS = 1000;

const SECURITY_HEADERS = {
  // Everything comes from the product itself; nothing may load from or send to anywhere else.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface StatusPage {
  /** `statusPage`: whether the last store read failed (shown on /readyz, without its error text). */
  readiness(): Record<string, ReadinessCheck>;
}

export function registerStatusPage(app: FastifyInstance, deps: StatusPageDeps): StatusPage {
  if (deps.basicAuth) registerBasicAuth(app, deps.basicAuth);
  let failedAt: number | undefined;
  let failure: string | undefined;

  /** Runs a read; a store fault becomes state for /readyz and a plain page, never a stack. */
  const read = <T>(what: string, run: () => T): { ok: true; value: T } | { ok: false } => {
    try {
      const value = run();
      failedAt = undefined;
      failure = undefined;
      return { ok: true, value };
    } catch (error) {
      if (failedAt === undefined) deps.log?.error({ err: error, what }, 'status page: store read failed');
      failedAt = deps.now();
      failure = (error as Error).message;
      return { ok: false };
    }
  };

  // Every body is redacted as a whole on its way out, like every other output.
  const sendHtml = (reply: FastifyReply, code: number, redacted: string) =>
    reply.code(code).headers(SECURITY_HEADERS).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(redacted);
  const sendJson = (reply: FastifyReply, code: number, redacted: string) =>
    reply.code(code).headers(SECURITY_HEADERS).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(redacted);
  const html = (reply: FastifyReply, code: number, body: string) => sendHtml(reply, code, redact(body));
  const json = (reply: FastifyReply, code: number, body: unknown) => sendJson(reply, code, redact(JSON.stringify(body)));
  const asset = (reply: FastifyReply, type: string, body: string) =>
    reply.headers(SECURITY_HEADERS).header('cache-control', 'public, max-age=300').type(type).send(body);

  let reused: { at: number; model: StatusModel; html?: string; json?: string } | undefined;
  const status = () => {
    if (reused && performance.now() - reused.at < (deps.reuseMs ?? STATUS_REUSE_MS)) return { ok: true as const, value: reused };
    const model = read('status', () => statusModel({ matrix: deps.versionMatrix(), open: deps.incidents.openIncidents(), now: deps.now(), formatTime: (at) => deps.formatTime(at) }));
    reused = model.ok ? { at: performance.now(), model: model.value } : undefined;
    return reused ? { ok: true as const, value: reused } : { ok: false as const };
  };
  const incidentOf = async (id: string) => {
    if (!INCIDENT_ID.test(id)) return { ok: true as const, value: undefined };
    const found = read('incident', () => {
      const incident = deps.incidents.incident(Number(id));
      return incident ? { incident, events: deps.events.forIncident(incident.id), rootPostedAt: deps.rootPostedAt(incident.id) } : undefined;
    });
    if (!found.ok || !found.value) return found.ok ? { ok: true as const, value: undefined } : found;
    const { incident, events, rootPostedAt } = found.value;
    const people = peopleOf(events);
    const nameOf = deps.people && people.length ? await namesOf(deps.people(), people, 300) : rawId;
    return { ok: true as const, value: incidentView(incident, events, { now: deps.now(), rootPostedAt, formatTime: (at) => deps.formatTime(at), nameOf }) };
  };

  app.get('/', async (_request, reply) => {
    const current = status();
    if (!current.ok) return html(reply, 500, renderErrorPage());
    current.value.html ??= redact(renderStatusPage(current.value.model));
    return sendHtml(reply, 200, current.value.html);
  });
  app.get('/incidents', async (_request, reply) => {
    const now = deps.now();
    const list = read('incidents', () => deps.incidents.recentIncidents(RECENT_INCIDENTS).map((incident) => incidentSummary(incident, now)));
    return list.ok ? html(reply, 200, renderIncidentsPage(list.value, deps.formatTime(now))) : html(reply, 500, renderErrorPage());
  });
  app.get<{ Params: { id: string } }>('/incidents/:id', async (request, reply) => {
    const view = await incidentOf(request.params.id);
    if (!view.ok) return html(reply, 500, renderErrorPage());
    return view.value ? html(reply, 200, renderIncidentPage(view.value)) : html(reply, 404, renderNotFoundPage());
  });
  app.get('/api/status', async (_request, reply) => {
    const current = status();
    if (!current.ok) return json(reply, 500, { error: 'the store cannot be read right now; see /readyz' });
    current.value.json ??= redact(JSON.stringify(current.value.model));
    return sendJson(reply, 200, current.value.json);
  });
  app.get<{ Params: { id: string } }>('/api/incidents/:id', async (request, reply) => {
    const view = await incidentOf(request.params.id);
    if (!view.ok) return json(reply, 500, { error: 'the store cannot be read right now; see /readyz' });
    return view.value ? json(reply, 200, view.value) : json(reply, 404, { error: 'no such incident' });
  });
  app.get(PAGE_STYLE_PATH, async (_request, reply) => asset(reply, 'text/css; charset=utf-8', PAGE_STYLE));
  app.get(PAGE_SCRIPT_PATH, async (_request, reply) => asset(reply, 'text/javascript; charset=utf-8', PAGE_SCRIPT));
  app.get(FAVICON_PATH, async (_request, reply) => asset(reply, 'image/svg+xml', FAVICON_SVG));
  app.get('/favicon.ico', async (_request, reply) => asset(reply, 'image/svg+xml', FAVICON_SVG));
  // Read-only: the page's addresses answer every other method with 405 (after the auth check).
  for (const url of PAGE_PATHS) {
    app.route({ method: [...WRITE_METHODS], url, handler: async (_request, reply) => reply.code(405).header('allow', 'GET, HEAD').send({ error: 'method not allowed: the status page is read-only (GET, HEAD)' }) });
  }

  return {
    readiness: () => ({
      statusPage: failedAt === undefined ? { ok: true, state: 'ok' } : { ok: false, state: `store read failed at ${deps.formatTime(failedAt)}; the page shows an error`, ...(failure ? { detail: failure } : {}) },
    }),
  };
}
