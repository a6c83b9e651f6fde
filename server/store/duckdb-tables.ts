/**
 * The tables of the embedded store and how a stored item becomes rows.
 * Absent values are NULL, never 0. Every table carries (site, host, boot_id,
 * seq), the delivery key, so a row can always be traced to its message.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Stat } from '../../protocol/payloads.js';
import type { DeliveryRow } from '../core/delivery.js';
import type { LedgerDelta } from '../core/ledger.js';
import type { MinuteRow } from '../core/rollup.js';
import { SERIES_METRICS } from '../core/series.js';
import type { WindowEnergyResult } from '../core/window-energy.js';
import { ChunkWriter } from './duckdb-chunks.js';
import type { StoredItem } from './store.js';

export const GPU_WINDOWS_DDL = `
CREATE TABLE IF NOT EXISTS gpu_windows (
  site VARCHAR NOT NULL, host VARCHAR NOT NULL, boot_id VARCHAR NOT NULL, seq BIGINT NOT NULL,
  ts_ms BIGINT NOT NULL, window_ms INTEGER NOT NULL, gpu_id VARCHAR NOT NULL, samples INTEGER,
  power_min_w DOUBLE, power_max_w DOUBLE, power_mean_w DOUBLE, power_last_w DOUBLE,
  energy_mj DOUBLE, window_energy_mj DOUBLE,
  util_mean_pct DOUBLE, mem_used_mean_mib DOUBLE, temp_max_c DOUBLE, sm_clock_mean_mhz DOUBLE,
  power_limit_w DOUBLE, received_ms BIGINT NOT NULL
)`;

export const JOB_EVENTS_DDL = `
CREATE TABLE IF NOT EXISTS job_events (
  site VARCHAR NOT NULL, host VARCHAR NOT NULL, boot_id VARCHAR NOT NULL, seq BIGINT NOT NULL, ts_ms BIGINT NOT NULL,
  event VARCHAR NOT NULL, job VARCHAR NOT NULL, user_name VARCHAR, project VARCHAR, partition_name VARCHAR,
  gpus VARCHAR NOT NULL, labels VARCHAR, received_ms BIGINT NOT NULL
)`;

/** One row per (site, host, stream, boot_id): the settled seqs as a watermark and ranges (JSON). Small, so a key is cheap. */
export const DELIVERY_DDL = `
CREATE TABLE IF NOT EXISTS delivery_streams (
  site VARCHAR NOT NULL, host VARCHAR NOT NULL, stream VARCHAR NOT NULL, boot_id VARCHAR NOT NULL,
  watermark BIGINT NOT NULL, ranges VARCHAR NOT NULL, rejected BIGINT NOT NULL, lost BIGINT NOT NULL,
  lost_ranges VARCHAR NOT NULL, updated_ms BIGINT NOT NULL,
  PRIMARY KEY (site, host, stream, boot_id)
)`;
export const STAGING_DDL = `CREATE TEMP TABLE delivery_staging AS SELECT * FROM delivery_streams LIMIT 0`;

/** One row per meter window; power, current and the counters as the meter reported them (power signed). */
export const METER_WINDOWS_DDL = `
CREATE TABLE IF NOT EXISTS meter_windows (
  site VARCHAR NOT NULL, host VARCHAR NOT NULL, meter VARCHAR NOT NULL, boot_id VARCHAR NOT NULL, seq BIGINT NOT NULL,
  ts_ms BIGINT NOT NULL, window_ms INTEGER NOT NULL, samples INTEGER,
  power_min_w DOUBLE, power_max_w DOUBLE, power_mean_w DOUBLE, power_last_w DOUBLE,
  energy_import_wh DOUBLE, energy_export_wh DOUBLE,
  voltage_mean_v DOUBLE, current_mean_a DOUBLE, pf_mean DOUBLE, received_ms BIGINT NOT NULL
)`;

/** Per connection (TEMP): where a batch's delivery rows wait for their merge. */
export const STAGING_TABLES = [STAGING_DDL];

/** Windows and their delivery state commit together: stage the rows, then replace by key. */
export async function upsertDelivery(conn: DuckDBConnection, rows: readonly DeliveryRow[]): Promise<void> {
  const w = await ChunkWriter.open(conn, 'delivery_staging', 'main', 'temp');
  for (const r of rows) {
    w.varchar(r.site).varchar(r.host).varchar(r.stream).varchar(r.bootId);
    w.bigint(r.watermark).varchar(JSON.stringify(r.ranges)).bigint(r.rejected).bigint(r.lost).varchar(JSON.stringify(r.lostRanges)).bigint(r.updatedMs);
    w.endRow();
  }
  w.close();
  await conn.run('INSERT OR REPLACE INTO delivery_streams SELECT * FROM delivery_staging');
  await conn.run('DELETE FROM delivery_staging');
}

