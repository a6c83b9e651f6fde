/**
 * Glue between the MQTT subscriber and the server's state: classify the
 * message (pure), then update live state and buffer it for the store. It is
 * synchronous and never throws into the MQTT client: the catch below is the
 * last line of defence and counts what reaches it as `internal_error`.
 */
import type { DeliveryLedger, StreamKey } from './core/delivery.js';
import type { IngestPolicy } from './core/ingest.js';
import { ingest } from './core/ingest.js';
import type { HostRate } from './core/host-rate.js';
import type { LiveState } from './core/live-state.js';
import type { RejectLog } from './core/reject-log.js';
import type { GpuWindow, MeterWindow } from '../protocol/payloads.js';
import type { StoredItem, WindowStore } from './store/store.js';

export interface PipelineCounters {
  windows: number;
  meter_windows: number;
  work_reports: number;
  job_events: number;
  late: number;
  duplicates: number;
  store_refused: number;
  internal_errors: number;
}

/** Sees every new window and status after live state took it (the alert engine); `late` when older than the latest. */
export interface PipelineObserver {
  gpu(site: string, host: string, window: GpuWindow, late: boolean): void;
  meter(site: string, host: string, meter: string, window: MeterWindow, late: boolean): void;
  status(site: string, host: string, online: boolean): void;
}

export class Pipeline {
  readonly counters: PipelineCounters = { windows: 0, meter_windows: 0, work_reports: 0, job_events: 0, late: 0, duplicates: 0, store_refused: 0, internal_errors: 0 };

  constructor(
    private readonly policy: IngestPolicy,
    private readonly live: LiveState,
    private readonly rejects: RejectLog,
    private readonly store: WindowStore,
    private readonly ledger: DeliveryLedger,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    private readonly observer?: PipelineObserver,
    private readonly rate?: HostRate,
  ) {}

  /** De-duplication on (host, stream, boot_id, seq): a duplicate is counted and answered with an ack, nothing else. */
  private isNew(key: StreamKey, seq: number, firstSeq: number, now: number): boolean {
    if (this.ledger.offer(key, seq, firstSeq, now) === 'new') return true;
    this.counters.duplicates += 1;
    return false;
  }

  /** Buffers for the store; refused means not settled, so not acknowledged: the collector resends it when there is room. */
  private buffer(item: StoredItem, seq: number): void {
    if (this.store.enqueue(item)) return;
    this.ledger.abandon(item.key, seq);
    this.counters.store_refused += 1;
  }

  handle(topic: string, payload: Uint8Array): void {
    try {
      const now = this.now();
      const m = ingest(topic, payload, this.policy, now);
      // Rate limits apply to what a host sends, after the topic named it; a refusal is not settled (sent again).
      if (m.kind !== 'reject' && this.rate && !this.rate.take(m.site, m.host, now)) {
        this.rejects.add({ at: now, reason: 'rate_limited', detail: `more than the per-host limit of ${this.policy.maxHostRate ?? '?'} messages/s`, site: m.site, host: m.host });
        return;
      }
      switch (m.kind) {
        case 'reject':
          this.rejects.add({ at: now, reason: m.reason, detail: m.detail, site: m.site, host: m.host });
          // A permanent reject is settled, so it never holds the collector's watermark back.
          if (m.header && m.site !== undefined && m.host !== undefined) {
            const key = { site: m.site, host: m.host, stream: m.header.stream, bootId: m.header.boot_id };
            this.ledger.reject(key, m.header.seq, m.header.first_seq, now);
          }
          return;
        case 'gpu': {
          const w = m.window;
          const key = { site: m.site, host: m.host, stream: 'gpu', bootId: w.boot_id };
          if (!this.isNew(key, w.seq, w.first_seq, now)) return;
          this.counters.windows += 1;
          const late = this.live.applyWindow(m.site, m.host, w, now) === 'late';
          if (late) this.counters.late += 1;
          this.buffer({ kind: 'gpu', key, window: w, receivedAt: now }, w.seq);
          this.observer?.gpu(m.site, m.host, w, late);
          return;
        }
        case 'meter': {
          const w = m.window;
          const key = { site: m.site, host: m.host, stream: m.stream, bootId: w.boot_id };
          if (!this.isNew(key, w.seq, w.first_seq, now)) return;
          this.counters.meter_windows += 1;
          const late = this.live.applyMeter(m.site, m.host, m.meter, w, now) === 'late';
          if (late) this.counters.late += 1;
          this.buffer({ kind: 'meter', key, meter: m.meter, window: w, receivedAt: now }, w.seq);
          this.observer?.meter(m.site, m.host, m.meter, w, late);
          return;
        }
        case 'job': {
          const e = m.event;
          const key = { site: m.site, host: m.host, stream: 'job', bootId: e.boot_id };
          if (!this.isNew(key, e.seq, e.first_seq, now)) return;
          this.counters.job_events += 1;
          this.buffer({ kind: 'job', key, event: e, receivedAt: now }, e.seq);
          return;
        }
        case 'work':
          // Not spooled, so never acknowledged: a full buffer drops the report and counts it.
          this.counters.work_reports += 1;
          if (!this.store.enqueue({ kind: 'work', key: { site: m.site, host: m.host, stream: 'work', bootId: '' }, job: m.job, report: m.report, receivedAt: now })) this.counters.store_refused += 1;
          return;
        case 'status':
          this.live.applyStatus(m.site, m.host, m.status);
          this.observer?.status(m.site, m.host, m.status.state === 'online');
          return;
        case 'info':
          this.live.applyInfo(m.site, m.host, m.info);
          return;
        case 'cleared':
          return;
      }
    } catch (err) {
      this.counters.internal_errors += 1;
      this.log(`server: internal error on ${topic.slice(0, 120)}: ${(err as Error).stack ?? err}`);
    }
  }
}
