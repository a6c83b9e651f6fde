/**
 * The Overview's figures beyond live fleet power: today's energy, each
 * group's power against its budget, and each power source's demand against
 * its capacity, derived from the facility report, the efficiency report and
 * the rules. Pure; tested in test/web/overview-view.test.ts.
 *
 * The facility report is energy per quarter hour (the ledger's bucket), so a
 * group's power here is its mean over the current quarter hour so far: its
 * GPU energy over the GPU time that had data. A budget rule judges the live
 * summed mean power of the group's hosts each window; the two agree within
 * the quarter's swings, and the card says which one it shows.
 */
import type { EfficiencyReport, FacilityReport, GroupRow, RuleJson, SourceInfo } from './api.js';
import { groupTree } from './facility-view.js';
import { isNumber } from './format-energy.js';

/** The ledger's bucket (server/core/ledger.ts, LEDGER_BUCKET_MS): quarter hours from the epoch. */
export const QUARTER_MS = 15 * 60_000;

/** Local midnight of the day holding `now`, in the browser's time zone. */
export function localMidnight(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function quarterStart(t: number): number {
  return Math.floor(t / QUARTER_MS) * QUARTER_MS;
}

/**
 * The range whose mean power the Overview shows: the current quarter hour,
 * or, in its first minute, the previous one too, so a fresh quarter with a
 * few seconds of data does not stand for the group's power.
 */
export function powerRange(now: number): { from: number } {
  return { from: quarterStart(now - 60_000) };
}

/**
 * Mean power over [from, to) from energy and coverage (the share of the
 * members' time with data): E / (coverage × span) is the members' summed mean
 * power while they reported. Null without data.
 */
export function meanPowerW(energyJ: number | null | undefined, coverage: number | null | undefined, from: number, to: number): number | null {
  if (!isNumber(energyJ) || !isNumber(coverage) || coverage <= 0 || to <= from) return null;
  return energyJ / (coverage * ((to - from) / 1000));
}

export interface Budget {
  rule: string;
  capacityW: number;
  /** The rule fires above this share of capacity, in %. */
  abovePct: number;
}

/** Budget rules by group or source name: the first rule naming each, with its capacity where it gives one. */
export function budgetsOf(rules: readonly RuleJson[], kind: 'group' | 'source'): Map<string, { rule: string; capacityW: number | null; abovePct: number }> {
  const out = new Map<string, { rule: string; capacityW: number | null; abovePct: number }>();
  for (const r of rules) {
    if (r.type !== 'budget' || r.target.kind !== kind) continue;
    const name = kind === 'group' ? r.target.group : r.target.source;
    if (!name || out.has(name) || !isNumber(r.above_pct)) continue;
    out.set(name, { rule: r.id, capacityW: isNumber(r.capacity_kw) ? r.capacity_kw * 1000 : null, abovePct: r.above_pct });
  }
  return out;
}

export interface GroupPower {
  name: string;
  kind: string;
  depth: number;
  /** Mean GPU power over the range; null without data. */
  gpuW: number | null;
  /** Mean metered power over the range; null without a meter or data. */
  meterW: number | null;
  budget: Budget | null;
  /** gpuW over the budget's capacity, 0..1+. */
  load: number | null;
}

export function groupPowers(groups: readonly GroupRow[], rules: readonly RuleJson[], from: number, to: number): GroupPower[] {
  const budgets = budgetsOf(rules, 'group');
  return groupTree(groups).map((g) => {
    const gpuW = meanPowerW(g.gpu_energy_j, g.gpu_coverage, from, to);
    const b = budgets.get(g.name);
    const budget = b && b.capacityW !== null ? { rule: b.rule, capacityW: b.capacityW, abovePct: b.abovePct } : null;
    return {
      name: g.name,
      kind: g.kind,
      depth: g.depth,
      gpuW,
      meterW: meanPowerW(g.meter_energy_j, g.meter_coverage, from, to),
      budget,
      load: budget && gpuW !== null ? gpuW / budget.capacityW : null,
    };
  });
}

export interface SourceDemand {
  name: string;
  /** The source's share of the energy over the range (the mix its meters measured, or the static shares). */
  share: number | null;
  /** The site's demand times that share: the part of the load this source carries. */
  demandW: number | null;
  capacityW: number | null;
  /** The budget rule's threshold, in % of capacity. */
  abovePct: number | null;
  rule: string | null;
  load: number | null;
}

export interface SiteDemand {
  watts: number | null;
  /** metered: the top-level groups' meters (what the sources supply); gpus: the fleet's GPU power, less than the supply. */
  basis: 'metered' | 'gpus';
}

/**
 * What the sources supply: the metered power of the top-level groups when
 * every one of them is metered (their meters see hosts, cooling and
 * conversion too), else the fleet's power now, which leaves that overhead out.
 */
export function siteDemand(groups: readonly GroupPower[], fleetPowerW: number | null): SiteDemand {
  const top = groups.filter((g) => g.depth === 0);
  if (top.length > 0 && top.every((g) => g.meterW !== null)) return { watts: top.reduce((a, g) => a + (g.meterW ?? 0), 0), basis: 'metered' };
  return { watts: isNumber(fleetPowerW) ? fleetPowerW : null, basis: 'gpus' };
}

/**
 * Each source's demand against its capacity: the site's demand times the
 * source's share of the range's energy. Capacity comes from the report's
 * `sources` (or a capacity on its by_source entry) when the server sends it,
 * else from a budget rule that names one; otherwise it is unknown, never 0.
 */
export function sourceDemands(
  bySource: Readonly<Record<string, { energy_j: number; capacity_kw?: number }>>,
  sources: readonly SourceInfo[] | undefined,
  rules: readonly RuleJson[],
  supplyW: number | null,
): SourceDemand[] {
  const budgets = budgetsOf(rules, 'source');
  const total = Object.values(bySource).reduce((a, s) => a + (isNumber(s.energy_j) ? Math.max(0, s.energy_j) : 0), 0);
  const names = [...new Set([...(sources ?? []).map((s) => s.name), ...Object.keys(bySource)])];
  return names.map((name) => {
    const entry = bySource[name];
    const declared = sources?.find((s) => s.name === name)?.capacity_kw ?? entry?.capacity_kw;
    const b = budgets.get(name);
    const capacityW = isNumber(declared) ? declared * 1000 : (b?.capacityW ?? null);
    const share = entry && total > 0 && isNumber(entry.energy_j) ? Math.max(0, entry.energy_j) / total : null;
    const demandW = share !== null && isNumber(supplyW) ? share * supplyW : null;
    return {
      name,
      share,
      demandW,
      capacityW,
      abovePct: b?.abovePct ?? null,
      rule: b?.rule ?? null,
      load: demandW !== null && capacityW !== null && capacityW > 0 ? demandW / capacityW : null,
    };
  });
}

export interface Today {
  energyJ: number | null;
  cost: number | null;
  carbonG: number | null;
  currency: string | null;
  /** Energy of GPUs that no job held, over all GPU energy. */
  idleShare: number | null;
}

/** Today's totals: the facility report's when there is a site file, else the ledger's sum from the efficiency report. */
export function todayTotals(facility: FacilityReport | null, efficiency: EfficiencyReport | null): Today {
  const ledgerJ = efficiency
    ? efficiency.rows.reduce((a, r) => a + (isNumber(r.energy_j) ? r.energy_j : 0), 0) + (efficiency.idle_j ?? 0) + (efficiency.unattributed_j ?? 0)
    : null;
  const site = facility?.configured ? facility : null;
  const energyJ = site ? site.energy_j : ledgerJ;
  return {
    energyJ,
    cost: site ? site.cost : null,
    carbonG: site ? site.carbon_g : null,
    currency: site ? site.currency : null,
    idleShare: efficiency && ledgerJ !== null && ledgerJ > 0 ? efficiency.idle_j / ledgerJ : null,
  };
}
