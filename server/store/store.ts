/**
 * The store interface the server writes through. Writes are buffered and
 * appended in batches; the buffer has a bound, and what it cannot hold is
 * dropped and counted. Engines: duckdb-store.ts (the embedded default).
 */
import type { GpuWindow, JobEvent, MeterWindow, WorkReport } from '../../protocol/payloads.js';
import type { DeliveryRow, StreamKey } from '../core/delivery.js';
import type { QuarterEnergy } from '../core/facility.js';
import type { LedgerCategory, LedgerDelta, LedgerStats } from '../core/ledger.js';
import type { MemberBucket, SeriesMetric } from '../core/series.js';

export type { QuarterEnergy } from '../core/facility.js';

/** A message accepted for storage, with (site, host, stream, boot_id): the delivery stream it belongs to. */
export type StoredItem =
  | { kind: 'gpu'; key: StreamKey; window: GpuWindow; receivedAt: number }
  | { kind: 'meter'; key: StreamKey; meter: string; window: MeterWindow; receivedAt: number }
  | { kind: 'job'; key: StreamKey; event: JobEvent; receivedAt: number }
  /** A work report is not spooled: it has no seq and settles nothing (its key's stream is `work`). */
  | { kind: 'work'; key: StreamKey; job: string; report: WorkReport; receivedAt: number }
  /** An alert transition, acknowledgement, silence or API rule change (server/alerts/); its key's stream is `alerts`. */
  | { kind: 'alert'; key: StreamKey; entry: AlertLogEntry; receivedAt: number };

/** One record of the alert log: the engine's state and the API's rules are rebuilt from it at start. */
export interface AlertLogEntry {
  /** Server time of the record, ms. */
  ts: number;
  kind: 'transition' | 'ack' | 'silence' | 'unsilence' | 'rule_put' | 'rule_delete' | 'token_create' | 'token_revoke' | 'config_reload' | 'host_forget';
  /** The alert key, silence id, rule id, token id, or the file reloaded. */
  key: string;
  /** Who did it (the audit log): a token's or proxy user's name, `local`, `admin socket`, `config file`; absent for the engine's transitions. */
  actor?: string;
  /** The transition, `{ by }`, the silence or the rule, as JSON. */
  data: unknown;
}

/** The (stream, seq) a stored item settles; undefined for a work report. */
export function settlement(item: StoredItem): { key: StreamKey; seq: number } | undefined {
  if (item.kind === 'work' || item.kind === 'alert') return undefined;
  return { key: item.key, seq: item.kind === 'job' ? item.event.seq : item.window.seq };
}

/** Rows an item becomes: one per GPU for a window, one for a meter window or job event. Buffers are bounded in rows. */
export function itemRows(item: StoredItem): number {
  return item.kind === 'gpu' ? Math.max(1, item.window.gpus.length) : 1;
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
  /** Times the engine was reopened after an I/O failure. */
  reopens?: number;
  /** Late input the energy ledger reopened, or could not place (core/ledger.ts); where the ledger lives. */
  ledger?: LedgerStats;
}

export interface WindowStore {
  start(): Promise<void>;
  /** The delivery state persisted by earlier runs, for streams updated since `sinceMs`. */
  loadDelivery(sinceMs: number): Promise<DeliveryRow[]>;
  /** Buffers an item for the next batch; false when the buffer is full (its rows are counted as dropped). */
  enqueue(item: StoredItem): boolean;
  /** Writes everything buffered now. */
  flush(): Promise<void>;
  /** Flushes, then closes the engine. */
  stop(): Promise<void>;
  stats(now: number): StoreStats;
}

/** Which windows a bucket request reads: one host (all its GPUs, or one), over its own time range. */
export interface MemberSelector {
  site: string;
  host: string;
  /** Undefined: every GPU of the host. */
  gpu?: string;
  /** [from, to) ms: a job's GPUs are read only over the job's life. */
  from: number;
  to: number;
}

export interface BucketRequest {
  metric: SeriesMetric;
  /** [from, to) ms, and the bucket length; buckets start at multiples of step. */
  from: number;
  to: number;
  step: number;
  /**
   * 'gpu': one row per GPU and bucket, member `site/host/gpu`. 'host': one
   * row per host and bucket from the host total measured at the edge
   * (`host_power_w`; power only), member `site/host`.
   */
  level: 'gpu' | 'host';
  /** Undefined: every member in the store. */
  select?: readonly MemberSelector[];
}

/**
 * The read side every engine implements; server/core/series.ts turns its rows
 * into series, so both engines share one set of semantics.
 */
export interface HistoryReader {
  memberBuckets(req: BucketRequest): Promise<MemberBucket[]>;
  /** The GPUs a job held and when, from its start and end events (an end not yet seen: until `now`). */
  jobGpus(job: string, now: number): Promise<MemberSelector[]>;
  /** Jobs that ran at some time in [from, to), newest start first, from their events. */
  jobs(filter: JobFilter): Promise<JobRecord[]>;
  /**
   * Energy per quarter hour starting in [from, to): of each meter stream (`host/meter`, from mean
   * power, signed) and of each host's GPUs (from the ledger: jobs, idle and unattributed together).
   */
  facilityEnergy(q: { from: number; to: number }): Promise<{ meters: QuarterEnergy[]; hosts: QuarterEnergy[] }>;
  /** The work each job reported, per counter: the latest cumulative total of each reporting host, summed. */
  work(jobs: readonly string[]): Promise<Map<string, Record<string, number>>>;
  /**
   * Ledger totals over quarter hours starting in [from, to): per job (category
   * `job`) and for `idle` and `unattributed`, optionally for some jobs only,
   * and per quarter hour when `byTime` (else `t` is `from`).
   */
  ledger(q: { from: number; to: number; jobs?: readonly string[]; byTime: boolean }): Promise<LedgerTotal[]>;
  /** Alert log records with ts >= sinceMs, oldest first; `kinds` limits them; at most `limit` (the newest). */
  alertLog(q: { sinceMs: number; kinds?: readonly AlertLogEntry['kind'][]; limit?: number }): Promise<AlertLogEntry[]>;
}

/** A ledger delta summed over its quarter hours (and, without `byTime`, over the range). */
export interface LedgerTotal
  extends Pick<LedgerDelta, 't' | 'energy_j' | 'allocated_idle_j' | 'gpu_ms' | 'allocated_idle_ms' | 'counter_j' | 'util_ms' | 'util_known_ms'> {
  category: LedgerCategory;
  job: string;
  /** The highest quarter-hour sum of the job's GPUs' window maxima: an upper bound of its peak, W; null when unknown. */
  peak_w: number | null;
}

export interface JobFilter {
  from: number;
  to: number;
  user?: string;
  project?: string;
  /** Only jobs of these projects (a scoped viewer's); undefined: any. */
  projects?: readonly string[];
  site?: string;
}

/** A job as its events describe it; a job on several hosts has one start per host. */
export interface JobRecord {
  job: string;
  user?: string;
  project?: string;
  partition?: string;
  /** The hosts it ran on. */
  hosts: { site: string; host: string }[];
  gpus: number;
  start: number;
  /** Undefined while it runs. */
  end?: number;
}

/** Member names in bucket rows: percent-encoded segments, so a `/` inside a name cannot be confused. */
export function memberName(site: string, host: string, gpu?: string): string {
  const parts = gpu === undefined ? [site, host] : [site, host, gpu];
  return parts.map(encodeURIComponent).join('/');
}
