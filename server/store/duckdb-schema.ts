/**
 * The DuckDB file's schema, versioned. `migrate` runs at start: each step
 * runs once, in order, in its own transaction, and records its version, so
 * a file written by an older kilowatch is brought up to date and a file
 * from a newer one is refused rather than misread.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { SERIES_METRICS } from '../core/series.js';
import { OperatorError } from '../operator-error.js';
import { GPU_ROLLUP_TABLE, HOST_ROLLUP_TABLE } from './duckdb-rollup-sql.js';
import { DELIVERY_DDL, GPU_WINDOWS_DDL, JOB_EVENTS_DDL, METER_WINDOWS_DDL } from './duckdb-tables.js';

/** Per metric: window-weighted sum of means and its weight, min, max, and the last value with its time. */
const METRIC_COLUMNS = SERIES_METRICS.map((m) => `${m}_wsum DOUBLE, ${m}_wms BIGINT, ${m}_min DOUBLE, ${m}_max DOUBLE, ${m}_last DOUBLE, ${m}_last_ts BIGINT`).join(',\n  ');

function rollupDdl(table: string, gpu: boolean): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  site VARCHAR NOT NULL, host VARCHAR NOT NULL,${gpu ? ' gpu_id VARCHAR NOT NULL,' : ''} minute_ms BIGINT NOT NULL,
  covered_ms BIGINT NOT NULL, windows INTEGER NOT NULL, energy_j DOUBLE,
  ${METRIC_COLUMNS},
  PRIMARY KEY (site, host,${gpu ? ' gpu_id,' : ''} minute_ms)
)`;
}

/** The host total of each GPU window (`host_power_w`), measured per sample at the edge: its max is the true host peak. */
const HOST_WINDOWS_DDL = `
CREATE TABLE IF NOT EXISTS host_windows (
  site VARCHAR NOT NULL, host VARCHAR NOT NULL, boot_id VARCHAR NOT NULL, seq BIGINT NOT NULL,
  ts_ms BIGINT NOT NULL, window_ms INTEGER NOT NULL, samples INTEGER,
  power_min_w DOUBLE, power_max_w DOUBLE, power_mean_w DOUBLE, power_last_w DOUBLE, received_ms BIGINT NOT NULL
)`;

/** v3 rebuilds a rollup table without its key: minutes are appended as rows that merge on reading. */
function withoutKey(table: string): string[] {
  return [`CREATE TABLE ${table}_v3 AS SELECT * FROM ${table}`, `DROP TABLE ${table}`, `ALTER TABLE ${table}_v3 RENAME TO ${table}`];
}

/** Index = version - 1. Never edit a released step: add one. */
const MIGRATIONS: readonly (readonly string[])[] = [
  // 1: the raw tables of the first releases (they may already exist in files that predate versioning).
  [GPU_WINDOWS_DDL, METER_WINDOWS_DDL, JOB_EVENTS_DDL, DELIVERY_DDL],
  // 2: per-window energy (server/core/window-energy.ts), host totals, one-minute rollups.
  [
    'ALTER TABLE gpu_windows ADD COLUMN IF NOT EXISTS energy_j DOUBLE',
    'ALTER TABLE gpu_windows ADD COLUMN IF NOT EXISTS energy_from VARCHAR',
    HOST_WINDOWS_DDL,
    rollupDdl(GPU_ROLLUP_TABLE, true),
    rollupDdl(HOST_ROLLUP_TABLE, false),
  ],
  // 3: rollups appended once per settled minute (and as partial rows for late windows) instead of updated in
  // place, which halved the write rate; the watermark says which minutes are stored and which are still open.
  [
    ...withoutKey(GPU_ROLLUP_TABLE),
    ...withoutKey(HOST_ROLLUP_TABLE),
    'CREATE TABLE rollup_state (watermark_ms BIGINT NOT NULL)',
    `INSERT INTO rollup_state SELECT coalesce(max(minute_ms) + 60000, 0) FROM ${GPU_ROLLUP_TABLE}`,
  ],
  // 4: the energy ledger (server/core/ledger.ts): deltas per batch, committed with the windows they come from.
  [
    `CREATE TABLE energy_ledger (
      t_ms BIGINT NOT NULL, category VARCHAR NOT NULL, job VARCHAR NOT NULL, site VARCHAR NOT NULL, host VARCHAR NOT NULL, gpu_id VARCHAR NOT NULL,
      energy_j DOUBLE NOT NULL, allocated_idle_j DOUBLE NOT NULL, gpu_ms BIGINT NOT NULL, allocated_idle_ms BIGINT NOT NULL, counter_j DOUBLE NOT NULL
    )`,
    // Cumulative work totals reported by applications (topic work/<job>), JSON name -> count.
    `CREATE TABLE work_reports (site VARCHAR NOT NULL, host VARCHAR NOT NULL, job VARCHAR NOT NULL, ts_ms BIGINT NOT NULL, totals VARCHAR NOT NULL, received_ms BIGINT NOT NULL)`,
  ],
  // 5: what a job's mean utilization and peak power are read from.
  [
    'ALTER TABLE energy_ledger ADD COLUMN util_ms DOUBLE DEFAULT 0',
    'ALTER TABLE energy_ledger ADD COLUMN util_known_ms BIGINT DEFAULT 0',
    'ALTER TABLE energy_ledger ADD COLUMN power_max_w DOUBLE',
  ],
  // 6: the window time behind each GPU's energy, so a group's energy states its coverage.
  ['ALTER TABLE energy_ledger ADD COLUMN window_ms BIGINT DEFAULT 0'],
  // 7: the alert log (server/alerts/): transitions, acknowledgements, silences and API rules, appended.
  ['CREATE TABLE alert_log (ts_ms BIGINT NOT NULL, kind VARCHAR NOT NULL, key VARCHAR NOT NULL, data VARCHAR NOT NULL)'],
  // 8: who did it, for the audit log (operator actions, token changes, config reloads).
  ['ALTER TABLE alert_log ADD COLUMN actor VARCHAR'],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file to SCHEMA_VERSION; returns the version it found. */
export async function migrate(conn: DuckDBConnection): Promise<number> {
  await conn.run('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_ms BIGINT NOT NULL)');
  const rows = (await conn.runAndReadAll('SELECT max(version) AS v FROM schema_version')).getRowObjectsJS();
  const found = rows[0]?.v === null || rows[0]?.v === undefined ? 0 : Number(rows[0].v);
  if (found > SCHEMA_VERSION) {
    throw new OperatorError(`the DuckDB file has schema version ${found}, newer than this kilowatch understands (${SCHEMA_VERSION}); use a newer kilowatch or restore a backup`);
  }
  for (let v = found + 1; v <= SCHEMA_VERSION; v++) {
    await conn.run('BEGIN TRANSACTION');
    try {
      for (const sql of MIGRATIONS[v - 1]!) await conn.run(sql);
      await conn.run(`INSERT INTO schema_version VALUES (${v}, ${Date.now()})`);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw new Error(`schema migration to version ${v} failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return found;
}
