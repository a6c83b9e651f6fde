/**
 * Per-host message rate limits: a token bucket per (site, host), so one
 * runaway or hostile collector cannot starve the others. Generous on
 * purpose: a collector replaying its spool after an outage sends in bursts,
 * and what is refused here is not acknowledged, so it is sent again later,
 * never lost. The map is bounded; a host beyond the bound shares one bucket.
 * Pure: the caller passes the time.
 */
export interface RateOptions {
  /** Sustained messages per second per host. */
  perSecond: number;
  /** Messages a host may send at once above the sustained rate. */
  burst: number;
  maxHosts: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class HostRate {
  private readonly buckets = new Map<string, Bucket>();
  private readonly overflow: Bucket = { tokens: 0, at: 0 };
  refused = 0;

  constructor(private readonly opts: RateOptions) {
    this.overflow.tokens = opts.burst;
  }

  /** True when the host may send one more message now. */
  take(site: string, host: string, now: number): boolean {
    const key = `${site}\u0000${host}`;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.opts.maxHosts) b = this.overflow;
      else this.buckets.set(key, (b = { tokens: this.opts.burst, at: now }));
    }
    b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.refused += 1;
      return false;
    }
    b.tokens -= 1;
    return true;
  }
}
