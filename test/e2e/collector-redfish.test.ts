/**
 * Redfish end to end: `kilowatch all --source none --pollers <file>` polls an
 * in-test Redfish server (the DMTF mockup documents, fake-bmc.ts) whose power
 * changes between polls, beside a BMC that answers 500. The node's meter
 * shows in /api/v1/fleet with the changing power and its energy counter, its
 * windows are acknowledged and stored in DuckDB, and the failing BMC is
 * counted in the collector's health line without holding anything up.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { type FakeBmc, startFakeBmc } from '../collector/pollers/fake-bmc.js';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess | undefined;
const bmcs: FakeBmc[] = [];
let ticker: NodeJS.Timeout | undefined;
afterAll(async () => {
  clearInterval(ticker);
  await kw?.stop('SIGKILL');
  await Promise.all(bmcs.map((b) => b.close()));
});

const healthLines = (out: string) => out.split('\n').filter((l) => l.startsWith('collector health: ')).map((l) => JSON.parse(l.slice('collector health: '.length)));

describe('kilowatch all --source none --pollers (redfish)', () => {
  it('polls a BMC whose power changes, shows it in the fleet, stores its windows, and counts a failing BMC', async () => {
    const dir = tempDir('redfish-e2e');
    const [bmc, broken] = await Promise.all([startFakeBmc({ model: 'sensors' }), startFakeBmc({ model: 'legacy', status: 500 })]);
    bmcs.push(bmc, broken);
    // The node's power steps every 400 ms, faster than the 1 s windows, so windows see more than one value.
    const steps = [300, 450, 600, 750];
    let step = 0;
    bmc.setPower(steps[0]!);
    ticker = setInterval(() => bmc.setPower(steps[++step % steps.length]!), 400);
    const pollers = join(dir, 'pollers.yaml');
    writeFileSync(pollers, [
      `- kind: redfish\n  id: node-7\n  url: ${bmc.url}\n  chassis: 1U\n  interval_ms: 250`,
      `- kind: redfish\n  id: node-8\n  url: ${broken.url}\n  interval_ms: 250\n  timeout_ms: 500`,
    ].join('\n'));
    kw = await startKilowatch(
      ['all', '--source', 'none', '--pollers', pollers, '--meter-window-ms', '1000', '--host-id', 'bmc-gw',
        '--port', '0', '--mqtt-port', '0', '--data-dir', join(dir, 'data'), '--health-log-s', '1'],
      /kilowatch: open http/,
    );

    // The fleet shows the node's meter, and its power follows the BMC from window to window.
    const seen = new Set<number>();
    const fleet = await eventually(async () => {
      const f = await getJson(`${kw!.httpUrl}/api/v1/fleet`);
      const m = f.hosts[0]?.meters.find((x: any) => x.id === 'node-7');
      if (m?.power_w) seen.add(m.power_w.last);
      return seen.size >= 2 ? f : undefined;
    }, 20_000, 300);
    const host = fleet.hosts[0];
    expect([host.host, host.gpus, host.sources]).toEqual(['bmc-gw', [], ['redfish']]);
    const node = host.meters.find((m: any) => m.id === 'node-7');
    expect(node).toMatchObject({ kind: 'redfish', name: 'Power reading for the Chassis', energy_import_wh: 325_675_000 });
    expect(steps).toEqual(expect.arrayContaining([...seen]));
    expect(node.power_w.max).toBeGreaterThanOrEqual(node.power_w.min);
    expect(host.meters.filter((m: any) => m.id.startsWith('node-8') && m.power_w)).toEqual([]);

    // Every window of the node is acknowledged, and the failing BMC is counted beside it.
    const health = await eventually(() => {
      const last = healthLines(kw!.output()).at(-1);
      return last && last['meter/node-7_produced'] >= 3 && last['meter/node-7_spooled'] === 0 && last['poller/node-8_error'] >= 3 ? last : undefined;
    }, 20_000, 300);
    expect(health).toMatchObject({ 'poller/node-7_error': 0, 'poller/node-7_timeout': 0, poller_invalid_windows: 0, poller_foreign_readings: 0 });
    expect(health['poller/node-7_readings']).toBeGreaterThan(health['meter/node-7_produced']);
    expect(kw.output()).toContain('redfish node-8: poll failed: GET /redfish/v1/Chassis: HTTP 500');
    expect(await kw.stop('SIGINT')).toBe(0);
    clearInterval(ticker);

    const db = await DuckDBInstance.create(join(dir, 'data', 'kilowatch.duckdb'));
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll(`SELECT meter, count(*) AS n, count(DISTINCT seq) = count(*) AS unique_seqs, min(power_min_w) AS lo, max(power_max_w) AS hi
      FROM meter_windows GROUP BY meter ORDER BY meter`)).getRowObjectsJS();
    conn.closeSync();
    db.closeSync();
    expect(rows.map((r) => [r.meter, r.unique_seqs])).toEqual([['node-7', true]]);
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(3);
    expect(steps).toContain(rows[0]!.lo);
    expect(steps).toContain(rows[0]!.hi);
    expect(rows[0]!.hi).toBeGreaterThan(rows[0]!.lo as number);
  }, 60_000);
});
