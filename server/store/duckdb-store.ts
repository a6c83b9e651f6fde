/**
 * The embedded store: raw windows appended to a DuckDB file in batches (one
 * row per GPU per window, with its energy), one-minute rollups maintained as
 * they arrive, and the history read back through a second connection.
 * Extension auto-install and auto-load are off so DuckDB never reaches the
 * network (§8), and the memory limit is set rather than left at DuckDB's
 * default of most of RAM. Each batch is written inside one transaction with
 * the delivery state, so a failed batch leaves nothing half-written and is
 * retried from the buffer. Raw windows are kept `rawDays`, rollups
 * `rollupDays`; whole UTC days are deleted at once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { DeliveryRow } from '../core/delivery.js';
import { OperatorError } from '../operator-error.js';
import type { MemberBucket } from '../core/series.js';
import { EnergyLedger } from '../core/ledger.js';
import { WindowEnergy, energyKey } from '../core/window-energy.js';
import { appendBatch } from './duckdb-batch.js';
import { type BackupManifest, backupInto } from './duckdb-backup.js';
import { DuckDbHistory } from './duckdb-history.js';
import { GPU_ROLLUP_TABLE, HOST_ROLLUP_TABLE, WATERMARK } from './duckdb-rollup-sql.js';
import { RollupWriter } from './duckdb-rollups.js';
import { migrate } from './duckdb-schema.js';
import { STAGING_TABLES, upsertDelivery } from './duckdb-tables.js';
import {
  type AlertLogEntry, type BucketRequest, type CommitHooks, type HistoryReader, type JobFilter, type JobRecord, type LedgerTotal, type MemberSelector, type QuarterEnergy, type StoreStats, type StoredItem, type WindowStore, settlement,
} from './store.js';
import { WriteBuffer } from './write-buffer.js';

export interface DuckDbStoreOptions {
  dataDir: string;
  flushMs: number;
  maxPendingRows: number;
  memoryLimit: string;
  now: () => number;
  hooks: CommitHooks;
  /**
   * False when another engine (VictoriaMetrics) holds the GPU windows: this
   * store then keeps only the delivery state, job events and meter windows,
   * and a GPU item settles its seq without writing rows here. Default true.
   */
  gpuWindows?: boolean;
  /** Raw windows are kept this many days (default 7), rollups this many (default 400). */
  rawDays?: number;
  rollupDays?: number;
  /** DuckDB worker threads; default DuckDB's own (one per core). The benchmark pins 1 to measure per core. */
  threads?: number;
}

const DAY_MS = 86_400_000;
/** A restarted server resumes counter differences from windows at most this old. */
const ENERGY_SEED_MS = 3_600_000;

export class DuckDbStore implements WindowStore, HistoryReader {
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  private history: DuckDbHistory | undefined;
  private readonly energy = new WindowEnergy();
  private readonly rollups = new RollupWriter();
  /** Job spans for attribution; rebuilt from the stored job events at start. */
  private readonly ledgerCore = new EnergyLedger({ idleUtilPct: 5 });
  private pruner: NodeJS.Timeout | undefined;
  private readonly buffer: WriteBuffer;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private written = 0;
  private batches = 0;
  private lastError: string | null = null;
  private needsReopen = false;
  private reopens = 0;
  /**
   * After an I/O failure the next reopen waits, doubling from 1 s to 8 s, so
   * a full disk is not reopened on every flush (the soak saw 60 reopens in a
   * 61 s outage, each a stall of the event loop). Wall time, not `now`.
   */
  private reopenWaitMs = 0;
  private reopenAfter = 0;
  readonly path: string;

