/**
 * `store: victoriametrics`: GPU windows and host totals go to VictoriaMetrics
 * (line protocol through the influx client, victoria-write.ts); delivery
 * state, job events and meter windows stay in an inner DuckDB file under the
 * data dir (`gpuWindows: false`), with the job ledger and alert history.
 *
 * Durability rule (protocol/README.md "Delivery", ARCHITECTURE.md §3): a GPU
 * window is acknowledged only when
 *   1. the client's success callback covered every line of its batch, and
 *   2. `durableDelayMs` has passed since, and VictoriaMetrics is still the
 *      same process it was before the write (vm_app_start_timestamp).
 * A 2xx alone is not durable: 1.79.5 buffers rows in memory and writes them
 * to disk parts only on its own schedule (DEFAULT_DURABLE_DELAY_MS), and a
 * SIGKILL loses what it held. A restart seen at step 2 (or no answer) sends
 * the batch back to the buffer to be written again; de-duplication
 * (-dedup.minScrapeInterval) makes the second copy harmless.
 * Only then does the batch go to the inner store, whose transaction persists
 * the delivery state and whose CommitHooks.committed acknowledges it.
 * Meter windows and job events do not touch VictoriaMetrics, so they go to
 * the inner store at once: an outage of VictoriaMetrics does not hold them.
 *
 * Energy per window is computed once, when a window is accepted (its lines
 * are kept with it), so rewriting a batch never recomputes a counter
 * difference as a "late" 0 J.
 */
import type { DeliveryRow } from '../core/delivery.js';
import type { MemberBucket } from '../core/series.js';
import { WindowEnergy } from '../core/window-energy.js';
import { windowEnergies } from './duckdb-batch.js';
import { DuckDbStore } from './duckdb-store.js';
import type { AlertLogEntry, BucketRequest, CommitHooks, HistoryReader, JobFilter, JobRecord, LedgerTotal, MemberSelector, QuarterEnergy, StoreStats, StoredItem, WindowStore } from './store.js';
import { itemRows } from './store.js';
import { VictoriaHistory } from './victoria-history.js';
import { windowLines } from './victoria-lines.js';
import { seedEnergy } from './victoria-query.js';
import { VictoriaWriter } from './victoria-write.js';
import { WriteBuffer } from './write-buffer.js';

/**
 * How long VictoriaMetrics 1.79.5 may hold an acknowledged row only in
 * memory. Its lib/storage/partition.go turns row buffers into in-memory
 * parts every second (rawRowsFlushInterval; with whole-second clocks a row
 * can wait about 2 s), and writes in-memory parts at least 5 s old to disk
 * on a 5 s ticker (inmemoryPartsFlushInterval, fixed: the
 * -inmemoryDataFlushInterval flag came in later versions), so a row can be
 * lost to a SIGKILL for up to about 2 + 5 + 5 s, plus the merge itself.
 * Measured here: 30 SIGKILLs at random moments under a steady write; the
 * oldest acknowledged sample lost had been acknowledged 9.75 s before the
 * kill. 15 s covers the 12 s bound with room for a busy disk.
 * (/internal/force_flush does not shorten it: a row written, force-flushed
 * and SIGKILLed at once was lost in each of 3 tries here.)
 */
export const DEFAULT_DURABLE_DELAY_MS = 15_000;

export interface VictoriaStoreOptions {
  /** VictoriaMetrics base URL, e.g. http://127.0.0.1:8428. */
  url: string;
  /** The inner DuckDB file (delivery state, jobs, meters) lives here. */
  dataDir: string;
  /** How often buffered windows are written (at most 1 s: the flush interval). */
  flushMs: number;
  /** Bound on GPU rows held in memory and not yet acknowledged (buffered, being written, or waiting to be durable). */
  maxPendingRows: number;
  memoryLimit: string;
  now: () => number;
  hooks: CommitHooks;
  /** Wait after a successful write before a window counts as durable (see DEFAULT_DURABLE_DELAY_MS). */
  durableDelayMs?: number;
  /** Lines per write request; default 5,000. */
  batchLines?: number;
  /** Timeout of one HTTP request; default 5 s. */
  requestTimeoutMs?: number;
  /** Refuse to start against a VictoriaMetrics without -search.latencyOffset=0s and -dedup.minScrapeInterval; default true. */
  checkFlags?: boolean;
  rawDays?: number;
  rollupDays?: number;
}

