/** The `ha` and `heartbeat` keys: defaults, client-go's ordering rules, and the errors an operator sees. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { leaseIdentity, parseConfig } from '../src/config.js';
import { problems } from './support/config-problems.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'driftwatch.js');


const base = { clusters: [{ name: 'prod' }], store: { url: 'postgres://driftwatch@db.internal:5432/driftwatch' } };

describe('ha config', () => {
  it("has client-go's defaults and the documented names", () => {
    const config = parseConfig({ ...base, ha: { cluster: 'prod' } });
    expect(config.ha).toEqual({ cluster: 'prod', namespace: 'driftwatch', lease: 'driftwatch-leader', leaseDuration: 15_000, renewDeadline: 10_000, retryPeriod: 2_000 });
    expect(config.store.url).toBe('postgres://driftwatch@db.internal:5432/driftwatch');
    expect(parseConfig({}).ha).toBeUndefined();
  });

  it('takes the identity from the config, else POD_NAME, else the hostname', () => {
    expect(leaseIdentity({ identity: 'my-pod-0' }, { POD_NAME: 'driftwatch-abc' })).toBe('my-pod-0');
    expect(leaseIdentity({}, { POD_NAME: 'driftwatch-abc' })).toBe('driftwatch-abc');
    expect(leaseIdentity({}, {}, () => 'laptop')).toBe('laptop');
  });

  it('ha without store.url names both keys', () => {
    expect(problems({ clusters: [{ name: 'prod' }], ha: { cluster: 'prod' } })).toEqual([
      'ha: needs store.url (PostgreSQL): replicas share one database, and a SQLite file (store.path) has a single writer',
    ]);
  });

  it('an unknown ha.cluster names the configured ones', () => {
    expect(problems({ ...base, ha: { cluster: 'staging' } })).toEqual(['ha.cluster: unknown cluster "staging" (clusters: prod)']);
  });

  it("keeps client-go's order: retryPeriod < renewDeadline < leaseDuration, in whole seconds", () => {
    expect(problems({ ...base, ha: { cluster: 'prod', leaseDuration: '10s', renewDeadline: '10s' } })).toEqual(['ha.renewDeadline: must be shorter than ha.leaseDuration (10s), got 10s']);
    expect(problems({ ...base, ha: { cluster: 'prod', retryPeriod: '10s' } })).toEqual(['ha.retryPeriod: must be shorter than ha.renewDeadline (10s), got 10s']);
    expect(problems({ ...base, ha: { cluster: 'prod', leaseDuration: '15500ms' } })).toEqual(['ha.leaseDuration: expected whole seconds, like 15s']);
    expect(problems({ ...base, ha: { cluster: 'prod', lease: 'Leader!' } })).toEqual(['ha.lease: expected a Lease name like driftwatch-leader']);
  });

  it('store.url must be a PostgreSQL URL', () => {
    expect(problems({ store: { url: 'mysql://db/x' } })).toEqual(['store.url: expected a PostgreSQL URL like postgres://driftwatch@db.internal:5432/driftwatch, got mysql:']);
  });
});

describe('heartbeat config', () => {
  it('pings every minute by default, with or without ha', () => {
    expect(parseConfig({ heartbeat: { url: 'https://hc-ping.com/0f0e' } }).heartbeat).toEqual({ url: 'https://hc-ping.com/0f0e', every: 60_000 });
    expect(problems({ heartbeat: { url: 'ftp://hc-ping.com/x', every: '10ms' } })).toEqual([
      'heartbeat.url: expected an http(s) URL, got ftp: in "ftp://hc-ping.com/x"',
      'heartbeat.every: expected a duration between 1s and 24d, got "10ms"',
    ]);
  });
});

describe('check-config', () => {
  it('exits 2 naming both keys when ha has no store.url (needs `npm run build`)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-ha-'));
    writeFileSync(join(dir, 'ha.yml'), 'clusters: [{ name: prod }]\nha: { cluster: prod }\n');
    const failed = await run('node', [cli, 'check-config', '--config', join(dir, 'ha.yml')]).catch((error: { code: number; stderr: string }) => error);
    expect('code' in failed && failed.code).toBe(2);
    expect((failed as { stderr: string }).stderr).toContain('ha: needs store.url');
  });
});
