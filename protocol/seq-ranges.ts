/**
 * A set of sequence numbers kept as a watermark plus sorted, disjoint,
 * inclusive ranges above it: everything <= watermark is in the set. This is
 * the shape of protocol v1's _ack (watermark, ranges), so the state the
 * server keeps is exactly what it sends. Pure and small.
 */

export type Range = [number, number];

export class SeqRanges {
  constructor(
    public watermark = -1,
    public ranges: Range[] = [],
  ) {}

  toJSON(): { watermark: number; ranges: Range[] } {
    return { watermark: this.watermark, ranges: this.ranges };
  }

  static fromJSON(text: string): SeqRanges {
    const o = JSON.parse(text) as { watermark: number; ranges: Range[] };
    return new SeqRanges(o.watermark, o.ranges);
  }

  has(seq: number): boolean {
    if (seq <= this.watermark) return true;
    // Ranges are few (holes are rare), so a linear scan from the end is fine.
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const [from, to] = this.ranges[i]!;
      if (seq > to) return false;
      if (seq >= from) return true;
    }
    return false;
  }

  add(seq: number): void {
    this.addRange(seq, seq);
  }

  /** Adds [from, to]; merges neighbours and lifts the watermark over a contiguous start. */
  addRange(from: number, to: number): void {
    if (to <= this.watermark) return;
    // The common case on a healthy stream: the next seq, no holes. No allocation.
    if (from === this.watermark + 1 && this.ranges.length === 0) {
      this.watermark = to;
      return;
    }
    from = Math.max(from, this.watermark + 1);
    const out: Range[] = [];
    let placed = false;
    for (const r of this.ranges) {
      if (r[1] < from - 1) out.push(r);
      else if (r[0] > to + 1) {
        if (!placed) out.push([from, to]), (placed = true);
        out.push(r);
      } else {
        from = Math.min(from, r[0]);
        to = Math.max(to, r[1]);
      }
    }
    if (!placed) out.push([from, to]);
    out.sort((a, b) => a[0] - b[0]);
    while (out.length > 0 && out[0]![0] <= this.watermark + 1) {
      this.watermark = Math.max(this.watermark, out.shift()![1]);
    }
    this.ranges = out;
  }

  /**
   * Raises the watermark to `below - 1` and returns the sub-ranges of
   * [watermark + 1, below - 1] that were not in the set: what the raise skips.
   */
  raiseTo(below: number): Range[] {
    const skipped: Range[] = [];
    let cursor = this.watermark + 1;
    for (const [from, to] of this.ranges) {
      if (from >= below) break;
      if (from > cursor) skipped.push([cursor, Math.min(from - 1, below - 1)]);
      cursor = Math.max(cursor, to + 1);
    }
    if (cursor <= below - 1) skipped.push([cursor, below - 1]);
    if (below - 1 > this.watermark) this.addRange(this.watermark + 1, below - 1);
    return skipped;
  }
}

export function rangeCount(ranges: readonly Range[]): number {
  return ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
}
