/**
 * The tables of the embedded store and how a stored item becomes rows.
 * Absent values are NULL, never 0. Every table carries (site, host, boot_id,
 * seq), the delivery key, so a row can always be traced to its message.
 */
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import type { Stat } from '../../protocol/payloads.js';
import type { DeliveryRow } from '../core/delivery.js';
import type { LedgerDelta } from '../core/ledger.js';
import type { MinuteRow } from '../core/rollup.js';
import { SERIES_METRICS } from '../core/series.js';
import type { WindowEnergyResult } from '../core/window-energy.js';
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
  const a = await conn.createAppender('delivery_staging', 'main', 'temp');
  for (const r of rows) {
    a.appendVarchar(r.site);
    a.appendVarchar(r.host);
    a.appendVarchar(r.stream);
    a.appendVarchar(r.bootId);
    a.appendBigInt(BigInt(r.watermark));
    a.appendVarchar(JSON.stringify(r.ranges));
    a.appendBigInt(BigInt(r.rejected));
    a.appendBigInt(BigInt(r.lost));
    a.appendVarchar(JSON.stringify(r.lostRanges));
    a.appendBigInt(BigInt(r.updatedMs));
    a.endRow();
  }
  a.closeSync();
  await conn.run('INSERT OR REPLACE INTO delivery_streams SELECT * FROM delivery_staging');
  await conn.run('DELETE FROM delivery_staging');
}

function appendNumber(a: DuckDBAppender, v: number | undefined): void {
  if (v === undefined) a.appendNull();
  else a.appendDouble(v);
}

/** One row per GPU; absent values are NULL, never 0. (Hot path: the window's own values are converted once.) */
/** `energies[i]` is the energy of `window.gpus[i]` (server/core/window-energy.ts). */
export function appendWindow(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'gpu' }>, energies: readonly WindowEnergyResult[]): number {
  const w = item.window;
  const { site, host } = item.key;
  const seq = BigInt(w.seq);
  const ts = BigInt(w.ts);
  const received = BigInt(item.receivedAt);
  for (let i = 0; i < w.gpus.length; i++) {
    const g = w.gpus[i]!;
    a.appendVarchar(site);
    a.appendVarchar(host);
    a.appendVarchar(w.boot_id);
    a.appendBigInt(seq);
    a.appendBigInt(ts);
    a.appendInteger(w.window_ms);
    a.appendVarchar(g.id);
    appendStat(a, g.power_w);
    appendNumber(a, g.energy_mj);
    appendNumber(a, g.window_energy_mj);
    appendNumber(a, g.util_pct?.mean);
    appendNumber(a, g.mem_used_mib?.mean);
    appendNumber(a, g.temp_c?.max);
    appendNumber(a, g.sm_clock_mhz?.mean);
    appendNumber(a, g.power_limit_w);
    a.appendBigInt(received);
    const e = energies[i]!;
    appendNumber(a, e.energy_j);
    if (e.from === undefined) a.appendNull();
    else a.appendVarchar(e.from);
    a.endRow();
  }
  return w.gpus.length;
}

/** The window's host total, when the collector measured one. */
export function appendHostWindow(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'gpu' }>): number {
  const w = item.window;
  if (!w.host_power_w) return 0;
  a.appendVarchar(item.key.site);
  a.appendVarchar(item.key.host);
  a.appendVarchar(w.boot_id);
  a.appendBigInt(BigInt(w.seq));
  a.appendBigInt(BigInt(w.ts));
  a.appendInteger(w.window_ms);
  appendStat(a, w.host_power_w);
  a.appendBigInt(BigInt(item.receivedAt));
  a.endRow();
  return 1;
}

/** One minute row (whole or partial), in the column order of duckdb-schema.ts's rollup tables. */
export function appendMinuteRow(a: DuckDBAppender, r: MinuteRow): void {
  a.appendVarchar(r.site);
  a.appendVarchar(r.host);
  if (r.gpu !== undefined) a.appendVarchar(r.gpu);
  a.appendBigInt(BigInt(r.minute));
  a.appendBigInt(BigInt(r.covered_ms));
  a.appendInteger(r.windows);
  appendNumber(a, r.energy_j);
  for (const m of SERIES_METRICS) {
    const f = r.metrics[m];
    if (!f) {
      for (let i = 0; i < 6; i++) a.appendNull();
      continue;
    }
    a.appendDouble(f.wsum);
    a.appendBigInt(BigInt(f.wms));
    a.appendDouble(f.min);
    a.appendDouble(f.max);
    a.appendDouble(f.last);
    a.appendBigInt(BigInt(f.lastTs));
  }
  a.endRow();
}

