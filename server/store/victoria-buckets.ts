/**
 * Raw windows into member buckets, the way DuckDB aggregates its raw rows
 * (duckdb-history.ts rawAggregates), for the parts of a VictoriaMetrics
 * answer that are read as raw samples. Pure.
 */
import type { MemberBucket } from '../core/series.js';

/** One stored window of one member, as read back: its start, length and the metric's values. */
export interface RawWindow {
  member: string;
  ts: number;
  window_ms: number;
  mean?: number;
  min?: number;
  max?: number;
  last?: number;
  energy_j?: number;
}

/**
 * Per member and bucket [t, t+step) of the window's start: covered_ms is
 * Σ window_ms of every window; mean is Σ mean × window_ms over the windows
 * that have a mean, divided by their Σ window_ms; min, max; last is the
 * latest window's that has one; energy_j is Σ energy (absent when no window
 * has any).
 */
export function bucketWindows(windows: readonly RawWindow[], step: number): MemberBucket[] {
  const acc = new Map<string, { b: MemberBucket; wsum: number; wms: number; lastTs: number }>();
  for (const w of windows) {
    const t = Math.floor(w.ts / step) * step;
    const key = `${w.member}\u0000${t}`;
    let a = acc.get(key);
    if (!a) acc.set(key, (a = { b: { member: w.member, t, covered_ms: 0 }, wsum: 0, wms: 0, lastTs: -Infinity }));
    const b = a.b;
    b.covered_ms += w.window_ms;
    if (w.mean !== undefined) {
      a.wsum += w.mean * w.window_ms;
      a.wms += w.window_ms;
    }
    if (w.min !== undefined) b.min = b.min === undefined ? w.min : Math.min(b.min, w.min);
    if (w.max !== undefined) b.max = b.max === undefined ? w.max : Math.max(b.max, w.max);
    if (w.last !== undefined && w.ts >= a.lastTs) {
      b.last = w.last;
      a.lastTs = w.ts;
    }
    if (w.energy_j !== undefined) b.energy_j = (b.energy_j ?? 0) + w.energy_j;
  }
  return [...acc.values()].map(({ b, wsum, wms }) => (wms > 0 ? { ...b, mean: wsum / wms } : b));
}
