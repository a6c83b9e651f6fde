/**
 * Writing to VictoriaMetrics through @influxdata/influxdb-client's WriteApi
 * (InfluxDB line protocol on /api/v2/write), and the two checks durability
 * needs: which VictoriaMetrics process is answering, and whether it runs
 * with the flags the store relies on.
 *
 * Every client setting is chosen here, because its defaults are wrong for a
 * live tool (ARCHITECTURE.md §8): a 60 s flush interval, a first retry after
 * 5 s doubling to 125 s, giving up after 180 s, and a retry buffer that drops
 * 30 % of itself at once. The store keeps every batch until it is durable
 * and writes it again after a failure, so the client only smooths over a
 * blip: a few quick retries within a few seconds, then it reports the lines
 * as failed and the store takes over (with its own backoff).
 *
 * One WriteApi per batch: the client's callbacks only carry the lines, and a
 * retry or a late answer from an earlier batch must never be counted as
 * success for a later one. A WriteApi is a small object; this costs nothing.
 */
import { HttpError, InfluxDB, type WriteOptions, setLogger } from '@influxdata/influxdb-client';

export interface WriterOptions {
  url: string;
  /** Lines per HTTP request (the issue: about 5,000). */
  batchLines: number;
  /** Socket timeout of one request. */
  timeoutMs: number;
  /** The oldest window the server accepts: VictoriaMetrics must keep at least this long, or it drops samples with a 2xx. */
  minRetentionMs?: number;
}

const RETENTION_UNITS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/** VictoriaMetrics' -retentionPeriod: a bare number counts months (31 days, as VictoriaMetrics reckons them here), or a number with h, d, w, y. */
export function retentionMs(flag: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([hdwy]?)$/.exec(flag.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] ? RETENTION_UNITS[m[2]]! : 31 * 86_400_000);
}

export type WriteOutcome = { ok: true } | { ok: false; error: string };

/** The client retries a failed request this often before it reports the lines failed. */
export const CLIENT_MAX_RETRIES = 2;
/** ... and within this much time. */
const CLIENT_MAX_RETRY_MS = 3000;

/** True when the target is this machine: gzip would cost CPU on both sides and save nothing. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function describe(err: Error): string {
  if (err instanceof HttpError) return `VictoriaMetrics answered ${err.statusCode}: ${(err.body || err.message).slice(0, 200)}`;
  return `VictoriaMetrics unreachable: ${err.message}`;
}

let clientLogSet = false;

/**
 * The client logs each retry as a warning with a stack trace: during an
 * outage, a few per second. The store reports failures through its stats
 * (degraded, last_error) instead, so warnings are dropped and errors kept
 * on one line. The client's logger is process-wide; nothing else in
 * kilowatch uses the client.
 */
function quietClientLog(): void {
  if (clientLogSet) return;
  clientLogSet = true;
  setLogger({
    error: (message: string, err?: unknown) => console.error(`influxdb-client: ${message}${err instanceof Error ? ` ${err.message}` : ''}`),
    warn: () => undefined,
  });
}

export class VictoriaWriter {
  private readonly influx: InfluxDB;
  private readonly gzip: boolean;

  constructor(private readonly opts: WriterOptions) {
    this.influx = new InfluxDB({ url: opts.url, timeout: opts.timeoutMs });
    this.gzip = !isLoopback(opts.url);
    quietClientLog();
  }

