/**
 * What one batch becomes inside the store's open transaction: raw rows for
 * every table, the energy of each GPU window, and the partial minutes merged
 * into the rollups. The caller commits or rolls back, and tells the energy
 * state which (a rolled-back batch is retried and must not read as late).
 */
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { RollupBatch, type MinuteRow, statValues, windowValues } from '../core/rollup.js';
import type { WindowEnergy, WindowEnergyResult } from '../core/window-energy.js';
import { GPU_ROLLUP_TABLE, HOST_ROLLUP_TABLE } from './duckdb-schema.js';
import { appendHostWindow, appendJobEvent, appendMeterWindow, appendMinuteRow, appendWindow, rollupUpsertSql } from './duckdb-tables.js';
import { type StoredItem, memberName } from './store.js';

type GpuItem = Extract<StoredItem, { kind: 'gpu' }>;

/** The energy of every GPU of a window, in the order of window.gpus. */
export function windowEnergies(item: GpuItem, energy: WindowEnergy): WindowEnergyResult[] {
  const { site, host } = item.key;
  const w = item.window;
  return w.gpus.map((g) => {
    const input = { key: memberName(site, host, g.id), ts: w.ts, window_ms: w.window_ms };
    return energy.of({
      ...input,
      ...(g.energy_mj !== undefined && { energy_mj: g.energy_mj }),
      ...(g.window_energy_mj !== undefined && { window_energy_mj: g.window_energy_mj }),
      ...(g.power_w && { power_mean_w: g.power_w.mean }),
    });
  });
}

/** Appends the batch and merges its rollups; returns the rows written. GPU rows only when `gpuWindows`. */
export async function appendBatch(conn: DuckDBConnection, batch: readonly StoredItem[], energy: WindowEnergy, gpuWindows: boolean): Promise<number> {
  const appenders = new Map<string, DuckDBAppender>();
  const appender = async (table: string) => {
    let a = appenders.get(table);
    if (!a) appenders.set(table, (a = await conn.createAppender(table)));
    return a;
  };
  const rollups = new RollupBatch();
  let rows = 0;
  for (const item of batch) {
    if (item.kind === 'meter') rows += appendMeterWindow(await appender('meter_windows'), item);
    else if (item.kind === 'job') rows += appendJobEvent(await appender('job_events'), item);
    else if (gpuWindows) {
      const energies = windowEnergies(item, energy);
      rows += appendWindow(await appender('gpu_windows'), item, energies);
      appendHostWindow(await appender('host_windows'), item); // not counted: written_rows counts GPU, meter and job rows
      foldRollups(rollups, item, energies);
    }
  }
  for (const a of appenders.values()) a.closeSync(); // flushes the appended rows into the open transaction
  await mergeRollups(conn, 'gpu_rollup_staging', GPU_ROLLUP_TABLE, rollups.gpuRows(), true);
  await mergeRollups(conn, 'host_rollup_staging', HOST_ROLLUP_TABLE, rollups.hostRows(), false);
  return rows;
}

function foldRollups(rollups: RollupBatch, item: GpuItem, energies: readonly WindowEnergyResult[]): void {
  const { site, host } = item.key;
  const w = item.window;
  w.gpus.forEach((g, i) => rollups.add(site, host, g.id, w.ts, w.window_ms, windowValues(g), energies[i]!.energy_j));
  if (w.host_power_w) rollups.add(site, host, undefined, w.ts, w.window_ms, { power_w: statValues(w.host_power_w) });
}

async function mergeRollups(conn: DuckDBConnection, staging: string, table: string, rows: readonly MinuteRow[], gpu: boolean): Promise<void> {
  if (rows.length === 0) return;
  const a = await conn.createAppender(staging, 'main', 'temp');
  for (const r of rows) appendMinuteRow(a, r);
  a.closeSync();
  await conn.run(rollupUpsertSql(table, staging, gpu));
  await conn.run(`DELETE FROM ${staging}`);
}
