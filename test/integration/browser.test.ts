/**
 * The web UI against the real server, in real Chromium (ARCHITECTURE.md §6.9):
 * `kilowatch all` with its simulated fleet, the built page from dist/web, one
 * live WebSocket. Checks what an operator would see: the simulated label, a
 * non-zero fleet power, a chart that moves, jobs and the facility, an alert
 * that fires and is acknowledged from the UI, the rules with the file's
 * read-only, every page loading without a console error, a running job's
 * energy growing, the History CSV against the API, sign-in on a server with
 * `--auth tokens`, and no request leaving the host. It also measures the
 * main thread's busy time on the live pages (printed, not asserted).
 *
 * Needs `npm run build` first (bin/kilowatch.js runs compiled output, §8
 * "Node 20") and Chromium from Debian (`apt-get install chromium`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, ROOT, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { JOB_EPOCH_SEGMENTS, SIM_SEGMENT_MS } from '../../collector/sources/sim-jobs.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../../bench/browser-frames.js';

/** The simulator's job epoch: its jobs start and end on these boundaries. */
const JOB_EPOCH_MS = SIM_SEGMENT_MS * JOB_EPOCH_SEGMENTS;
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

/** Records what a page must not do: throw, log a console error, or contact another host. */
function watch(page: Page, opts: { allowConsole?: RegExp } = {}) {
  const seen = { foreign: [] as string[], pageErrors: [] as string[], consoleErrors: [] as string[] };
  page.on('request', (req) => {
    if (!isLocal(req.url())) seen.foreign.push(req.url());
  });
  page.on('websocket', (ws) => {
    if (!isLocal(ws.url())) seen.foreign.push(ws.url());
  });
  page.on('pageerror', (err) => seen.pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !(opts.allowConsole?.test(msg.text()) ?? false)) seen.consoleErrors.push(msg.text());
  });
  return seen;
}

