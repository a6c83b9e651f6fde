/**
 * The fleet power series of the live views: fixed 1 s buckets in a ring that
 * holds the last `capacity` seconds. Each host window adds its mean power to
 * every bucket it overlaps, weighted by the overlap, so hosts with different
 * window lengths still sum correctly. A group sums means (§3); the sum of host
 * peaks is kept beside it as an upper bound of the fleet peak, never as a peak.
 */

export const BUCKET_MS = 1000;

interface Bucket {
  ts: number;
  sumMeanW: number;
  sumPeakW: number;
  /** Host-seconds of data in the bucket; divided by hosts known it gives coverage. */
  weight: number;
}

/** What one host last put in a bucket, so a second window in the same bucket replaces its peak, not adds to it. */
export interface HostContribution {
  bucketTs: number;
  peakW: number;
}

export class FleetHistory {
  private readonly ring: (Bucket | undefined)[];
  private newest = -Infinity;
  private readonly dirty = new Set<number>();

  constructor(readonly capacity: number) {
    this.ring = new Array<Bucket | undefined>(capacity);
  }

  private bucket(ts: number): Bucket | undefined {
    if (ts <= this.newest - this.capacity * BUCKET_MS) return undefined; // older than the ring
    const slot = Math.floor(ts / BUCKET_MS) % this.capacity;
    let b = this.ring[slot];
    if (!b || b.ts !== ts) this.ring[slot] = b = { ts, sumMeanW: 0, sumPeakW: 0, weight: 0 };
    if (ts > this.newest) this.newest = ts;
    return b;
  }

  /**
   * Adds one host window. `last` is what this host added most recently; the
   * returned value replaces it. Returns undefined contributions unchanged when
   * the window is older than the ring.
   */
  add(ts: number, windowMs: number, meanW: number, peakW: number, last: HostContribution | undefined): HostContribution | undefined {
    let contribution = last;
    for (let b = Math.floor(ts / BUCKET_MS) * BUCKET_MS; b < ts + windowMs; b += BUCKET_MS) {
      const bucket = this.bucket(b);
      if (!bucket) continue;
      const overlap = (Math.min(b + BUCKET_MS, ts + windowMs) - Math.max(b, ts)) / BUCKET_MS;
      bucket.sumMeanW += meanW * overlap;
      bucket.weight += overlap;
      if (contribution && contribution.bucketTs === b) {
        // Same host, same bucket (windows shorter than 1 s): its peak is the larger one.
        const peak = Math.max(contribution.peakW, peakW);
        bucket.sumPeakW += peak - contribution.peakW;
        contribution = { bucketTs: b, peakW: peak };
      } else {
        bucket.sumPeakW += peakW;
        contribution = { bucketTs: b, peakW };
      }
      this.dirty.add(b);
    }
    return contribution;
  }

  private rows(filter: (ts: number) => boolean, hostsKnown: number): number[][] {
    const live = this.ring.filter((b): b is Bucket => b !== undefined && b.ts > this.newest - this.capacity * BUCKET_MS && filter(b.ts));
    live.sort((a, b) => a.ts - b.ts);
    return [
      live.map((b) => b.ts),
      live.map((b) => b.sumMeanW),
      live.map((b) => b.sumPeakW),
      live.map((b) => (hostsKnown > 0 ? Math.min(1, b.weight / hostsKnown) : 0)),
    ];
  }

  /** Columnar [ts[], power_w[], peak_upper_w[], coverage[]] of the whole ring (protocol/ws.ts FLEET_COLUMNS). */
  columns(hostsKnown: number): number[][] {
    return this.rows(() => true, hostsKnown);
  }

  /** The buckets changed since the last call, in the same columnar form. */
  takeChanged(hostsKnown: number): number[][] {
    const changed = new Set(this.dirty);
    this.dirty.clear();
    return this.rows((ts) => changed.has(ts), hostsKnown);
  }
}
