/**
 * The facility view of a range (ARCHITECTURE.md §4, "Per group" and "Per
 * power source"): each group's GPU energy next to what its meters measured,
 * the overhead between them and their ratio; the site's energy priced and
 * weighed by the source mix; and each month's peak 15-minute demand. Pure:
 * quarter-hour energies and the site file in, the report out.
 */
import { type EnergyMethod, methodOf } from './ledger.js';
import { QUARTER_MS, costAndCarbon, type CostCarbon, monthlyPeaks } from './power-sources.js';
import type { GroupConfig, SiteConfig } from './site-config.js';

export interface QuarterEnergy {
  name: string;
  t: number;
  energy_j: number;
  /** Hosts: the part from counter differences; the window time behind it; how many GPUs reported. Meters: window time. */
  counter_j?: number;
  covered_ms?: number;
  members?: number;
}

export interface GroupReport {
  name: string;
  kind: string;
  parent: string | null;
  hosts: number;
  gpu_energy_j: number;
  /** Null when no meter measures the group (or its children). */
  meter_energy_j: number | null;
  overhead_j: number | null;
  /** Meter energy over GPU energy: 1.4 means 40 % on top of the GPUs (hosts, cooling, conversion). */
  meter_to_gpu: number | null;
  /** How the GPU energy was measured, and the share of GPU-time and meter-time in the range with data behind it. */
  gpu_method: EnergyMethod | null;
  gpu_coverage: number;
  meter_coverage: number | null;
  /** Its hosts (`host` or `site/host`, as configured) and meters (`host/meter`), children's included. */
  members: { hosts: string[]; meters: string[] };
}

export interface FacilityReport {
  groups: GroupReport[];
  energy_j: number;
  currency: string;
  cost: number;
  carbon_g: number;
  by_source: CostCarbon['by_source'];
  /** The site file's power sources: what a live view compares demand with. */
  sources: { name: string; kind: string; capacity_kw: number; meter: string | null }[];
  peaks: { month: string; peak_kw: number; at: number }[];
  /** What the peak is computed from: the metered grid supply, else the GPUs. */
  peak_basis: 'grid meters' | 'gpu power';
}

/** A group's own hosts and meters plus those of every group below it. */
export function groupMembers(g: GroupConfig, all: readonly GroupConfig[], seen = new Set<string>()): { hosts: Set<string>; meters: Set<string> } {
  const hosts = new Set(g.hosts);
  const meters = new Set(g.meters);
  seen.add(g.name);
  for (const child of all.filter((c) => c.parent === g.name && !seen.has(c.name))) {
    const m = groupMembers(child, all, seen);
    m.hosts.forEach((h) => hosts.add(h));
    // A group with its own meters is measured by them; otherwise its children's meters add up.
    if (g.meters.length === 0) m.meters.forEach((x) => meters.add(x));
  }
  return { hosts, meters };
}

/** `site/host` names match a configured `host` or `site/host`. */
const hostMatches = (configured: ReadonlySet<string>, name: string) => configured.has(name) || configured.has(name.slice(name.indexOf('/') + 1));

const sumBy = (rows: readonly QuarterEnergy[], keep: (name: string) => boolean, value = (r: QuarterEnergy) => r.energy_j) =>
  rows.reduce((a, r) => (keep(r.name) ? a + value(r) : a), 0);

/**
 * The share of member-time in [from, until) with data: covered time over
 * the members seen (the most that reported in any quarter, per name) times
 * the range.
 */
function coverage(rows: readonly QuarterEnergy[], keep: (name: string) => boolean, from: number, until: number): number {
  const members = new Map<string, number>();
  let covered = 0;
  for (const r of rows) {
    if (!keep(r.name)) continue;
    covered += r.covered_ms ?? 0;
    members.set(r.name, Math.max(members.get(r.name) ?? 0, r.members ?? 1));
  }
  const expected = [...members.values()].reduce((a, b) => a + b, 0) * Math.max(1, until - from);
  return members.size === 0 ? 0 : Math.min(1, covered / expected);
}

/** `[from, until)`: the range; a quarter hour not over by `until` is left out of the peaks (its average is not known yet). */
export function facilityReport(site: SiteConfig, energy: { meters: readonly QuarterEnergy[]; hosts: readonly QuarterEnergy[] }, timeZone: string, until: number, from = until): FacilityReport {
  const groups = site.groups.map((g): GroupReport => {
    const m = groupMembers(g, site.groups);
    const isHost = (n: string) => hostMatches(m.hosts, n);
    const gpu = sumBy(energy.hosts, isHost);
    const counter = sumBy(energy.hosts, isHost, (r) => r.counter_j ?? 0);
    const meter = m.meters.size > 0 ? sumBy(energy.meters, (n) => m.meters.has(n)) : null;
    return {
      name: g.name, kind: g.kind, parent: g.parent ?? null, hosts: m.hosts.size,
      gpu_energy_j: gpu,
      meter_energy_j: meter,
      overhead_j: meter === null ? null : meter - gpu,
      meter_to_gpu: meter === null || gpu <= 0 ? null : meter / gpu,
      gpu_method: gpu > 0 ? methodOf(gpu, counter) : null,
      gpu_coverage: coverage(energy.hosts, isHost, from, until),
      meter_coverage: meter === null ? null : coverage(energy.meters, (n) => m.meters.has(n), from, until),
      members: { hosts: [...m.hosts], meters: [...m.meters] },
    };
  });
  const byQuarter = (rows: readonly QuarterEnergy[], keep: (name: string) => boolean) => {
    const out = new Map<number, number>();
    for (const r of rows) if (keep(r.name)) out.set(r.t, (out.get(r.t) ?? 0) + r.energy_j);
    return out;
  };
  const siteEnergy = byQuarter(energy.hosts, () => true);
  const priced = costAndCarbon(siteEnergy, site.sources, meteredBySource(site, energy.meters), timeZone);
  const gridMeters = new Set(site.sources.filter((s) => s.kind === 'grid' && s.meter).map((s) => s.meter!));
  const demand = gridMeters.size > 0 ? byQuarter(energy.meters, (n) => gridMeters.has(n)) : siteEnergy;
  const quarters = [...demand].filter(([t]) => t + QUARTER_MS <= until).map(([t, j]) => ({ t, mean_w: j / (QUARTER_MS / 1000) }));
  return {
    groups,
    energy_j: [...siteEnergy.values()].reduce((a, b) => a + b, 0),
    currency: site.currency,
    cost: priced.cost,
    carbon_g: priced.carbon_g,
    by_source: priced.by_source,
    sources: site.sources.map((s) => ({ name: s.name, kind: s.kind, capacity_kw: s.capacity_kw, meter: s.meter ?? null })),
    peaks: monthlyPeaks(quarters, timeZone),
    peak_basis: gridMeters.size > 0 ? 'grid meters' : 'gpu power',
  };
}

/** The metered energy of each source per quarter hour, for pricing a job's own quarters. */
export function meteredBySource(site: SiteConfig, meters: readonly QuarterEnergy[]): (t: number) => Map<string, number> {
  const sourceMeters = new Map(site.sources.filter((s) => s.meter).map((s) => [s.meter!, s.name]));
  const byQuarter = new Map<number, Map<string, number>>();
  for (const r of meters) {
    const source = sourceMeters.get(r.name);
    if (!source) continue;
    const q = byQuarter.get(r.t) ?? new Map<string, number>();
    q.set(source, (q.get(source) ?? 0) + r.energy_j);
    byQuarter.set(r.t, q);
  }
  return (t) => byQuarter.get(t) ?? new Map();
}
