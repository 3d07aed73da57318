/**
 * `driftwatch demo` serves the status page and prints its address; fetched while the demo plays,
 * the page shows seed 004's stale relay and seed 000's failing worker as they open,
 * and their resolutions with the whole timeline once the worker is pinned back.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'bin', 'driftwatch.js');

interface ApiStatus {
  rows: Array<{ label: string; verdict: string }>;
  openIncidents: Array<{ id: number; title: string }>;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; demo output:\n${output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('the status page in the demo', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'dw-status-demo-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('prints the page address, and the page follows seeds 004 and 000 from opening to resolution', { timeout: 170_000 }, async () => {
    const child = spawn(process.execPath, [cli, 'demo'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, LOG_LEVEL: 'warn' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const base = await until('the status page address', async () => /Status page: (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)?.[1], 30_000, () => output);
      const get = async (path: string) => {
        const answer = await fetch(`${base}${path}`);
        return { status: answer.status, body: await answer.text() };
      };
      const api = async () => JSON.parse((await get('/api/status')).body) as ApiStatus;

      // Seed 004: the relay serves no version header while 0.2.0 was published.
      const stale = await until('the stale relay incident on the page', async () => (await api()).openIncidents.find((open) => /endpoint relay-dfw1: stale deploy/.test(open.title)), 60_000, () => output);
      const page = await get('/');
      expect(page.status).toBe(200);
      expect(page.body).toContain(`<a href="/incidents/${stale.id}">#${stale.id} endpoint relay-dfw1: stale deploy</a>`);
      expect(page.body).toMatch(/svc relay[\s\S]*?verdict-stale/);

      // Seed 000: the tag moves to a crashing build and the worker fails.
      const worker = await until('the worker incident on the page', async () => (await api()).openIncidents.find((open) => /worker cost-optimizer-worker/.test(open.title)), 90_000, () => output);
      expect((await get('/')).body).toContain(`href="/incidents/${worker.id}"`);
      const open = await get(`/incidents/${worker.id}`);
      expect(open.status).toBe(200);
      expect(open.body).toContain('<figure class="chart"');
      expect(open.body).toMatch(/TTR<\/abbr><\/dt><dd>still open/);

      // Pinned back (as the on-call would type it) and the relay updated: both resolve, the page says so.
      await until('the pin suggestion', async () => output.includes('/worker pin cost-optimizer-worker'), 60_000, () => output);
      child.stdin.write('/worker pin cost-optimizer-worker\n');
      await until('the confirmation prompt', async () => /Confirm\? \[y\/N\]/.test(output), 30_000, () => output);
      child.stdin.write('y\n');
      await until('both resolved on the page', async () => (await api()).openIncidents.length === 0 && output.includes(`Resolved: #${worker.id}`), 120_000, () => output);
      const list = await get('/incidents');
      expect(list.body).toMatch(new RegExp(`#${stale.id} endpoint relay-dfw1: stale deploy</a> <span class="status status-resolved">resolved after`));
      expect(list.body).toMatch(new RegExp(`#${worker.id} worker cost-optimizer-worker[^<]*</a> <span class="status status-resolved">resolved after`));
      const resolved = await get(`/incidents/${worker.id}`);
      expect(resolved.body).toMatch(/TTR<\/abbr><\/dt><dd>\d/);
      expect(resolved.body).toMatch(/Pinned worker cost-optimizer-worker/);
      expect((await api()).rows.find((row) => row.label === 'svc relay')?.verdict).toBe('current');
      child.stdin.write('quit\n');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
