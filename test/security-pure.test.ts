/**
 * PRODUCTION.md "Promises", the rules that are decisions: redaction (what, where, before the
 * cut), untrusted text, group look-ups, reminders, the HTTP request checks, the ConfigHub body
 * cap, /readyz and the audit reader. Each test fails on the code before this change.
 */
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { Product } from './support/product.js';
import { afterEach, describe, expect, it } from 'vitest';
import { configuredSecrets, redact, redactAndClip, registerSecret } from '../src/domain/redact.js';
import { createLogger } from '../src/log.js';
import { lastLogLines } from '../src/kube/pods.js';
import { toSlack } from '../src/slack/render.js';
import { readinessBody } from '../src/web/health.js';
import { renderNotice, renderRoot } from '../src/incidents/render.js';
import { messageToText } from '../src/console/render.js';
import { neutralizeMentions, stripTerminalControls } from '../src/domain/untrusted.js';
import { AccessPolicy, GROUP_CACHE_MS, GROUP_MAX_AGE_MS } from '../src/commands/access.js';
import { judgeSlackRequest, SeenSignatures } from '../src/slack/request-guard.js';
import { ConfigHubClient, ConfigHubError } from '../src/clients/confighub.js';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { ManualClock } from '../src/domain/clock.js';
import { printAudit } from '../src/audit-cli.js';
import { CommandBus } from '../src/commands/bus.js';
import { Confirmations } from '../src/commands/confirm.js';
import type { AuditNote } from '../src/commands/audit.js';
import type { IncidentRecord, ProblemRecord } from '../src/domain/model.js';

const MINUTE = 60_000;

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WritableStream;
  return { lines, log: createLogger({ level: 'debug', pretty: false, destination }) };
}

