/**
 * The web UI against the real server, in real Chromium (ARCHITECTURE.md §6.9):
 * `kilowatch all` with its simulated fleet, the built page from dist/web, one
 * live WebSocket. Checks what an operator would see: the simulated label, a
 * non-zero fleet power, a chart that moves, jobs and the facility, an alert
 * that fires and is acknowledged from the UI, the rules with the file's
 * read-only, and no request leaving the host.
 *
 * Needs `npm run build` first (bin/kilowatch.js runs compiled output, §8
 * "Node 20") and Chromium from Debian (`apt-get install chromium`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, ROOT, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const CHROMIUM = '/usr/bin/chromium';
const RESULTS = join(ROOT, 'test-results');

let server: KilowatchProcess | undefined;
let browser: Browser | null = null;

/** "48.2 kW" -> 48200. NaN when the text is not a power reading (e.g. the "–" placeholder). */
function parseWatts(text: string | null): number {
  const match = /([\d.]+)\s*(W|kW|MW)/.exec(text ?? '');
  if (!match) return Number.NaN;
  const factor = { W: 1, kW: 1e3, MW: 1e6 }[match[2] as 'W' | 'kW' | 'MW'];
  return Number(match[1]) * factor;
}

/** "12.4 kWh · counter · 98 %": an energy with its method and coverage beside it (issue 6). */
const ENERGY_WITH_PROVENANCE = /\d[\d.]*\s*(Wh|kWh|MWh|GWh)\s*·\s*(counter|integral|mixed)\s*·\s*<?\d+\s*%/;

/** Only the server under test may be contacted; data: and blob: URLs never leave the page. */
function isLocal(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return u.hostname === '127.0.0.1';
}

