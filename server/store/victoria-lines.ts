/**
 * What a GPU window becomes in VictoriaMetrics: InfluxDB line protocol, one
 * line per GPU (measurement `kw_gpu`) and one for the host total
 * (`kw_host`), which VictoriaMetrics turns into one series per field named
 * `<measurement>_<field>` with labels site, host (and gpu). Pure.
 *
 * - Samples are stamped at the window END (ts + window_ms): a Prometheus
 *   range query looks back from its evaluation time, so a window whose end
 *   lies in (t, t+step] is read by the bucket labelled t.
 * - The fields are the values DuckDB stores per window (duckdb-history.ts):
 *   power keeps its Stat, utilization, memory and clock their mean,
 *   temperature its max; so both engines answer from the same numbers.
 * - `energy_j` is the window's energy from WindowEnergy, computed once when
 *   the window is accepted, so a bucket's energy is a plain sum and equals
 *   DuckDB's; `energy_mj` is the raw NVML counter, kept for restarts (seed)
 *   and for Grafana's increase().
 * - `window_ms` is written for every window: it is the coverage, and it
 *   tells a reader where the window started.
 * - Absent values are absent fields, never 0; non-finite numbers are never
 *   written (the protocol validator rejects them anyway).
 */
import type { GpuReading, GpuWindow } from '../../protocol/payloads.js';
import type { SeriesMetric } from '../core/series.js';
import type { WindowEnergyResult } from '../core/window-energy.js';

export const GPU_MEASUREMENT = 'kw_gpu';
export const HOST_MEASUREMENT = 'kw_host';

/** The stored field behind each aggregate of a metric, as in DuckDB's raw columns. */
export const METRIC_FIELDS: Record<SeriesMetric, { mean: string; min: string; max: string; last: string }> = {
  power_w: { mean: 'power_mean_w', min: 'power_min_w', max: 'power_max_w', last: 'power_last_w' },
  util_pct: one('util_mean_pct'),
  mem_used_mib: one('mem_used_mean_mib'),
  temp_c: one('temp_max_c'),
  sm_clock_mhz: one('sm_clock_mean_mhz'),
};

function one(field: string) {
  return { mean: field, min: field, max: field, last: field };
}

/** The series name VictoriaMetrics gives a field (its default `-influxMeasurementFieldSeparator` is `_`). */
export function seriesName(measurement: string, field: string): string {
  return `${measurement}_${field}`;
}

/**
 * Tag values escaped for line protocol. Backslash is escaped too, because a
 * name ending in `\` would otherwise swallow the separator after it
 * (VictoriaMetrics unescapes `\\` to `\`).
 */
export function escapeTag(v: string): string {
  return v.replace(/[\\,= ]/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

function fields(pairs: [string, number | undefined][]): string {
  let out = '';
  for (const [k, v] of pairs) {
    if (v === undefined || !Number.isFinite(v)) continue;
    out += `${out ? ',' : ''}${k}=${v}`;
  }
  return out;
}

function gpuFields(g: GpuReading, windowMs: number, energy: WindowEnergyResult): string {
  return fields([
    ['power_mean_w', g.power_w?.mean],
    ['power_min_w', g.power_w?.min],
    ['power_max_w', g.power_w?.max],
    ['power_last_w', g.power_w?.last],
    ['energy_j', energy.energy_j],
    ['energy_mj', g.energy_mj],
    ['util_mean_pct', g.util_pct?.mean],
    ['mem_used_mean_mib', g.mem_used_mib?.mean],
    ['temp_max_c', g.temp_c?.max],
    ['sm_clock_mean_mhz', g.sm_clock_mhz?.mean],
    ['window_ms', windowMs],
  ]);
}

/** The lines of one window: one per GPU, then the host total when the edge measured it. */
export function windowLines(site: string, host: string, w: GpuWindow, energies: readonly WindowEnergyResult[]): string[] {
  const stamp = w.ts + w.window_ms;
  const tags = `site=${escapeTag(site)},host=${escapeTag(host)}`;
  const out = w.gpus.map((g, i) => `${GPU_MEASUREMENT},${tags},gpu=${escapeTag(g.id)} ${gpuFields(g, w.window_ms, energies[i] ?? {})} ${stamp}`);
  const h = w.host_power_w;
  if (h) {
    const f = fields([['power_mean_w', h.mean], ['power_min_w', h.min], ['power_max_w', h.max], ['power_last_w', h.last], ['window_ms', w.window_ms]]);
    out.push(`${HOST_MEASUREMENT},${tags} ${f} ${stamp}`);
  }
  return out;
}
