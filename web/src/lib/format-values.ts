/**
 * The other figures of the job and facility views: shares, ratios,
 * GPU-hours, money, durations and times. Every one has its unit, and every
 * absent one reads "—" (ARCHITECTURE.md §3). Pure; tested in
 * test/web/format-values.test.ts.
 */
import { formatPower } from './fleet-series.js';
import { DASH, isNumber, sig3 } from './format-energy.js';

/** A 0..1 share as a whole percent; a non-zero sliver reads "<1 %", not "0 %". */
export function formatShare(fraction: number | null | undefined): string {
  if (!isNumber(fraction)) return DASH;
  if (fraction > 0 && fraction < 0.01) return '<1 %';
  return `${Math.round(fraction * 100)} %`;
}

/** A percentage already in 0..100 (utilization): one decimal below 10 %. */
export function formatPercent(pct: number | null | undefined): string {
  if (!isNumber(pct)) return DASH;
  return `${Math.abs(pct) < 10 ? pct.toFixed(1) : Math.round(pct).toString()} %`;
}

/** Meter energy over GPU energy: "1.40×". */
export function formatRatio(ratio: number | null | undefined): string {
  return isNumber(ratio) ? `${ratio.toFixed(2)}×` : DASH;
}

export function formatGpuHours(hours: number | null | undefined): string {
  return isNumber(hours) ? `${sig3(hours)} GPU·h` : DASH;
}

/** Power with "—" for absent (fleet-series' formatPower uses an en dash for its live placeholder). */
export function formatWatts(watts: number | null | undefined): string {
  return isNumber(watts) ? formatPower(watts) : DASH;
}

/**
 * An amount of money in the site's currency. Jobs cost fractions of a cent on
 * a small fleet, so amounts below 1 keep three significant digits
 * ("€0.000148") instead of rounding to "€0.00". A currency code Intl does not
 * know is printed after the number.
 */
export function formatCost(amount: number | null | undefined, currency: string | null | undefined, locale = 'en-US'): string {
  if (!isNumber(amount)) return DASH;
  const digits: Intl.NumberFormatOptions =
    Math.abs(amount) < 1 && amount !== 0 ? { minimumSignificantDigits: 3, maximumSignificantDigits: 3 } : { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  if (!currency) return new Intl.NumberFormat(locale, digits).format(amount);
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency, ...digits }).format(amount);
  } catch {
    return `${new Intl.NumberFormat(locale, digits).format(amount)} ${currency}`;
  }
}

/** "45 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function formatDuration(ms: number | null | undefined): string {
  if (!isNumber(ms) || ms < 0) return DASH;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ${String(min % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * "2026-11-28 14:03" in the given time zone (the browser's by default, as
 * issue 8 asks); unambiguous whatever the browser's locale.
 */
export function formatDateTime(ms: number | null | undefined, timeZone?: string): string {
  if (!isNumber(ms)) return DASH;
  const parts = new Intl.DateTimeFormat('en-US', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    ...(timeZone ? { timeZone } : {}),
  }).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

/**
 * A start time as short as a table column allows: the time alone today,
 * month and day this year, the full date otherwise (all in `timeZone`, the
 * browser's by default). The full UTC time goes in the cell's title.
 */
export function formatShortDateTime(ms: number | null | undefined, now: number, timeZone?: string): string {
  if (!isNumber(ms)) return DASH;
  const full = formatDateTime(ms, timeZone);
  const today = formatDateTime(now, timeZone);
  if (full.slice(0, 10) === today.slice(0, 10)) return full.slice(11);
  if (full.slice(0, 4) === today.slice(0, 4)) return full.slice(5);
  return full;
}

/** The same instant in UTC, to the second, for the hover title next to a local time. */
export function formatUtc(ms: number | null | undefined): string {
  if (!isNumber(ms)) return DASH;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "14:03:27" in the given time zone (the browser's by default). */
export function formatClock(ms: number | null | undefined, timeZone?: string): string {
  if (!isNumber(ms)) return DASH;
  return new Intl.DateTimeFormat('en-US', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    ...(timeZone ? { timeZone } : {}),
  }).format(new Date(ms));
}

/**
 * An event time (an alert transition): to the second today, where seconds
 * tell one burst from the next, and as formatShortDateTime on other days.
 */
export function formatEventTime(ms: number | null | undefined, now: number, timeZone?: string): string {
  if (!isNumber(ms)) return DASH;
  if (formatDateTime(ms, timeZone).slice(0, 10) === formatDateTime(now, timeZone).slice(0, 10)) return formatClock(ms, timeZone);
  return formatShortDateTime(ms, now, timeZone);
}
