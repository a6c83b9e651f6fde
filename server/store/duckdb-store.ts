/**
 * The embedded store: raw GPU windows appended to a DuckDB file in batches,
 * one row per GPU per window. Extension auto-install and auto-load are off so
 * DuckDB never reaches the network (§8), and the memory limit is set rather
 * than left at DuckDB's default of most of RAM. Each batch is appended inside
 * one transaction, so a failed batch leaves nothing half-written and is
 * retried from the buffer.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { DeliveryRow } from '../core/delivery.js';
import { type CommitHooks, type StoreStats, type StoredItem, type WindowStore, itemSeq } from './store.js';
import { WriteBuffer } from './write-buffer.js';

export interface DuckDbStoreOptions {
  dataDir: string;
  flushMs: number;
  maxPendingRows: number;
  memoryLimit: string;
  now: () => number;
  hooks: CommitHooks;
}

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
const STAGING_DDL = `CREATE TEMP TABLE delivery_staging AS SELECT * FROM delivery_streams LIMIT 0`;

export class DuckDbStore implements WindowStore {
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  private readonly buffer: WriteBuffer;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private written = 0;
  private batches = 0;
  private lastError: string | null = null;
  readonly path: string;

  constructor(private readonly opts: DuckDbStoreOptions) {
    this.buffer = new WriteBuffer(opts.maxPendingRows);
    this.path = join(opts.dataDir, 'kilowatch.duckdb');
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true });
    try {
      this.instance = await DuckDBInstance.create(this.path, {
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
        memory_limit: this.opts.memoryLimit,
      });
    } catch (err) {
      throw new Error(`cannot open the DuckDB file ${this.path}: ${(err as Error).message.split('\n')[0]}`);
    }
    this.conn = await this.instance.connect();
    await this.conn.run(GPU_WINDOWS_DDL);
    await this.conn.run(JOB_EVENTS_DDL);
    await this.conn.run(DELIVERY_DDL);
    await this.conn.run(STAGING_DDL);
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
  }

  async loadDelivery(sinceMs: number): Promise<DeliveryRow[]> {
    if (!this.conn) throw new Error('store not started');
    await this.conn.run(`DELETE FROM delivery_streams WHERE updated_ms < ${Math.floor(sinceMs)}`);
    const rows = (await this.conn.runAndReadAll('SELECT * FROM delivery_streams')).getRowObjectsJS();
    return rows.map((r) => ({
      site: r.site as string, host: r.host as string, stream: r.stream as string, bootId: r.boot_id as string,
      watermark: Number(r.watermark), ranges: JSON.parse(r.ranges as string) as [number, number][],
      rejected: Number(r.rejected), lost: Number(r.lost), lostRanges: JSON.parse(r.lost_ranges as string) as [number, number][],
      updatedMs: Number(r.updated_ms),
    }));
  }

  enqueue(item: StoredItem): boolean {
    return this.buffer.push(item);
  }

  /** One flush at a time; a caller during a flush waits for it and then flushes what came since. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.conn || this.buffer.pendingRows === 0) return;
    this.flushing = this.writeBatch(this.conn).finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private async writeBatch(conn: DuckDBConnection): Promise<void> {
    const batch = this.buffer.take();
    const settled = batch.map((item) => ({ key: item.key, seq: itemSeq(item) }));
    let rows = 0;
    try {
      const delivery = this.opts.hooks.rowsForCommit(settled, this.opts.now());
      await conn.run('BEGIN TRANSACTION');
      const windows = await conn.createAppender('gpu_windows');
      let jobs: DuckDBAppender | undefined;
      for (const item of batch) {
        if (item.kind === 'gpu') rows += appendWindow(windows, item);
        else rows += appendJobEvent((jobs ??= await conn.createAppender('job_events')), item);
      }
      windows.closeSync(); // flushes the appended rows into the open transaction
      jobs?.closeSync();
      if (delivery.length > 0) await upsertDelivery(conn, delivery);
      await conn.run('COMMIT');
      this.opts.hooks.committed(settled);
      this.written += rows;
      this.batches += 1;
      this.lastError = null;
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      this.lastError = (err as Error).message.split('\n')[0] ?? 'unknown error';
      this.buffer.restore(batch);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.conn?.closeSync();
    this.instance?.closeSync();
    this.conn = undefined;
    this.instance = undefined;
  }

  stats(now: number): StoreStats {
    const oldest = this.buffer.oldestReceivedAt;
    return {
      engine: 'duckdb',
      location: this.path,
      pending_rows: this.buffer.pendingRows,
      written_rows: this.written,
      dropped_rows: this.buffer.dropped,
      batches: this.batches,
      lag_ms: oldest === undefined ? 0 : Math.max(0, now - oldest),
      last_error: this.lastError,
      degraded: this.lastError !== null,
    };
  }
}

/** Windows and their delivery state commit together: stage the rows, then replace by key. */
async function upsertDelivery(conn: DuckDBConnection, rows: readonly DeliveryRow[]): Promise<void> {
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
function appendWindow(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'gpu' }>): number {
  const w = item.window;
  const { site, host } = item.key;
  const seq = BigInt(w.seq);
  const ts = BigInt(w.ts);
  const received = BigInt(item.receivedAt);
  for (const g of w.gpus) {
    a.appendVarchar(site);
    a.appendVarchar(host);
    a.appendVarchar(w.boot_id);
    a.appendBigInt(seq);
    a.appendBigInt(ts);
    a.appendInteger(w.window_ms);
    a.appendVarchar(g.id);
    const p = g.power_w;
    if (p) {
      a.appendInteger(p.n);
      a.appendDouble(p.min);
      a.appendDouble(p.max);
      a.appendDouble(p.mean);
      a.appendDouble(p.last);
    } else {
      for (let i = 0; i < 5; i++) a.appendNull();
    }
    appendNumber(a, g.energy_mj);
    appendNumber(a, g.window_energy_mj);
    appendNumber(a, g.util_pct?.mean);
    appendNumber(a, g.mem_used_mib?.mean);
    appendNumber(a, g.temp_c?.max);
    appendNumber(a, g.sm_clock_mhz?.mean);
    appendNumber(a, g.power_limit_w);
    a.appendBigInt(received);
    a.endRow();
  }
  return w.gpus.length;
}

function appendJobEvent(a: DuckDBAppender, item: Extract<StoredItem, { kind: 'job' }>): number {
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
