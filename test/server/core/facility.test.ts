/** The facility report: overhead and meter/GPU ratio per group (with parents), source mix, and peaks of whole quarters. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { facilityReport } from '../../../server/core/facility.js';
import type { SiteConfig } from '../../../server/core/site-config.js';
import { loadSiteConfig } from '../../../server/facility.js';
import { ROOT, tempDir } from '../../helpers/kilowatch-process.js';

const Q = 15 * 60_000;
const T = Date.parse('2026-11-28T10:00:00Z');
const SITE: SiteConfig = {
  currency: 'EUR',
  groups: [
    { name: 'row', kind: 'row', hosts: [], meters: [] },
    { name: 'rack-a', kind: 'rack', parent: 'row', hosts: ['n1', 'n2'], meters: ['n1/pdu-a'] },
    { name: 'rack-b', kind: 'rack', parent: 'row', hosts: ['dc/n3'], meters: [] },
  ],
  sources: [
    { name: 'grid', kind: 'grid', capacity_kw: 100, tariff: { per_kwh: 0.2, periods: [] }, carbon: { g_per_kwh: 400 }, meter: 'n1/grid' },
    { name: 'pv', kind: 'solar', capacity_kw: 20, tariff: { per_kwh: 0, periods: [] }, carbon: { g_per_kwh: 0 }, meter: 'n1/pv' },
  ],
};

describe('facilityReport', () => {
  it('gives each group its GPU energy, metered energy, overhead and ratio, and prices the site by its source mix', () => {
    const kwh = 3.6e6;
    const hosts = [
      { name: 'dc/n1', t: T, energy_j: 10 * kwh }, { name: 'dc/n2', t: T, energy_j: 6 * kwh }, { name: 'dc/n3', t: T, energy_j: 4 * kwh },
      { name: 'dc/n1', t: T + Q, energy_j: 10 * kwh },
    ];
    const meters = [
      { name: 'n1/pdu-a', t: T, energy_j: 22 * kwh }, { name: 'n1/pdu-a', t: T + Q, energy_j: 13 * kwh },
      { name: 'n1/grid', t: T, energy_j: 60 * kwh }, { name: 'n1/pv', t: T, energy_j: 20 * kwh }, // 3/4 grid, 1/4 solar
      { name: 'n1/grid', t: T + Q, energy_j: 40 * kwh }, // solar gone: all grid
    ];
    const r = facilityReport(SITE, { meters, hosts }, 'UTC', T + 2 * Q);
    const byName = Object.fromEntries(r.groups.map((g) => [g.name, g]));
    expect(byName['rack-a']).toMatchObject({ hosts: 2, gpu_energy_j: 26 * kwh, meter_energy_j: 35 * kwh, overhead_j: 9 * kwh });
    expect(byName['rack-a']!.meter_to_gpu).toBeCloseTo(35 / 26, 12);
    expect(byName['rack-a']!.members.hosts).toHaveLength(2); // what a live view sums
    expect(r.sources.map((x) => x.name)).toEqual(SITE.sources.map((x) => x.name));
    expect(r.sources.every((x) => x.capacity_kw > 0)).toBe(true);
    expect(byName['rack-b']).toMatchObject({ hosts: 1, gpu_energy_j: 4 * kwh, meter_energy_j: null, overhead_j: null, meter_to_gpu: null });
    // The row has no meter of its own: its children's meters add up (rack-b has none), its GPUs are all three hosts'.
    expect(byName.row).toMatchObject({ hosts: 3, gpu_energy_j: 30 * kwh, meter_energy_j: 35 * kwh });
    // Site GPU energy: 20 kWh in the first quarter (3/4 grid), 10 kWh in the second (all grid).
    expect(r.by_source.grid!.energy_j).toBeCloseTo(25 * kwh, 3);
    expect(r.by_source.pv!.energy_j).toBeCloseTo(5 * kwh, 3);
    expect(r.cost).toBeCloseTo(25 * 0.2, 9);
    expect(r.carbon_g).toBeCloseTo(25 * 400, 6);
    // Peak demand from the grid meter: 60 kWh in 15 min is 240 kW.
    expect([r.peak_basis, r.peaks]).toEqual(['grid meters', [{ month: '2026-11', peak_kw: 240, at: T }]]);
  });

  it('says how each group\'s GPU energy was measured and how much of the range had data', () => {
    // rack-a: n1 (2 GPUs) reported the whole hour by counter, n2 (1 GPU) half of it by integral; its meter the whole hour.
    const hour = 3_600_000;
    const hosts = [
      { name: 'dc/n1', t: T, energy_j: 1000, counter_j: 1000, covered_ms: 2 * hour, members: 2 },
      { name: 'dc/n2', t: T, energy_j: 500, counter_j: 0, covered_ms: hour / 2, members: 1 },
    ];
    const meters = [{ name: 'n1/pdu-a', t: T, energy_j: 2000, covered_ms: hour, members: 1 }];
    const r = facilityReport(SITE, { meters, hosts }, 'UTC', T + hour, T);
    const rack = r.groups.find((g) => g.name === 'rack-a')!;
    expect([rack.gpu_method, rack.gpu_coverage, rack.meter_coverage]).toEqual(['mixed', 2.5 / 3, 1]);
    expect(r.groups.find((g) => g.name === 'rack-b')).toMatchObject({ gpu_method: null, gpu_coverage: 0, meter_coverage: null });
  });

  it('leaves a quarter hour that is not over yet out of the peaks', () => {
    const r = facilityReport(SITE, { meters: [{ name: 'n1/grid', t: T, energy_j: 1e6 }], hosts: [] }, 'UTC', T + Q - 1);
    expect(r.peaks).toEqual([]);
  });
});

describe('loadSiteConfig', () => {
  it('reads the demo site file, and lists every problem of a bad one in the error', () => {
    const demo = loadSiteConfig(join(ROOT, 'docs', 'demo-site.yaml'));
    expect([demo.groups.length, demo.sources.map((s) => s.name)]).toEqual([3, ['grid', 'fuel cell']]);
    const bad = join(tempDir('site'), 'site.yaml');
    writeFileSync(bad, 'power_sources:\n  - { name: x, kind: coal }\n');
    expect(() => loadSiteConfig(bad)).toThrow(/the site file has 4 problem\(s\):\n {2}- .*kind must be one of/);
  });
});