  constructor(private readonly opts: DuckDbStoreOptions) {
    this.buffer = new WriteBuffer(opts.maxPendingRows);
    this.path = join(opts.dataDir, 'kilowatch.duckdb');
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true });
    await this.open(true);
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
    this.pruner = setInterval(() => void this.prune(), 3_600_000);
    this.pruner.unref();
  }

  /** Opens the file and its connections; at start also migrates, seeds the energy state and prunes. */
  private async open(first: boolean): Promise<void> {
    try {
      this.instance = await DuckDBInstance.create(this.path, {
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
        memory_limit: this.opts.memoryLimit,
        ...(this.opts.threads !== undefined && { threads: String(this.opts.threads) }),
      });
    } catch (err) {
      throw new OperatorError(explainOpenError(this.path, (err as Error).message.split('\n')[0] ?? ''));
    }
    try {
      this.conn = await this.instance.connect();
      if (first) await migrate(this.conn);
      for (const ddl of STAGING_TABLES) await this.conn.run(ddl);
      // Reads get their own connection, so a query never runs inside a batch's open transaction.
      this.history = new DuckDbHistory(await this.instance.connect());
      if (first) {
        await this.seedEnergy(this.conn);
        for (const e of await this.history.jobEvents()) this.ledgerCore.jobEvent(e.site, e.host, e);
        // Minutes that settled while the server was down are stored now; open ones come back into memory.
        await this.inTransaction(this.conn, (c) => this.rollups.rebuild(c, this.opts.now()));
        await this.prune();
      }
    } catch (err) {
      this.close(); // release the file: a failed open must not keep it locked
      throw err;
    }
  }

  private close(): void {
    this.history?.close();
    this.conn?.closeSync();
    this.instance?.closeSync();
    this.history = undefined;
    this.conn = undefined;
    this.instance = undefined;
  }

  /**
   * After an I/O failure (a full disk) DuckDB may invalidate the instance;
   * DuckDB 1.5 was seen to recover by itself once space returned, but a
   * fresh instance is the state it documents as safe, so the store reopens
   * it before the next attempt. The batch stays in the buffer meanwhile.
   */
  private async reopen(): Promise<void> {
    this.close();
    try {
      await this.open(false);
      this.reopens += 1;
      this.needsReopen = false;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.backOffReopen();
    }
  }

  private backOffReopen(): void {
    this.reopenWaitMs = Math.min(8000, Math.max(1000, 2 * this.reopenWaitMs));
    this.reopenAfter = Date.now() + this.reopenWaitMs;
  }

  private async inTransaction(conn: DuckDBConnection, work: (c: DuckDBConnection) => Promise<void>): Promise<void> {
    await conn.run('BEGIN TRANSACTION');
    try {
      await work(conn);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** The latest counter of each GPU, so a restart does not lose the next counter difference. */
  private async seedEnergy(conn: DuckDBConnection): Promise<void> {
    const since = this.opts.now() - ENERGY_SEED_MS;
    const rows = (await conn.runAndReadAll(
      `SELECT site, host, gpu_id, max(ts_ms + window_ms) AS end_ms, arg_max(energy_mj, ts_ms) AS counter_mj
       FROM gpu_windows WHERE ts_ms >= ${since} GROUP BY site, host, gpu_id`,
    )).getRowObjectsJS();
    for (const r of rows) {
      this.energy.seed(energyKey(r.site as string, r.host as string, r.gpu_id as string), Number(r.end_ms), r.counter_mj === null ? undefined : Number(r.counter_mj));
    }
  }

  /** Deletes raw windows and rollups past their retention, whole UTC days at a time. */
  /**
   * Deletes raw windows and rollups past their retention, whole UTC days at a
   * time. Minutes that have settled are stored first, and no raw window above
   * the rollup watermark is deleted, so nothing leaves before its rollup exists.
   */
  async prune(): Promise<void> {
    await this.exclusive(async () => {
      const conn = this.conn;
      if (!conn) return;
      const now = this.opts.now();
      const today = Math.floor(now / DAY_MS) * DAY_MS;
      const rawCut = today - (this.opts.rawDays ?? 7) * DAY_MS;
      const rollupCut = today - (this.opts.rollupDays ?? 400) * DAY_MS;
      try {
        await this.inTransaction(conn, async (c) => {
          if (this.rollups.needsRebuild) await this.rollups.rebuild(c, now);
          await this.rollups.write(c, now);
        });
        for (const table of ['gpu_windows', 'host_windows']) await conn.run(`DELETE FROM ${table} WHERE ts_ms < least(${rawCut}, ${WATERMARK})`);
        await conn.run(`DELETE FROM meter_windows WHERE ts_ms < ${rawCut}`);
        this.ledgerCore.prune(rawCut);
        for (const table of [GPU_ROLLUP_TABLE, HOST_ROLLUP_TABLE]) await conn.run(`DELETE FROM ${table} WHERE minute_ms < ${rollupCut}`);
      } catch (err) {
        this.rollups.invalidate();
        this.lastError = `retention: ${(err as Error).message.split('\n')[0]}`;
      }
    });
  }

  /** Runs `work` with no flush, prune or backup running beside it on the write connection. */
  private async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.flushing) await this.flushing;
    const run = work();
    this.flushing = run.then(
      () => undefined,
      () => undefined,
    ).finally(() => (this.flushing = undefined));
    return run;
  }

  /** A consistent copy while the server runs: writes what is buffered, then copies with flushes held back. */
  async backup(dir: string): Promise<BackupManifest> {
    await this.flush();
    return this.exclusive(() => {
      if (!this.conn) throw new OperatorError('the store is not open, so there is nothing consistent to back up');
      return backupInto(this.conn, this.path, dir, this.opts.now());
    });
  }

  memberBuckets(req: BucketRequest): Promise<MemberBucket[]> {
    if (!this.history) return Promise.reject(new Error('store not started'));
    return this.history.memberBuckets(req, this.opts.now() - (this.opts.rawDays ?? 7) * DAY_MS);
  }

  alertLog(q: { sinceMs: number; kinds?: readonly AlertLogEntry['kind'][]; limit?: number }): Promise<AlertLogEntry[]> {
    if (!this.history) return Promise.reject(new Error('store not started'));
    return this.history.alertLog(q);
  }

  jobs(filter: JobFilter): Promise<JobRecord[]> {
    if (!this.history) return Promise.reject(new Error('store not started'));
    return this.history.jobs(filter, this.opts.now());
  }

  facilityEnergy(q: { from: number; to: number }): Promise<{ meters: QuarterEnergy[]; hosts: QuarterEnergy[] }> {
    if (!this.history) return Promise.reject(new Error('store not started'));
    return this.history.facilityEnergy(q);
  }

  work(jobs: readonly string[]): Promise<Map<string, Record<string, number>>> {
    if (!this.history) return Promise.reject(new Error('store not started'));
    return this.history.work(jobs);
  }

  ledger(q: { from: number; to: number; jobs?: readonly string[]; byTime: boolean }): Promise<LedgerTotal[]> {
    if (!this.history) return Promise.reject(new Error('store not started'));
    return this.history.ledger(q);
  }

  jobGpus(job: string, now: number): Promise<MemberSelector[]> {
    if (!this.history) return Promise.reject(new Error('store not started'));
    return this.history.jobGpus(job, now);
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
    if (this.buffer.pendingRows === 0) return;
    await this.exclusive(async () => {
      if (this.needsReopen) {
        if (Date.now() < this.reopenAfter) return; // the batch waits in the buffer
        await this.reopen();
      }
      if (this.conn) await this.writeBatch(this.conn);
    });
  }

  private async writeBatch(conn: DuckDBConnection): Promise<void> {
    const batch = this.buffer.take();
    const settled = batch.map(settlement).filter((s) => s !== undefined);
    try {
      const delivery = this.opts.hooks.rowsForCommit(settled, this.opts.now());
      await conn.run('BEGIN TRANSACTION');
      const rollups = this.opts.gpuWindows === false ? undefined : this.rollups;
      if (rollups?.needsRebuild) await rollups.rebuild(conn, this.opts.now());
      const rows = await appendBatch(conn, batch, this.energy, rollups, this.ledgerCore);
      await rollups?.write(conn, this.opts.now());
      if (delivery.length > 0) await upsertDelivery(conn, delivery);
      await conn.run('COMMIT');
      this.energy.commit();
      this.ledgerCore.commit();
      this.opts.hooks.committed(settled);
      this.written += rows;
      this.batches += 1;
      this.lastError = null;
      this.reopenWaitMs = 0;
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      this.energy.rollback();
      this.ledgerCore.rollback();
      this.rollups.invalidate();
      this.lastError = (err as Error).message.split('\n')[0] ?? 'unknown error';
      this.needsReopen = /IO Error|No space|invalidated|FATAL/i.test(this.lastError);
      if (this.needsReopen) this.backOffReopen();
      this.buffer.restore(batch);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.pruner);
    await this.flush();
    this.close();
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
      reopens: this.reopens,
      ledger: this.ledgerCore.stats(),
    };
  }
}

/** The two failures an operator must act on, said in words that say what to do. */
function explainOpenError(path: string, message: string): string {
  if (/Could not set lock/i.test(message)) {
    const pid = /PID (\d+)/.exec(message)?.[1];
    return `cannot open the DuckDB file ${path}: another process${pid ? ` (PID ${pid})` : ''} holds it. Only one kilowatch server may use a data dir; for a copy of a running server's data use \`kilowatch backup\`. (${message})`;
  }
  if (/not a valid DuckDB database/i.test(message)) {
    return `cannot open the DuckDB file ${path}: it is corrupt or not a DuckDB database. Move it aside and start empty, or \`kilowatch restore <backup dir>\`. (${message})`;
  }
  return `cannot open the DuckDB file ${path}: ${message}`;
}
