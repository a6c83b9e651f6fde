/**
 * The `prometheus` source: scrapes a dcgm-exporter (or nvidia_gpu_exporter)
 * /metrics URL where DCGM already runs, and serves the latest readings.
 *
 * - Pace: dcgm-exporter refreshes its values every 30 s by default
 *   (ARCHITECTURE §8), so scraping faster only re-reads the same numbers. The
 *   interval defaults to 30 s and is never below 1 s.
 * - Distinct samples, not scrapes: a GPU whose values and timestamps equal the
 *   previous scrape's is not a new sample. It only proves the exporter is
 *   alive, so it keeps the reading fresh; health counts `samples` (distinct
 *   scrapes) apart from `unchanged_scrapes`. A reading's ts_ms is the
 *   exporter's timestamp when given, else when its values were first seen, so
 *   a consumer can tell a repeat from a new sample.
 * - read(t) returns the GPUs seen by a successful scrape within stalenessMs.
 *   It never blocks and never throws; scrapes run on their own timer.
 * - Bad values are dropped with a reason and counted (sample-checks.ts); DCGM
 *   sentinels are already absent (parse-prometheus.ts). A failed scrape is
 *   counted by kind and retried with a doubling backoff; only the first one,
 *   in start(), is fatal.
 */
import type { GpuInfo } from '../../protocol/payloads.js';
import type { GpuSample } from '../window.js';
import { type GpuReadings, parseExposition, type PromReading, readingsFromExposition } from './parse-prometheus.js';
import { type Checked, checkEnergy, checkPower, checkRange, HealthCounters } from './sample-checks.js';
import type { GpuSource } from './source.js';

export interface PrometheusOptions {
  /** The exporter's metrics URL, e.g. http://127.0.0.1:9400/metrics. */
  url: string;
  /** Scrape period; default 30000 (dcgm-exporter's own), never below 1000. */
  intervalMs?: number;
  /** read(t) returns GPUs seen by a scrape at most this long ago. Default 3 x intervalMs. */
  stalenessMs?: number;
  /** Limit for one scrape, answer and body. Default min(10000, intervalMs). */
  timeoutMs?: number;
  /** First retry after a failed scrape, doubling up to maxBackoffMs. Never below 1000. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Bound on one response body; a larger one is a failed scrape. Default 16 MiB. */
  maxBodyBytes?: number;
  now?: () => number;
}

export interface PrometheusSample extends PromReading {
  counter_reset?: true;
}

export type ScrapeResult = { ok: true } | { ok: false; error: string };

/** A failed scrape; `reason` names its health counter. */
class ScrapeFailure extends Error {
  constructor(
    readonly reason: 'http_errors' | 'timeouts' | 'network_errors' | 'oversize' | 'no_gpus' | 'stopped',
    message: string,
  ) {
    super(message);
  }
}

interface Latest {
  /** The mapped reading before checks: equal text means the same sample. */
  fingerprint: string;
  seenAt: number;
  sample: PrometheusSample;
}

export class PrometheusSource implements GpuSource {
  readonly kind = 'prometheus' as const;
  private readonly o: Required<Omit<PrometheusOptions, 'now'>> & { now: () => number };
  private readonly counters = new HealthCounters('prometheus');
  private readonly latest = new Map<string, Latest>();
  private readonly energy = new Map<string, number>();
  private gpus: GpuInfo[] = [];
  private inflight: Promise<ScrapeResult> | undefined;
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private up = false;
  private stopping = false;

  constructor(opts: PrometheusOptions) {
    const intervalMs = Math.max(1000, opts.intervalMs ?? 30_000);
    this.o = {
      url: opts.url,
      intervalMs,
      stalenessMs: opts.stalenessMs ?? 3 * intervalMs,
      timeoutMs: opts.timeoutMs ?? Math.min(10_000, intervalMs),
      backoffMs: Math.max(1000, opts.backoffMs ?? 1000),
      maxBackoffMs: opts.maxBackoffMs ?? 60_000,
      maxBodyBytes: opts.maxBodyBytes ?? 16 * 1024 * 1024,
      now: opts.now ?? Date.now,
    };
  }

  async start(): Promise<void> {
    this.stopping = false;
    const first = await this.scrape();
    if (!first.ok) throw new Error(`prometheus: first scrape of ${this.o.url} failed: ${first.error}`);
    this.schedule(this.o.intervalMs);
  }

  /** The inventory from the latest scrape that changed anything (MIG layouts can change while running). */
  inventory(): GpuInfo[] {
    return this.gpus;
  }

  read(tMs: number): GpuSample[] {
    const out: PrometheusSample[] = [];
    for (const { seenAt, sample } of this.latest.values()) if (tMs - seenAt <= this.o.stalenessMs) out.push(sample);
    return out;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.abort?.abort(new ScrapeFailure('stopped', 'stopped'));
    await this.inflight;
    this.latest.clear();
    this.up = false;
  }

  health(): Record<string, number> {
    return { ...this.counters.snapshot(), prometheus_gpus: this.gpus.length, prometheus_up: this.up ? 1 : 0 };
  }

