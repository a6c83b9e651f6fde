/**
 * Pure helpers for the columnar fleet series (ARCHITECTURE.md §6.3): the
 * WebSocket sends a schema once, then columns [ts[], v1[], ...] that either
 * replace the whole history or upsert rows by ts. Nothing here touches Svelte
 * or the DOM, so the merge rules are unit-tested in plain Node
 * (test/web/fleet-series.test.ts) and the store stays a thin shell around them.
 */
import type { ColumnSpec } from '../../../protocol/ws.js';

/** Column 0 is ts (epoch ms); the others are values, null where unknown. */
export type Columns = readonly (readonly (number | null)[])[];

export interface MergeResult {
  columns: Columns;
  /** Rows ignored because their ts was missing or not a finite number. */
  dropped: number;
}

/** `width` empty columns: the state before the first `replace`. */
export function emptyColumns(width: number): Columns {
  return Array.from({ length: width }, () => []);
}

/**
 * For each wanted column name, the index it has on the wire (or -1). The
 * server's schema decides the order, so the UI looks columns up by name and a
 * server that adds a column does not shift the ones we draw.
 */
export function columnOrder(schema: readonly ColumnSpec[], wanted: readonly string[]): number[] {
  return wanted.map((name) => schema.findIndex((c) => c.name === name));
}

/** Reorders wire columns into the wanted order; absent columns become nulls. */
export function pickColumns(wire: readonly (readonly unknown[])[], order: readonly number[]): Columns {
  const rows = wire[0]?.length ?? 0;
  return order.map((i) => {
    const src = i >= 0 ? wire[i] : undefined;
    const out: (number | null)[] = new Array(rows);
    for (let r = 0; r < rows; r++) {
      const v = src?.[r];
      // JSON has no NaN or Infinity; anything that is not a finite number is a gap.
      out[r] = typeof v === 'number' && Number.isFinite(v) ? v : null;
    }
    return out;
  });
}

/** First index whose ts is >= `ts` (binary search; ts stays ascending). */
function lowerBound(ts: readonly (number | null)[], value: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Drops rows older than `windowMs` before the newest row. Returns the same
 * object when nothing is cut, so callers can skip a redraw.
 */
export function trimToWindow(columns: Columns, windowMs: number): Columns {
  const ts = columns[0];
  if (!ts || ts.length === 0) return columns;
  const newest = ts[ts.length - 1] as number;
  // Strictly newer than the cutoff: a 15 min window at 1 s holds 900 rows, not 901.
  const first = lowerBound(ts, newest - windowMs + 1);
  if (first === 0) return columns;
  return columns.map((col) => col.slice(first));
}

/**
 * Merges one `data` message into the series and returns a new series; the
 * input is never mutated, because the store keeps it in `$state.raw` and only
 * a new reference makes Svelte (and the chart) update.
 *
 * - `replace`: the incoming rows are the whole history.
 * - otherwise each row upserts by ts: an equal ts overwrites that row, a new
 *   ts is inserted at its place (usually the end), so ts stays ascending even
 *   when a late window arrives out of order.
 * Both cases then trim to the last `windowMs` before the newest row.
 */
export function mergeColumns(
  current: Columns,
  incoming: Columns,
  replace: boolean,
  windowMs: number,
): MergeResult {
  const width = Math.max(current.length, 1);
  const inTs = incoming[0] ?? [];
  if (!replace && inTs.length === 0) return { columns: current, dropped: 0 };

  const cols: (number | null)[][] = replace
    ? Array.from({ length: width }, () => [])
    : Array.from({ length: width }, (_, c) => (current[c] ?? []).slice());
  const ts = cols[0] as (number | null)[];
  let dropped = 0;

  for (let r = 0; r < inTs.length; r++) {
    const t = inTs[r];
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      dropped++;
      continue;
    }
    const last = ts.length > 0 ? (ts[ts.length - 1] as number) : -Infinity;
    // Fast path: live rows almost always arrive newest-last.
    const at = t > last ? ts.length : lowerBound(ts, t);
    const same = at < ts.length && ts[at] === t;
    for (let c = 0; c < width; c++) {
      const col = cols[c] as (number | null)[];
      const v = c === 0 ? t : (incoming[c]?.[r] ?? null);
      if (same) col[at] = v;
      else if (at === col.length) col.push(v);
      else col.splice(at, 0, v);
    }
  }
  return { columns: trimToWindow(cols, windowMs), dropped };
}

