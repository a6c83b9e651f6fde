/**
 * Windows that arrive out of order (ARCHITECTURE.md §4, "Order"): a counter
 * gap closed by a later window is reopened by the late windows inside it,
 * so the ledger ends the same whatever the arrival order. Late job events
 * and what cannot be placed are counted.
 */
import { describe, expect, it } from 'vitest';
import type { GpuReading, GpuWindow } from '../../../protocol/payloads.js';
import { EnergyLedger, LEDGER_BUCKET_MS, type LedgerDelta, foldDeltas } from '../../../server/core/ledger.js';
import { WindowEnergy, energyKey } from '../../../server/core/window-energy.js';

const stat = (v: number) => ({ min: v, max: v, mean: v, last: v, n: 10 });

function window(ts: number, gpus: GpuReading[], windowMs = 1000): GpuWindow {
  return { v: 1, boot_id: 'b', seq: ts / windowMs, first_seq: 0, ts, window_ms: windowMs, gpus };
}

/** One GPU at `watts(t)` with an exact counter; utilization `util(t)`. */
function trace(n: number, watts: (t: number) => number, util: (t: number) => number = () => 90): GpuWindow[] {
  let mj = 5_000_000;
  return Array.from({ length: n }, (_, i) => {
    mj += watts(i) * 1000;
    return window(i * 1000, [{ id: 'G', power_w: stat(watts(i)), util_pct: stat(util(i)), energy_mj: mj }]);
  });
}

/** Feeds windows in the given order, one committed batch each, like the store does. */
function feed(ledger: EnergyLedger, windows: readonly GpuWindow[], energy = new WindowEnergy()): LedgerDelta[] {
  const out: LedgerDelta[] = [];
  for (const w of windows) {
    const energies = w.gpus.map((g) => energy.of({ key: energyKey('dc', 'n1', g.id), ts: w.ts, window_ms: w.window_ms, energy_mj: g.energy_mj, power_mean_w: g.power_w?.mean }));
    out.push(...ledger.window('dc', 'n1', w, energies));
    energy.commit();
    ledger.commit();
  }
  return out;
}

/** Totals per (category, job), rounded to µJ, for comparing two ledgers. */
function totals(deltas: readonly LedgerDelta[], field: 'energy_j' | 'allocated_idle_j' | 'gpu_ms' = 'energy_j'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of deltas) {
    const k = `${d.category}:${d.job}`;
    out[k] = (out[k] ?? 0) + d[field];
  }
  for (const k of Object.keys(out)) {
    out[k] = Math.round(out[k]! * 1e6) / 1e6;
    if (out[k] === 0) delete out[k]; // a category reopened down to nothing is no category
  }
  return out;
}

const sum = (deltas: readonly LedgerDelta[]) => deltas.reduce((a, d) => a + d.energy_j, 0);

/** Arrival order: windows 0-4, then 10-14 (the gap 5-9 is still in a spool), then the late ones in `lateOrder`. */
function arrival(windows: readonly GpuWindow[], lateOrder: readonly number[]): GpuWindow[] {
  return [...windows.slice(0, 5), ...windows.slice(10), ...lateOrder.map((i) => windows[i]!)];
}