type GpuItem = Extract<StoredItem, { kind: 'gpu' }>;

interface Written {
  items: GpuItem[];
  rows: number;
  /** VictoriaMetrics' start time as last seen before the write. */
  vmStart: number;
  dueAt: number;
}

/** History queries may scan much more than a write sends. */
const QUERY_TIMEOUT_MS = 30_000;

/** Backoff between failed writes: quick at first, never longer than 2 s, so a recovered VictoriaMetrics is written to within seconds. */
const backoffMs = (failures: number) => Math.min(2000, 250 * 2 ** Math.max(0, failures - 1));

export class VictoriaStore implements WindowStore, HistoryReader {
  private readonly inner: DuckDbStore;
  private readonly writer: VictoriaWriter;
  private readonly history: VictoriaHistory;
  private readonly buffer: WriteBuffer;
  private readonly energy = new WindowEnergy();
  private readonly lines = new WeakMap<StoredItem, string[]>();
  private readonly delayMs: number;
  private awaiting: Written[] = [];
  /** Durable windows the inner store had no room for yet (it keeps failing): handed over again each tick. */
  private handover: GpuItem[] = [];
  /** Rows taken from the buffer and not yet acknowledged or put back. */
  private outRows = 0;
  private refused = 0;
  private vmStart: number | undefined;
  private flagsChecked = false;
  private failures = 0;
  private nextWriteAt = 0;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private written = 0;
  private batches = 0;
  /** Batches written again because VictoriaMetrics restarted or vanished before they were durable. */
  private rewrites = 0;
  private lastError: string | null = null;

  constructor(private readonly opts: VictoriaStoreOptions) {
    this.delayMs = opts.durableDelayMs ?? DEFAULT_DURABLE_DELAY_MS;
    this.buffer = new WriteBuffer(opts.maxPendingRows);
    this.writer = new VictoriaWriter({
      url: opts.url, batchLines: opts.batchLines ?? 5000, timeoutMs: opts.requestTimeoutMs ?? 5000, minRetentionMs: (opts.rawDays ?? 7) * 86_400_000,
    });
    this.history = new VictoriaHistory(opts.url, QUERY_TIMEOUT_MS);
    this.inner = new DuckDbStore({
      dataDir: opts.dataDir, flushMs: opts.flushMs, maxPendingRows: opts.maxPendingRows, memoryLimit: opts.memoryLimit,
      now: opts.now, hooks: opts.hooks, gpuWindows: false, rawDays: opts.rawDays, rollupDays: opts.rollupDays,
    });
  }

  async start(): Promise<void> {
    // Before the inner store opens its file: a misconfigured VictoriaMetrics fails the start with nothing to release.
    await this.checkFlags();
    await this.inner.start();
    this.vmStart = await this.writer.startedAt();
    // Unreachable now: the first windows of each GPU fall back to the edge integral or mean × time.
    await seedEnergy(this.opts.url, this.opts.now(), this.energy).catch(() => undefined);
    this.timer = setInterval(() => {
      if (this.ticking) return; // a write still waiting on a slow VictoriaMetrics: no queue of ticks behind it
      this.ticking = true;
      void this.exclusive(() => this.tick()).finally(() => (this.ticking = false));
    }, this.opts.flushMs);
  }

  /** Refuses a reachable VictoriaMetrics whose flags would make answers wrong; an unreachable one is checked at first contact. */
  private async checkFlags(): Promise<void> {
    if (this.opts.checkFlags === false || this.flagsChecked) return;
    const problems = await this.writer.flagProblems();
    if (problems === undefined) return;
    this.flagsChecked = true;
    if (problems.length > 0) throw new Error(`VictoriaMetrics at ${this.opts.url} is not set up for kilowatch:\n- ${problems.join('\n- ')}`);
  }

