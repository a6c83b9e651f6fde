/**
 * The ledger over whole traces: windows through WindowEnergy (counter
 * differences, resets, gaps) and attribution, job events from any source.
 * Conservation per GPU: jobs + idle + unattributed = the GPU's energy.
 */
import { describe, expect, it } from 'vitest';
import type { GpuReading, GpuWindow } from '../../../protocol/payloads.js';
import { EnergyLedger, type LedgerDelta, foldDeltas, methodOf } from '../../../server/core/ledger.js';
import { WindowEnergy, energyKey } from '../../../server/core/window-energy.js';
import { perUnit } from '../../../server/store/job-queries.js';

const stat = (v: number) => ({ min: v, max: v, mean: v, last: v, n: 10 });

/** Runs windows of one host through energy and ledger; returns the deltas and the energy each GPU had. */
function run(ledger: EnergyLedger, host: string, windows: GpuWindow[]) {
  const energy = new WindowEnergy();
  const deltas: LedgerDelta[] = [];
  const gpuEnergy = new Map<string, number>();
  for (const w of windows) {
    const energies = w.gpus.map((g) => energy.of({ key: energyKey('dc', host, g.id), ts: w.ts, window_ms: w.window_ms, energy_mj: g.energy_mj, window_energy_mj: g.window_energy_mj, power_mean_w: g.power_w?.mean }));
    energy.commit();
    energies.forEach((e, i) => gpuEnergy.set(w.gpus[i]!.id, (gpuEnergy.get(w.gpus[i]!.id) ?? 0) + (e.energy_j ?? 0)));
    deltas.push(...ledger.window('dc', host, w, energies));
  }
  return { deltas: foldDeltas(deltas), gpuEnergy };
}

const jobTotal = (deltas: LedgerDelta[], job: string) => deltas.filter((d) => d.category === 'job' && d.job === job).reduce((a, d) => a + d.energy_j, 0);

function window(ts: number, gpus: GpuReading[]): GpuWindow {
  return { v: 1, boot_id: 'b', seq: ts / 1000, first_seq: 0, ts, window_ms: 1000, gpus };
}

describe('EnergyLedger', () => {
  it('keeps a counter reset in the middle of a job out of the job\'s energy, and conserves it', () => {
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    ledger.jobEvent('dc', 'n1', { job: 'j', event: 'start', ts: 0, gpus: ['G'] });
    // 300 W; the driver reloads at 10 s and the counter restarts near 0.
    const windows = Array.from({ length: 20 }, (_, i) => window(i * 1000, [{ id: 'G', power_w: stat(300), util_pct: stat(90), energy_mj: i < 10 ? 1e9 + (i + 1) * 300_000 : (i - 9) * 300_000 }]));
    const { deltas, gpuEnergy } = run(ledger, 'n1', windows);
    expect(jobTotal(deltas, 'j')).toBeCloseTo(20 * 300, 6); // never negative: the reset window falls back to mean power
    expect(gpuEnergy.get('G')).toBeCloseTo(20 * 300, 6);
    const job = deltas.find((d) => d.job === 'j')!;
    expect(methodOf(job.energy_j, job.counter_j)).toBe('mixed'); // the first and the reset windows are mean-based
  });

  it('sums a job on 2 hosts x 4 GPUs, and a job holding its GPUs idle for half its time is 50 % allocated-idle', () => {
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    const gpus = ['G0', 'G1', 'G2', 'G3'];
    let total = 0;
    for (const host of ['n1', 'n2']) {
      ledger.jobEvent('dc', host, { job: 'big', event: 'start', ts: 0, gpus });
      const windows = Array.from({ length: 10 }, (_, t) => window(t * 1000, gpus.map((id) => ({ id, power_w: stat(t < 5 ? 650 : 80), util_pct: stat(t < 5 ? 97 : 1), window_energy_mj: (t < 5 ? 650 : 80) * 1000 }))));
      const { deltas } = run(ledger, host, windows);
      const part = deltas.filter((d) => d.job === 'big');
      total += part.reduce((a, d) => a + d.energy_j, 0);
      const idleShare = part.reduce((a, d) => a + d.allocated_idle_j, 0) / part.reduce((a, d) => a + d.energy_j, 0);
      expect(idleShare).toBeCloseTo((5 * 80) / (5 * 650 + 5 * 80), 9); // the energy it wasted while idle
      expect(part.reduce((a, d) => a + d.gpu_ms, 0)).toBe(4 * 10_000);
      expect(part.reduce((a, d) => a + d.allocated_idle_ms, 0) / part.reduce((a, d) => a + d.gpu_ms, 0)).toBe(0.5); // half its GPU time
    }
    expect(total).toBeCloseTo(2 * 4 * (5 * 650 + 5 * 80), 6);
  });

  it('counts a job once however many sources start it, and closes it at its end', () => {
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    ledger.jobEvent('dc', 'n1', { job: 'j', event: 'start', ts: 0, gpus: ['G'] });
    ledger.jobEvent('dc', 'n1', { job: 'j', event: 'start', ts: 2000, gpus: ['G'] }); // the REST start of the same job, later
    ledger.jobEvent('dc', 'n1', { job: 'j', event: 'end', ts: 5000, gpus: ['G'] });
    const windows = Array.from({ length: 8 }, (_, i) => window(i * 1000, [{ id: 'G', power_w: stat(100), window_energy_mj: 100_000 }]));
    const { deltas } = run(ledger, 'n1', windows);
    expect(jobTotal(deltas, 'j')).toBeCloseTo(500, 9);
    expect(deltas.find((d) => d.category === 'idle')!.energy_j).toBeCloseTo(300, 9);
  });

  it('conserves every GPU\'s energy over random traces with resets, gaps and overlapping jobs', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trace = 0; trace < 200; trace++) {
      const ledger = new EnergyLedger({ idleUtilPct: 5 });
      for (let j = 0; j < 4; j++) {
        const from = Math.floor(rand() * 60) * 1000 + Math.floor(rand() * 1000);
        ledger.jobEvent('dc', 'n1', { job: `j${j}`, event: 'start', ts: from, gpus: rand() < 0.5 ? ['A'] : ['A', 'B'] });
        if (rand() < 0.7) ledger.jobEvent('dc', 'n1', { job: `j${j}`, event: 'end', ts: from + Math.floor(rand() * 40_000), gpus: ['A', 'B'] });
      }
      let counter = 0;
      const windows: GpuWindow[] = [];
      for (let t = 0; t < 90; t++) {
        if (rand() < 0.1) continue; // a gap
        const p = 50 + rand() * 600;
        counter = rand() < 0.03 ? 0 : counter + p * 1000 * (1 + rand() * 0.01);
        windows.push(window(t * 1000, [
          { id: 'A', power_w: stat(p), util_pct: stat(rand() * 100), energy_mj: counter },
          { id: 'B', power_w: stat(p / 2), window_energy_mj: (p / 2) * 1000, processes: [{ pid: 1, job: 'j1', util_pct: rand() * 50 }] },
        ]));
      }
      const { deltas, gpuEnergy } = run(ledger, 'n1', windows);
      for (const [gpu, e] of gpuEnergy) {
        const sum = deltas.filter((d) => d.gpu === gpu).reduce((a, d) => a + d.energy_j, 0);
        expect(Math.abs(sum - e)).toBeLessThanOrEqual(1e-6 * Math.max(1, e));
      }
    }
  });
});

