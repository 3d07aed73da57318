/**
 * The status page in a real browser (chromium), against the product as users run it: the rows
 * and verdicts, a change shown in place within 15 s, the incident page with its timeline and
 * chart, no console errors, no request leaving 127.0.0.1, readable at 390 px, and basic auth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { startEndpoint, type Endpoint } from './support/endpoint-server.js';
import { freePort, Product, writeConfig } from './support/product.js';
import { waitFor } from './support/fake-slack.js';
import { artifactPath, launchChromium, skipWithoutChromium } from './support/browser.js';

const USER = 'oncall';
const PASSWORD = 'status-page-password-7f3a9c';
const HEADER = 'X-Api-Version';
const DIGEST = `sha256:${'ab12cd34'.repeat(8)}`;

/** The bits of the DOM the in-page functions touch (the tests' tsconfig has no DOM lib). */
interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null; documentElement: { scrollWidth: number } };
  keptAcrossRefresh?: string;
}

let kube: FakeApiserver;
let endpoint: Endpoint;
let product: Product;
let browser: Browser;
let context: BrowserContext;
let base: string;
const requests: string[] = [];
const consoleErrors: string[] = [];

function watch(page: Page): Page {
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  return page;
}

describe.skipIf(skipWithoutChromium())('status page in a browser', () => {
  beforeAll(async () => {
    kube = await startFakeApiserver();
    endpoint = await startEndpoint();
    endpoint.setVersion(HEADER, '1.4.0');
    const labels = { app: 'api' };
    kube.setImageDigest(`registry.example/shop/api@${DIGEST}`, DIGEST);
    kube.upsert({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api', namespace: 'shop', labels },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: `registry.example/shop/api@${DIGEST}` }] } } },
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const { path } = writeConfig({
      server: { host: '127.0.0.1', port },
      statusPage: { publicUrl: base, basicAuth: { username: USER } },
      clusters: [{ name: 'lab', context: 'lab-admin' }],
      workloads: [{ cluster: 'lab', namespace: 'shop', kind: 'Deployment', name: 'api' }],
      endpoints: [{ name: 'api-fra1', service: 'api', url: `${endpoint.url}/health`, versionHeader: HEADER, expect: '1.4.0', every: '1s', workload: 'lab/shop/Deployment/api' }],
    });
    product = Product.start(['console', '--config', path], { KUBECONFIG: kube.kubeconfigFile('lab-admin'), DRIFTWATCH_STATUS_PASSWORD: PASSWORD });
    const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 20_000, intervalMs: 200, what: 'product ready' });
    // Wait until the watchers have reported, so the first page already has its verdicts.
    await waitFor(
      async () => {
        const status = (await (await fetch(`${base}/api/status`, { headers: { authorization: auth } })).json()) as { rows: Array<{ verdict: string }> };
        return status.rows.length === 2 && status.rows.every((row) => row.verdict === 'current');
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'both rows current' },
    );
    browser = await launchChromium();
    context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1200, height: 900 } });
    context.on('request', (request) => requests.push(request.url()));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await product?.kill('SIGTERM');
    await endpoint?.close();
    await kube?.close();
  });

  it('shows the version matrix, then an endpoint going stale and its incident, in place without a reload', async () => {
    const page = watch(await context.newPage());
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    const answer = await page.goto(`${base}/`);
    expect(answer?.status()).toBe(200);
    expect(await page.title()).toBe('Versions · Driftwatch');
    const rows = page.locator('table.matrix tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).innerText()).toMatch(/workload\s+shop\/api[\s\S]*ab12cd34[\s\S]*current/);
    expect(await rows.nth(1).innerText()).toMatch(/service\s+svc api[\s\S]*1\.4\.0[\s\S]*1\.4\.0[\s\S]*current/);
    expect(await page.locator('main').innerText()).toContain('No open incidents.');
    await page.screenshot({ path: artifactPath('status-all-current.png'), fullPage: true });
    await page.evaluate(() => void ((globalThis as unknown as PageGlobals).keptAcrossRefresh = 'yes'));
    const navigationsBefore = navigations;

    // The endpoint starts serving an old version: the page shows it by itself.
    endpoint.setVersion(HEADER, '1.3.9');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('table.matrix tbody tr:nth-child(2) .verdict')?.textContent === 'stale', undefined, { timeout: 40_000, polling: 250 });
    expect(await rows.nth(1).innerText()).toMatch(/1\.4\.0[\s\S]*1\.3\.9[\s\S]*stale/);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).keptAcrossRefresh)).toBe('yes');
    expect(navigations).toBe(navigationsBefore);
    const incidentLink = page.locator('ul.incidents a', { hasText: 'endpoint api-fra1: stale deploy' });
    if ((await incidentLink.count()) === 0) await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('ul.incidents a') !== null, undefined, { timeout: 20_000, polling: 250 });
    await page.screenshot({ path: artifactPath('status-stale.png'), fullPage: true });

    // The root in the channel (here the console) links to the incident's page, and so does the summary.
    const linked = await product.waitFor(new RegExp(`stale deploy[\\s\\S]*?Timeline and chart: (${base.replace(/[.]/g, '\\.')}/incidents/(\\d+))`));
    product.type(`/incident summary #${linked[2]}`);
    await product.waitFor(new RegExp(`Summary of #${linked[2]}[\\s\\S]*?Timeline and chart: ${linked[1]!.replace(/[.]/g, '\\.')}`));

    // The incident's page: title, status, figures, the whole timeline and the chart.
    await page.locator('ul.incidents a').first().click();
    await page.waitForURL(/\/incidents\/\d+$/);
    expect(page.url()).toBe(linked[1]);
    expect(await page.locator('h1').innerText()).toMatch(/^#\d+ endpoint api-fra1: stale deploy$/);
    expect(await page.locator('.meta .status').innerText()).toMatch(/^Open for \d/);
    expect(await page.locator('dl.figures').innerText()).toMatch(/TTD\s+\d[\s\S]*TTA\s+not yet[\s\S]*TTM\s+not yet[\s\S]*TTR\s+still open/);
    expect(await page.locator('ol.timeline li').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('ol.timeline').innerText()).toMatch(/serves 1\.3\.9/);
    const chart = page.locator('figure.chart svg');
    expect(await chart.count()).toBe(1);
    expect(await chart.locator('text').first().textContent()).toMatch(/^#\d+ endpoint api-fra1$/);
    const box = await chart.boundingBox();
    expect(box!.width).toBeGreaterThan(600);
    await page.screenshot({ path: artifactPath('status-incident.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('reads at 390 px wide without sideways scrolling', async () => {
    const phone = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
    phone.on('request', (request) => requests.push(request.url()));
    const page = watch(await phone.newPage());
    for (const [path, shot] of [['/', 'status-phone.png'], ['/incidents', 'status-phone-incidents.png'], ['/incidents/1', 'status-phone-incident.png']] as const) {
      expect((await page.goto(`${base}${path}`))?.status(), path).toBe(200);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
      await page.screenshot({ path: artifactPath(shot), fullPage: true });
    }
    await phone.close();
  });

  it('without credentials the browser gets 401; unknown incidents get the 404 page', async () => {
    const stranger = await browser.newContext();
    stranger.on('request', (request) => requests.push(request.url()));
    const page = await stranger.newPage();
    const statuses: number[] = [];
    page.on('response', (response) => statuses.push(response.status()));
    // Chromium answers a challenge it has no credentials for by giving up on the navigation.
    const failure = await page.goto(`${base}/`).then(
      () => 'loaded',
      (error: Error) => error.message,
    );
    expect(failure).toMatch(/ERR_INVALID_AUTH_CREDENTIALS/);
    expect(statuses).toEqual([401]);
    await stranger.close();
    const lost = watch(await context.newPage());
    const missing = await lost.goto(`${base}/incidents/9999?q=<script>alert(1)</script>`);
    expect(missing?.status()).toBe(404);
    expect(await lost.locator('h1').innerText()).toBe('Not found');
    // A 404 document is logged by chromium as a failed resource; that one is expected.
    consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((text) => !/status of 404/.test(text)));
    await lost.close();
  });

  it('loaded nothing from anywhere but the product, and logged no console errors', () => {
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.filter((url) => !url.startsWith(`${base}/`))).toEqual([]);
    expect(requests).toContain(`${base}/favicon.svg`);
    expect(consoleErrors).toEqual([]);
  });
});
