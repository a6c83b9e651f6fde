import { describe, expect, it } from 'vitest';
import { FleetHistory } from '../../../server/core/fleet-history.js';

const T = 1_764_000_000_000;

describe('fleet history', () => {
  it('sums host means per bucket and keeps summed peaks as an upper bound', () => {
    const h = new FleetHistory(60);
    h.add(T, 1000, 500, 800, undefined);
    h.add(T, 1000, 300, 350, undefined);
    h.add(T + 1000, 1000, 400, 450, undefined);
    const [ts, power, peak, coverage] = h.columns(2);
    expect(ts).toEqual([T, T + 1000]);
    expect(power).toEqual([800, 400]);
    expect(peak).toEqual([1150, 450]);
    expect(coverage).toEqual([1, 0.5]); // one of two hosts reported in the second bucket
  });

  it('spreads a 5 s window over five buckets', () => {
    const h = new FleetHistory(60);
    h.add(T, 5000, 200, 300, undefined);
    const [ts, power] = h.columns(1);
    expect(ts).toEqual([T, T + 1000, T + 2000, T + 3000, T + 4000]);
    expect(power).toEqual([200, 200, 200, 200, 200]);
  });

  it('weights sub-second windows and keeps one host peak per bucket', () => {
    const h = new FleetHistory(60);
    let c = h.add(T, 500, 100, 150, undefined);
    c = h.add(T + 500, 500, 300, 400, c);
    const [, power, peak, coverage] = h.columns(1);
    expect(power).toEqual([200]); // time-weighted mean of 100 and 300
    expect(peak).toEqual([400]); // the host's larger peak, not 150 + 400
    expect(coverage).toEqual([1]);
    expect(c).toEqual({ bucketTs: T, peakW: 400 });
  });

  it('forgets buckets older than its capacity and ignores windows older than the ring', () => {
    const h = new FleetHistory(10);
    for (let i = 0; i < 25; i++) h.add(T + i * 1000, 1000, i, i, undefined);
    const [ts] = h.columns(1);
    expect(ts).toHaveLength(10);
    expect(ts![0]).toBe(T + 15_000);
    h.add(T, 1000, 999, 999, undefined);
    expect(h.columns(1)[0]![0]).toBe(T + 15_000);
  });

  it('reports only changed buckets as a delta', () => {
    const h = new FleetHistory(60);
    h.add(T, 1000, 1, 1, undefined);
    h.add(T + 1000, 1000, 2, 2, undefined);
    expect(h.takeChanged(1)[0]).toEqual([T, T + 1000]);
    expect(h.takeChanged(1)[0]).toEqual([]);
    h.add(T + 1000, 1000, 3, 3, undefined);
    expect(h.takeChanged(1)).toEqual([[T + 1000], [5], [5], [1]]);
  });

  it('holds back buckets that are still filling, and sends them once settled', () => {
    const h = new FleetHistory(60);
    h.add(T, 1000, 10, 10, undefined);
    h.add(T + 1000, 1000, 20, 20, undefined);
    expect(h.columns(1, T + 1000)[0]).toEqual([T]);
    expect(h.takeChanged(1, T + 1000)[0]).toEqual([T]);
    expect(h.takeChanged(1, T + 1000)[0]).toEqual([]);
    expect(h.takeChanged(1, T + 2000)[0]).toEqual([T + 1000]);
  });
});
