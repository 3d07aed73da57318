/**
 * Store promises, with the product as a child process on a real SQLite file:
 * - a second Driftwatch (`run`, `console`) on the same file exits 2 and says why;
 * - an unwritable store folder at start exits 2 naming the path and the OS error. Tests run as
 *   root, which ignores file modes, so "unwritable" is tested two honest ways: a path under a
 *   regular file (ENOTDIR) and a folder on a read-only bind mount (EROFS);
 * - a full store (a tiny tmpfs filled up while the bot runs) is reported on /readyz (503), logged
 *   about once a minute (not in a loop), and delivery resumes once space is back.
 * Mounting needs CAP_SYS_ADMIN; it is available here, and without it these tests fail, not skip.
 */
import type { SqliteExecutor } from '../src/store/sqlite-executor.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEndpoint } from './support/endpoint-server.js';
import { startFakeSlack, waitFor, type FakeSlack } from './support/fake-slack.js';
import { freePort, Product, writeConfig } from './support/product.js';

const BOT = 'xoxb-2222-3333-store-bot-token';
const APP = 'xapp-1-A0TEST-4444-store-app-token';
const CHANNEL = 'C0ALERTS';

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;
let endpoint: Endpoint;
let fake: FakeSlack | undefined;
const products: Product[] = [];
const mounts: string[] = [];

beforeAll(async () => {
  endpoint = await startEndpoint();
});
afterAll(async () => {
  await endpoint?.close();
});
afterEach(async () => {
  for (const product of products.splice(0)) await product.kill();
  for (const mount of mounts.splice(0).reverse()) execFileSync('umount', ['-l', mount]);
  await fake?.close();
  fake = undefined;
});

function start(args: string[], env: Record<string, string> = {}): Product {
  const product = Product.start(args, env);
  products.push(product);
  return product;
}

function mount(args: string[], target: string): void {
  execFileSync('mount', [...args, target]);
  mounts.push(target);
}

describe('one Driftwatch per store', () => {
  it('a second `console` or `run` on the same file exits 2 with "store <path> is in use by another Driftwatch"', async () => {
    const { path, dir } = writeConfig({});
    const first = start(['console', '--config', path]);
    await first.waitFor(/Type "help"/);
    const store = join(dir, 'driftwatch.db');
    const second = start(['console', '--config', path]);
    expect(await second.exited).toBe(2);
    expect(second.stderr).toContain(`store ${store} is in use by another Driftwatch`);
    const third = start(['run', '--config', writeConfig({ slack: { channel: CHANNEL }, store: { path: store } }).path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: 'http://127.0.0.1:9/api/' });
    expect(await third.exited).toBe(2);
    expect(third.stderr).toContain(`store ${store} is in use by another Driftwatch`);
    // The first one is unharmed and still answers.
    first.type('/incident list');
    await first.waitFor(/No open incidents|#\d|incidents/i);
    expect(first.child.exitCode).toBeNull();
  }, 30_000);
});

describe('an unwritable store folder at start', () => {
  it('a path under a regular file: exit 2 naming the path and ENOTDIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-store-'));
    writeFileSync(join(dir, 'plain-file'), 'not a folder');
    const store = join(dir, 'plain-file', 'state', 'driftwatch.db');
    const { path } = writeConfig({ store: { path: store } });
    const product = start(['console', '--config', path]);
    expect(await product.exited).toBe(2);
    expect(product.stderr).toContain(`store ${store}`);
    expect(product.stderr).toMatch(/ENOTDIR/);
    expect(product.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('a folder on a read-only mount: exit 2 naming the path and the OS error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-store-ro-'));
    const target = join(dir, 'ro');
    mkdirSync(target);
    mount(['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs'], target);
    for (const store of [join(target, 'driftwatch.db'), join(target, 'state', 'driftwatch.db')]) {
      const { path } = writeConfig({ store: { path: store } });
      const product = start(['console', '--config', path]);
      expect(await product.exited).toBe(2);
      expect(product.stderr).toContain(`store ${store}`);
      expect(product.stderr).toMatch(/EROFS|read-only|readonly/i);
      expect(product.stderr).not.toMatch(/at .*\.js:\d+/);
    }
  });
});

