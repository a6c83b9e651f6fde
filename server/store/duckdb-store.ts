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
import { TABLES, appendJobEvent, appendMeterWindow, appendWindow, upsertDelivery } from './duckdb-tables.js';
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
    for (const ddl of TABLES) await this.conn.run(ddl);
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
      let meters: DuckDBAppender | undefined;
      let jobs: DuckDBAppender | undefined;
      for (const item of batch) {
        if (item.kind === 'gpu') rows += appendWindow(windows, item);
        else if (item.kind === 'meter') rows += appendMeterWindow((meters ??= await conn.createAppender('meter_windows')), item);
        else rows += appendJobEvent((jobs ??= await conn.createAppender('job_events')), item);
      }
      windows.closeSync(); // flushes the appended rows into the open transaction
      meters?.closeSync();
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
