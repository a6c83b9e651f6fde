/**
 * SQL shared by the rollup writer and the reader: how raw windows become
 * minute rows with the rollup tables' columns, and how the rollup view of
 * any range reads stored minutes below the watermark and raw windows above
 * it (the open minutes the store still holds in memory).
 */
import type { MetricFold, MinuteRow } from '../core/rollup.js';
import { SERIES_METRICS, type SeriesMetric } from '../core/series.js';

export const GPU_ROLLUP_TABLE = 'gpu_rollup_1m';
export const HOST_ROLLUP_TABLE = 'host_rollup_1m';
export const WATERMARK = '(SELECT watermark_ms FROM rollup_state)';

/** The raw columns of a metric: power keeps its Stat; the others store one value per window. */
export const RAW_COLUMNS: Record<SeriesMetric, { mean: string; min: string; max: string; last: string }> = {
  power_w: { mean: 'power_mean_w', min: 'power_min_w', max: 'power_max_w', last: 'power_last_w' },
  util_pct: one('util_mean_pct'),
  mem_used_mib: one('mem_used_mean_mib'),
  temp_c: one('temp_max_c'),
  sm_clock_mhz: one('sm_clock_mean_mhz'),
};

function one(c: string) {
  return { mean: c, min: c, max: c, last: c };
}

/**
 * Raw windows grouped into minute rows, column for column as the rollup
 * tables (host rows have power only). `where` filters the raw rows.
 */
export function rawMinutesSql(gpu: boolean, where: string): string {
  const metrics = SERIES_METRICS.map((m) => {
    const c = gpu || m === 'power_w' ? RAW_COLUMNS[m] : undefined;
    const parts: [string, string][] = c
      ? [
          ['wsum', `sum(${c.mean} * window_ms)`],
          ['wms', `sum(CASE WHEN ${c.mean} IS NOT NULL THEN window_ms END)`],
          ['min', `min(${c.min})`],
          ['max', `max(${c.max})`],
          ['last', `arg_max(${c.last}, ts_ms) FILTER (WHERE ${c.last} IS NOT NULL)`],
          ['last_ts', `max(ts_ms) FILTER (WHERE ${c.last} IS NOT NULL)`],
        ]
      : [['wsum', 'NULL::DOUBLE'], ['wms', 'NULL::BIGINT'], ['min', 'NULL::DOUBLE'], ['max', 'NULL::DOUBLE'], ['last', 'NULL::DOUBLE'], ['last_ts', 'NULL::BIGINT']];
    return parts.map(([name, sql]) => `${sql} AS ${m}_${name}`).join(', ');
  });
  const keys = gpu ? 'site, host, gpu_id' : 'site, host';
  return `SELECT ${keys}, (ts_ms // 60000) * 60000 AS minute_ms, sum(window_ms) AS covered_ms, count(*)::INTEGER AS windows,
    ${gpu ? 'sum(energy_j)' : 'NULL::DOUBLE'} AS energy_j, ${metrics.join(',\n    ')}
    FROM ${gpu ? 'gpu_windows' : 'host_windows'} WHERE ${where} GROUP BY ${keys}, minute_ms`;
}

/** Every minute of a table's members: stored rows below the watermark, raw windows at and above it. */
export function rollupViewSql(gpu: boolean): string {
  const table = gpu ? GPU_ROLLUP_TABLE : HOST_ROLLUP_TABLE;
  return `(SELECT * FROM ${table} WHERE minute_ms < ${WATERMARK} UNION ALL BY NAME ${rawMinutesSql(gpu, `ts_ms >= ${WATERMARK}`).replace(/\n\s*/g, ' ')})`;
}

/** A minute row read back from SQL (the open minutes loaded at start). */
export function minuteRowFromSql(r: Record<string, unknown>, gpu: boolean): MinuteRow {
  const row: MinuteRow = {
    site: r.site as string,
    host: r.host as string,
    ...(gpu && { gpu: r.gpu_id as string }),
    minute: Number(r.minute_ms),
    covered_ms: Number(r.covered_ms),
    windows: Number(r.windows),
    metrics: {},
  };
  if (r.energy_j !== null && r.energy_j !== undefined) row.energy_j = Number(r.energy_j);
  for (const m of SERIES_METRICS) {
    if (r[`${m}_wms`] === null || r[`${m}_wms`] === undefined) continue;
    const f: MetricFold = {
      wsum: Number(r[`${m}_wsum`]),
      wms: Number(r[`${m}_wms`]),
      min: Number(r[`${m}_min`]),
      max: Number(r[`${m}_max`]),
      last: Number(r[`${m}_last`]),
      lastTs: Number(r[`${m}_last_ts`]),
    };
    row.metrics[m] = f;
  }
  return row;
}
