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

  private rows(filter: (ts: number) => boolean, hostsKnown: number, before: number): number[][] {
    const live = this.ring.filter((b): b is Bucket => b !== undefined && b.ts > this.newest - this.capacity * BUCKET_MS && b.ts < before && filter(b.ts));
    live.sort((a, b) => a.ts - b.ts);
    return [
      live.map((b) => b.ts),
      live.map((b) => b.sumMeanW),
      live.map((b) => b.sumPeakW),
      live.map((b) => (hostsKnown > 0 ? Math.min(1, b.weight / hostsKnown) : 0)),
    ];
  }

  /**
   * Columnar [ts[], power_w[], peak_upper_w[], coverage[]] of the ring
   * (protocol/ws.ts FLEET_COLUMNS), for buckets that start before `before`.
   * Hosts publish at offsets up to half a window after it closes, so the
   * newest buckets are still filling; showing them would draw a false dip.
   */
  columns(hostsKnown: number, before = Infinity): number[][] {
    return this.rows(() => true, hostsKnown, before);
  }

  /** The buckets before `before` changed since the last call, in the same columnar form; newer ones stay pending. */
  takeChanged(hostsKnown: number, before = Infinity): number[][] {
    const ready = [...this.dirty].filter((ts) => ts < before);
    for (const ts of ready) this.dirty.delete(ts);
    const set = new Set(ready);
    return this.rows((ts) => set.has(ts), hostsKnown, before);
  }
}