describe('redaction', () => {
  it('knows the token shapes', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7v0\nabcdEFGH\n-----END RSA PRIVATE KEY-----';
    const shapes = [
      'xoxb-1234-5678-abcdefghij',
      'xoxe-1-abcdefghijklmnop',
      'xapp-1-A0TEST-3333-abcdefgh',
      'ghp_' + 'a'.repeat(36),
      'github_pat_11ABCDEFG0' + 'b'.repeat(50),
      'glpat-' + 'c'.repeat(20),
      'dckr_pat_' + 'd'.repeat(27),
      'AKIAIOSFODNN7EXAMPLE',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N',
      pem,
    ];
    for (const token of shapes) {
      const out = redact(`before ${token} after`);
      expect(out, token.slice(0, 12)).toBe('before [redacted] after');
    }
    expect(redact('{"auths":{"ghcr.io":{"auth":"dXNlcjpodW50ZXIy"}}}')).toBe('{"auths":{"ghcr.io":{"auth":"[redacted]"}}}');
    expect(redact('GET https://hub.example/api?user=ci&password=s3cr3tValue&x=1')).toBe('GET https://hub.example/api?user=ci&password=[redacted]&x=1');
    expect(redact('dial postgres://app:S3cretPassw0rd@db:5432/app')).toBe('dial postgres://app:[redacted]@db:5432/app');
    // A PEM block cut before its end line is still a key.
    expect(redact(`key: ${pem.slice(0, 60)}`)).not.toContain('MIIEow');
  });

  it('runs before truncation: a token straddling a cut leaves nothing behind', () => {
    const token = 'glpat-' + 'Z9'.repeat(12);
    // 13 characters of the token would have fit before the 400-character cut.
    const line = `${'x'.repeat(386)} ${token} tail`;
    const [cut] = lastLogLines(line);
    expect(cut).not.toContain('glpat-');
    expect(cut).not.toContain('Z9Z9');
    expect(redactAndClip(`${'y'.repeat(50)}${token}`, 60)).toBe(`${'y'.repeat(50)}[redacted]`);
    const field = toSlack({ tone: 'info', title: ['t'], fields: [['Log', [`${'z'.repeat(1990)}${token}`]]] });
    expect(JSON.stringify(field)).not.toContain('glpat-');
  });

  it('covers button labels and values, files and /readyz', () => {
    const token = 'ghp_' + 'Q'.repeat(36);
    const slack = toSlack({ tone: 'info', title: ['t'], buttons: [{ action: 'mute', label: `Mute ${token}`, value: JSON.stringify({ subject: token, incident: 1 }) }] });
    expect(JSON.stringify(slack)).not.toContain(token);
    expect(JSON.stringify(slack)).toContain('[redacted]');
    const ready = readinessBody({ registry: { ok: false, state: `401 from https://u:hunter2pass@ghcr.io with ${token}` } });
    expect(JSON.stringify(ready)).not.toContain(token);
    expect(JSON.stringify(ready)).not.toContain('hunter2pass');
    const console = messageToText({ tone: 'info', title: ['f'], attachment: { filename: 'a.txt', title: 'a', content: `token ${token}` } }, 'UTC');
    expect(console).not.toContain(token);
  });

  it('knows the configured secrets, endpoint header values and the database password included', () => {
    const config = parseConfig(
      {
        registries: { 'ghcr.io': { username: 'ci', passwordEnv: 'GHCR_PASSWORD' } },
        endpoints: [{ name: 'api', url: 'https://api.example/', versionHeader: 'X-Version', expect: '1', headers: { 'X-Api-Key': 'k3y-V4lue-0f-endpoint', Accept: 'application/json' } }],
        webhooks: { ghcr: { secretEnv: 'GHCR_HOOK_SECRET' } },
        store: { url: 'postgres://dw:db-P%40ss-w0rd@db:5432/dw' },
      },
      'test',
    );
    const secrets = configuredSecrets(config, { GHCR_PASSWORD: 'registry-pass-123', GHCR_HOOK_SECRET: 'hook-secret-456', SLACK_BOT_TOKEN: 'plain-looking-bot-token' });
    expect(secrets).toEqual(expect.arrayContaining(['registry-pass-123', 'hook-secret-456', 'plain-looking-bot-token', 'k3y-V4lue-0f-endpoint', 'db-P@ss-w0rd']));
    expect(secrets).not.toContain('application/json');
    for (const secret of secrets) registerSecret(secret);
    expect(redact('probe with k3y-V4lue-0f-endpoint failed; db-P@ss-w0rd; hook-secret-456')).toBe('probe with [redacted] failed; [redacted]; [redacted]');
  });

  it('redacts log fields before JSON escaping: a secret with a quote in it', () => {
    const secret = 'pa"ss\\word-with-quote';
    registerSecret(secret);
    const { lines, log } = capture();
    log.warn({ detail: `login as admin:${secret} refused`, nested: { list: [secret] } }, `message ${secret}`);
    log.error({ err: new Error(`boom ${secret}`) }, 'failed');
    const output = lines.join('');
    expect(output).not.toContain('pa\\"ss');
    expect(output).not.toContain('word-with-quote');
    expect(output.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(4);
  });
});

describe('untrusted text', () => {
  const incident: IncidentRecord = {
    id: 7, status: 'open', primarySubject: 'worker:w', severity: 'critical', channel: 'C0ALERTS', title: 't', firstBadAt: 0, openedAt: 0,
    acknowledgedAt: 5, acknowledgedBy: 'U0ONCALL', resolvedAt: null, resolvedBy: null, lastActivityAt: 0, correlation: null, stormId: null,
  };
  const problem = (summary: string, quote: string[]): ProblemRecord =>
    ({ subject: 'worker:w', kind: 'worker_pods_failing', state: 'alerting', severity: 'critical', summary, detail: { quote, fields: [['Last message', '<!channel> look']] }, incidentId: 7, badStreak: 1, goodStreak: 0, firstBadAt: 0 }) as unknown as ProblemRecord;

  it('from pods and endpoints can never mention anyone; our own mentions stay', () => {
    const root = renderRoot(incident, [problem('crashed: ping <!subteam^S0SRE> and <@U0BOSS> <!here>', ['<!channel> deploy now', 'cc <@W0ADMIN>'])], { now: 10 });
    const slack = JSON.stringify(toSlack(root));
    for (const mention of ['<!subteam^S0SRE>', '<@U0BOSS>', '<!here>', '<!channel>', '<@W0ADMIN>']) expect(slack).not.toContain(mention);
    expect(slack).toContain('<@U0ONCALL>');
    const notice = JSON.stringify(toSlack(renderNotice({ subject: 'endpoint:e', kind: 'version_changed', summary: 'now <@U0BOSS>', at: 0, lines: ['<!subteam^S1>'] })));
    expect(notice).not.toContain('<@U0BOSS>');
    expect(notice).not.toContain('<!subteam^S1>');
    expect(neutralizeMentions('a <@U1> b')).not.toBe('a <@U1> b');
  });

  it('the console strips terminal control sequences', () => {
    const evil = 'boom\u001b[2J\u001b[31mred\u001b]0;title\u0007\u0007\u009b1m end';
    const text = messageToText({ tone: 'critical', title: ['crash'], quote: [evil] }, 'UTC');
    expect(text).not.toMatch(/[\u001b\u0007\u009b]/);
    expect(text).toContain('boom');
    expect(text).toContain('red');
    expect(stripTerminalControls('a\u001b[0mb\nc\td')).toBe('ab\nc\td');
  });
});

