/**
 * Keeps the one-minute rollups of the DuckDB store: the open minutes live in
 * memory (server/core/rollup.ts MinuteRows) and are appended once they have
 * settled, in the same transaction as the batch that settles them, with the
 * watermark that says which minutes are stored. A window for a stored minute
 * (late, from a spool) is appended as a partial row in its own batch. After
 * a start, or a batch that rolled back, the open minutes are rebuilt from the
 * raw windows above the watermark, which the same transactions keep exact.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { GpuReading, Stat } from '../../protocol/payloads.js';
import { MinuteRows, type MinuteRow, ROLLUP_MS } from '../core/rollup.js';
import { GPU_ROLLUP_TABLE, HOST_ROLLUP_TABLE, minuteRowFromSql, rawMinutesSql } from './duckdb-rollup-sql.js';
import { ChunkWriter } from './duckdb-chunks.js';
import { appendMinuteRow } from './duckdb-tables.js';

/** Windows normally arrive within seconds; two minutes also absorb a short broker hiccup before a minute is stored. */
export const SETTLE_MS = 120_000;

export class RollupWriter {
  private readonly open = new MinuteRows();
  /** Partial rows of this batch's windows for minutes already stored. */
  private readonly late = new MinuteRows();
  private watermark = 0;
  private stale = true;

  constructor(private readonly settleMs = SETTLE_MS) {}

  private settled(now: number): number {
    return Math.floor((now - this.settleMs) / ROLLUP_MS) * ROLLUP_MS;
  }

  /** Inside a transaction: stores minutes that settled meanwhile and reloads the open ones from raw windows. */
  async rebuild(conn: DuckDBConnection, now: number): Promise<void> {
    const state = (await conn.runAndReadAll('SELECT watermark_ms FROM rollup_state')).getRowObjectsJS();
    this.watermark = Number(state[0]?.watermark_ms ?? 0);
    const cutoff = this.settled(now);
    if (cutoff > this.watermark) {
      const range = `ts_ms >= ${this.watermark} AND ts_ms < ${cutoff}`;
      await conn.run(`INSERT INTO ${GPU_ROLLUP_TABLE} BY NAME ${rawMinutesSql(true, range)}`);
      await conn.run(`INSERT INTO ${HOST_ROLLUP_TABLE} BY NAME ${rawMinutesSql(false, range)}`);
      await conn.run(`UPDATE rollup_state SET watermark_ms = ${cutoff}`);
      this.watermark = cutoff;
    }
    this.open.clear();
    for (const gpu of [true, false]) {
      const rows = (await conn.runAndReadAll(rawMinutesSql(gpu, `ts_ms >= ${this.watermark}`))).getRowObjectsJS();
      this.open.merge(rows.map((r) => minuteRowFromSql(r, gpu)));
    }
    this.stale = false;
  }

  private target(ts: number): MinuteRows {
    return ts - (ts % ROLLUP_MS) < this.watermark ? this.late : this.open;
  }

  /** Folds one GPU window (called while the batch is appended; `write` stores what settled). */
  addGpu(site: string, host: string, g: GpuReading, ts: number, windowMs: number, energyJ: number | undefined): void {
    this.target(ts).addGpu(site, host, g, ts, windowMs, energyJ);
  }

  addHost(site: string, host: string, power: Stat, ts: number, windowMs: number): void {
    this.target(ts).addHost(site, host, power, ts, windowMs);
  }

  /** Inside the batch's transaction, after its raw rows: partial rows of late minutes, settled minutes, the watermark. */
  async write(conn: DuckDBConnection, now: number): Promise<void> {
    if (this.stale) throw new Error('rollups must be rebuilt before writing');
    const cutoff = this.settled(now);
    const closing = cutoff > this.watermark ? this.open.take(cutoff) : [];
    await append(conn, [...this.late.take(), ...closing]);
    if (cutoff > this.watermark) {
      await conn.run(`UPDATE rollup_state SET watermark_ms = ${cutoff}`);
      this.watermark = cutoff;
    }
  }

  /** After a rollback: what this batch folded is not trusted; the next write rebuilds from storage. */
  invalidate(): void {
    this.stale = true;
    this.late.clear();
  }

  get needsRebuild(): boolean {
    return this.stale;
  }

  get openMinutes(): number {
    return this.open.size;
  }
}

async function append(conn: DuckDBConnection, rows: readonly MinuteRow[]): Promise<void> {
  if (rows.length === 0) return;
  const gpu = await ChunkWriter.open(conn, GPU_ROLLUP_TABLE);
  const host = await ChunkWriter.open(conn, HOST_ROLLUP_TABLE);
  for (const r of rows) appendMinuteRow(r.gpu === undefined ? host : gpu, r);
  gpu.close();
  host.close();
}
