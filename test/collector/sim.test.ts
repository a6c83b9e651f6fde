import { describe, expect, it } from 'vitest';
import { SIM_SEGMENT_MS, simEnergyMj, simGpuId, simGpus, simPowerW, simSample } from '../../collector/sources/sim.js';

const T0 = 1_764_000_000_000;

/** Composite Simpson integration of power over [a, b], in mJ, as an independent check of the closed form. */
function simpson(f: (t: number) => number, a: number, b: number, steps = 2000): number {
  const h = (b - a) / steps;
  let s = f(a) + f(b);
  for (let i = 1; i < steps; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
  return (s * h) / 3;
}

describe('simulated GPUs', () => {
  it('have stable UUID-shaped ids that depend on seed, host and index', () => {
    const id = simGpuId(1, 0, 0);
    expect(id).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(simGpuId(1, 0, 0)).toBe(id);
    const ids = new Set<string>();
    for (let h = 0; h < 8; h++) for (let g = 0; g < 8; g++) ids.add(simGpuId(1, h, g));
    expect(ids.size).toBe(64);
    expect(simGpuId(2, 0, 0)).not.toBe(id);
  });

  it('power is a pure function of (seed, GPU, time) and stays within the limit', () => {
    const [a] = simGpus(7, 3, 1);
    const [b] = simGpus(7, 3, 1);
    for (let t = T0; t < T0 + 5 * SIM_SEGMENT_MS; t += 333) {
      const p = simPowerW(a!, t);
      expect(simPowerW(b!, t)).toBe(p);
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThanOrEqual(700);
    }
  });

  it('the energy counter equals the integral of power, across segment boundaries', () => {
    const [gpu] = simGpus(1, 0, 1);
    const from = T0 + 12_345;
    const to = from + 2.5 * SIM_SEGMENT_MS; // crosses two segment boundaries
    const closedForm = simEnergyMj(gpu!, from, to);
    // Integrate each segment separately: power jumps at the boundaries.
    let numeric = 0;
    for (let a = from; a < to; ) {
      const b = Math.min(to, (Math.floor(a / SIM_SEGMENT_MS) + 1) * SIM_SEGMENT_MS);
      // Power jumps at a boundary: evaluate the end point just inside the segment (0.5 ms; 1e-6 is below the float spacing at epoch ms).
      numeric += simpson((t) => simPowerW(gpu!, Math.min(t, b - 0.5)), a, b);
      a = b;
    }
    expect(Math.abs(closedForm - numeric) / numeric).toBeLessThan(1e-9);
  });

  it('the counter is monotone and its differences match mean power', () => {
    const [gpu] = simGpus(1, 2, 1);
    const loadedAt = T0 - 3_600_000;
    let last = -1;
    for (let t = T0; t < T0 + 120_000; t += 100) {
      const s = simSample(gpu!, loadedAt, t);
      expect(s.energy_mj!).toBeGreaterThanOrEqual(last);
      last = s.energy_mj!;
    }
    const e0 = simSample(gpu!, loadedAt, T0).energy_mj!;
    const e1 = simSample(gpu!, loadedAt, T0 + 1000).energy_mj!;
    const meanPower = simEnergyMj(gpu!, T0, T0 + 1000) / 1000;
    expect((e1 - e0) / 1000).toBeCloseTo(meanPower, 0); // within the 1 mJ rounding of the counter
  });
});
