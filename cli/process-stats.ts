/**
 * The process's own health for its reports: resident memory, V8 heap, and
 * the event-loop delay (perf_hooks.monitorEventLoopDelay) since the last
 * report. The collector puts it in its periodic health line and the server
 * in /api/v1/health and /metrics, so a soak run can follow every process
 * over time. Shared by both commands, as the other cli/ helpers are.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProcessStatsSnapshot {
  rss_bytes: number;
  heap_used_bytes: number;
  /** Event-loop delay over the interval, ms: how late the histogram's timer ran beyond its due time. */
  event_loop_delay_ms: { p50: number; p99: number; max: number };
  /** Seconds covered by the delay figures. */
  interval_s: number;
}

/** What the snapshot reads; the real process by default, a stand-in in tests. */
export interface ProcessStatsSources {
  histogram: Pick<IntervalHistogram, 'percentile' | 'max' | 'count' | 'reset' | 'enable' | 'disable'>;
  memory: () => { rss: number; heapUsed: number };
  now: () => number;
}

/** Nanoseconds to ms, rounded to a microsecond: finer digits only make the JSON longer. */
const ms = (ns: number) => Math.round(Math.max(0, ns) / 1000) / 1000;

export class ProcessStats {
  private readonly src: ProcessStatsSources;
  private since: number;
  private last: ProcessStatsSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly resolutionNs: number;

  /**
   * `resolutionMs`: the sampling timer of the delay histogram (perf_hooks' default is 10 ms). The histogram
   * holds each timer's whole interval, so an idle loop reads about 10 ms; the delay is what exceeds it.
   */
  constructor(src: Partial<ProcessStatsSources> = {}, resolutionMs = 10) {
    this.resolutionNs = resolutionMs * 1e6;
    this.src = {
      histogram: src.histogram ?? monitorEventLoopDelay({ resolution: resolutionMs }),
      memory: src.memory ?? (() => process.memoryUsage()),
      now: src.now ?? Date.now,
    };
    this.src.histogram.enable();
    this.since = this.src.now();
  }

  /** The figures since the previous take (or the start), and a fresh interval from now. */
  take(): ProcessStatsSnapshot {
    const snap = this.read();
    this.src.histogram.reset();
    this.since = this.src.now();
    return snap;
  }

  /**
   * For readers that come at any time (an HTTP endpoint, a scraper): every
   * `everyMs` the interval closes, and latest() answers the last closed one,
   * so two readers never cut each other's interval short.
   */
  closeEvery(everyMs: number): this {
    clearInterval(this.timer);
    this.timer = setInterval(() => (this.last = this.take()), everyMs);
    this.timer.unref();
    return this;
  }

  /** The last closed interval's delay with the memory of now; before the first closes, the figures so far. */
  latest(): ProcessStatsSnapshot {
    if (!this.last) return this.read();
    const { rss, heapUsed } = this.src.memory();
    return { ...this.last, rss_bytes: rss, heap_used_bytes: heapUsed };
  }

  private read(): ProcessStatsSnapshot {
    const h = this.src.histogram;
    const { rss, heapUsed } = this.src.memory();
    // An empty histogram reads 0 for its percentiles and a huge max: no sample means no delay was measured.
    const empty = h.count === 0;
    return {
      rss_bytes: rss,
      heap_used_bytes: heapUsed,
      event_loop_delay_ms: empty ? { p50: 0, p99: 0, max: 0 } : { p50: this.delay(h.percentile(50)), p99: this.delay(h.percentile(99)), max: this.delay(h.max) },
      interval_s: Math.round((this.src.now() - this.since) / 100) / 10,
    };
  }

  private delay(intervalNs: number): number {
    return ms(intervalNs - this.resolutionNs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.src.histogram.disable();
  }
}
