/**
 * One-minute rollups, folded from windows as they are written (issue:
 * "1-minute rollups maintained by kilowatch itself"). Pure.
 *
 * A minute row holds, per metric, the window-weighted sum of means (so means
 * of any longer bucket stay exact), min, max and last, plus the covered time
 * and the energy. Rows merge without loss (sums add, min and max widen, the
 * later last wins), so a minute may be stored as several partial rows and
 * the reader merges them: a late window reopens its minute by adding one.
 *
 * Updating stored rows in place costs DuckDB far more than appending (a
 * columnar update per batch halved the store's write rate), so the store
 * keeps the open minutes in a MinuteRows and appends each minute once it
 * has settled (server/store/duckdb-rollups.ts).
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

/**
 * Folds one metric value of one window. Only power keeps its full Stat in
 * storage; the other metrics are stored as one value per window
 * (utilization, memory and clock as means, temperature as the window's
 * max), so their min, max and last are over those values.
 */
function fold(row: MinuteRow, m: SeriesMetric, mean: number, min: number, max: number, last: number, ts: number, windowMs: number): void {
  const f = row.metrics[m];
  if (!f) {
    row.metrics[m] = { wsum: mean * windowMs, wms: windowMs, min, max, last, lastTs: ts };
    return;
  }
  f.wsum += mean * windowMs;
  f.wms += windowMs;
  if (min < f.min) f.min = min;
  if (max > f.max) f.max = max;
  if (ts >= f.lastTs) {
    f.last = last;
    f.lastTs = ts;
  }
}

function foldOne(row: MinuteRow, m: SeriesMetric, v: number | undefined, ts: number, windowMs: number): void {
  if (v !== undefined) fold(row, m, v, v, v, v, ts, windowMs);
}

function foldStat(row: MinuteRow, m: SeriesMetric, s: Stat | undefined, ts: number, windowMs: number): void {
  if (s) fold(row, m, s.mean, s.min, s.max, s.last, ts, windowMs);
}

/**
 * Minute rows keyed by member and minute: the open minutes of the store,
 * and the partial rows of late windows. The hot path of every write, so it
 * folds straight from the readings without intermediate objects.
 */
export class MinuteRows {
  private readonly rows = new Map<string, MinuteRow>();
  /**
   * The latest row of each member, by site, host and GPU ('' and a host row
   * apart): a member's windows mostly fall in the minute of its previous
   * one, found without building the row's key. Dropped whenever rows leave.
   */
  private readonly latest = new Map<string, Map<string, { gpus: Map<string, MinuteRow>; host?: MinuteRow }>>();

  private row(site: string, host: string, gpu: string | undefined, ts: number): MinuteRow {
    const minute = ts - (ts % ROLLUP_MS);
    let hosts = this.latest.get(site);
    if (!hosts) this.latest.set(site, (hosts = new Map()));
    let member = hosts.get(host);
    if (!member) hosts.set(host, (member = { gpus: new Map() }));
    const cached = gpu === undefined ? member.host : member.gpus.get(gpu);
    if (cached !== undefined && cached.minute === minute) return cached;
    const key = rowKey({ site, host, gpu, minute });
    let row = this.rows.get(key);
    if (!row) {
      row = { site, host, minute, covered_ms: 0, windows: 0, metrics: {} };
      if (gpu !== undefined) row.gpu = gpu;
      this.rows.set(key, row);
    }
    if (gpu === undefined) member.host = row;
    else member.gpus.set(gpu, row);
    return row;
  }

  /** One GPU's reading in one window, with its energy (server/core/window-energy.ts). */
  addGpu(site: string, host: string, g: GpuReading, ts: number, windowMs: number, energyJ: number | undefined): void {
    const row = this.row(site, host, g.id, ts);
    row.covered_ms += windowMs;
    row.windows += 1;
    if (energyJ !== undefined) row.energy_j = (row.energy_j ?? 0) + energyJ;
    foldStat(row, 'power_w', g.power_w, ts, windowMs);
    foldOne(row, 'util_pct', g.util_pct?.mean, ts, windowMs);
    foldOne(row, 'mem_used_mib', g.mem_used_mib?.mean, ts, windowMs);
    foldOne(row, 'temp_c', g.temp_c?.max, ts, windowMs);
    foldOne(row, 'sm_clock_mhz', g.sm_clock_mhz?.mean, ts, windowMs);
  }

  /** A host's total power in one window, measured per sample at the edge. */
  addHost(site: string, host: string, power: Stat, ts: number, windowMs: number): void {
    const row = this.row(site, host, undefined, ts);
    row.covered_ms += windowMs;
    row.windows += 1;
    foldStat(row, 'power_w', power, ts, windowMs);
  }

  /** Merges rows read back from storage (open minutes rebuilt at start). */
  merge(rows: readonly MinuteRow[]): void {
    for (const r of rows) {
      const k = rowKey(r);
      const have = this.rows.get(k);
      if (have) mergeRows(have, r);
      else this.rows.set(k, r);
    }
  }

  /** Removes and returns the minutes that start before `minute` (all of them when omitted). */
  take(before = Number.MAX_SAFE_INTEGER): MinuteRow[] {
    const out: MinuteRow[] = [];
    for (const [k, r] of this.rows) {
      if (r.minute < before) {
        out.push(r);
        this.rows.delete(k);
      }
    }
    if (out.length > 0) this.latest.clear();
    return out;
  }

  clear(): void {
    this.rows.clear();
    this.latest.clear();
  }

  get size(): number {
    return this.rows.size;
  }
}

export function rowKey(r: Pick<MinuteRow, 'site' | 'host' | 'gpu' | 'minute'>): string {
  return `${r.site}\u0000${r.host}\u0000${r.gpu ?? ''}\u0000${r.gpu === undefined ? 'h' : 'g'}\u0000${r.minute}`;
}

/** Merges `b` into `a` (same member and minute). */
export function mergeRows(a: MinuteRow, b: MinuteRow): MinuteRow {
  a.covered_ms += b.covered_ms;
  a.windows += b.windows;
  if (b.energy_j !== undefined) a.energy_j = (a.energy_j ?? 0) + b.energy_j;
  for (const m of SERIES_METRICS) {
    const x = a.metrics[m];
    const y = b.metrics[m];
    if (!y) continue;
    if (!x) {
      a.metrics[m] = { ...y };
      continue;
    }
    x.wsum += y.wsum;
    x.wms += y.wms;
    x.min = Math.min(x.min, y.min);
    x.max = Math.max(x.max, y.max);
    if (y.lastTs >= x.lastTs) {
      x.last = y.last;
      x.lastTs = y.lastTs;
    }
  }
  return a;
}
