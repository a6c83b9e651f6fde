/**
 * The store interface the server writes through. Writes are buffered and
 * appended in batches; the buffer has a bound, and what it cannot hold is
 * dropped and counted. Engines: duckdb-store.ts (the embedded default).
 */
import type { GpuWindow } from '../../protocol/payloads.js';

export interface StoredWindow {
  site: string;
  host: string;
  window: GpuWindow;
  receivedAt: number;
}

export interface StoreStats {
  engine: string;
  location: string;
  /** GPU rows waiting in memory for the next batch. */
  pending_rows: number;
  written_rows: number;
  /** Rows refused because the buffer was full. */
  dropped_rows: number;
  batches: number;
  /** Age of the oldest row not yet written, ms (0 when none wait). */
  lag_ms: number;
  /** Set while the last write failed; cleared by the next success. */
  last_error: string | null;
  degraded: boolean;
}

export interface WindowStore {
  start(): Promise<void>;
  /** Buffers a window for the next batch; false when the buffer is full (the rows are counted as dropped). */
  enqueue(item: StoredWindow): boolean;
  /** Writes everything buffered now. */
  flush(): Promise<void>;
  /** Flushes, then closes the engine. */
  stop(): Promise<void>;
  stats(now: number): StoreStats;
}
