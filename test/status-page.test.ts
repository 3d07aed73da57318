/** The status page over HTTP without a browser: pages, JSON, escaping, 404, 405, basic auth, store faults. */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, registerSecret } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import type { IncidentRecord } from '../src/domain/model.js';
import type { TimelineEvent } from '../src/store/events.js';
import type { VersionMatrix } from '../src/commands/version.js';
import { registerHealth } from '../src/web/health.js';
import { registerHooks } from '../src/web/hooks/index.js';
import { createWebApp } from '../src/web/server.js';
import { registerStatusPage, type StatusPageDeps } from '../src/web/status/index.js';
import { escapeHtml } from '../src/web/status/html.js';
import { parseConfig } from '../src/config.js';

const quiet = createLogger({ level: 'silent' });
const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const SECRET = 'hunter2-status-secret-0a1b2c3d';
registerSecret(SECRET);

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function incident(id: number, overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    id,
    status: 'open',
    primarySubject: 'worker:cost-optimizer-worker',
    severity: 'critical',
    channel: 'C0ALERTS',
    title: `#${id} worker cost-optimizer-worker: worker pods failing`,
    firstBadAt: T0,
    openedAt: T0 + 60_000,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    lastActivityAt: T0,
    correlation: null,
    stormId: null,
    ...overrides,
  };
}

function events(id: number): TimelineEvent[] {
  const event = (at: number, type: string, summary: string, extra: Partial<TimelineEvent> = {}): TimelineEvent => ({ id: at, at, subject: 'worker:cost-optimizer-worker', type, incidentId: id, actor: null, summary, data: {}, ...extra });
  return [
    event(T0, 'problem.opened', 'worker pods failing: CrashLoopBackOff <script>alert(1)</script>', { data: { ok: false } }),
    event(T0 + 60_000, 'incident.opened', `#${id} opened`),
    event(T0 + 120_000, 'human.note', `the password is ${SECRET}`, { actor: 'U0ONCALL' }),
    event(T0 + 180_000, 'problem.recovering', 'worker pods failing: 1 pod Ready', { data: { ok: true } }),
  ];
}

const matrix: VersionMatrix = {
  rows: [
    { kind: 'worker', label: 'cost-optimizer-worker', desired: '8b96908d', running: 'c4338b51 0/1✓', verdict: 'down', notes: ['cost-optimizer-worker: no Ready pods (1 not ready)'] },
    { kind: 'service', label: 'svc relay', desired: '0.2.0', served: '<img src=x onerror=alert(1)>', verdict: 'stale', notes: ['svc relay: expected 0.2.0 (config)'] },
  ],
};

function start(overrides: Partial<StatusPageDeps> = {}) {
  const metrics = new Metrics();
  const web = createWebApp({ log: quiet });
  const store = new Map([1, 2].map((id) => [id, incident(id, id === 2 ? { status: 'resolved', resolvedAt: T0 + 600_000 } : {})]));
  const deps: StatusPageDeps = {
    incidents: {
      openIncidents: () => [...store.values()].filter((record) => record.status === 'open'),
      recentIncidents: (limit) => [...store.values()].reverse().slice(0, limit),
      incident: (id) => store.get(id),
    },
    events: { forIncident: (id) => (store.has(id) ? events(id) : []) },
    rootPostedAt: () => T0 + 61_000,
    versionMatrix: () => matrix,
    now: () => T0 + 300_000,
    formatTime: (at) => new Date(at).toISOString(),
    log: quiet,
    ...overrides,
  };
  const page = registerStatusPage(web, deps);
  registerHooks(web, { webhooks: { registry: { tokenEnv: 'T' } }, registries: {}, env: { T: 'token-0123456789' }, checker: undefined, metrics, log: quiet });
  registerHealth(web, { metrics, checks: () => ({ store: { ok: true }, ...page.readiness() }) });
  cleanups.push(() => web.close());
  return web;
}

