import { describe, expect, it } from 'vitest';
import { Sampler, type SampledHost } from '../../collector/sampler.js';
import type { GpuSample, WindowBody } from '../../collector/window.js';

const T0 = 1_764_000_000_000;

/** A GPU on a power ramp, P(t) = 100 + 10 s W (s in seconds since T0), with its exact counter. */
const powerW = (t: number) => 100 + (10 * (t - T0)) / 1000;
const counterMj = (t: number) => { const s = (t - T0) / 1000; return 1e6 + (100 * s + 5 * s * s) * 1000; };

/** Drives the sampler's grid by hand; `now` far ahead makes each closed window go out at once. */
async function run(read: (t: number) => GpuSample[], fromMs: number, toMs: number, step = 100): Promise<WindowBody[]> {
  const out: WindowBody[] = [];
  const host: SampledHost = { name: 'h', key: 0, read, publishWindow: (b) => out.push(b) };
  const sampler = new Sampler([host], { windowMs: 1000, sampleMs: 100, now: () => Number.MAX_SAFE_INTEGER });
  for (let t = fromMs; t <= toMs; t += step) sampler.tick(t);
  await new Promise((r) => setTimeout(r, 20));
  return out;
}

describe('Sampler', () => {
  it("sends the counter read on the window's end, so counter differences cover exactly each window", async () => {
    const windows = await run((t) => [{ id: 'GPU-a', power_w: powerW(t), energy_mj: counterMj(t) }], T0, T0 + 5000);
    expect(windows.map((w) => w.ts)).toEqual([T0, T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000]);
    for (const w of windows) expect(w.gpus[0]!.energy_mj).toBe(counterMj(w.ts + 1000));
    // Power statistics still come from the window's own samples only (ts .. ts + 900).
    expect(windows[1]!.gpus[0]!.power_w!.max).toBeCloseTo(powerW(T0 + 1900), 9);
    // Between two windows' counters lies exactly the integral of power over the later window.
    const [a, b] = windows;
    expect(b!.gpus[0]!.energy_mj! - a!.gpus[0]!.energy_mj!).toBeCloseTo(counterMj(T0 + 2000) - counterMj(T0 + 1000), 6);
  });

  it('after a stall past the boundary, a window keeps the last counter it read itself', async () => {
    // Ticks every 100 ms up to T0 + 900, then the next one only at T0 + 1300.
    const out: WindowBody[] = [];
    const host: SampledHost = { name: 'h', key: 0, read: (t) => [{ id: 'GPU-a', power_w: powerW(t), energy_mj: counterMj(t) }], publishWindow: (b) => out.push(b) };
    const sampler = new Sampler([host], { windowMs: 1000, sampleMs: 100, now: () => Number.MAX_SAFE_INTEGER });
    for (let t = T0; t <= T0 + 900; t += 100) sampler.tick(t);
    sampler.tick(T0 + 1300);
    await new Promise((r) => setTimeout(r, 20));
    expect(out[0]!.gpus[0]!.energy_mj).toBe(counterMj(T0 + 900));
  });

  it('a GPU without a counter gets the edge integral, not a counter', async () => {
    const windows = await run((t) => [{ id: 'GPU-b', power_w: powerW(t) }], T0, T0 + 3000);
    expect(windows[1]!.gpus[0]!.energy_mj).toBeUndefined();
    // The trapezoid rule is exact on a ramp: the window [T0+1000, T0+2000) holds 115 W x 1 s.
    expect(windows[1]!.gpus[0]!.window_energy_mj).toBeCloseTo(115_000, 6);
  });
});