  loadDelivery(sinceMs: number): Promise<DeliveryRow[]> {
    return this.inner.loadDelivery(sinceMs);
  }

  enqueue(item: StoredItem): boolean {
    if (item.kind !== 'gpu') return this.inner.enqueue(item);
    const rows = itemRows(item);
    // The bound covers rows out for writing too, so a failed batch always fits back in.
    if (this.buffer.pendingRows + this.outRows + rows > this.opts.maxPendingRows || !this.buffer.push(item)) {
      this.refused += rows;
      return false;
    }
    const energies = windowEnergies(item, this.energy);
    this.energy.commit();
    this.lines.set(item, windowLines(item.key.site, item.key.host, item.window, energies));
    return true;
  }

  /** Serializes writes and durability checks; callers never wait on each other's sleeps. */
  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async tick(): Promise<void> {
    if (this.handover.length > 0) this.handOver(this.handover.splice(0));
    await this.settleDue();
    if (Date.now() >= this.nextWriteAt) await this.writeBuffered();
  }

  /** False when a write failed (the batch is back in the buffer). */
  private async writeBuffered(): Promise<boolean> {
    if (this.buffer.pendingRows === 0) return true;
    if (!this.flagsChecked) {
      try {
        await this.checkFlags();
      } catch (err) {
        this.lastError = (err as Error).message;
        return false; // nothing is written to a VictoriaMetrics that would answer wrongly
      }
    }
    this.vmStart ??= await this.writer.startedAt();
    const vmStart = this.vmStart;
    const items = this.buffer.take() as GpuItem[];
    const rows = items.reduce((n, i) => n + itemRows(i), 0);
    this.outRows += rows;
    const outcome = vmStart === undefined ? { ok: false as const, error: `VictoriaMetrics at ${this.opts.url} does not answer` } : await this.writer.write(items.flatMap((i) => this.lines.get(i) ?? []));
    if (!outcome.ok) {
      this.putBack(items, rows);
      this.failures += 1;
      this.nextWriteAt = Date.now() + backoffMs(this.failures);
      this.lastError = outcome.error;
      this.vmStart = undefined; // ask again: it may come back as another process
      return false;
    }
    this.failures = 0;
    this.lastError = null;
    this.awaiting.push({ items, rows, vmStart: vmStart!, dueAt: Date.now() + this.delayMs });
    return true;
  }

  private putBack(items: GpuItem[], rows: number): void {
    this.buffer.restore(items);
    this.outRows -= rows;
  }

  /**
   * Batches past their delay are durable if VictoriaMetrics is the same
   * process as before their write. Any batch written to a process that is
   * gone (restarted, or not answering) is written again.
   */
  private async settleDue(): Promise<void> {
    if (!this.awaiting.some((w) => w.dueAt <= Date.now())) return;
    const vmNow = await this.writer.startedAt();
    const clock = Date.now();
    const lost = this.awaiting.filter((w) => vmNow === undefined ? w.dueAt <= clock : w.vmStart !== vmNow);
    const durable = this.awaiting.filter((w) => w.dueAt <= clock && !lost.includes(w));
    this.awaiting = this.awaiting.filter((w) => !lost.includes(w) && !durable.includes(w));
    if (lost.length > 0) {
      this.rewrites += lost.length;
      this.lastError = vmNow === undefined
        ? 'VictoriaMetrics stopped answering before the last writes were durable; they will be written again'
        : 'VictoriaMetrics restarted before the last writes were durable; they are written again';
      this.vmStart = vmNow;
      this.buffer.restore(lost.flatMap((w) => w.items)); // in front, oldest first; within the bound, which counted them
      for (const w of lost) this.outRows -= w.rows;
    }
    if (durable.length === 0) return;
    for (const w of durable) {
      this.handOver(w.items);
      this.written += w.rows;
      this.batches += 1;
    }
    await this.inner.flush(); // its transaction persists the delivery state, then CommitHooks.committed acknowledges
  }