  /** One scrape now (the loop's step; tests call it to step without waiting). Never rejects; joins one in flight. */
  scrape(): Promise<ScrapeResult> {
    this.inflight ??= this.scrapeOnce().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      void this.scrape().then((r) => {
        this.failures = r.ok ? 0 : this.failures + 1;
        this.schedule(r.ok ? this.o.intervalMs : Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (this.failures - 1)));
      });
    }, delayMs);
    this.timer.unref();
  }

  private async scrapeOnce(): Promise<ScrapeResult> {
    const ac = new AbortController();
    this.abort = ac;
    const timeout = setTimeout(() => ac.abort(new ScrapeFailure('timeouts', `no complete answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    try {
      const res = await fetch(this.o.url, { signal: ac.signal, headers: { accept: 'text/plain;version=0.0.4' } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new ScrapeFailure('http_errors', `HTTP ${res.status} ${res.statusText}`.trim());
      }
      const exp = parseExposition(await this.readBody(res));
      const gpus = readingsFromExposition(exp);
      if (exp.skipped > 0) this.counters.add('malformed_lines', exp.skipped);
      if (gpus.sentinels > 0) this.counters.add('absent_sentinels', gpus.sentinels);
      if (gpus.readings.length === 0) {
        throw new ScrapeFailure('no_gpus', `no GPU metrics with a UUID label (${exp.samples.length} samples, ${exp.skipped} malformed lines)`);
      }
      if (this.stopping) return { ok: false, error: 'stopped' };
      this.apply(gpus);
      this.counters.add('scrapes');
      this.up = true;
      return { ok: true };
    } catch (err) {
      const f = err instanceof ScrapeFailure ? err : ac.signal.reason instanceof ScrapeFailure ? ac.signal.reason : networkFailure(err);
      if (f.reason === 'stopped' || this.stopping) return { ok: false, error: 'stopped' };
      this.counters.add('scrape_errors');
      this.counters.add(f.reason);
      this.up = false;
      return { ok: false, error: f.message };
    } finally {
      clearTimeout(timeout);
    }
  }

  private async readBody(res: Response): Promise<string> {
    if (!res.body) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > this.o.maxBodyBytes) {
        await reader.cancel();
        throw new ScrapeFailure('oversize', `body larger than ${this.o.maxBodyBytes} bytes`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Keeps each GPU's latest reading; only a changed one is checked and counted again. */
  private apply({ readings, inventory }: GpuReadings): void {
    const now = this.o.now();
    let changed = readings.length !== this.latest.size;
    for (const r of readings) {
      const fingerprint = JSON.stringify(r);
      const prev = this.latest.get(r.id);
      if (prev?.fingerprint === fingerprint) {
        prev.seenAt = now;
        continue;
      }
      changed = true;
      this.latest.set(r.id, { fingerprint, seenAt: now, sample: this.check({ ...r, ts_ms: r.ts_ms ?? now }) });
    }
    if (!changed) {
      this.counters.add('unchanged_scrapes');
      return;
    }
    const seen = new Set(readings.map((r) => r.id));
    for (const id of this.latest.keys()) if (!seen.has(id)) this.latest.delete(id);
    this.gpus = inventory;
    this.counters.add('samples');
  }

  private check(s: PrometheusSample): PrometheusSample {
    const drop = (k: keyof PrometheusSample, c: Checked) => {
      if (!c.drop) return;
      this.counters.drop(c.drop);
      delete s[k];
    };
    drop('power_limit_w', checkPower(s.power_limit_w, undefined));
    const limit = s.power_limit_w ?? this.gpus.find((g) => g.id === s.id)?.power_limit_w;
    drop('power_w', checkPower(s.power_w, limit));
    drop('power_avg_w', checkPower(s.power_avg_w, limit));
    drop('util_pct', checkRange(s.util_pct, 0, 100));
    drop('temp_c', checkRange(s.temp_c, -40, 200));
    drop('memory_temp_c', checkRange(s.memory_temp_c, -40, 200));
    drop('mem_used_mib', checkRange(s.mem_used_mib, 0, Number.MAX_SAFE_INTEGER));
    drop('sm_clock_mhz', checkRange(s.sm_clock_mhz, 0, 100_000));
    drop('xid', checkRange(s.xid, 0, Number.MAX_SAFE_INTEGER));
    const e = checkEnergy(s.energy_mj, this.energy.get(s.id));
    drop('energy_mj', e);
    if (e.reset) {
      this.counters.add('counter_reset');
      s.counter_reset = true;
    }
    if (e.value !== undefined) this.energy.set(s.id, e.value);
    return s;
  }
}

/** fetch() rejects with `TypeError: fetch failed` and the reason in `cause` (ECONNREFUSED, ...). */
function networkFailure(err: unknown): ScrapeFailure {
  const e = err as { message?: string; cause?: { message?: string } };
  return new ScrapeFailure('network_errors', [e.message, e.cause?.message].filter(Boolean).join(': ') || String(err));
}