describe('status page over HTTP', () => {
  it('/ shows every matrix row with its verdict and the open incidents, escaped and redacted', async () => {
    const web = start();
    const answer = await web.inject({ url: '/' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
    expect(answer.body).toContain('<h1>Versions: 1 stale, 1 down</h1>');
    expect(answer.body).toContain('cost-optimizer-worker');
    expect(answer.body).toContain('<span class="verdict verdict-stale">stale</span>');
    expect(answer.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(answer.body).not.toContain('<img');
    expect(answer.body).toContain('<a href="/incidents/1">#1 worker cost-optimizer-worker: worker pods failing</a>');
    expect(answer.body).not.toContain('/incidents/2"'); // resolved: not open
    const list = await web.inject({ url: '/incidents' });
    expect(list.body).toContain('href="/incidents/2"');
    expect(list.body).toContain('resolved after 10m');
  });

  it('/incidents/<id> shows title, status, TTD/TTA/TTM/TTR, the whole timeline and the chart; the JSON says the same', async () => {
    const web = start();
    const answer = await web.inject({ url: '/incidents/1' });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain('<h1>#1 worker cost-optimizer-worker: worker pods failing</h1>');
    expect(answer.body).toMatch(/TTD<\/abbr><\/dt><dd>1m 1s<\/dd>/);
    expect(answer.body).toMatch(/TTA<\/abbr><\/dt><dd>59s<\/dd>/);
    expect(answer.body).toMatch(/TTM<\/abbr><\/dt><dd>3m<\/dd>/);
    expect(answer.body).toMatch(/TTR<\/abbr><\/dt><dd>still open<\/dd>/);
    expect(answer.body).toContain('<figure class="chart" aria-label="timeline chart"><svg');
    expect(answer.body).toContain('Timeline (4 events)');
    expect(answer.body).toContain('CrashLoopBackOff &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(answer.body).not.toContain('<script>alert');
    expect(answer.body).not.toContain(SECRET);
    expect(answer.body).toContain('[redacted]');
    const json = await web.inject({ url: '/api/incidents/1' });
    expect(json.statusCode).toBe(200);
    const body = json.json<{ incident: { id: number; status: string }; figures: Array<{ label: string; text: string }>; timeline: unknown[] }>();
    expect(body.incident).toMatchObject({ id: 1, status: 'open' });
    expect(body.figures.map((figure) => `${figure.label} ${figure.text}`)).toEqual(['TTD 1m 1s', 'TTA 59s', 'TTM 3m', 'TTR still open']);
    expect(body.timeline).toHaveLength(4);
    expect(json.body).not.toContain(SECRET);
    const status = (await web.inject({ url: '/api/status' })).json<{ rows: Array<{ label: string; verdict: string }>; openIncidents: Array<{ id: number }> }>();
    expect(status.rows.map((row) => `${row.label} ${row.verdict}`)).toEqual(['cost-optimizer-worker down', 'svc relay stale']);
    expect(status.openIncidents.map((open) => open.id)).toEqual([1]);
  });

  it('unknown, odd, long and unicode ids get the 404 page; nothing from the address is reflected', async () => {
    const web = start();
    for (const url of ['/incidents/999', '/incidents/abc', `/incidents/${'9'.repeat(400)}`, '/incidents/%E2%9C%93%F0%9F%94%A5', '/incidents/%3Cscript%3Ealert(1)%3C%2Fscript%3E', '/incidents/..%2F..%2Fetc%2Fpasswd', '/incidents/0']) {
      const answer = await web.inject({ url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.body, url).toContain('<h1>Not found</h1>');
      expect(answer.body, url).not.toMatch(/<script>alert|passwd|✓/);
    }
    expect((await web.inject({ url: '/incidents/../../etc/passwd' })).statusCode).toBe(404);
    expect((await web.inject({ url: '/api/incidents/999' })).statusCode).toBe(404);
    const query = await web.inject({ url: '/?q=%3Cscript%3Ereflected()%3C/script%3E&x="><svg onload=reflected()>' });
    expect(query.statusCode).toBe(200);
    expect(query.body).not.toMatch(/reflected|onload/);
  });

  it('is read-only: anything but GET and HEAD gets 405', async () => {
    const web = start();
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      for (const url of ['/', '/incidents', '/incidents/1', '/api/status', '/api/incidents/1']) {
        const answer = await web.inject({ method, url });
        expect(answer.statusCode, `${method} ${url}`).toBe(405);
        expect(answer.headers.allow).toBe('GET, HEAD');
      }
    }
    const head = await web.inject({ method: 'HEAD', url: '/' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
  });

  it('serves its own stylesheet, script and favicon', async () => {
    const web = start();
    expect((await web.inject({ url: '/assets/status.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await web.inject({ url: '/assets/status.js' })).body).toContain('DOMParser');
    expect((await web.inject({ url: '/favicon.svg' })).headers['content-type']).toBe('image/svg+xml');
    expect((await web.inject({ url: '/favicon.ico' })).statusCode).toBe(200);
  });

  it('with basic auth: every path but the probes, metrics and hooks answers 401 first, whatever the method', async () => {
    const web = start({ basicAuth: { username: 'oncall', password: 'correct horse' } });
    const good = `Basic ${Buffer.from('oncall:correct horse').toString('base64')}`;
    const bad = `Basic ${Buffer.from('oncall:wrong').toString('base64')}`;
    for (const url of ['/', '/incidents', '/incidents/1', '/incidents/999', '/api/status', '/assets/status.css', '/favicon.ico', '/nowhere', '/healthz/extra']) {
      for (const method of ['GET', 'HEAD', 'POST', 'DELETE'] as const) {
        const answer = await web.inject({ method, url });
        expect(answer.statusCode, `${method} ${url}`).toBe(401);
        expect(answer.headers['www-authenticate']).toBe('Basic realm="Driftwatch status", charset="UTF-8"');
        expect((await web.inject({ method, url, headers: { authorization: bad } })).statusCode, `${method} ${url} wrong password`).toBe(401);
      }
    }
    expect((await web.inject({ url: '/', headers: { authorization: good } })).statusCode).toBe(200);
    expect((await web.inject({ method: 'POST', url: '/', headers: { authorization: good } })).statusCode).toBe(405);
    expect((await web.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await web.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await web.inject({ url: '/metrics' })).statusCode).toBe(200);
    // The hook answers by its own token check, not the page's password.
    expect((await web.inject({ method: 'POST', url: '/hooks/registry', headers: { authorization: 'Bearer token-0123456789' }, payload: { events: [] } })).statusCode).toBe(202);
  });

  it('a store fault shows a plain error page without its text, and /readyz says so until a read works again', async () => {
    let broken = true;
    const web = start({
      versionMatrix: () => {
        if (broken) throw new Error('SQLITE_CORRUPT: database disk image is malformed at /var/lib/driftwatch/driftwatch.db');
        return matrix;
      },
    });
    const answer = await web.inject({ url: '/' });
    expect(answer.statusCode).toBe(500);
    expect(answer.body).toContain('The status page cannot read the store right now');
    expect(answer.body).not.toMatch(/SQLITE|\/var\/lib|at .*\.js|Error/);
    const api = await web.inject({ url: '/api/status' });
    expect(api.statusCode).toBe(500);
    expect(api.body).not.toMatch(/SQLITE|\/var\/lib/);
    const ready = await web.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.statusPage.state).toMatch(/^store read failed at .*; the page shows an error$/);
    expect(ready.body).not.toMatch(/SQLITE|\/var\/lib/);
    broken = false;
    expect((await web.inject({ url: '/' })).statusCode).toBe(200);
    expect((await web.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('status page config', () => {
  it('statusPage keys: publicUrl must be an http(s) URL, basicAuth names a user and a variable', () => {
    expect(parseConfig({ statusPage: { publicUrl: 'https://driftwatch.example.com/', basicAuth: { username: 'oncall' } } }).statusPage).toEqual({
      publicUrl: 'https://driftwatch.example.com',
      basicAuth: { username: 'oncall', passwordEnv: 'DRIFTWATCH_STATUS_PASSWORD' },
    });
    expect(() => parseConfig({ statusPage: { publicUrl: 'ftp://x' } })).toThrow(/statusPage\.publicUrl: expected an http\(s\) URL/);
    expect(() => parseConfig({ statusPage: { basicAuth: { username: 'a:b' } } })).toThrow(/statusPage\.basicAuth\.username/);
    expect(() => parseConfig({ statusPage: { basicAuth: { username: 'x', passwordEnv: 'not a name' } } })).toThrow(/statusPage\.basicAuth\.passwordEnv/);
    expect(() => parseConfig({ statusPage: { colour: 'red' } })).toThrow(/statusPage/);
  });

  it('escapeHtml leaves no markup', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&amp;\u0000</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });
});

describe('status page models', () => {
  it('hourlyFormatter gives what formatTime gives, in any zone, across zone changes, with few calls', async () => {
    const { hourlyFormatter } = await import('../src/web/status/model.js');
    const { formatTime } = await import('../src/domain/duration.js');
    const times: number[] = [];
    // A week every 7 minutes 13 s, and every 10 s around Berlin's, St. John's and Lord Howe's 2026 changes.
    for (let at = T0; at < T0 + 7 * 86_400_000; at += 433_000) times.push(at);
    for (const change of [Date.UTC(2026, 2, 29, 1, 0, 0), Date.UTC(2026, 2, 8, 5, 30, 0), Date.UTC(2026, 3, 4, 15, 0, 0)]) for (let at = change - 3_600_000; at < change + 3_600_000; at += 10_000) times.push(at);
    for (const zone of ['UTC', 'Asia/Kolkata', 'Europe/Berlin', 'America/St_Johns', 'Australia/Lord_Howe']) {
      let calls = 0;
      const format = hourlyFormatter((at) => (calls++, formatTime(at, zone)));
      for (const at of times) expect(format(at), `${zone} ${new Date(at).toISOString()}`).toBe(formatTime(at, zone));
      expect(calls, zone).toBeLessThan(times.length / 2);
    }
  });
});