export function appendJobEvent(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'job' }>): number {
  const e = item.event;
  const optional = (v: string | undefined) => (v === undefined ? a.appendNull() : a.appendVarchar(v));
  a.appendVarchar(item.key.site);
  a.appendVarchar(item.key.host);
  a.appendVarchar(e.boot_id);
  a.appendBigInt(BigInt(e.seq));
  a.appendBigInt(BigInt(e.ts));
  a.appendVarchar(e.event);
  a.appendVarchar(e.job);
  optional(e.user);
  optional(e.project);
  optional(e.partition);
  a.appendVarchar(JSON.stringify(e.gpus));
  optional(e.labels && JSON.stringify(e.labels));
  a.appendBigInt(BigInt(item.receivedAt));
  a.endRow();
  return 1;
}

function appendStat(a: DuckDBAppender, s: Stat | undefined): void {
  if (!s) {
    for (let i = 0; i < 5; i++) a.appendNull();
    return;
  }
  a.appendInteger(s.n);
  a.appendDouble(s.min);
  a.appendDouble(s.max);
  a.appendDouble(s.mean);
  a.appendDouble(s.last);
}

export function appendMeterWindow(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'meter' }>): number {
  const w = item.window;
  a.appendVarchar(item.key.site);
  a.appendVarchar(item.key.host);
  a.appendVarchar(item.meter);
  a.appendVarchar(w.boot_id);
  a.appendBigInt(BigInt(w.seq));
  a.appendBigInt(BigInt(w.ts));
  a.appendInteger(w.window_ms);
  appendStat(a, w.power_w);
  appendNumber(a, w.energy_import_wh);
  appendNumber(a, w.energy_export_wh);
  appendNumber(a, w.voltage_v?.mean);
  appendNumber(a, w.current_a?.mean);
  appendNumber(a, w.pf?.mean);
  a.appendBigInt(BigInt(item.receivedAt));
  a.endRow();
  return 1;
}

export function appendLedgerDelta(a: DuckDBAppender, d: LedgerDelta): void {
  a.appendBigInt(BigInt(d.t));
  a.appendVarchar(d.category);
  a.appendVarchar(d.job);
  a.appendVarchar(d.site);
  a.appendVarchar(d.host);
  a.appendVarchar(d.gpu);
  a.appendDouble(d.energy_j);
  a.appendDouble(d.allocated_idle_j);
  a.appendBigInt(BigInt(Math.round(d.gpu_ms)));
  a.appendBigInt(BigInt(Math.round(d.allocated_idle_ms)));
  a.appendDouble(d.counter_j);
  a.appendDouble(d.util_ms);
  a.appendBigInt(BigInt(Math.round(d.util_known_ms)));
  appendNumber(a, d.power_max_w ?? undefined);
  a.appendBigInt(BigInt(Math.round(d.window_ms)));
  a.endRow();
}

export function appendWorkReport(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'work' }>): number {
  a.appendVarchar(item.key.site);
  a.appendVarchar(item.key.host);
  a.appendVarchar(item.job);
  a.appendBigInt(BigInt(item.report.ts));
  a.appendVarchar(JSON.stringify(item.report.totals));
  a.appendBigInt(BigInt(item.receivedAt));
  a.endRow();
  return 1;
}

export function appendAlertEntry(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'alert' }>): number {
  a.appendBigInt(BigInt(item.entry.ts));
  a.appendVarchar(item.entry.kind);
  a.appendVarchar(item.entry.key);
  a.appendVarchar(JSON.stringify(item.entry.data));
  if (item.entry.actor === undefined) a.appendNull();
  else a.appendVarchar(item.entry.actor);
  a.endRow();
  return 1;
}
