import { describe, expect, it } from 'vitest';
import type { EfficiencyReport, FacilityReport, GroupRow, RuleJson } from '../../web/src/lib/api.js';
import {
  QUARTER_MS,
  budgetsOf,
  groupPowers,
  localMidnight,
  meanPowerW,
  powerRange,
  quarterStart,
  siteDemand,
  sourceDemands,
  todayTotals,
} from '../../web/src/lib/overview-view.js';

const group = (g: Partial<GroupRow> & { name: string }): GroupRow => ({
  kind: 'rack',
  parent: null,
  hosts: 4,
  gpu_energy_j: 0,
  meter_energy_j: null,
  overhead_j: null,
  meter_to_gpu: null,
  gpu_method: 'counter',
  gpu_coverage: 1,
  meter_coverage: null,
  ...g,
});

const budget = (id: string, target: RuleJson['target'], extra: Record<string, unknown>): RuleJson => ({
  id,
  type: 'budget',
  target,
  severity: 'warning',
  for_s: 0,
  origin: 'config',
  ...extra,
});

describe('ranges', () => {
  it('local midnight is the start of the browser day', () => {
    const now = new Date(2026, 10, 28, 14, 3, 27).getTime();
    expect(localMidnight(now)).toBe(new Date(2026, 10, 28).getTime());
  });

  it('the power range is the current quarter hour, or two in its first minute', () => {
    const q = 1_795_918_500_000; // a quarter-hour boundary
    expect(q % QUARTER_MS).toBe(0);
    expect(quarterStart(q + 5 * 60_000)).toBe(q);
    expect(powerRange(q + 5 * 60_000)).toEqual({ from: q });
    expect(powerRange(q + 20_000)).toEqual({ from: q - QUARTER_MS });
  });
});

describe('meanPowerW', () => {
  it('is energy over the covered time', () => {
    // 4 GPUs at 250 W for 60 s, over a 60 s range: 1 kW.
    expect(meanPowerW(4 * 250 * 60, 1, 0, 60_000)).toBeCloseTo(1000);
    // The same energy with half the GPU time covered means twice the power while covered.
    expect(meanPowerW(4 * 250 * 60, 0.5, 0, 120_000)).toBeCloseTo(1000);
  });

  it('is null without data, never 0 or Infinity', () => {
    expect(meanPowerW(100, 0, 0, 1000)).toBeNull();
    expect(meanPowerW(null, 1, 0, 1000)).toBeNull();
    expect(meanPowerW(100, 1, 1000, 1000)).toBeNull();
  });
});

describe('budgets', () => {
  const rules = [
    budget('rack-0-budget', { kind: 'group', group: 'rack-0' }, { capacity_kw: 26, above_pct: 90, clear_pct: 85 }),
    budget('fuel-cell-near-capacity', { kind: 'source', source: 'fuel cell' }, { above_pct: 90, clear_pct: 80 }),
    { ...budget('t', { kind: 'gpu' }, {}), type: 'threshold' },
  ];

  it('reads group and source budgets by name', () => {
    expect(budgetsOf(rules, 'group').get('rack-0')).toEqual({ rule: 'rack-0-budget', capacityW: 26_000, abovePct: 90 });
    expect(budgetsOf(rules, 'source').get('fuel cell')).toEqual({ rule: 'fuel-cell-near-capacity', capacityW: null, abovePct: 90 });
  });

  it('groups: mean GPU power, metered power and load against a budget, in tree order', () => {
    const from = 0;
    const to = 600_000; // 10 min
    const rows = groupPowers(
      [
        group({ name: 'rack-0', parent: 'hall', gpu_energy_j: 13_000 * 600, meter_energy_j: 14_000 * 600, meter_coverage: 1 }),
        group({ name: 'hall', kind: 'row', gpu_energy_j: 20_000 * 600 }),
        group({ name: 'rack-1', parent: 'hall', gpu_energy_j: 7_000 * 600 }),
      ],
      rules,
      from,
      to,
    );
    expect(rows.map((r) => [r.name, r.depth])).toEqual([['hall', 0], ['rack-0', 1], ['rack-1', 1]]);
    const rack0 = rows[1]!;
    expect(rack0.gpuW).toBeCloseTo(13_000);
    expect(rack0.meterW).toBeCloseTo(14_000);
    expect(rack0.budget).toEqual({ rule: 'rack-0-budget', capacityW: 26_000, abovePct: 90 });
    expect(rack0.load).toBeCloseTo(0.5);
    expect(rows[2]!.budget).toBeNull();
    expect(rows[2]!.load).toBeNull();
  });
});

describe('sources', () => {
  const rules = [budget('fc', { kind: 'source', source: 'fuel cell' }, { above_pct: 90 })];
  const bySource = { grid: { energy_j: 600 }, 'fuel cell': { energy_j: 400 } };

  it('split the supply by the mix; capacity only when known', () => {
    const [grid, fuel] = sourceDemands(bySource, undefined, rules, 35_000);
    expect(grid).toMatchObject({ name: 'grid', share: 0.6, capacityW: null, load: null });
    expect(grid!.demandW).toBeCloseTo(21_000);
    expect(fuel).toMatchObject({ name: 'fuel cell', share: 0.4, capacityW: null, abovePct: 90, rule: 'fc' });
  });

  it('take capacity from the server when it lists the sources', () => {
    const [, fuel] = sourceDemands(bySource, [{ name: 'grid', capacity_kw: 60 }, { name: 'fuel cell', capacity_kw: 14 }], rules, 35_000);
    expect(fuel!.capacityW).toBe(14_000);
    expect(fuel!.load).toBeCloseTo(1);
  });

  it('the supply is the top-level meters when every top group has one, else the fleet', () => {
    const metered = [
      { name: 'hall', kind: 'row', depth: 0, gpuW: 20_000, meterW: 35_000, budget: null, load: null },
      { name: 'rack-0', kind: 'rack', depth: 1, gpuW: 10_000, meterW: null, budget: null, load: null },
    ];
    expect(siteDemand(metered, 20_500)).toEqual({ watts: 35_000, basis: 'metered' });
    expect(siteDemand([{ ...metered[0]!, meterW: null }], 20_500)).toEqual({ watts: 20_500, basis: 'gpus' });
    expect(siteDemand([], null)).toEqual({ watts: null, basis: 'gpus' });
  });
});

describe('todayTotals', () => {
  const efficiency: EfficiencyReport = {
    by: 'day',
    time_zone: 'UTC',
    rows: [{ key: '2026-11-28', jobs: 3, energy_j: 800, kwh: 0, gpu_hours: 1, w_per_gpu: null, allocated_idle_j: 0, method: 'counter', mean_util_pct: null, j_per_unit: {} }],
    idle_j: 150,
    unattributed_j: 50,
  };

  it('takes energy, cost and carbon from the facility report, and the idle share from the ledger', () => {
    const facility = { configured: true, energy_j: 1000, cost: 0.5, carbon_g: 20, currency: 'EUR' } as FacilityReport;
    expect(todayTotals(facility, efficiency)).toEqual({ energyJ: 1000, cost: 0.5, carbonG: 20, currency: 'EUR', idleShare: 0.15 });
  });

  it('without a site file: the ledger sum, no money', () => {
    expect(todayTotals({ configured: false }, efficiency)).toEqual({ energyJ: 1000, cost: null, carbonG: null, currency: null, idleShare: 0.15 });
    expect(todayTotals(null, null)).toEqual({ energyJ: null, cost: null, carbonG: null, currency: null, idleShare: null });
  });
});