describe('MIG', () => {
  const board = 'GPU-a100';
  const gi = (n: number) => `${board}/gi${n}`;
  const mig = (utils: (number | undefined)[]) =>
    window(0, [{ id: board, power_w: stat(300), energy_mj: 5e9, window_energy_mj: 300_000 }, ...utils.map((u, n) => ({ id: gi(n + 1), ...(u !== undefined && { util_pct: stat(u) }) }))]);

  it('splits a board\'s energy among its instances by their activity, and conserves it', () => {
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    ledger.jobEvent('dc', 'n1', { job: 'a', event: 'start', ts: 0, gpus: [gi(1)] });
    ledger.jobEvent('dc', 'n1', { job: 'b', event: 'start', ts: 0, gpus: [gi(2)] });
    const energy = [{ energy_j: 300, from: 'integral' as const }];
    const deltas = ledger.window('dc', 'n1', mig([60, 20, 0]), energy);
    expect(jobTotal(deltas, 'a')).toBeCloseTo(225, 9); // 60 / (60 + 20)
    expect(jobTotal(deltas, 'b')).toBeCloseTo(75, 9);
    expect(deltas.reduce((x, d) => x + d.energy_j, 0)).toBeCloseTo(300, 9);
  });

  it('shares evenly among the busy instances when the source reports no activity, and keeps an idle board\'s energy as idle', () => {
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    ledger.jobEvent('dc', 'n1', { job: 'a', event: 'start', ts: 0, gpus: [gi(1)] });
    ledger.jobEvent('dc', 'n1', { job: 'b', event: 'start', ts: 0, gpus: [gi(3)] });
    const energy = [{ energy_j: 300, from: 'integral' as const }];
    const even = ledger.window('dc', 'n1', mig([undefined, undefined, undefined]), energy);
    expect([jobTotal(even, 'a'), jobTotal(even, 'b')]).toEqual([150, 150]); // instance 2 holds no job and reports nothing: not busy
    const quiet = new EnergyLedger({ idleUtilPct: 5 }).window('dc', 'n1', mig([undefined, undefined]), energy);
    expect(quiet).toMatchObject([{ category: 'idle', gpu: board, energy_j: 300 }]);
  });
});

describe('joules per unit of work', () => {
  it('is given per counter above zero, and not at all without counters', () => {
    expect(perUnit(1000, { tokens: 500, samples: 0 })).toEqual({ tokens: 2 });
    expect(perUnit(1000, {})).toEqual({});
  });
});
