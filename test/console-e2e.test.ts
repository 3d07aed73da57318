import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration } from '../src/domain/duration.js';
import { Store } from '../src/store/index.js';
import { startEndpoint } from './support/endpoint-server.js';
import { Product, writeConfig } from './support/product.js';

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;
let endpoint: Endpoint;

beforeAll(async () => {
  endpoint = await startEndpoint();
});
afterAll(async () => {
  await endpoint?.close();
});

async function waitForSent(storePath: string, key: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const store = Store.open(storePath, { readOnly: true });
    try {
      if (store.outbox.byKey(key)?.status === 'sent') return;
    } finally {
      store.close();
    }
    if (Date.now() > deadline) throw new Error(`${key} was not recorded as sent within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const count = (text: string, pattern: RegExp) => (text.match(new RegExp(pattern.source, 'g')) ?? []).length;

describe('console (the product as a child process)', () => {
  it('one incident across a SIGKILL and restart: opened, notice in its thread, root updated, resolved with its duration', async () => {
    const { path, dir } = writeConfig({
      console: { user: 'U0ONCALL' },
      endpoints: [{ name: 'relay-dfw1', url: `${endpoint.url}/hooks/lib/sources/tmdb.js`, versionHeader: 'X-Relay-Version', expect: '0.2.0', every: '1s' }],
    });
    endpoint.setVersion('X-Relay-Version', undefined);
    const startedAt = Date.now();
    const first = Product.start(['console', '--config', path]);
    await first.waitFor(/#1 endpoint relay-dfw1: stale deploy/);
    // The terminal has no history to search: a root printed but not yet recorded as sent when the
    // process dies prints again. Kill after the store says it was delivered (read-only, as
    // `driftwatch audit` reads it while the bot runs), which is the step this test is about.
    await waitForSent(join(dir, 'driftwatch.db'), 'inc-1-root');
    expect(await first.kill('SIGKILL')).toBeNull();

    endpoint.setVersion('X-Relay-Version', '0.1.9');
    const second = Product.start(['console', '--config', path]);
    await second.waitFor(/relay-dfw1 now serves 0\.1\.9; it served no version for/);
    await second.waitFor(/root of #1 updated:[\s\S]*serves 0\.1\.9; expected 0\.2\.0/);
    endpoint.setVersion('X-Relay-Version', '0.2.0');
    const resolved = await second.waitFor(/Resolved after ([\dhms ]+)/);
    second.type('/incident list all');
    await second.waitFor(/#1 resolved · endpoint relay-dfw1: stale deploy/);
    second.type('/incident timeline #1');
    await second.waitFor(/Timeline of #1/);
    second.type('/incident summary #1');
    await second.waitFor(/Summary of #1[\s\S]*TTR /);
    // The Markdown goes into the incident's thread, as in Slack.
    await second.waitFor(/↳ in #1:\n.*Incident #1 summary[\s\S]*── incident-1-summary\.md ──[\s\S]*# Incident #1: endpoint relay-dfw1/);
    second.type('quit');
    await second.exited;

    const output = first.stdout + second.stdout;
    expect(count(output, /\n🔴 #1 endpoint relay-dfw1: stale deploy/)).toBe(1);
    expect(count(output, /#2 /)).toBe(0);
    expect(output).toMatch(/↳ in #1:\n.*relay-dfw1 now serves 0\.1\.9/);
    expect(output).toMatch(/↳ in #1:\n.*relay-dfw1 now serves 0\.2\.0/);
    const db = new Database(join(dir, 'driftwatch.db'), { readonly: true });
    const incident = db.prepare('SELECT first_bad_at, resolved_at FROM incidents WHERE id = 1').get() as { first_bad_at: number; resolved_at: number };
    db.close();
    expect(resolved[1]!.trim()).toBe(formatDuration(incident.resolved_at - incident.first_bad_at));
    // And that duration is the real one: from the first probe that saw no header (after the start)
    // to the second good probe (at least two 1 s probes later), within the test's own wall time.
    expect(incident.first_bad_at).toBeGreaterThanOrEqual(startedAt);
    expect(incident.resolved_at - incident.first_bad_at).toBeGreaterThanOrEqual(2_000);
    expect(incident.resolved_at).toBeLessThanOrEqual(Date.now());
  });

  it('unknown commands get short help, never a stack trace', async () => {
    const { path } = writeConfig({});
    const product = Product.start(['console', '--config', path]);
    await product.waitFor(/Type "help"/);
    product.type('/frobnicate now');
    await product.waitFor(/Unknown command \/frobnicate/);
    product.type('hello there');
    await product.waitFor(/Type a slash command/);
    product.type('/incident nope');
    await product.waitFor(/\/incident has no subcommand "nope"/);
    product.type('/incident list');
    await product.waitFor(/No incidents\./);
    product.type('quit');
    expect(await product.exited).toBe(0);
    expect(product.stdout + product.stderr).not.toMatch(/\n\s+at \S+ \(/);
  });
});