/** The last value of column `c`, skipping trailing gaps; null when none. */
export function lastValue(columns: Columns, c: number): number | null {
  const col = columns[c];
  if (!col) return null;
  for (let i = col.length - 1; i >= 0; i--) {
    const v = col[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

/**
 * The newest row in which every known host reported (coverage 1), else the
 * newest with the highest coverage among the last `lookback` rows; -1 when
 * empty. The newest row is often partial for a second while late hosts'
 * windows arrive, and its summed peak then reads below the power now.
 */
export function newestFullRow(columns: Columns, coverageCol: number, lookback = 10): number {
  const cov = columns[coverageCol];
  const n = columns[0]?.length ?? 0;
  if (n === 0) return -1;
  let best = n - 1;
  for (let i = n - 1; i >= Math.max(0, n - lookback); i--) {
    const c = cov?.[i] ?? null;
    if (c !== null && c >= 1) return i;
    if (c !== null && c > (cov?.[best] ?? -1)) best = i;
  }
  return best;
}

/**
 * How many rows a chart should draw: the server sends the newest buckets while
 * they still fill (hosts publish at offsets), so trailing rows below full
 * coverage are held back, at most `maxHeld` of them (a host that went away
 * lowers the coverage for good; its absence is then real and is drawn).
 */
export function settledRowCount(columns: Columns, coverageCol: number, maxHeld = 3): number {
  const n = columns[0]?.length ?? 0;
  const cov = columns[coverageCol];
  let keep = n;
  while (keep > 0 && n - keep < maxHeld && (cov?.[keep - 1] ?? 1) < 1) keep -= 1;
  return n - keep === maxHeld ? n : keep;
}

export type PowerUnit = 'W' | 'kW' | 'MW';

export interface ScaledPower {
  /** The number, already rounded to 3 significant digits (at least 0 decimals). */
  value: string;
  unit: PowerUnit;
}

const UNITS: readonly [PowerUnit, number][] = [
  ['W', 1],
  ['kW', 1e3],
  ['MW', 1e6],
];

function roundForDisplay(x: number): string {
  const abs = Math.abs(x);
  // About 3 significant digits: 4.27 kW, 42.7 kW, 427 kW; whole watts below 1 kW.
  const decimals = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return x.toFixed(decimals);
}

/** Picks W, kW or MW so the number stays short; MW is the largest unit. */
export function scalePower(watts: number): ScaledPower {
  if (!Number.isFinite(watts)) return { value: '–', unit: 'W' };
  let scaled: ScaledPower = { value: '0', unit: 'W' };
  for (const [unit, factor] of UNITS) {
    const text = unit === 'W' ? Math.round(watts).toString() : roundForDisplay(watts / factor);
    // toFixed keeps the sign of tiny negatives ("-0.00"); a reading of zero has none.
    scaled = { value: Number(text) === 0 ? text.replace('-', '') : text, unit };
    // Bump after rounding, so 999.6 W reads "1.00 kW", never "1000 W".
    if (Math.abs(Number(text)) < 1000) break;
  }
  return scaled;
}

/** "845 W", "12.3 kW", "1.25 MW". */
export function formatPower(watts: number | null | undefined): string {
  if (watts === null || watts === undefined || !Number.isFinite(watts)) return '–';
  const { value, unit } = scalePower(watts);
  return `${value} ${unit}`;
}
