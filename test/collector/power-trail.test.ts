import { describe, expect, it } from 'vitest';
import { PowerTrail } from '../../collector/power-trail.js';
import { Sampler, type SampledHost } from '../../collector/sampler.js';
import type { WindowBody } from '../../collector/window.js';

describe('edge energy (trapezoid rule)', () => {
  it('is exact for a constant and for a ramp, and splits a segment at the window boundary', () => {
    const trail = new PowerTrail(1000, 500);
    expect(trail.add('g', 900, 100)).toEqual([]);
    // 900 -> 1100 ms, 100 W -> 300 W: 100 ms in each window.
    expect(trail.add('g', 1100, 300)).toEqual([
      { windowTs: 0, energyMj: 15_000 }, // mean 150 W over 100 ms
      { windowTs: 1000, energyMj: 25_000 }, // mean 250 W over 100 ms
    ]);
  });

  it('integrates a square wave and a spike within the trapezoid rule\'s bound for the sampling rate', () => {
    const DT = 100; // 10 Hz, the collector's default
    const integrate = (power: (t: number) => number, to: number) => {
      const trail = new PowerTrail(1000, 5 * DT);
      let mj = 0;
      for (let t = 0; t <= to; t += DT) for (const p of trail.add('g', t, power(t))) mj += p.energyMj;
      return mj;
    };
    // A 650 W / 150 W square wave with a 1.05 s period: its edges fall between samples.
    const square = (t: number) => (Math.floor(t / 525) % 2 === 0 ? 650 : 150);
    const exact = (to: number) => { let e = 0; for (let t = 0; t < to; t++) e += square(t); return e; }; // W x ms = mJ, at 1 ms
    const edges = Math.floor(10_000 / 525);
    // Per edge, the trapezoid spreads a jump of (650 - 150) W over one interval: error at most jump x DT / 2.
    expect(Math.abs(integrate(square, 10_000) - exact(10_000))).toBeLessThanOrEqual(edges * (500 * DT) / 2 + 1);
    // A 250 ms spike to 1,050 W on a 300 W base, starting between samples.
    const spike = (t: number) => (t >= 2030 && t < 2280 ? 1050 : 300);
    let truth = 0;
    for (let t = 0; t < 5000; t++) truth += spike(t);
    expect(Math.abs(integrate(spike, 5000) - truth)).toBeLessThanOrEqual(2 * (750 * DT) / 2);
  });

  it('never bridges a gap longer than the limit, and counts it', () => {
    const trail = new PowerTrail(1000, 500);
    trail.add('g', 0, 100);
    expect(trail.add('g', 600, 100)).toEqual([]);
    expect(trail.gaps).toBe(1);
    expect(trail.add('g', 700, 100)).toEqual([{ windowTs: 0, energyMj: 10_000 }]);
  });
});

describe('sampler with a counterless source', () => {
  it('puts the integrated energy of each window into its window_energy_mj, and carries throttle and processes', () => {
    const windows: WindowBody[] = [];
    const host: SampledHost = {
      name: 'h', key: 0,
      // 200 W constant, no energy counter (as nvidia-smi), throttled and with one process at 300 ms.
      read: (t) => [{ id: 'g', power_w: 200, ...(t % 1000 === 300 ? { throttle: ['power_cap' as const], processes: [{ pid: 7, used_mib: 10 }] } : {}) }],
      publishWindow: (b) => windows.push(b),
    };
    let now = 0;
    const sampler = new Sampler([host], { windowMs: 1000, sampleMs: 100, now: () => now });
    for (let t = 0; t <= 3000; t += 100) {
      now = t;
      sampler.tick(t);
    }
    sampler.stop(); // publishes the window waiting for its offset and the open one
    const full = windows.filter((w) => w.ts === 1000 || w.ts === 2000);
    expect(full).toHaveLength(2);
    for (const w of full) {
      expect(w.gpus[0]!.window_energy_mj).toBeCloseTo(200 * 1000, 6); // 200 W x 1 s, samples across both boundaries
      expect(w.gpus[0]!.energy_mj).toBeUndefined();
      expect(w.gpus[0]!.throttle).toEqual(['power_cap']);
      expect(w.gpus[0]!.processes).toEqual([{ pid: 7, used_mib: 10 }]);
    }
  });

  it('counts a reading the source repeats at later ticks once, while the host total keeps its power', () => {
    const windows: WindowBody[] = [];
    // An exporter-like source: a new reading every 500 ms, seen at every 100 ms tick.
    const host: SampledHost = {
      name: 'h', key: 0,
      read: (t) => [
        { id: 'slow', power_w: 100 + Math.floor(t / 500), ts_ms: Math.floor(t / 500) * 500 },
        { id: 'fast', power_w: 50 },
      ],
      publishWindow: (b) => windows.push(b),
    };
    let now = 0;
    const sampler = new Sampler([host], { windowMs: 1000, sampleMs: 100, now: () => now });
    for (let t = 0; t <= 2000; t += 100) {
      now = t;
      sampler.tick(t);
    }
    sampler.stop();
    const w = windows.find((x) => x.ts === 1000)!;
    const slow = w.gpus.find((g) => g.id === 'slow')!;
    expect(slow.power_w).toMatchObject({ n: 2, min: 102, max: 103 }); // two distinct readings, not ten
    expect(w.gpus.find((g) => g.id === 'fast')!.power_w!.n).toBe(10); // no ts_ms: every tick counts
    expect(w.host_power_w).toMatchObject({ n: 10, min: 152, max: 153 }); // the repeated reading still counts in the host total
  });
});
