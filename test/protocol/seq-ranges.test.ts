import { describe, expect, it } from 'vitest';
import { SeqRanges, rangeCount } from '../../protocol/seq-ranges.js';

describe('SeqRanges', () => {
  it('lifts the watermark over contiguous seqs and keeps holes as ranges', () => {
    const s = new SeqRanges();
    for (const seq of [0, 1, 3, 4, 7]) s.add(seq);
    expect(s.watermark).toBe(1);
    expect(s.ranges).toEqual([[3, 4], [7, 7]]);
    s.add(2);
    expect(s.watermark).toBe(4);
    expect(s.ranges).toEqual([[7, 7]]);
    expect(s.has(4)).toBe(true);
    expect(s.has(5)).toBe(false);
    expect(s.has(7)).toBe(true);
  });

  it('ignores seqs already in the set', () => {
    const s = new SeqRanges(5, [[8, 9]]);
    s.add(3);
    s.add(9);
    expect(s).toMatchObject({ watermark: 5, ranges: [[8, 9]] });
  });

  it('merges overlapping and adjacent ranges whatever the order', () => {
    const s = new SeqRanges();
    for (const seq of [10, 12, 11, 20, 14, 13, 19]) s.add(seq);
    expect(s.ranges).toEqual([[10, 14], [19, 20]]);
    s.addRange(15, 18);
    expect(s.ranges).toEqual([[10, 20]]);
  });

  it('raising the watermark reports exactly the skipped seqs', () => {
    const s = new SeqRanges(2, [[5, 6], [9, 9]]);
    const skipped = s.raiseTo(12); // everything below 12 is now settled
    expect(skipped).toEqual([[3, 4], [7, 8], [10, 11]]);
    expect(rangeCount(skipped)).toBe(6);
    expect(s).toMatchObject({ watermark: 11, ranges: [] });
    expect(s.raiseTo(5)).toEqual([]); // below the watermark: nothing
  });

  it('matches a brute-force set on random operations', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let round = 0; round < 200; round++) {
      const s = new SeqRanges();
      const truth = new Set<number>();
      for (let i = 0; i < 50; i++) {
        if (rand(10) === 0) {
          const below = rand(120);
          const expectedSkip = [];
          for (let q = s.watermark + 1; q < below; q++) if (!truth.has(q)) expectedSkip.push(q);
          const skipped = s.raiseTo(below).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, k) => a + k));
          expect(skipped).toEqual(expectedSkip);
          for (let q = 0; q < below; q++) truth.add(q);
        } else {
          const q = rand(120);
          s.add(q);
          truth.add(q);
        }
        for (let q = 0; q < 125; q++) expect(s.has(q)).toBe(truth.has(q));
      }
    }
  });
});