/** The exact joules an EnergyFigure holds in its title ("12,345 J, from ..."). */
async function titleJoules(page: Page, testid: string): Promise<number> {
  const title = (await page.getByTestId(testid).getAttribute('title')) ?? '';
  const m = /^([\d,]+) J/.exec(title);
  return m ? Number(m[1]!.replace(/,/g, '')) : Number.NaN;
}

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || record.length > 0) records.push([...record, field]);
  return records;
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
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
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
    // The hash changes before the job page renders its heading: wait for it.
    await expect.poll(async () => page.locator('h1').textContent(), { timeout: 10_000 }).toContain(id);
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

  it('sees the live fleet power on the Overview change within 3 s', async () => {
    const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
    const seen = watch(page);
    await page.goto(server!.httpUrl!);
    const powerNow = page.getByTestId('power-now');
    await expect.poll(async () => parseWatts(await powerNow.textContent()), { timeout: 30_000, interval: 250 }).toBeGreaterThan(0);
    // The exact watts behind the rounded figure: the summary arrives every second.
    const first = await powerNow.getAttribute('data-watts');
    const t0 = Date.now();
    await expect.poll(async () => powerNow.getAttribute('data-watts'), { timeout: 3_000, interval: 100 }).not.toBe(first);
    console.log(`browser: the Overview's fleet power changed after ${Date.now() - t0} ms`);
    expect(parseWatts(await powerNow.textContent())).toBeGreaterThan(0);
    expect(seen).toEqual({ foreign: [], pageErrors: [], consoleErrors: [] });
    await page.close();
  });

  it('opens a running job from the Jobs table and sees its energy grow', async () => {
    const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
    const seen = watch(page);
    // Simulated jobs run 5-minute epochs (collector/sources/sim-jobs.ts) and this test watches one for up to
    // 80 s: with less than 100 s of the epoch left, wait for the next epoch's jobs, so it is still running at the end.
    const leftInEpoch = JOB_EPOCH_MS - (Date.now() % JOB_EPOCH_MS);
    if (leftInEpoch < 100_000) await new Promise((r) => setTimeout(r, leftInEpoch + 5_000));
    await page.goto(`${server!.httpUrl!}#/jobs`);
    const running = page.locator('[data-testid="job-row"]', { has: page.locator('.running') });
    await running.first().waitFor({ timeout: 30_000 });
    const link = running.first().locator('a').first();
    const id = (await link.textContent())!;
    await link.click();
    await page.waitForURL(/#\/jobs\/.+/);
    await expect.poll(async () => page.locator('h1').textContent(), { timeout: 10_000 }).toContain(id); // the page renders after the hash changes
    await expect.poll(() => titleJoules(page, 'job-detail-energy'), { timeout: 30_000 }).toBeGreaterThan(0);
    const before = await titleJoules(page, 'job-detail-energy');
    // The page refreshes every 10 s; the ledger adds the job's windows as they land.
    await expect.poll(() => titleJoules(page, 'job-detail-energy'), { timeout: 40_000, interval: 1000 }).toBeGreaterThan(before);
    const after = await titleJoules(page, 'job-detail-energy');
    console.log(`browser: running job ${id}: ${before} J, then ${after} J`);
    expect(await page.locator('.state').first().textContent()).toBe('Running');
    expect(seen).toEqual({ foreign: [], pageErrors: [], consoleErrors: [] });
    await page.close();
  }, 240_000);

  it('loads every page with no console error, and saves a screenshot of each', async () => {
    const base = server!.httpUrl!;
    const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
    const seen = watch(page);
    const visit = async (name: string, hash: string, ready: () => Promise<unknown>) => {
      await page.goto(`${base}${hash}`);
      await ready();
      expect(await page.locator('main').textContent(), `a NaN reached ${name}`).not.toMatch(/NaN|undefined/);
      await page.screenshot({ path: join(RESULTS, `page-${name}.png`), fullPage: true });
    };

    await visit('overview', '#/', async () => {
      await expect.poll(async () => parseWatts(await page.getByTestId('power-now').textContent()), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(async () => page.getByTestId('today-energy').textContent(), { timeout: 30_000 }).toMatch(/\d\s*(Wh|kWh|MWh)/);
      await page.locator('[data-testid="group-power-row"][data-group="rack-0"]').waitFor({ timeout: 30_000 });
      await page.locator('[data-testid="source-demand-row"][data-source="fuel cell"]').waitFor();
      await page.getByTestId('active-alerts-card').waitFor();
      // rack-0 has a budget rule (26 kW, 90 %): a meter against it.
      expect(await page.locator('[data-group="rack-0"] [role="meter"]').count()).toBe(1);
    });

    let gpuHref = '';
    await visit('hosts', '#/hosts', async () => {
      await page.getByTestId('gpu-grid').locator('canvas').waitFor({ state: 'visible', timeout: 15_000 });
      await expect.poll(async () => page.getByTestId('gpu-row').count(), { timeout: 15_000 }).toBe(64);
      // Hovering a cell names its GPU.
      const box = (await page.getByTestId('gpu-grid').locator('canvas').boundingBox())!;
      await page.mouse.move(box.x + 10, box.y + 25);
      await expect.poll(async () => page.getByTestId('gpu-grid-tip').textContent(), { timeout: 5_000 }).toMatch(/sim-00[\s\S]*GPU-/);
      gpuHref = (await page.getByTestId('gpu-row').first().locator('a').getAttribute('href'))!;
    });
    expect(gpuHref).toMatch(/^#\/gpu\/local\/sim-00\/GPU-/);

    await visit('gpu-detail', gpuHref, async () => {
      await expect.poll(async () => parseWatts(await page.getByTestId('gpu-power').textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
      for (const chart of ['power', 'util', 'temp', 'clock']) await page.getByTestId(`gpu-chart-${chart}`).locator('canvas').first().waitFor();
      await expect.poll(async () => page.locator('#gpu-jobs-caption').textContent(), { timeout: 15_000 }).not.toMatch(/Loading/);
      await expect.poll(async () => page.getByTestId('gpu-chart-power').textContent(), { timeout: 15_000 }).toMatch(/Mean\s*\d[\d.]*\s*k?W/);
    });

    let jobHref = '';
    await visit('jobs', '#/jobs', async () => {
      await page.getByTestId('job-row').first().waitFor({ timeout: 15_000 });
      jobHref = (await page.getByTestId('job-row').first().locator('a').first().getAttribute('href'))!;
    });
    await visit('job', jobHref, async () => {
      await expect.poll(async () => (await page.getByTestId('job-detail-energy').textContent())?.replace(/\s+/g, ' '), { timeout: 15_000 }).toMatch(ENERGY_WITH_PROVENANCE);
    });
    await visit('alerts', '#/alerts', () => expect.poll(async () => page.locator('#active-caption').textContent(), { timeout: 15_000 }).not.toMatch(/Loading/));
    await visit('rules', '#/rules', () => page.getByTestId('rule-row').first().waitFor({ timeout: 15_000 }));
    await visit('history', '#/history?by=user', () => page.getByTestId('history-row').first().waitFor({ timeout: 15_000 }));
    await visit('facility', '#/facility', () => page.getByTestId('group-row').first().waitFor({ timeout: 15_000 }));
    await visit('settings', '#/settings', async () => {
      await expect.poll(async () => page.getByTestId('server-version').textContent(), { timeout: 15_000 }).toMatch(/^\d+\.\d+\.\d+/);
      await expect.poll(async () => page.getByTestId('settings-hosts').locator('tbody tr').count(), { timeout: 15_000 }).toBe(8);
    });

    // The dark theme, switched from the top bar, and kept for the next visit.
    await page.goto(`${base}#/hosts`);
    await page.getByTestId('theme-toggle').click();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await page.getByTestId('gpu-grid').locator('canvas').waitFor();
    await page.screenshot({ path: join(RESULTS, 'page-hosts-dark.png') });
    await page.reload();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await page.getByTestId('theme-toggle').click();

    // Kiosk mode from the address: the Overview without the navigation.
    await page.goto(`${base}?kiosk=1#/`);
    await expect.poll(async () => parseWatts(await page.getByTestId('power-now').textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await page.locator('nav[aria-label="Views"]').count()).toBe(0);
    await page.screenshot({ path: join(RESULTS, 'page-kiosk.png') });
    await page.keyboard.press('Escape');
    await page.locator('nav[aria-label="Views"]').waitFor();

    expect(seen).toEqual({ foreign: [], pageErrors: [], consoleErrors: [] });
    await page.close();
  });

  it('exports the History table as CSV whose rows are what GET /api/v1/efficiency answered', async () => {
    const base = server!.httpUrl!;
    const context = await browser!.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    const seen = watch(page);
    // The answer the table was drawn from: the newest efficiency response the page received.
    let answer: { url: string; body: { by: string; rows: Record<string, unknown>[] } } | null = null;
    page.on('response', (res) => {
      if (!res.url().includes('/api/v1/efficiency')) return;
      void res.json().then((body) => (answer = { url: res.url(), body }));
    });
    await page.goto(`${base}#/history?by=user`);
    await page.getByTestId('history-row').first().waitFor({ timeout: 15_000 });
    await expect.poll(() => answer !== null).toBe(true);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    expect(download.suggestedFilename()).toMatch(/^kilowatch-efficiency-by-user-\d{8}-\d{4}-to-\d{8}-\d{4}\.csv$/);
    const text = readFileSync((await download.path())!, 'utf8');
    writeFileSync(join(RESULTS, 'history-export.csv'), text);
    expect(text.endsWith('\r\n')).toBe(true);
    const [header, ...records] = parseCsv(text);
    expect(header!.slice(0, 10)).toEqual(['user', 'jobs', 'energy_j', 'kwh', 'gpu_hours', 'w_per_gpu', 'allocated_idle_j', 'allocated_idle_share', 'method', 'mean_util_pct']);
    const csv = new Map(records.map((r) => [r[0]!, Object.fromEntries(header!.map((h, i) => [h, r[i]!]))]));

    const got = answer as unknown as { url: string; body: { rows: Record<string, unknown>[] } };
    const rows = got.body.rows;
    expect(rows.length).toBeGreaterThan(0);
    expect([...csv.keys()].sort()).toEqual(rows.map((r) => r.key as string).sort());
    for (const r of rows) {
      const c = csv.get(r.key as string)!;
      expect(Number(c.jobs)).toBe(r.jobs);
      expect(Number(c.energy_j)).toBe(r.energy_j);
      expect(Number(c.kwh)).toBe(r.kwh);
      expect(Number(c.gpu_hours)).toBe(r.gpu_hours);
      expect(Number(c.allocated_idle_j)).toBe(r.allocated_idle_j);
      expect(c.method).toBe(r.method ?? '');
      for (const [unit, v] of Object.entries(r.j_per_unit as Record<string, number>)) expect(Number(c[`j_per_${unit}`])).toBe(v);
    }
    // The same query asked again from outside the browser names the same users (the figures grow as windows land).
    const again = (await (await fetch(got.url)).json()) as { rows: { key: string }[] };
    expect(again.rows.map((r) => r.key).sort()).toEqual(rows.map((r) => r.key as string).sort());
    await page.screenshot({ path: join(RESULTS, 'history.png'), fullPage: true });
    expect(seen).toEqual({ foreign: [], pageErrors: [], consoleErrors: [] });
    await context.close();
  });

  it('measures main-thread busy time per second on the Overview and the Hosts page (64 GPUs at 1 Hz)', async () => {
    const base = server!.httpUrl!;
    const SECONDS = 20;
    const figures: Record<string, unknown> = {};
    for (const [name, hash, ready] of [
      ['overview', '#/', 'power-now'],
      ['hosts', '#/hosts', 'gpu-row'],
    ] as const) {
      const page = await browser!.newPage({ viewport: { width: 1366, height: 768 } });
      await page.goto(`${base}${hash}`);
      await page.getByTestId(ready).first().waitFor({ timeout: 30_000 });
      await page.waitForTimeout(3_000); // past the first load and the history backfill
      // Long tasks (over 50 ms) from the page's own Performance API...
      // (Strings: this code runs in the page, where the DOM types are, not in Node.)
      await page.evaluate(`
        window.__longTasks = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) window.__longTasks.push(e.duration);
        }).observe({ type: 'longtask' });
      `);
      // ...and all main-thread task time from Chromium's own counters (the DevTools Performance domain).
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Performance.enable');
      const read = async () => Object.fromEntries(((await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }).metrics.map((m) => [m.name, m.value]));
      const m0 = await read();
      const t0 = Date.now();
      await page.waitForTimeout(SECONDS * 1000);
      const m1 = await read();
      const wall = (Date.now() - t0) / 1000;
      const perSecond = (k: string) => Math.round((((m1[k] ?? 0) - (m0[k] ?? 0)) * 1000 * 10) / wall) / 10;
      const longTasks = (await page.evaluate('window.__longTasks')) as number[];
      figures[name] = {
        seconds: Math.round(wall * 10) / 10,
        task_ms_per_s: perSecond('TaskDuration'),
        script_ms_per_s: perSecond('ScriptDuration'),
        layout_ms_per_s: perSecond('LayoutDuration'),
        style_ms_per_s: perSecond('RecalcStyleDuration'),
        long_tasks: longTasks.length,
        long_task_ms_per_s: Math.round((longTasks.reduce((a, b) => a + b, 0) / wall) * 10) / 10,
      };
      await page.close();
    }
    const line = JSON.stringify(figures);
    console.log(`browser: main-thread time per second, ${SECONDS} s each: ${line}`);
    writeFileSync(join(RESULTS, 'main-thread.json'), `${JSON.stringify(figures, null, 2)}\n`);
    for (const f of Object.values(figures) as { task_ms_per_s: number }[]) expect(f.task_ms_per_s).toBeGreaterThan(0);
  });
});

describe('sign-in in Chromium (kilowatch all --auth tokens)', () => {
  let authed: KilowatchProcess | undefined;
  let authBrowser: Browser | null = null;
  let dataDir = '';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}. Install it with \`apt-get install chromium\` (Debian).`);
    mkdirSync(RESULTS, { recursive: true });
    dataDir = tempDir('browser-auth');
    authed = await startKilowatch(['all', '--auth', 'tokens', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir], /kilowatch: open http/);
    authBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await authBrowser?.close();
    expect(await authed?.stop('SIGINT')).toBe(0);
  });

  it('shows the login screen, signs in with a viewer token, and shows the Overview', async () => {
    const made = await runKilowatch(['token', 'create', '--role', 'viewer', '--name', 't', '--data-dir', dataDir]);
    expect(made.code, made.output).toBe(0);
    const token = /kw_\S+/.exec(made.output)?.[0];
    expect(token, made.output).toBeTruthy();

    const page = await authBrowser!.newPage({ viewport: { width: 1366, height: 768 } });
    // Asking whoami before sign-in answers 401 by design; Chromium logs every 4xx response as a console error.
    const seen = watch(page, { allowConsole: /Failed to load resource: the server responded with a status of 401/ });
    await page.goto(authed!.httpUrl!);
    await page.getByTestId('login-form').waitFor({ timeout: 15_000 });
    expect(await page.locator('nav[aria-label="Views"]').count()).toBe(0);
    expect(await page.locator('#login-token').getAttribute('type')).toBe('password');
    // Keyboard only: the field has focus on arrival, Enter submits.
    expect(await page.evaluate('document.activeElement?.id')).toBe('login-token');
    await page.keyboard.type('kw_not_a_token');
    await page.keyboard.press('Enter');
    await expect.poll(async () => page.getByTestId('login-error').textContent(), { timeout: 10_000 }).toMatch(/unknown or revoked/);
    await page.screenshot({ path: join(RESULTS, 'login.png') });

    await page.fill('#login-token', token!);
    await page.keyboard.press('Enter');
    await expect.poll(async () => parseWatts(await page.getByTestId('power-now').textContent()), { timeout: 30_000, interval: 250 }).toBeGreaterThan(0);
    expect(await page.getByTestId('signed-in-as').textContent()).toMatch(/t · viewer/);
    await page.screenshot({ path: join(RESULTS, 'signed-in-overview.png') });

    // A viewer is not offered what it may not do.
    await page.goto(`${authed!.httpUrl!}#/alerts`);
    await page.getByTestId('alerts-read-only').waitFor({ timeout: 10_000 });
    expect(await page.getByRole('button', { name: /^(Acknowledge|Silence) / }).count()).toBe(0);

    // Signing out ends the session: the login screen again, and the API refuses the old cookie.
    await page.getByTestId('sign-out').click();
    await page.getByTestId('login-form').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('login-reason').textContent()).toMatch(/signed out/);
    expect(await page.evaluate(`fetch('api/v1/fleet').then((r) => r.status)`)).toBe(401);
    expect(seen).toEqual({ foreign: [], pageErrors: [], consoleErrors: [] });
    await page.close();
  });
});