describe('web UI in Chromium', () => {
  beforeAll(async () => {
    // Fail, never skip: a missing browser must not look like a passing UI.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}. Install it with \`apt-get install chromium\` (Debian); .ci/run does this.`);
    }
    if (!existsSync(join(ROOT, 'dist', 'web', 'index.html'))) {
      throw new Error('dist/web/index.html is missing: run `npm run build` first.');
    }
    mkdirSync(RESULTS, { recursive: true });
    server = await startKilowatch(['all', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('browser')], /kilowatch: open http/);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    // A clean stop on SIGINT is part of the contract (§6.7).
    expect(await server?.stop('SIGINT')).toBe(0);
  });

  it('shows simulated fleet power, a moving chart, and talks only to its own host', async () => {
    const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
    const foreign: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (req) => {
      if (!isLocal(req.url())) foreign.push(req.url());
    });
    // WebSockets do not show up as requests; check them separately.
    page.on('websocket', (ws) => {
      if (!isLocal(ws.url())) foreign.push(ws.url());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));

    await page.goto(server!.httpUrl!);
    await page.getByTestId('simulated-badge').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.getByTestId('simulated-badge').textContent()).toContain('SIMULATED FLEET');

    const powerNow = page.getByTestId('power-now');
    await expect
      .poll(async () => parseWatts(await powerNow.textContent()), { timeout: 30_000, interval: 250 })
      .toBeGreaterThan(0);

    const chart = page.getByTestId('fleet-chart');
    await chart.locator('canvas').first().waitFor({ state: 'visible' });
    const before = await chart.screenshot();
    await page.waitForTimeout(3_000);
    const after = await chart.screenshot({ path: join(RESULTS, 'overview-chart.png') });
    expect(after.equals(before), 'the chart did not change in 3 s of live data').toBe(false);

    await page.screenshot({ path: join(RESULTS, 'overview.png') });
    expect(foreign, 'requests to hosts other than 127.0.0.1').toEqual([]);
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    await page.close();
  });

  it('shows jobs with energy, method and coverage, a job power curve, and the facility from the site file', async () => {
    const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
    const foreign: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (req) => {
      if (!isLocal(req.url())) foreign.push(req.url());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));

    // Jobs: the simulated fleet starts its jobs at once; their energy shows once the ledger holds a window.
    await page.goto(`${server!.httpUrl!}#/jobs`);
    expect(await page.locator('nav[aria-label="Views"] a[aria-current="page"]').textContent()).toBe('Jobs');
    await expect
      .poll(async () => (await page.getByTestId('job-energy').allTextContents()).map((t) => t.replace(/\s+/g, ' ')), {
        timeout: 30_000,
        interval: 500,
      })
      .toContainEqual(expect.stringMatching(ENERGY_WITH_PROVENANCE));
    const rows = page.getByTestId('job-row');
    expect(await rows.count()).toBeGreaterThan(0);
    expect(await page.locator('table').first().textContent(), 'a NaN reached the jobs table').not.toMatch(/NaN|undefined/);
    await page.screenshot({ path: join(RESULTS, 'jobs.png'), fullPage: true });

    // A job's own page, opened from the table: its energy with provenance and its power curve.
    const firstJob = rows.first().locator('a').first();
    const id = await firstJob.textContent();
    await firstJob.click();
    await page.waitForURL(/#\/jobs\/.+/);
    expect(await page.locator('h1').textContent()).toContain(id);
    await expect
      .poll(async () => (await page.getByTestId('job-detail-energy').textContent())?.replace(/\s+/g, ' '), { timeout: 15_000 })
      .toMatch(ENERGY_WITH_PROVENANCE);
    await page.getByTestId('job-chart').locator('canvas').first().waitFor({ state: 'visible' });
    await expect.poll(async () => page.getByTestId('job-chart-note').textContent(), { timeout: 15_000 }).toMatch(/Each point covers \d+ s/);
    await page.screenshot({ path: join(RESULTS, 'job-detail.png'), fullPage: true });

    // Facility: meter windows are 10 s long, so the racks' metered energy needs a window or two.
    await page.goto(`${server!.httpUrl!}#/facility`);
    const ratioOf = async (group: string) => {
      const row = page.locator(`[data-testid="group-row"][data-group="${group}"]`);
      if ((await row.count()) === 0) return Number.NaN;
      return Number.parseFloat((await row.getByTestId('meter-ratio').textContent()) ?? '');
    };
    await expect.poll(() => ratioOf('rack-0'), { timeout: 30_000, interval: 500 }).toBeGreaterThan(1);
    await expect.poll(() => ratioOf('rack-1'), { timeout: 30_000, interval: 500 }).toBeGreaterThan(1);
    const sources = await page.getByTestId('source-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-source')));
    expect(sources).toEqual(expect.arrayContaining(['grid', 'fuel cell']));
    // Each group's GPU energy says how it was measured and how much of the range had data.
    expect(await page.locator('[data-group="rack-0"]').getByTestId('gpu-provenance').textContent()).toMatch(/^(counter|integral|mixed) · (<1|\d+) %$/);
    expect(await page.getByTestId('peak-basis').textContent()).toMatch(/15-minute average/);
    expect(await page.getByTestId('facility-time-zone').textContent()).toBe('UTC');
    await page.screenshot({ path: join(RESULTS, 'facility.png'), fullPage: true });

    expect(foreign, 'requests to hosts other than 127.0.0.1').toEqual([]);
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    await page.close();
  });

  it('shows an alert that fires in the banner and on the Alerts page, and acknowledges it from the UI', async () => {
    const base = server!.httpUrl!;
    const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
    const foreign: string[] = [];
    const pageErrors: string[] = [];
    const consoleErrors: string[] = [];
    page.on('request', (req) => {
      if (!isLocal(req.url())) foreign.push(req.url());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });

    await page.goto(`${base}#/alerts`);
    expect(await page.locator('nav[aria-label="Views"] a[aria-current="page"]').textContent()).toBe('Alerts');
    // The live list has arrived once the caption stops saying it is loading.
    await expect.poll(async () => page.locator('#active-caption').textContent(), { timeout: 15_000 }).not.toMatch(/Loading/);

    // A rule that fires at once: every simulated GPU of one host draws more than 1 W.
    const rule = { id: 'browser-low', type: 'threshold', target: { kind: 'gpu', host: 'sim-00' }, metric: 'power_w', above: 1, severity: 'critical' };
    const created = await fetch(new URL('api/v1/rules', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
    expect(created.status, await created.clone().text()).toBe(201);

    // Pushed over the WebSocket: no reload, and the next 1 s window fires it.
    const banner = page.getByTestId('alert-banner');
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    await expect.poll(async () => banner.textContent(), { timeout: 10_000 }).toMatch(/\d+ critical/);
    const rows = page.locator('[data-testid="active-alert"][data-rule="browser-low"]');
    await rows.first().waitFor({ timeout: 10_000 });
    expect(await rows.first().textContent()).toMatch(/firing[\s\S]*critical[\s\S]*sim-00 · GPU-/);

    // Acknowledge one of them as a named operator.
    const key = await rows.first().getAttribute('data-key');
    expect(key).toMatch(/^browser-low\|gpu:[^/]+\/sim-00\//);
    await page.fill('#operator-name', 'browser-test');
    const row = page.locator(`[data-testid="active-alert"][data-key="${key}"]`);
    await row.getByRole('button', { name: /^Acknowledge / }).click();
    await expect.poll(async () => (await row.getByTestId('acked').textContent())?.replace(/\s+/g, ' '), { timeout: 10_000 }).toMatch(/acknowledged by browser-test/);
    const api = (await (await fetch(new URL('api/v1/alerts?history=0', base))).json()) as { active: { key: string; acked?: { by: string } }[] };
    expect(api.active.find((a) => a.key === key)?.acked?.by).toBe('browser-test');
    // The acknowledgement reaches the banner too (one count of acknowledged alerts).
    await expect.poll(async () => banner.textContent(), { timeout: 10_000 }).toMatch(/\d+ acknowledged/);
    await expect.poll(async () => page.locator('#history-caption').textContent(), { timeout: 15_000 }).toMatch(/transition/);
    expect(await page.locator('table').first().textContent(), 'a NaN reached the alerts table').not.toMatch(/NaN|undefined/);
    await page.screenshot({ path: join(RESULTS, 'alerts.png'), fullPage: true });

    // The banner is on every page.
    await page.goto(`${base}#/jobs`);
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    await banner.screenshot({ path: join(RESULTS, 'alert-banner.png') });

    const deleted = await fetch(new URL('api/v1/rules/browser-low', base), { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(foreign, 'requests to hosts other than 127.0.0.1').toEqual([]);
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    expect(consoleErrors, 'console errors').toEqual([]);
    await page.close();
  });

  it('lists the rules with the demo file rules read-only, and opens a rule test panel', async () => {
    const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
    const pageErrors: string[] = [];
    const consoleErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });

    await page.goto(`${server!.httpUrl!}#/rules`);
    expect(await page.locator('nav[aria-label="Views"] a[aria-current="page"]').textContent()).toBe('Rules');
    const fileRows = page.locator('[data-testid="rule-row"][data-origin="config"]');
    await fileRows.first().waitFor({ timeout: 15_000 });
    // docs/alert-rules.yaml, which the simulated fleet uses.
    const ids = await fileRows.evaluateAll((els) => els.map((e) => e.getAttribute('data-rule')));
    expect(ids).toEqual(expect.arrayContaining(['gpu-over-limit', 'fuel-cell-near-capacity', 'host-offline', 'gpu-no-data']));
    for (const origin of await fileRows.getByTestId('rule-origin').allTextContents()) expect(origin).toMatch(/read-only/);
    // File rules have no Edit or Delete; a copy into a new API rule is offered instead.
    expect(await fileRows.getByRole('button', { name: /^(Edit|Delete) / }).count()).toBe(0);
    expect(await fileRows.first().getByRole('button', { name: /^Copy / }).count()).toBe(1);
    expect(await page.getByTestId('rules-table').textContent(), 'a NaN reached the rules table').not.toMatch(/NaN|undefined/);
    await page.screenshot({ path: join(RESULTS, 'rules.png'), fullPage: true });

    // Test: what the saved rule does now and did recently.
    await page.locator('[data-rule="fuel-cell-near-capacity"]').getByRole('link', { name: /^Test / }).click();
    await page.waitForURL(/#\/rules\?rule=fuel-cell-near-capacity$/);
    const panel = page.getByTestId('rule-test');
    await panel.waitFor();
    expect(await panel.textContent()).toMatch(/source fuel cell: summed mean power above 90 %/);
    await expect.poll(async () => panel.locator('#test-history-caption').textContent(), { timeout: 15_000 }).not.toMatch(/Loading/);

    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    expect(consoleErrors, 'console errors').toEqual([]);
    await page.close();
  });
});