/** The five columns of a Stat (samples, min, max, mean, last), all NULL when it is absent. */
function stat(w: ChunkWriter, s: Stat | undefined): void {
  if (!s) w.nulls(5);
  else w.integer(s.n).double(s.min).double(s.max).double(s.mean).double(s.last);
}

/** One row per GPU; absent values are NULL, never 0. `energies[i]` is the energy of `window.gpus[i]` (server/core/window-energy.ts). */
export function appendWindow(w: ChunkWriter, item: Extract<StoredItem, { kind: 'gpu' }>, energies: readonly WindowEnergyResult[]): number {
  const win = item.window;
  const { site, host } = item.key;
  for (let i = 0; i < win.gpus.length; i++) {
    const g = win.gpus[i]!;
    const e = energies[i]!;
    w.varchar(site).varchar(host).varchar(win.boot_id).bigint(win.seq).bigint(win.ts).integer(win.window_ms).varchar(g.id);
    stat(w, g.power_w);
    w.double(g.energy_mj).double(g.window_energy_mj);
    w.double(g.util_pct?.mean).double(g.mem_used_mib?.mean).double(g.temp_c?.max).double(g.sm_clock_mhz?.mean).double(g.power_limit_w);
    w.bigint(item.receivedAt).double(e.energy_j).varchar(e.from);
    w.endRow();
  }
  return win.gpus.length;
}

/** The window's host total, when the collector measured one. */
export function appendHostWindow(w: ChunkWriter, item: Extract<StoredItem, { kind: 'gpu' }>): number {
  const win = item.window;
  if (!win.host_power_w) return 0;
  w.varchar(item.key.site).varchar(item.key.host).varchar(win.boot_id).bigint(win.seq).bigint(win.ts).integer(win.window_ms);
  stat(w, win.host_power_w);
  w.bigint(item.receivedAt).endRow();
  return 1;
}

/** One minute row (whole or partial), in the column order of duckdb-schema.ts's rollup tables. */
export function appendMinuteRow(w: ChunkWriter, r: MinuteRow): void {
  w.varchar(r.site).varchar(r.host);
  if (r.gpu !== undefined) w.varchar(r.gpu);
  w.bigint(r.minute).bigint(r.covered_ms).integer(r.windows).double(r.energy_j);
  for (const m of SERIES_METRICS) {
    const f = r.metrics[m];
    if (!f) w.nulls(6);
    else w.double(f.wsum).bigint(f.wms).double(f.min).double(f.max).double(f.last).bigint(f.lastTs);
  }
  w.endRow();
}

export function appendJobEvent(w: ChunkWriter, item: Extract<StoredItem, { kind: 'job' }>): number {
  const e = item.event;
  w.varchar(item.key.site).varchar(item.key.host).varchar(e.boot_id).bigint(e.seq).bigint(e.ts);
  w.varchar(e.event).varchar(e.job).varchar(e.user).varchar(e.project).varchar(e.partition);
  w.varchar(JSON.stringify(e.gpus)).varchar(e.labels && JSON.stringify(e.labels)).bigint(item.receivedAt);
  w.endRow();
  return 1;
}

export function appendMeterWindow(w: ChunkWriter, item: Extract<StoredItem, { kind: 'meter' }>): number {
  const win = item.window;
  w.varchar(item.key.site).varchar(item.key.host).varchar(item.meter).varchar(win.boot_id).bigint(win.seq).bigint(win.ts).integer(win.window_ms);
  stat(w, win.power_w);
  w.double(win.energy_import_wh).double(win.energy_export_wh).double(win.voltage_v?.mean).double(win.current_a?.mean).double(win.pf?.mean);
  w.bigint(item.receivedAt).endRow();
  return 1;
}

export function appendLedgerDelta(w: ChunkWriter, d: LedgerDelta): void {
  w.bigint(d.t).varchar(d.category).varchar(d.job).varchar(d.site).varchar(d.host).varchar(d.gpu);
  w.double(d.energy_j).double(d.allocated_idle_j).bigint(Math.round(d.gpu_ms)).bigint(Math.round(d.allocated_idle_ms)).double(d.counter_j);
  w.double(d.util_ms).bigint(Math.round(d.util_known_ms)).double(d.power_max_w).bigint(Math.round(d.window_ms));
  w.endRow();
}

export function appendWorkReport(w: ChunkWriter, item: Extract<StoredItem, { kind: 'work' }>): number {
  w.varchar(item.key.site).varchar(item.key.host).varchar(item.job).bigint(item.report.ts).varchar(JSON.stringify(item.report.totals)).bigint(item.receivedAt);
  w.endRow();
  return 1;
}

export function appendAlertEntry(w: ChunkWriter, item: Extract<StoredItem, { kind: 'alert' }>): number {
  const e = item.entry;
  w.bigint(e.ts).varchar(e.kind).varchar(e.key).varchar(JSON.stringify(e.data)).varchar(e.actor);
  w.endRow();
  return 1;
}
