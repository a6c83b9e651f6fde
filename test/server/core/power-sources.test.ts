/**
 * The site file and the cost, carbon and peak-demand computations, checked
 * against figures worked out by hand: a two-source site (grid with a
 * time-of-use tariff and an hourly carbon file, and an on-site fuel cell).
 */
import { describe, expect, it } from 'vitest';
import { carbonAt, costAndCarbon, localMinutes, mixAt, monthlyPeaks, priceAt } from '../../../server/core/power-sources.js';
import { parseSiteConfig } from '../../../server/core/site-config.js';

const CSV = 'hour,g_per_kwh\n2026-11-28T07:00:00Z,300\n2026-11-28T08:00:00Z,450\n';
const SITE = {
  currency: 'EUR',
  groups: [{ name: 'row-1', kind: 'row' }, { name: 'rack-a', kind: 'rack', parent: 'row-1', hosts: ['n1', 'n2'], meters: ['n1/rack-a-pdu'] }],
  power_sources: [
    { name: 'grid', kind: 'grid', capacity_kw: 400, tariff: { per_kwh: 0.15, periods: [{ from: '07:00', to: '22:00', per_kwh: 0.3 }] }, carbon: { csv: 'grid.csv', g_per_kwh: 400 }, meter: 'n1/grid-main' },
    { name: 'fuel cell', kind: 'fuel_cell', capacity_kw: 80, tariff: { per_kwh: 0.1 }, carbon: { g_per_kwh: 200 }, meter: 'n1/fuel-cell' },
  ],
};
const parse = (doc: unknown) => parseSiteConfig(doc, 'site.yaml', (p) => (p === 'grid.csv' ? CSV : undefined));

describe('site file', () => {
  it('reads groups, sources, a time-of-use tariff and an hourly carbon file', () => {
    const r = parse(SITE);
    if (!r.ok) throw new Error(r.problems.join('\n'));
    expect(r.config.groups.map((g) => [g.name, g.parent ?? null, g.hosts.length])).toEqual([['row-1', null, 0], ['rack-a', 'row-1', 2]]);
    const grid = r.config.sources[0]!;
    expect(grid.tariff.periods).toEqual([{ from: 420, to: 1320, per_kwh: 0.3 }]);
    expect(carbonAt(grid, Date.parse('2026-11-28T08:30:00Z'))).toBe(450);
    expect(carbonAt(grid, Date.parse('2026-11-28T12:00:00Z'))).toBe(400); // outside the file: the static value
  });

  it('lists every problem at once', () => {
    const r = parse({
      groups: [{ name: 'a', parent: 'nowhere' }, { name: 'a' }, { hosts: 'n1' }],
      power_sources: [{ name: 'x', kind: 'coal', capacity_kw: 0, tariff: { per_kwh: 0.1, periods: [{ from: '25:00', to: '07:00', per_kwh: 1 }] }, carbon: {} }],
    });
    expect(r).toEqual({
      ok: false,
      problems: [
        'site.yaml: groups[2].name is required',
        'site.yaml: groups[2].hosts must be a list of names',
        'site.yaml: power_sources[0].kind must be one of grid, solar, fuel_cell, smr, battery',
        'site.yaml: power_sources[0].capacity_kw must be a positive number',
        'site.yaml: power_sources[0].tariff.periods[0] needs from and to as HH:MM (different) and per_kwh',
        'site.yaml: power_sources[0].carbon needs g_per_kwh or csv',
        'site.yaml: group a is declared twice',
        'site.yaml: group a has parent nowhere, which is not declared',
      ],
    });
    expect(parse({ power_sources: [{ name: 'g', kind: 'grid', capacity_kw: 1, tariff: { per_kwh: 1 }, carbon: { csv: 'missing.csv' } }] })).toEqual({ ok: false, problems: ['site.yaml: power_sources[0].carbon.csv: cannot read missing.csv'] });
    const src = (name: string, share: number) => ({ name, kind: 'grid', capacity_kw: 1, tariff: { per_kwh: 1 }, carbon: { g_per_kwh: 1 }, share });
    expect(parse({ power_sources: [src('a', 0.5), src('b', 0.4)] })).toEqual({ ok: false, problems: ['site.yaml: without metered sources the shares must add up to 1 (they add up to 0.9)'] });
  });
});