  /** Writes the lines; resolves once every line was acknowledged by a 2xx, or once any line failed for good. */
  write(lines: readonly string[]): Promise<WriteOutcome> {
    if (lines.length === 0) return Promise.resolve({ ok: true });
    return new Promise((resolve) => {
      let ok = 0;
      let failed = 0;
      let error: string | undefined;
      let done = false;
      const settle = () => {
        if (done || ok + failed < lines.length) return;
        done = true;
        clearTimeout(guard);
        api.dispose();
        resolve(failed === 0 ? { ok: true } : { ok: false, error: error ?? 'write failed' });
      };
      const fail = (n: number, reason: string) => {
        failed += n;
        error ??= reason;
        settle();
      };
      const options: Partial<WriteOptions> = {
        batchSize: this.opts.batchLines,
        maxBatchBytes: 16_000_000, // under VictoriaMetrics' -maxInsertRequestSize (32 MB)
        flushInterval: 1000, // the store flushes each batch at once; this bounds a line's wait if it ever did not
        gzipThreshold: this.gzip ? 1000 : Number.POSITIVE_INFINITY,
        maxRetries: CLIENT_MAX_RETRIES,
        maxRetryTime: CLIENT_MAX_RETRY_MS,
        minRetryDelay: 200,
        maxRetryDelay: 1000,
        exponentialBase: 2,
        randomRetry: true,
        retryJitter: 100,
        // Only this batch's lines can be in this WriteApi's retry buffer, so nothing is ever dropped to make room.
        maxBufferLines: lines.length,
        writeSuccess: (chunk: string[]) => {
          ok += chunk.length;
          settle();
        },
        writeFailed: (err: Error, chunk: string[], attempt: number, expires: number) => {
          // The client retries transport errors and 429/5xx; a 4xx it would not, and past its limits it gives up.
          const retriable = !(err instanceof HttpError) || err.statusCode >= 429;
          if (retriable && attempt <= CLIENT_MAX_RETRIES && Date.now() < expires) return undefined;
          fail(chunk.length, describe(err));
          return Promise.resolve(); // handled: the store keeps the batch and writes it again
        },
        writeRetrySkipped: (entry: { lines: string[] }) => fail(entry.lines.length, 'the client dropped lines from its retry buffer'),
      };
      const api = this.influx.getWriteApi('kilowatch', 'kilowatch', 'ms', options);
      // A last resort if the client never calls back: every try timed out, plus the delays between them.
      const guard = setTimeout(() => fail(lines.length, `no answer from VictoriaMetrics in ${this.deadlineMs()} ms`), this.deadlineMs());
      api.writeRecords(lines as string[]);
      api.flush().catch(() => undefined); // outcomes arrive through the callbacks above
    });
  }

  private deadlineMs(): number {
    return (CLIENT_MAX_RETRIES + 1) * this.opts.timeoutMs + CLIENT_MAX_RETRY_MS + 2000;
  }

  /**
   * When the VictoriaMetrics process answering now started (s since the
   * epoch, from its own /metrics), or undefined when it does not answer.
   * A different answer than at write time means it restarted in between,
   * and whatever it held only in memory may be gone.
   */
  async startedAt(): Promise<number | undefined> {
    try {
      const res = await fetch(`${this.opts.url}/metrics`, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
      if (!res.ok) return undefined;
      const m = /^vm_app_start_timestamp (\d+)/m.exec(await res.text());
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The flags the store relies on, from VictoriaMetrics' /flags page: what is
   * wrong, or [] (also when it cannot tell, e.g. a vminsert in front).
   */
  async flagProblems(): Promise<string[] | undefined> {
    let text: string;
    try {
      const res = await fetch(`${this.opts.url}/flags`, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
      if (!res.ok) return [];
      text = await res.text();
    } catch {
      return undefined; // unreachable: checked again later
    }
    const flag = (name: string) => new RegExp(`^-${name.replace('.', '\\.')}="([^"]*)"`, 'm').exec(text)?.[1];
    const problems: string[] = [];
    const latency = flag('search.latencyOffset');
    if (latency === undefined || !/^0+(ms|s|m)?$/.test(latency)) {
      problems.push(`-search.latencyOffset is ${latency ?? '30s (the default)'}: queries would not see the last ${latency ?? '30s'}; run VictoriaMetrics with -search.latencyOffset=0s`);
    }
    const retention = retentionMs(flag('retentionPeriod') ?? '1');
    if (this.opts.minRetentionMs !== undefined && retention !== undefined && retention < this.opts.minRetentionMs) {
      const days = Math.ceil(this.opts.minRetentionMs / 86_400_000);
      problems.push(`-retentionPeriod is ${flag('retentionPeriod') ?? '1 (month, the default)'}: shorter than the ${days} days of windows the server accepts, and VictoriaMetrics drops older samples while answering 2xx; run it with -retentionPeriod=${days}d or more`);
    }
    const dedup = flag('dedup.minScrapeInterval');
    if (dedup === undefined || /^0+(ms|s|m)?$/.test(dedup)) {
      problems.push('-dedup.minScrapeInterval is not set: a window written twice (after a failed or unconfirmed write) would be counted twice; set it to the collectors\' window length (e.g. -dedup.minScrapeInterval=1s)');
    }
    return problems;
  }
}