describe('a counter gap that fills later', () => {
  const watts = (t: number) => 200 + 37 * t; // a ramp: every window has a different energy
  const util = (t: number) => (t === 8 ? 2 : 90); // one allocated-idle second, only visible in its own window
  const startJob = (l: EnergyLedger) => l.jobEvent('dc', 'n1', { job: 'j', event: 'start', ts: 7000, gpus: ['G'] });

  it('is first spread over the gap (unattributed where a job started inside it), then reopened by the late windows', () => {
    const windows = trace(15, watts, util);
    const truthLedger = new EnergyLedger({ idleUtilPct: 5 });
    startJob(truthLedger);
    const truth = totals(feed(truthLedger, windows));

    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    startJob(ledger);
    const beforeLate = feed(ledger, [...windows.slice(0, 5), ...windows.slice(10)]);
    expect(totals(beforeLate)['unattributed:']).toBeGreaterThan(0); // the job started inside the gap: cannot be placed yet
    const late = feed(ledger, [9, 5, 7, 6, 8].map((i) => windows[i]!), (() => {
      // The energy state as the store has it: windows 0-4 and 10-14 seen.
      const e = new WindowEnergy();
      for (const w of [...windows.slice(0, 5), ...windows.slice(10)]) {
        const g = w.gpus[0]!;
        e.of({ key: energyKey('dc', 'n1', 'G'), ts: w.ts, window_ms: w.window_ms, energy_mj: g.energy_mj, power_mean_w: g.power_w?.mean });
        e.commit();
      }
      return e;
    })());
    const after = totals([...beforeLate, ...late]);
    expect(after).toEqual(truth);
    expect(after['unattributed:']).toBeUndefined();
    // The job's energy is exact: windows 7-14 of the ramp.
    expect(after['job:j']).toBeCloseTo(Array.from({ length: 8 }, (_, i) => watts(7 + i)).reduce((a, b) => a + b), 6);
    expect(totals([...beforeLate, ...late], 'allocated_idle_j')['job:j']).toBeCloseTo(watts(8), 6);
    expect(totals([...beforeLate, ...late], 'gpu_ms')['job:j']).toBe(8000);
    expect(ledger.stats()).toMatchObject({ gaps_reopened: 5, late_covered: 0, late_unplaced: 0, open_gaps: 0 });
  });

  it('ends with the same ledger whatever order 200 random arrivals take, and conserves the GPU energy throughout', () => {
    const windows = trace(30, (t) => 150 + ((t * 97) % 400), (t) => (t % 7 === 0 ? 1 : 60));
    const events = (l: EnergyLedger) => {
      l.jobEvent('dc', 'n1', { job: 'a', event: 'start', ts: 3500, gpus: ['G'] });
      l.jobEvent('dc', 'n1', { job: 'a', event: 'end', ts: 17_250, gpus: ['G'] });
      l.jobEvent('dc', 'n1', { job: 'b', event: 'start', ts: 12_000, gpus: ['G'] });
    };
    const truthLedger = new EnergyLedger({ idleUtilPct: 5 });
    events(truthLedger);
    const truthDeltas = feed(truthLedger, windows);
    const truth = totals(truthDeltas);
    const gpuTotal = sum(truthDeltas);
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let run = 0; run < 200; run++) {
      const order = windows.map((w) => ({ w, k: random() })).sort((a, b) => a.k - b.k).map((x) => x.w);
      const ledger = new EnergyLedger({ idleUtilPct: 5 });
      events(ledger);
      const deltas = feed(ledger, order);
      // Windows before the first one that arrives have no previous reading: they fall back to mean power,
      // which here equals the counter difference, so the total is the same.
      expect(sum(deltas)).toBeCloseTo(gpuTotal, 6);
      const got = totals(deltas);
      for (const k of new Set([...Object.keys(got), ...Object.keys(truth)])) expect(got[k] ?? 0, `${k} in run ${run}`).toBeCloseTo(truth[k] ?? 0, 6);
    }
  });

  it('moves reopened energy into the quarter hour it was used in', () => {
    const q = LEDGER_BUCKET_MS;
    // 10 s windows from 30 s before a quarter-hour boundary to 30 s after it; the middle four arrive late.
    let mj = 0;
    const windows = Array.from({ length: 6 }, (_, i) => {
      mj += 400 * 10_000;
      return window(q - 30_000 + i * 10_000, [{ id: 'G', power_w: stat(400), util_pct: stat(50), energy_mj: mj }], 10_000);
    });
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    const energy = new WindowEnergy();
    const deltas = feed(ledger, [windows[0]!, windows[5]!, windows[1]!, windows[2]!, windows[3]!, windows[4]!], energy);
    const perQuarter = (t: number) => deltas.filter((d) => d.t === t).reduce((a, d) => a + d.energy_j, 0);
    expect(perQuarter(0)).toBeCloseTo(3 * 4000, 6);
    expect(perQuarter(q)).toBeCloseTo(3 * 4000, 6);
    expect(foldDeltas(deltas).every((d) => d.category === 'idle')).toBe(true);
  });

  it('adds nothing for a late window whose counter does not fit the gap (a reset inside it), and counts it', () => {
    const windows = trace(10, () => 300);
    const reset = window(6000, [{ id: 'G', power_w: stat(300), util_pct: stat(90), energy_mj: 1000 }]); // the driver reloaded
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    const deltas = feed(ledger, [...windows.slice(0, 3), ...windows.slice(8), reset]);
    expect(sum(deltas)).toBeCloseTo(10 * 300, 6);
    expect(ledger.stats()).toMatchObject({ gaps_reopened: 0, late_unplaced: 1, open_gaps: 1 });
  });

  it('undoes a rolled-back batch\'s reopening, so its retry reopens the gap again', () => {
    const windows = trace(6, () => 250);
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    const energy = new WindowEnergy();
    const early = feed(ledger, [windows[0]!, windows[5]!], energy);
    const lateWindow = windows[2]!;
    const late = () => ledger.window('dc', 'n1', lateWindow, [energy.of({ key: energyKey('dc', 'n1', 'G'), ts: lateWindow.ts, window_ms: 1000, energy_mj: lateWindow.gpus[0]!.energy_mj })]);
    const first = late();
    energy.rollback();
    ledger.rollback();
    const retried = late();
    ledger.commit();
    expect(retried).toEqual(first);
    expect(retried.length).toBeGreaterThan(0);
    expect(sum([...early, ...retried])).toBeCloseTo(6 * 250, 6);
    expect(ledger.stats().gaps_reopened).toBe(2);
    expect(ledger.stats().open_gaps).toBe(2); // [1 s, 2 s) before the late window and [3 s, 5 s) after it
  });
});

describe('late job events', () => {
  it('are counted with the GPU time they did not re-split; a second source repeating a start is not late', () => {
    const ledger = new EnergyLedger({ idleUtilPct: 5 });
    ledger.jobEvent('dc', 'n1', { job: 'j', event: 'start', ts: 0, gpus: ['G'] });
    feed(ledger, trace(10, () => 300));
    ledger.jobEvent('dc', 'n1', { job: 'j', event: 'start', ts: 100, gpus: ['G'] }); // the same job from REST: one job
    expect(ledger.stats().late_job_events).toBe(0);
    ledger.jobEvent('dc', 'n1', { job: 'k', event: 'start', ts: 4000, gpus: ['G'] }); // six seconds after its windows were split
    expect(ledger.stats()).toMatchObject({ late_job_events: 1, late_job_ms: 6000 });
  });
});