describe('group look-ups', () => {
  const rules = { 'worker pin': { users: [], groups: ['S0SRE'], channels: [] } };

  it('are cached 5 minutes and coalesced: 50 simultaneous checks make one look-up', async () => {
    let now = 0;
    let calls = 0;
    const policy = new AccessPolicy(rules, async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return ['U0MEMBER'];
    }, { now: () => now });
    const decisions = await Promise.all(Array.from({ length: 50 }, () => policy.check('worker pin', 'U0MEMBER', 'C1')));
    expect(decisions.every((decision) => decision.allowed)).toBe(true);
    expect(calls).toBe(1);
    now += GROUP_CACHE_MS - 1;
    await policy.check('worker pin', 'U0MEMBER', 'C1');
    expect(calls).toBe(1);
    now += 2;
    await policy.check('worker pin', 'U0MEMBER', 'C1');
    expect(calls).toBe(2);
  });

  it('a failed look-up says so (never "ask to be added"), and a membership older than 15 minutes is never used', async () => {
    let now = 0;
    let fail = false;
    const failures: string[] = [];
    const policy = new AccessPolicy(rules, async () => {
      if (fail) throw Object.assign(new Error('rate limited'), { code: 'slack_webapi_rate_limited_error', retryAfter: 30 });
      return ['U0MEMBER'];
    }, { now: () => now, onLookupFailure: (_group, error) => failures.push(error.message) });
    fail = true;
    const first = await policy.check('worker pin', 'U0MEMBER', 'C1');
    expect(first.allowed).toBe(false);
    expect(first.reason).toBe("couldn't check your user groups (Slack is rate limiting us for 30s); try again in a minute");
    expect(first.reason).not.toContain('ask to be added');
    fail = false;
    expect((await policy.check('worker pin', 'U0MEMBER', 'C1')).allowed).toBe(true);
    // Slack fails from now on: a 10-minute-old membership still stands in, a 16-minute-old one never does.
    fail = true;
    now += 10 * MINUTE;
    expect((await policy.check('worker pin', 'U0MEMBER', 'C1')).allowed).toBe(true);
    now += 6 * MINUTE;
    expect(now).toBeGreaterThan(GROUP_MAX_AGE_MS);
    const stale = await policy.check('worker pin', 'U0MEMBER', 'C1');
    expect(stale).toMatchObject({ allowed: false, unchecked: true });
    expect(failures.length).toBe(3);
  });
});

describe('a failed group look-up through the command bus', () => {
  it('answers "couldn\'t check your user groups", audits the refusal and logs the failure', async () => {
    const { lines, log } = capture();
    const runtime = new Runtime(parseConfig({ store: { path: ':memory:' }, access: { 'worker pin': { groups: ['S0SRE'] } } }, 'test'), {
      log,
      groupMembers: async () => {
        throw Object.assign(new Error('An API error occurred: ratelimited'), { code: 'slack_webapi_rate_limited_error', retryAfter: 20 });
      },
    });
    try {
      const reply = await runtime.bus.dispatch('worker', 'pin cost-optimizer-worker', { user: 'U0MEMBER', channel: 'C0ALERTS', face: 'slack' });
      expect(reply.kind === 'message' && reply.message.title.join('')).toBe("couldn't check your user groups (Slack is rate limiting us for 20s); try again in a minute");
      expect(runtime.store.audit.all().at(-1)).toMatchObject({ actor: 'U0MEMBER', action: 'worker pin', result: expect.stringContaining("denied: couldn't check your user groups") });
      expect(lines.join('')).toContain('usergroups.users.list S0SRE: Slack is rate limiting us');
    } finally {
      await runtime.stop(0);
    }
  });
});

