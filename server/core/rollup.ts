/**
 * One-minute rollups, folded from a batch of windows before they reach the
 * store (issue: "1-minute rollups maintained by kilowatch itself"). Pure.
 *
 * A minute row holds, per metric, the window-weighted sum of means (so means
 * of any longer bucket stay exact), min, max and last, plus the covered time
 * and the energy. Rows of one batch are partial: the store merges them into
 * the minute already stored (sums add, min and max widen, the later last
 * wins), which is also how a late window reopens its minute.
 */
import type { GpuReading, Stat } from '../../protocol/payloads.js';
import { SERIES_METRICS, type SeriesMetric } from './series.js';

export const ROLLUP_MS = 60_000;

export interface MetricFold {
  /** Σ mean × window_ms, and Σ window_ms of the windows that had the metric. */
  wsum: number;
  wms: number;
  min: number;
  max: number;
  last: number;
  lastTs: number;
}

export interface MinuteRow {
  site: string;
  host: string;
  /** Undefined for a host row (the edge's host total). */
  gpu?: string;
  minute: number;
  covered_ms: number;
  windows: number;
  energy_j?: number;
  metrics: Partial<Record<SeriesMetric, MetricFold>>;
}

type Values = { mean: number; min: number; max: number; last: number };

/**
 * The values a stored GPU window has per metric. Only power keeps its full
 * Stat in storage; the other metrics are stored as one value per window
 * (utilization, memory and clock as means, temperature as the window's max),
 * so their min, max and last are over those values.
 */
export function windowValues(g: GpuReading): Partial<Record<SeriesMetric, Values>> {
  const one = (v: number | undefined): Values | undefined => (v === undefined ? undefined : { mean: v, min: v, max: v, last: v });
  const out: Partial<Record<SeriesMetric, Values>> = {};
  const set = (m: SeriesMetric, v: Values | undefined) => v && (out[m] = v);
  set('power_w', g.power_w && statValues(g.power_w));
  set('util_pct', one(g.util_pct?.mean));
  set('mem_used_mib', one(g.mem_used_mib?.mean));
  set('temp_c', one(g.temp_c?.max));
  set('sm_clock_mhz', one(g.sm_clock_mhz?.mean));
  return out;
}

export function statValues(s: Stat): Values {
  return { mean: s.mean, min: s.min, max: s.max, last: s.last };
}

export class RollupBatch {
  private readonly rows = new Map<string, MinuteRow>();

  /** Folds one window of one GPU (gpu set) or one host total (gpu undefined). */
  add(site: string, host: string, gpu: string | undefined, ts: number, windowMs: number, values: Partial<Record<SeriesMetric, Values>>, energyJ?: number): void {
    const minute = Math.floor(ts / ROLLUP_MS) * ROLLUP_MS;
    const key = `${site}\u0000${host}\u0000${gpu ?? ''}\u0000${gpu === undefined ? 'h' : 'g'}\u0000${minute}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { site, host, ...(gpu !== undefined && { gpu }), minute, covered_ms: 0, windows: 0, metrics: {} }));
    row.covered_ms += windowMs;
    row.windows += 1;
    if (energyJ !== undefined) row.energy_j = (row.energy_j ?? 0) + energyJ;
    for (const m of SERIES_METRICS) {
      const v = values[m];
      if (v) row.metrics[m] = fold(row.metrics[m], v, ts, windowMs);
    }
  }

  gpuRows(): MinuteRow[] {
    return [...this.rows.values()].filter((r) => r.gpu !== undefined);
  }

  hostRows(): MinuteRow[] {
    return [...this.rows.values()].filter((r) => r.gpu === undefined);
  }
}

function fold(f: MetricFold | undefined, v: Values, ts: number, windowMs: number): MetricFold {
  if (!f) return { wsum: v.mean * windowMs, wms: windowMs, min: v.min, max: v.max, last: v.last, lastTs: ts };
  f.wsum += v.mean * windowMs;
  f.wms += windowMs;
  f.min = Math.min(f.min, v.min);
  f.max = Math.max(f.max, v.max);
  if (ts >= f.lastTs) {
    f.last = v.last;
    f.lastTs = ts;
  }
  return f;
}
