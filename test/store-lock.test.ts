import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Store } from '../src/store/index.js';
import { printAudit } from '../src/audit-cli.js';

describe('one writer per SQLite store, readers welcome', () => {
  it('refuses a second writer while the first holds the store, lets `driftwatch audit` read, and frees the store on close', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'dw-lock-')), 'db.sqlite');
    const writer = Store.open(path);
    writer.audit.record({ at: Date.now(), actor: 'U0ONCALL', action: 'worker pin', target: 'cost-optimizer-worker', before: null, after: null, result: 'cancelled', incidentId: null });
    expect(() => Store.open(path)).toThrow(`store ${path} is in use by another Driftwatch`);
    const lines: string[] = [];
    const out = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }) as unknown as NodeJS.WritableStream;
    expect(printAudit(path, '1h', out)).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ actor: 'U0ONCALL', result: 'cancelled' });
    // The reader wrote nothing and took no lock: the writer carries on.
    writer.audit.record({ at: Date.now(), actor: 'U0ONCALL', action: 'worker unpin', target: 'cost-optimizer-worker', before: null, after: null, result: 'ok', incidentId: null });
    writer.close();
    const next = Store.open(path);
    expect(next.audit.all()).toHaveLength(2);
    next.close();
  });
});
