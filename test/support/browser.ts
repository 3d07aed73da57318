/**
 * A real browser for the status page's tests: Debian's chromium driven by playwright-core (no
 * browser download). With CI=true a missing chromium fails the test instead of skipping it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = (): boolean => existsSync(CHROMIUM);
/** Whether a test needing chromium should skip here: only outside CI. */
export const skipWithoutChromium = (): boolean => !chromiumAvailable() && process.env.CI !== 'true';

export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Screenshots are kept as test artifacts under test-artifacts/ (gitignored). */
export function artifactPath(name: string): string {
  const dir = join(import.meta.dirname, '..', '..', 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
