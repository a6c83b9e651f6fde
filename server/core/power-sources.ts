/**
 * Cost and carbon of energy by power source (ARCHITECTURE.md §4, "Per power
 * source"). Pure: quarter-hour energies in, money and grams out.
 *
 * - The source mix of a quarter hour is the metered sources' measured
 *   energy in it (a source exporting, such as a charging battery, supplies
 *   nothing then), or the static shares when no source is metered.
 * - A price is the source's time-of-use period at that local time in the
 *   site's zone, else its flat price; carbon is the hourly series' value for
 *   that hour, else the static intensity.
 * - Peak demand is the highest 15-minute average power of a month: the
 *   figure demand charges are billed on.
 */
import { LEDGER_BUCKET_MS } from './ledger.js';
import type { SourceConfig } from './site-config.js';

/** Prices and demand run on the ledger's quarter hours. */
export const QUARTER_MS = LEDGER_BUCKET_MS;
const J_PER_KWH = 3.6e6;

/** Minutes after local midnight in a time zone. */
export function localMinutes(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

export function priceAt(s: SourceConfig, ms: number, timeZone: string): number {
  const m = localMinutes(ms, timeZone);
  for (const p of s.tariff.periods) {
    const inside = p.from < p.to ? m >= p.from && m < p.to : m >= p.from || m < p.to; // a period may wrap past midnight
    if (inside) return p.per_kwh;
  }
  return s.tariff.per_kwh;
}

export function carbonAt(s: SourceConfig, ms: number): number {
  return s.carbon.hourly?.get(ms - (ms % 3_600_000)) ?? s.carbon.g_per_kwh;
}

/** Shares of each source in one quarter hour; `metered` is each metered source's energy then, J. */
export function mixAt(sources: readonly SourceConfig[], metered: ReadonlyMap<string, number>): Map<string, number> {
  const measured = sources.filter((s) => s.meter !== undefined);
  const supplied = measured.map((s) => [s.name, Math.max(0, metered.get(s.name) ?? 0)] as const);
  const total = supplied.reduce((a, [, e]) => a + e, 0);
  if (measured.length > 0 && total > 0) return new Map(supplied.map(([n, e]) => [n, e / total]));
  return new Map(sources.map((s) => [s.name, s.share ?? 0]));
}

export interface SourceShare {
  energy_j: number;
  cost: number;
  carbon_g: number;
}

export interface CostCarbon {
  cost: number;
  carbon_g: number;
  by_source: Record<string, SourceShare>;
}

/**
 * Prices energy spent per quarter hour (`energy` : quarter start -> J) with
 * the source mix of each quarter (`meteredAt` gives the metered energies).
 */
export function costAndCarbon(
  energy: ReadonlyMap<number, number>,
  sources: readonly SourceConfig[],
  meteredAt: (quarter: number) => ReadonlyMap<string, number>,
  timeZone: string,
): CostCarbon {
  const out: CostCarbon = { cost: 0, carbon_g: 0, by_source: Object.fromEntries(sources.map((s) => [s.name, { energy_j: 0, cost: 0, carbon_g: 0 }])) };
  for (const [t, joules] of energy) {
    const mix = mixAt(sources, meteredAt(t));
    for (const s of sources) {
      const j = joules * (mix.get(s.name) ?? 0);
      const kwh = j / J_PER_KWH;
      const part = out.by_source[s.name]!;
      part.energy_j += j;
      part.cost += kwh * priceAt(s, t, timeZone);
      part.carbon_g += kwh * carbonAt(s, t);
    }
  }
  for (const part of Object.values(out.by_source)) {
    out.cost += part.cost;
    out.carbon_g += part.carbon_g;
  }
  return out;
}

/** The highest 15-minute average power (kW) of each calendar month in the zone, from quarter-hour mean powers (W). */
export function monthlyPeaks(quarters: readonly { t: number; mean_w: number | null }[], timeZone: string): { month: string; peak_kw: number; at: number }[] {
  const byMonth = new Map<string, { peak_kw: number; at: number }>();
  const month = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' });
  for (const q of quarters) {
    if (q.mean_w === null) continue;
    const key = month.format(q.t);
    const best = byMonth.get(key);
    if (!best || q.mean_w / 1000 > best.peak_kw) byMonth.set(key, { peak_kw: q.mean_w / 1000, at: q.t });
  }
  return [...byMonth].map(([m, v]) => ({ month: m, ...v })).sort((a, b) => a.month.localeCompare(b.month));
}