describe('HTTP-mode request checks', () => {
  const secret = 'signing-secret-for-tests';
  const sign = (timestamp: number, body: string) => `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  const now = Date.UTC(2026, 10, 30, 12, 0, 0);
  const at = Math.floor(now / 1000);

  it('refuses a timestamp more than 5 minutes off either way, and a signature seen in the last 5 minutes', () => {
    const seen = new SeenSignatures();
    const body = Buffer.from('command=%2Fincident&text=list');
    const judge = (timestamp: number, when = now, signature = sign(timestamp, body.toString())) => judgeSlackRequest({ timestamp: String(timestamp), signature, body }, secret, when, seen);
    expect(judge(at)).toEqual({ ok: true });
    expect(judge(at)).toMatchObject({ ok: false, reason: expect.stringContaining('replay') });
    expect(judge(at, now + 4 * MINUTE)).toMatchObject({ ok: false, reason: expect.stringContaining('replay') });
    expect(judge(at + 3600)).toMatchObject({ ok: false, reason: expect.stringContaining('5 minutes off') });
    expect(judge(at - 301)).toMatchObject({ ok: false, reason: expect.stringContaining('5 minutes off') });
    expect(judge(at + 1, now, 'v0=' + '0'.repeat(64))).toMatchObject({ ok: false, reason: 'signature does not match' });
    // A forged signature is not remembered: the genuine request with that timestamp still passes.
    expect(judge(at + 1)).toEqual({ ok: true });
  });
});

describe('ConfigHub answers are bounded', () => {
  let server: http.Server | undefined;
  afterEach(() => server?.close());

  it('refuses a body over the cap with a clear error, streamed or declared', async () => {
    server = http.createServer((req, res) => {
      if (req.url?.startsWith('/api/info')) {
        // 4 MiB streamed without a length: the client stops reading at its cap.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const more = () => {
          while (sent < 64 && res.write(chunk)) sent++;
          if (sent < 64) res.once('drain', more);
          else res.end('{}');
        };
        more();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) });
      res.end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const client = new ConfigHubClient({ url: `http://127.0.0.1:${port}`, token: 'confighub-token-abc', maxBodyBytes: 1024 * 1024 });
    const error = await client.info().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigHubError);
    expect((error as Error).message).toMatch(/GET \/api\/info answered 200 with more than 1 MiB; the limit is 1 MiB/);
    const declared = await client.resolveSpace('default').catch((caught: unknown) => caught);
    expect((declared as Error).message).toMatch(/more than 1 MiB/);
    await client.close();
  });
});

describe('reminders follow human attention', () => {
  it('machine updates never reset them; an acknowledgement stops them', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 30, 2, 0, 0));
    const runtime = new Runtime(parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path: ':memory:' }, alerting: { failuresBeforeAlert: 1, remindEvery: '1h' } }, 'test'), { clock, log: createLogger({ level: 'silent' }) });
    try {
      const sink = runtime.sink();
      sink.check({ subject: 'worker:w', problem: 'worker_pods_failing', ok: false, summary: 'CrashLoopBackOff, 1 restart' });
      const reminders = () => runtime.store.events.forIncident(1).filter((event) => event.type === 'notice.reminder').length;
      // Two hours of a crash loop: the restart count changes and a notice arrives every 10 minutes.
      for (let step = 1; step <= 12; step++) {
        clock.advance(10 * MINUTE);
        sink.check({ subject: 'worker:w', problem: 'worker_pods_failing', ok: false, summary: `CrashLoopBackOff, ${step + 1} restarts` });
        sink.notice({ subject: 'worker:w', kind: 'version_changed', summary: `restart ${step + 1}` });
        runtime.tick();
      }
      expect(reminders()).toBe(2);
      runtime.engine.acknowledge(1, 'U0ONCALL');
      clock.advance(3 * 60 * MINUTE);
      runtime.tick();
      expect(reminders()).toBe(2);
    } finally {
      void runtime.stop(0);
    }
  });
});