describe('a full store while running', () => {
  it('is reported on /readyz (503), logged once rather than in a loop, and delivery resumes when space is back', async () => {
    const slack = (fake = await startFakeSlack({ botToken: BOT, appToken: APP }));
    const dir = mkdtempSync(join(tmpdir(), 'dw-store-full-'));
    const target = join(dir, 'disk');
    mkdirSync(target);
    mount(['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs'], target);
    const port = await freePort();
    const { path } = writeConfig({
      slack: { channel: CHANNEL },
      store: { path: join(target, 'driftwatch.db') },
      server: { port },
      endpoints: [{ name: 'relay-dfw1', url: `${endpoint.url}/`, versionHeader: 'X-Relay-Version', expect: '0.2.0', every: '1s' }],
    });
    // Slack is down, so the alert stays in the outbox and the poster keeps writing its attempts.
    slack.failAlways('chat.postMessage', { status: 503 });
    endpoint.setVersion('X-Relay-Version', undefined);
    const product = start(['run', '--config', path], { SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: slack.apiUrl });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(() => slack.callCount('chat.postMessage') >= 1, { timeoutMs: 20_000, what: 'a first attempt' });
    // Fill the disk.
    const filler = join(target, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k', 'count=1000'], { stdio: 'ignore' });
    } catch {
      // dd stops with ENOSPC: that is the point.
    }
    const readyz = async () => {
      const response = await fetch(`${base}/readyz`);
      return { status: response.status, body: (await response.json()) as { checks: Record<string, { ok: boolean; state?: string }> } };
    };
    const unready = await waitFor(async () => ((await readyz()).status === 503 ? readyz() : undefined), { timeoutMs: 30_000, what: '/readyz 503 while the store is full' });
    // /readyz says what kind of fault in a word; the error text itself goes to the log only.
    expect(unready.body.checks.store?.state).toMatch(/full|failing/);
    expect(JSON.stringify(unready.body)).not.toMatch(/\/tmp|SQLITE_/);
    expect(product.stderr).toMatch(/store write failed: .*(full|disk|I\/O)/i);
    const linesAtFault = product.stderr.split('\n').length;
    // Three seconds of a full store: no busy loop (the old poster wrote ~100 error lines a second).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const during = product.stderr.split('\n').slice(linesAtFault - 1);
    expect(during.filter((line) => /store write failed/.test(line)).length).toBeLessThanOrEqual(1);
    expect(during.filter((line) => /"level":50/.test(line)).length).toBeLessThanOrEqual(5);
    // Space is back and Slack too: ready again, and the alert is delivered once.
    rmSync(filler);
    slack.heal();
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 60_000, what: '/readyz 200 after space is back' });
    await waitFor(() => slack.channel(CHANNEL).filter((message) => message.text.includes('relay-dfw1: stale deploy')).length === 1, { timeoutMs: 60_000, what: 'the alert delivered' });
  }, 150_000);
});

describe('a read-only store while running (in process)', () => {
  // A read-only remount is refused while the file is open (EBUSY), so the store is made read-only
  // from inside SQLite: `PRAGMA query_only` makes every write fail with SQLITE_READONLY.
  it('is reported, logged once, retried with backoff (no busy loop), and delivery resumes', async () => {
    const { Runtime } = await import('../src/runtime.js');
    const { parseConfig } = await import('../src/config.js');
    const { createLogger } = await import('../src/log.js');
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => void (lines.push(...String(chunk).split('\n').filter(Boolean)), done()) });
    const runtime = new Runtime(parseConfig({ slack: { channel: CHANNEL }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-store-ro-run-')), 'db.sqlite') } }), {
      log: createLogger({ level: 'info', destination }),
      poster: { baseBackoffMs: 200 },
    });
    let calls = 0;
    let slackUp = false;
    const posted: string[] = [];
    const poster = runtime.startDelivery({
      post: async (delivery) => {
        calls++;
        if (!slackUp) throw new Error('slack chat.postMessage: HTTP 503');
        posted.push(delivery.key);
        return { ts: `1700000000.${String(calls).padStart(6, '0')}` };
      },
      update: async () => {},
      upload: async () => {},
      findByKey: async () => undefined,
    });
    try {
      runtime.store.outbox.enqueue({ key: 'ro-1', channel: CHANNEL, kind: 'post', incidentId: null, role: 'message', message: { tone: 'critical', title: ['kept'] }, at: Date.now() });
      await waitFor(() => calls >= 1, { what: 'a first attempt' });
      (runtime.store.db.executor as SqliteExecutor).db.pragma('query_only = 1');
      await waitFor(() => poster.storeProblem(), { timeoutMs: 10_000, what: 'the store fault seen' });
      expect(poster.storeProblem()).toMatch(/store write failed: attempt to write a readonly database/);
      const callsAtFault = calls;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(lines.filter((line) => line.includes('store write failed'))).toHaveLength(1);
      // Backoff, not a loop: no more Slack calls while the store can't record them.
      expect(calls - callsAtFault).toBeLessThanOrEqual(1);
      (runtime.store.db.executor as SqliteExecutor).db.pragma('query_only = 0');
      slackUp = true;
      await waitFor(() => posted.includes('ro-1'), { timeoutMs: 20_000, what: 'delivered after the store recovered' });
      expect(poster.storeProblem()).toBeUndefined();
      expect(posted).toEqual(['ro-1']);
    } finally {
      await runtime.stop(500);
    }
  }, 40_000);
});
