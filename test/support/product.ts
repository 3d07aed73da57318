import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'driftwatch.js');

/** The product as users run it: `node bin/driftwatch.js …` in a child process (built dist/). */
export class Product {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(args: string[], env: Record<string, string> = {}): Product {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new Product(child);
  }

  type(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Waits until stdout (or stderr) matches; fails with what was printed so far. */
  async waitFor(pattern: RegExp, options: { timeoutMs?: number; stream?: 'stdout' | 'stderr' } = {}): Promise<RegExpMatchArray> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    for (;;) {
      const text = options.stream === 'stderr' ? this.stderr : this.stdout;
      const match = text.match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null) throw new Error(`product exited (${this.child.exitCode}) before ${pattern}:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stdout:\n${this.stdout}\nstderr:\n${this.stderr.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Writes a config file for the product in a fresh temp folder; returns its path and folder. */
export function writeConfig(config: Record<string, unknown>): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dw-product-'));
  const withStore = { store: { path: join(dir, 'driftwatch.db') }, server: { port: 0 }, ...config };
  const path = join(dir, 'driftwatch.yml');
  writeFileSync(path, stringify(withStore));
  return { path, dir };
}

/** A port nobody listens on right now (for the product's own servers in child-process tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
