import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { formatDuration, parseDuration } from '../src/domain/duration.js';
import { problems } from './support/config-problems.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'driftwatch.js');


describe('config', () => {
  it('a config that sets only what it needs starts, with the documented defaults', () => {
    const config = parseConfig({ slack: { channel: 'C0ALERTS' } });
    expect(config.alerting).toMatchObject({ failuresBeforeAlert: 2, recoveriesBeforeResolve: 2, reopenWithin: 30 * 60_000, healthyFor: 5 * 60_000, correlationWindow: 30 * 60_000 });
    expect(config.store.path).toBe('./data/driftwatch.db');
    expect(config.server.port).toBe(9090);
    expect(config.timezone).toBe('UTC');
    const full = parseConfig({
      clusters: [{ name: 'prod' }],
      workers: [{ name: 'cost-optimizer-worker', cluster: 'prod' }],
      images: [{ ref: 'ghcr.io/confighubai/confighub-worker:latest' }],
      endpoints: [{ name: 'relay-dfw1', url: 'https://node-dfw1.relaynet.online/', versionHeader: 'X-Relay-Version', expect: '0.2.0' }],
    });
    expect(full.clusters[0]!.unreachableAfter).toBe(60_000);
    expect(full.workers[0]).toMatchObject({ namespace: 'confighub', container: 'worker' });
    expect(full.images[0]).toMatchObject({ every: 60_000, platforms: ['linux/amd64'] });
    expect(full.endpoints[0]!.every).toBe(30_000);
  });

  it('every error names its path and what was expected', () => {
    expect(problems({ endpoints: [{ name: 'a', url: 'https://a.example/' }, { name: 'b', url: 'https://b.example/' }, { name: 'c', url: 'https://c.example/', every: 'soon' }] })).toEqual([
      'endpoints[2].every: expected a duration like 30s, got "soon"',
    ]);
    expect(problems({ endpoint: [] })[0]).toMatch(/^endpoint: unknown key; did you mean "endpoints"\?/);
    expect(problems({ alerting: { failuresBeforAlert: 3 } })[0]).toMatch(/^alerting\.failuresBeforAlert: unknown key; did you mean "failuresBeforeAlert"\?/);
    expect(problems({ alerting: { failuresBeforeAlert: 'two' } })).toEqual(['alerting.failuresBeforeAlert: expected number, got string "two"']);
    expect(problems({ endpoints: [{ name: 'x', url: 'ftp://files.example/' }] })).toEqual(['endpoints[0].url: expected an http(s) URL, got ftp: in "ftp://files.example/"']);
    expect(problems({ images: [{ ref: 'Foo::bar' }] })[0]).toMatch(/^images\[0\]\.ref: image "Foo::bar"/);
    expect(problems({ slack: { channel: 'alerts' } })[0]).toMatch(/^slack\.channel: expected a Slack channel id/);
    expect(problems({ timezone: 'Mars/Olympus' })[0]).toMatch(/^timezone: expected an IANA time zone/);
    expect(problems({ slack: { channel: 'alerts' } })).toEqual(['slack.channel: expected a Slack channel id like C0123ABCD']);
    // Impossible durations: a poll faster than a second, or longer than a timer can wait.
    expect(problems({ endpoints: [{ name: 'a', url: 'https://a.example/', every: '1ms' }] })).toEqual(['endpoints[0].every: expected a duration between 1s and 24d, got "1ms"']);
    expect(problems({ images: [{ ref: 'nginx', every: '99999999999h' }] })).toEqual(['images[0].every: expected a duration between 1s and 24d, got "99999999999h"']);
  });

  it('refuses duplicates and references to things that are not defined', () => {
    const found = problems({
      clusters: [{ name: 'prod' }, { name: 'prod' }],
      workers: [{ name: 'w', cluster: 'staging' }, { name: 'w', cluster: 'prod' }],
      workloads: [{ cluster: 'prod', namespace: 'relay', kind: 'DaemonSet', name: 'relay' }],
      endpoints: [{ name: 'e', url: 'https://e.example/', workload: 'prod/relay/Deployment/relay', expectFrom: { workload: 'prod/relay/DaemonSet/relay' } }],
      access: { 'worker pinn': { users: ['U0ONCALL'] } },
    });
    expect(found).toContain('clusters[1].name: duplicate cluster name "prod"');
    expect(found).toContain('workers[0].cluster: unknown cluster "staging" (clusters: prod)');
    expect(found).toContain('workers[1].name: duplicate worker name "w"');
    expect(found.find((problem) => problem.startsWith('endpoints[0].workload'))).toContain('unknown workload "prod/relay/Deployment/relay"');
    expect(found.find((problem) => problem.startsWith('access.worker pinn'))).toContain('did you mean "worker pin"');
  });

  it('one run names every problem: references are checked even when the shape has errors too', () => {
    const found = problems({
      clusters: [{ name: 'prod' }],
      workers: [{ name: 'w', cluster: 'staging' }],
      endpoints: [{ name: 'e', url: 'https://e.example/', every: 'soon' }, { name: 'e', url: 'https://f.example/' }],
    });
    expect(found).toContain('endpoints[0].every: expected a duration like 30s, got "soon"');
    expect(found).toContain('workers[0].cluster: unknown cluster "staging" (clusters: prod)');
    expect(found).toContain('endpoints[1].name: duplicate endpoint name "e"');
  });

  it('durations read and write the way people do', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h 30m')).toBe(5_400_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(formatDuration(3_725_000)).toBe('1h 2m 5s');
    expect(formatDuration(845_000)).toBe('14m 5s');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('CLI', () => {
  it('check-config validates a file and exits non-zero naming every problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-cli-'));
    writeFileSync(join(dir, 'good.yml'), 'slack: { channel: C0ALERTS }\nclusters: [{ name: prod }]\nworkers: [{ name: w, cluster: prod }]\n');
    writeFileSync(join(dir, 'bad.yml'), 'endpoints:\n  - { name: a, url: "https://a.example/", every: soon }\nworkerz: []\n');
    const good = await run('node', [cli, 'check-config', '--config', join(dir, 'good.yml')]);
    expect(good.stdout).toContain('ok — 1 cluster(s), 1 worker(s)');
    const bad = await run('node', [cli, 'check-config', '--config', join(dir, 'bad.yml')]).catch((error: { code: number; stderr: string }) => error);
    expect('code' in bad && bad.code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain('endpoints[0].every: expected a duration like 30s, got "soon"');
    expect((bad as { stderr: string }).stderr).toContain('workerz: unknown key; did you mean "workers"?');
    expect((bad as { stderr: string }).stderr).not.toMatch(/\n\s+at /);
    const missing = await run('node', [cli, 'check-config', '--config', join(dir, 'nope.yml')]).catch((error: { code: number; stderr: string }) => error);
    expect((missing as { stderr: string }).stderr).toContain('cannot read the file: ENOENT');
  });

  it('schema prints the JSON Schema generated from the same zod schema', async () => {
    const { stdout } = await run('node', [cli, 'schema']);
    const schema = JSON.parse(stdout) as { properties: Record<string, { items?: { properties?: Record<string, unknown> } }> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['slack', 'clusters', 'workers', 'workloads', 'images', 'endpoints', 'access', 'alerting', 'routes', 'digest']));
    expect(Object.keys(schema.properties.endpoints!.items!.properties!)).toEqual(expect.arrayContaining(['versionHeader', 'expectFrom', 'cors']));
  });

  it('refuses a corrupt store, and one written by a newer Driftwatch, without touching it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-store-'));
    writeFileSync(join(dir, 'corrupt.db'), 'this is not sqlite '.repeat(500));
    writeFileSync(join(dir, 'c.yml'), `store: { path: ${join(dir, 'corrupt.db')} }\n`);
    const corrupt = await run('node', [cli, 'console', '--config', join(dir, 'c.yml')], { timeout: 10_000 }).catch((error: { code: number; stderr: string }) => error);
    expect((corrupt as { code: number }).code).toBe(2);
    expect((corrupt as { stderr: string }).stderr).toMatch(/not a valid Driftwatch database.*left untouched/);
    const Database = (await import('better-sqlite3')).default;
    const newer = new Database(join(dir, 'newer.db'));
    newer.pragma('user_version = 99');
    newer.close();
    writeFileSync(join(dir, 'n.yml'), `store: { path: ${join(dir, 'newer.db')} }\n`);
    const refused = await run('node', [cli, 'console', '--config', join(dir, 'n.yml')], { timeout: 10_000 }).catch((error: { code: number; stderr: string }) => error);
    expect((refused as { stderr: string }).stderr).toContain('written by a newer Driftwatch (schema 99');
  });
});

describe('README', () => {
  it('its config reference is the one generated from the schema', async () => {
    const { readFileSync } = await import('node:fs');
    const { configReference } = await import('../src/config-reference.js');
    const { configJsonSchema } = await import('../src/config.js');
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const documented = readme.split('<!-- config-reference:start -->\n')[1]!.split('<!-- config-reference:end -->')[0];
    expect(documented).toBe(configReference(configJsonSchema()));
  });
});
