/**
 * What one batch becomes inside the store's open transaction: raw rows for
 * every table, the energy of each GPU window, and the batch's minute rows
 * for the rollups (duckdb-rollups.ts stores them). The caller commits or
 * rolls back, and tells the energy state which (a rolled-back batch is
 * retried and must not read as late).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type EnergyLedger, type LedgerDelta, foldDeltas } from '../core/ledger.js';
import { type WindowEnergy, type WindowEnergyResult, energyKey } from '../core/window-energy.js';
import { ChunkWriter } from './duckdb-chunks.js';
import type { RollupWriter } from './duckdb-rollups.js';
import { appendAlertEntry, appendHostWindow, appendJobEvent, appendLedgerDelta, appendMeterWindow, appendWindow, appendWorkReport } from './duckdb-tables.js';
import type { StoredItem } from './store.js';

type GpuItem = Extract<StoredItem, { kind: 'gpu' }>;

/** Items appended between two yields to the event loop: about 5-10 ms of work on this machine. */
const YIELD_EVERY = 500;

/** The energy of every GPU of a window, in the order of window.gpus. */
export function windowEnergies(item: GpuItem, energy: WindowEnergy): WindowEnergyResult[] {
  const { site, host } = item.key;
  const w = item.window;
  return w.gpus.map((g) =>
    energy.of({ key: energyKey(site, host, g.id), ts: w.ts, window_ms: w.window_ms, energy_mj: g.energy_mj, window_energy_mj: g.window_energy_mj, power_mean_w: g.power_w?.mean }),
  );
}

/**
 * Appends the batch, folds its GPU windows into the rollups and its energy
 * into the ledger; returns the rows written. GPU rows and rollups only with
 * `rollups` (this engine holds the GPU windows); the ledger always, since it
 * lives here for every engine. Job events go to the ledger first, so a job
 * that starts in this batch owns this batch's windows after its start.
 */
export async function appendBatch(conn: DuckDBConnection, batch: readonly StoredItem[], energy: WindowEnergy, rollups: RollupWriter | undefined, ledger: EnergyLedger): Promise<number> {
  const writers = new Map<string, ChunkWriter>();
  const writer = async (table: string) => {
    let w = writers.get(table);
    if (!w) writers.set(table, (w = await ChunkWriter.open(conn, table)));
    return w;
  };
  let rows = 0;
  for (const item of batch) {
    if (item.kind !== 'job') continue;
    rows += appendJobEvent(await writer('job_events'), item);
    ledger.jobEvent(item.key.site, item.key.host, item.event);
  }
  const deltas: LedgerDelta[] = [];
  let sinceYield = 0;
  for (const item of batch) {
    // A large batch is thousands of windows of synchronous work: let MQTT and HTTP in between.
    if (++sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await new Promise((r) => setImmediate(r));
    }
    if (item.kind === 'meter') rows += appendMeterWindow(await writer('meter_windows'), item);
    if (item.kind === 'work') rows += appendWorkReport(await writer('work_reports'), item);
    if (item.kind === 'alert') appendAlertEntry(await writer('alert_log'), item); // not counted: written_rows counts GPU, meter and job rows
    if (item.kind !== 'gpu') continue;
    const energies = windowEnergies(item, energy);
    const { site, host } = item.key;
    const w = item.window;
    ledger.window(site, host, w, energies, deltas);
    if (!rollups) continue;
    rows += appendWindow(await writer('gpu_windows'), item, energies);
    appendHostWindow(await writer('host_windows'), item); // not counted: written_rows counts GPU, meter and job rows
    for (let i = 0; i < w.gpus.length; i++) rollups.addGpu(site, host, w.gpus[i]!, w.ts, w.window_ms, energies[i]!.energy_j);
    if (w.host_power_w) rollups.addHost(site, host, w.host_power_w, w.ts, w.window_ms);
  }
  if (deltas.length > 0) {
    const a = await writer('energy_ledger');
    for (const d of foldDeltas(deltas)) appendLedgerDelta(a, d);
  }
  for (const w of writers.values()) w.close(); // flushes the appended rows into the open transaction
  return rows;
}