describe('the audit trail', () => {
  it('records cancels, expiries (pressed late or never pressed) and presses by someone other than the requester', async () => {
    const clock = new ManualClock(0);
    const notes: AuditNote[] = [];
    const confirmations = new Confirmations((requester, plan) => notes.push({ actor: requester, action: plan.rule, target: 'confirmation', result: 'expired unpressed', ...(plan.incidentId ? { incidentId: plan.incidentId } : {}) }));
    const bus = new CommandBus(new AccessPolicy({ 'worker pin': { users: ['U0A', 'U0B'], groups: [], channels: [] } }), confirmations, clock, (note) => notes.push(note));
    let executed = 0;
    bus.register({ family: 'worker', name: 'pin', usage: '/worker pin', summary: '', guarded: true, handle: async () => ({ rule: 'worker pin', incidentId: 7, preview: { tone: 'warning', title: ['pin?'] }, execute: async () => (executed++, { tone: 'ok', title: ['pinned'] }) }) });
    const ctx = { user: 'U0A', channel: 'C1', face: 'slack' as const };
    const ask = async () => {
      const reply = await bus.dispatch('worker', 'pin w', ctx);
      if (reply.kind !== 'confirm') throw new Error('no confirmation');
      return reply.id;
    };
    const first = await ask();
    await bus.decide(first, 'U0B', true, { ...ctx, user: 'U0B' });
    await bus.decide(first, 'U0A', false, ctx);
    const second = await ask();
    clock.advance(6 * MINUTE);
    await bus.decide(second, 'U0A', true, ctx);
    await ask();
    clock.advance(6 * MINUTE);
    confirmations.expire(clock.now());
    await bus.decide('no-such-id', 'U0C', true, ctx);
    expect(executed).toBe(0);
    expect(notes.map((note) => `${note.actor} ${note.result}`)).toEqual([
      'U0B refused: confirm pressed by someone other than the requester U0A',
      'U0A cancelled',
      'U0A expired (requested by U0A, pressed confirm)',
      'U0A expired unpressed',
      'U0C refused: already used or unknown',
    ]);
    // Those about an incident carry it, so they land on its timeline too.
    expect(notes.map((note) => note.incidentId)).toEqual([7, 7, 7, 7, undefined]);
  });

  it('driftwatch audit prints JSON lines since --since', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-audit-'));
    const path = join(dir, 'db.sqlite');
    const clock = new ManualClock(Date.now() - 48 * 60 * MINUTE);
    const runtime = new Runtime(parseConfig({ store: { path } }, 'test'), { clock, log: createLogger({ level: 'silent' }) });
    runtime.audit({ actor: 'U0OLD', action: 'worker pin', target: 'x', result: 'cancelled' });
    clock.set(Date.now() - 60 * MINUTE);
    runtime.audit({ actor: 'U0NEW', action: 'incident resolve', target: '#3', result: 'refused: not in channel D0DM' });
    await runtime.stop(0);
    const lines: string[] = [];
    const out = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }) as unknown as NodeJS.WritableStream;
    expect(printAudit(path, '24h', out)).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ actor: 'U0NEW', action: 'incident resolve', target: '#3', result: 'refused: not in channel D0DM' });
    expect(printAudit(path, '7d', out)).toBe(2);
    expect(() => printAudit(path, 'yesterday', out)).toThrow(/--since "yesterday" is not a duration/);
  });

  it('`driftwatch audit --since 2h --config F` prints the trail from the config\'s store; a bad --since exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-audit-cli-'));
    const store = join(dir, 'db.sqlite');
    const runtime = new Runtime(parseConfig({ store: { path: store } }, 'test'), { log: createLogger({ level: 'silent' }) });
    runtime.audit({ actor: 'U0ONCALL', action: 'worker pin', target: 'confirmation', result: 'cancelled' });
    await runtime.stop(0);
    const config = join(dir, 'driftwatch.yml');
    writeFileSync(config, `store:\n  path: ${store}\n`);
    const ok = Product.start(['audit', '--since', '2h', '--config', config]);
    expect(await ok.exited).toBe(0);
    expect(ok.stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ actor: 'U0ONCALL', action: 'worker pin', result: 'cancelled' })]);
    const bad = Product.start(['audit', '--since', 'soon', '--config', config]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr).toContain('--since "soon" is not a duration');
  });
});