describe('cost, carbon and peak demand', () => {
  const r = parse(SITE);
  if (!r.ok) throw new Error('site');
  const [grid, fuel] = r.config.sources as [NonNullable<(typeof r.config.sources)[0]>, NonNullable<(typeof r.config.sources)[0]>];

  it('prices by local time of use, wrapping past midnight', () => {
    expect(localMinutes(Date.parse('2026-11-28T06:30:00Z'), 'Europe/Berlin')).toBe(7 * 60 + 30); // 07:30 in Berlin (UTC+1)
    expect(priceAt(grid, Date.parse('2026-11-28T06:30:00Z'), 'Europe/Berlin')).toBe(0.3);
    expect(priceAt(grid, Date.parse('2026-11-28T06:30:00Z'), 'UTC')).toBe(0.15);
    const night = { ...grid, tariff: { per_kwh: 0.2, periods: [{ from: 22 * 60, to: 6 * 60, per_kwh: 0.1 }] } };
    expect([priceAt(night, Date.parse('2026-11-28T23:30:00Z'), 'UTC'), priceAt(night, Date.parse('2026-11-28T05:00:00Z'), 'UTC'), priceAt(night, Date.parse('2026-11-28T12:00:00Z'), 'UTC')]).toEqual([0.1, 0.1, 0.2]);
  });

  it('follows the measured source mix: a job\'s cost and carbon by hand', () => {
    // Two quarter hours of a job: 36 MJ (10 kWh) each. In the first the grid supplied 3/4 of the site, in the
    // second the fuel cell ran flat out and the grid supplied 1/4; a charging battery (negative) supplies nothing.
    const q1 = Date.parse('2026-11-28T07:00:00Z');
    const q2 = q1 + 15 * 60_000;
    const metered = new Map([[q1, new Map([['grid', 300], ['fuel cell', 100]])], [q2, new Map([['grid', 100], ['fuel cell', 300]])]]);
    const result = costAndCarbon(new Map([[q1, 36e6], [q2, 36e6]]), [grid, fuel], (t) => metered.get(t)!, 'UTC');
    // Grid: 7.5 kWh + 2.5 kWh at 0.30 (07:00-07:30 UTC is inside 07:00-22:00) and 300 g/kWh (the 07:00 hour of the file).
    // Fuel cell: 2.5 kWh + 7.5 kWh at 0.10 and 200 g/kWh.
    expect(result.by_source.grid!.cost).toBeCloseTo(10 * 0.3, 9);
    expect(result.by_source['fuel cell']!.cost).toBeCloseTo(10 * 0.1, 9);
    expect(result.cost).toBeCloseTo(4, 9);
    expect(result.carbon_g).toBeCloseTo(10 * 300 + 10 * 200, 6);
    expect(mixAt([grid, fuel], new Map([['grid', 200], ['fuel cell', -50]]))).toEqual(new Map([['grid', 1], ['fuel cell', 0]]));
    const unmetered = [{ ...grid, meter: undefined, share: 0.7 }, { ...fuel, meter: undefined, share: 0.3 }];
    expect(mixAt(unmetered, new Map())).toEqual(new Map([['grid', 0.7], ['fuel cell', 0.3]]));
  });

  it('finds each month\'s peak 15-minute demand', () => {
    const t0 = Date.parse('2026-11-30T23:00:00Z');
    const quarters = [310_000, 480_250, null, 455_000, 120_000, 610_500].map((w, i) => ({ t: t0 + i * 15 * 60_000, mean_w: w }));
    // By hand: November (UTC) holds the first four quarters, peak 480.25 kW at 23:15; December the last two, peak 610.5 kW.
    expect(monthlyPeaks(quarters, 'UTC')).toEqual([
      { month: '2026-11', peak_kw: 480.25, at: t0 + 15 * 60_000 },
      { month: '2026-12', peak_kw: 610.5, at: t0 + 5 * 15 * 60_000 },
    ]);
  });
});
