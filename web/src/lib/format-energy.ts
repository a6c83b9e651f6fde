/**
 * Energy figures as the UI prints them. The API speaks joules (issue 6:
 * "Energies in the API are joules"); the UI scales them to Wh, kWh, MWh and
 * never prints an energy without how it was derived and how much of its
 * interval had data (ARCHITECTURE.md §3, "Rules for values"). Pure, so the
 * rules are unit-tested in Node (test/web/format-energy.test.ts).
 */

/** What every absent value reads as: never 0, never NaN (§3: unsupported values are absent). */
export const DASH = '—';

export type EnergyMethod = 'counter' | 'integral' | 'mixed';

export function isNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/**
 * About three significant digits, the precision the figures carry once
 * coverage is below 1: "4.27", "42.7", "427", "0.943". Large numbers keep
 * their whole digits ("4270") rather than switching to exponents.
 */
export function sig3(x: number): string {
  const abs = Math.abs(x);
  let text: string;
  if (abs === 0) text = '0';
  else if (abs >= 100) text = x.toFixed(0);
  else if (abs >= 10) text = x.toFixed(1);
  else if (abs >= 1) text = x.toFixed(2);
  else {
    // Three significant digits, trailing zeros kept ("0.700" next to "2.40"); an exponent only for dust.
    text = x.toPrecision(3);
  }
  // toFixed keeps the sign of a value that rounds to zero ("-0.00").
  return Number(text) === 0 ? text.replace('-', '') : text;
}

/** Scales by the first unit that keeps the rounded number under 1000 (the last unit takes the rest). */
function scaled(value: number, units: readonly (readonly [string, number])[]): string {
  let out = '';
  for (const [unit, factor] of units) {
    const text = sig3(value / factor);
    out = `${text} ${unit}`;
    // Bump after rounding, so 999.7 Wh reads "1.00 kWh", never "1000 Wh".
    if (Math.abs(Number(text)) < 1000) break;
  }
  return out;
}

const WH = 3600;
const ENERGY_UNITS = [
  ['Wh', WH],
  ['kWh', 1e3 * WH],
  ['MWh', 1e6 * WH],
  ['GWh', 1e9 * WH],
] as const;

/** Joules as "943 Wh", "12.4 kWh", "1.25 MWh"; absent as "—". */
export function formatEnergy(joules: number | null | undefined): string {
  return isNumber(joules) ? scaled(joules, ENERGY_UNITS) : DASH;
}

/** Exact joules for a tooltip, so the rounded figure can be checked against the API. */
export function formatJoules(joules: number | null | undefined): string {
  return isNumber(joules) ? `${Math.round(joules).toLocaleString('en-US')} J` : DASH;
}

/** Null method: the ledger has no window for it yet, so there is nothing to name. */
export function formatMethod(method: EnergyMethod | string | null | undefined): string {
  return method ? method : 'no data';
}

export function describeMethod(method: EnergyMethod | string | null | undefined): string {
  switch (method) {
    case 'counter':
      return "differences of the GPUs' energy counters";
    case 'integral':
      return 'the trapezoidal integral of sampled power';
    case 'mixed':
      return 'energy counters where present, integrals of power elsewhere';
    default:
      return 'no energy windows yet';
  }
}

/**
 * Coverage (the share of the interval with data) as a whole percent, rounded
 * down: 99.6 % reads "99 %", because "100 %" claims that nothing is missing.
 * A sliver above zero reads "<1 %" rather than a misleading "0 %".
 */
export function formatCoverage(coverage: number | null | undefined): string {
  if (!isNumber(coverage)) return DASH;
  if (coverage >= 1) return '100 %';
  if (coverage <= 0) return '0 %';
  if (coverage < 0.01) return '<1 %';
  return `${Math.floor(coverage * 100)} %`;
}

/** "12.4 kWh · counter · 98 %": the figure with its method and coverage, as issue 6 asks. */
export function formatEnergyWithProvenance(
  joules: number | null | undefined,
  method: EnergyMethod | string | null | undefined,
  coverage: number | null | undefined,
): string {
  return `${formatEnergy(joules)} · ${formatMethod(method)} · ${formatCoverage(coverage)}`;
}

const J_UNITS = [
  ['J', 1],
  ['kJ', 1e3],
  ['MJ', 1e6],
  ['GJ', 1e9],
] as const;

/** Counter names are plural ("tokens"); per unit reads singular ("J/token"). */
function unitName(counter: string): string {
  return counter.length > 1 && counter.endsWith('s') ? counter.slice(0, -1) : counter;
}

/**
 * Joules per unit of each work counter, "5.17 J/sample · 112 mJ/token" style
 * (scaled J, kJ, MJ). No counters, or none with a usable value, read "—":
 * a job that reported no work has no efficiency, not an infinite one.
 */
export function formatPerUnit(jPerUnit: Readonly<Record<string, number>> | null | undefined): string {
  if (!jPerUnit) return DASH;
  const parts = Object.entries(jPerUnit)
    .filter(([, v]) => isNumber(v) && v > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => (v < 1 ? `${sig3(v * 1000)} mJ/${unitName(k)}` : `${scaled(v, J_UNITS)}/${unitName(k)}`));
  return parts.length > 0 ? parts.join(' · ') : DASH;
}

const CARBON_UNITS = [
  ['g', 1],
  ['kg', 1e3],
  ['t', 1e6],
] as const;

/** Grams of CO2e as "375 g", "2.36 kg", "1.20 t"; absent as "—". */
export function formatCarbon(grams: number | null | undefined): string {
  return isNumber(grams) ? scaled(grams, CARBON_UNITS) : DASH;
}
