/**
 * The store interface the server writes through. Writes are buffered and
 * appended in batches; the buffer has a bound, and what it cannot hold is
 * dropped and counted. Engines: duckdb-store.ts (the embedded default).
 */
import type { GpuWindow } from '../../protocol/payloads.js';
import type { DeliveryRow, StreamKey } from '../core/delivery.js';

export interface StoredWindow {
  /** (site, host, stream, boot_id): the delivery stream the window belongs to. */
  key: StreamKey;
  window: GpuWindow;
  receivedAt: number;
}

/**
 * The delivery state travels with the data (protocol/README.md, "Delivery"):
 * an engine asks for the rows to persist in the same transaction as a batch,
 * and reports the batch once it is durable, so nothing is acknowledged early.
 */
export interface CommitHooks {
  rowsForCommit(batch: readonly { key: StreamKey; seq: number }[], now: number): DeliveryRow[];
  committed(batch: readonly { key: StreamKey; seq: number }[]): void;
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
  /** The delivery state persisted by earlier runs, for streams updated since `sinceMs`. */
  loadDelivery(sinceMs: number): Promise<DeliveryRow[]>;
  /** Buffers a window for the next batch; false when the buffer is full (the rows are counted as dropped). */
  enqueue(item: StoredWindow): boolean;
  /** Writes everything buffered now. */
  flush(): Promise<void>;
  /** Flushes, then closes the engine. */
  stop(): Promise<void>;
  stats(now: number): StoreStats;
}