  /**
   * Durable windows go to the inner store to be settled. If it is full (its
   * DuckDB keeps failing), they wait here, still counted against the bound,
   * so new windows are refused rather than settled ones forgotten.
   */
  private handOver(items: GpuItem[]): void {
    for (const item of items) {
      if (this.inner.enqueue(item)) this.outRows -= itemRows(item);
      else this.handover.push(item);
    }
  }

  /**
   * Writes everything buffered now and waits until it is durable and
   * acknowledged. A batch found not durable (VictoriaMetrics restarted) is
   * written again in the next round; a failed write ends the flush with the
   * batch kept (still unacknowledged, so still in the collectors' spools).
   */
  async flush(): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const rewrites = this.rewrites;
      let written = false;
      await this.exclusive(async () => void (written = await this.writeBuffered()));
      if (!written) break;
      const pending = [...this.awaiting];
      while (pending.some((w) => this.awaiting.includes(w))) {
        const next = Math.min(...pending.filter((w) => this.awaiting.includes(w)).map((w) => w.dueAt));
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
        await this.exclusive(() => this.settleDue());
      }
      if (this.rewrites === rewrites) break;
    }
    await this.exclusive(async () => this.handOver(this.handover.splice(0)));
    await this.inner.flush();
  }

  /** Flushes once (what VictoriaMetrics does not take stays unacknowledged, in the collectors' spools), then closes. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    await this.inner.stop();
  }

  memberBuckets(req: BucketRequest): Promise<MemberBucket[]> {
    return this.history.memberBuckets(req);
  }

  /** Job events are in the inner DuckDB store. */
  jobGpus(job: string, now: number): Promise<MemberSelector[]> {
    return this.inner.jobGpus(job, now);
  }

  jobs(filter: JobFilter): Promise<JobRecord[]> {
    return this.inner.jobs(filter);
  }

  /** The alert log lives in the inner DuckDB, with the jobs. */
  alertLog(q: { sinceMs: number; kinds?: readonly AlertLogEntry['kind'][]; limit?: number }): Promise<AlertLogEntry[]> {
    return this.inner.alertLog(q);
  }

  work(jobs: readonly string[]): Promise<Map<string, Record<string, number>>> {
    return this.inner.work(jobs);
  }

  facilityEnergy(q: { from: number; to: number }): Promise<{ meters: QuarterEnergy[]; hosts: QuarterEnergy[] }> {
    return this.inner.facilityEnergy(q);
  }

  /** The ledger lives in the inner DuckDB, which sees every GPU window once it is durable here. */
  ledger(q: { from: number; to: number; jobs?: readonly string[]; byTime: boolean }): Promise<LedgerTotal[]> {
    return this.inner.ledger(q);
  }

  stats(now: number): StoreStats & { awaiting_durable_rows: number; durable_delay_ms: number; rewritten_batches: number } {
    const inner = this.inner.stats(now);
    const oldest = Math.min(this.buffer.oldestReceivedAt ?? Infinity, ...this.awaiting.map((w) => w.items[0]?.receivedAt ?? Infinity));
    const awaiting = this.awaiting.reduce((n, w) => n + w.rows, 0);
    const lastError = this.lastError ?? (inner.last_error && `inner DuckDB: ${inner.last_error}`);
    return {
      engine: 'victoriametrics',
      location: `${this.opts.url} (delivery state, jobs and meters: ${inner.location})`,
      pending_rows: this.buffer.pendingRows + this.outRows + inner.pending_rows,
      written_rows: this.written + inner.written_rows,
      dropped_rows: this.buffer.dropped + this.refused + inner.dropped_rows,
      batches: this.batches,
      lag_ms: Math.max(inner.lag_ms, oldest === Infinity ? 0 : Math.max(0, now - oldest)),
      last_error: lastError,
      degraded: lastError !== null,
      awaiting_durable_rows: awaiting,
      durable_delay_ms: this.delayMs,
      rewritten_batches: this.rewrites,
      ...(inner.ledger && { ledger: inner.ledger }),
    };
  }
}
