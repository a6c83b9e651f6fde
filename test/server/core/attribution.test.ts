/**
 * Splitting a GPU window's energy between jobs, idle and unattributed
 * (server/core/attribution.ts), with conservation checked on 1,000 random
 * schedules and the named cases.
 */
import { describe, expect, it } from 'vitest';
import { type JobSpan, splitTotal, splitWindow } from '../../../server/core/attribution.js';

const OPTS = { idleUtilPct: 5 };

/** mulberry32: a small seeded generator, so a failing schedule can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('splitWindow', () => {
  it('conserves energy on 1,000 random schedules: overlapping and shared jobs, gaps, open jobs', () => {
    const rand = rng(20261128);
    let windows = 0;
    for (let schedule = 0; schedule < 1000; schedule++) {
      const spans: JobSpan[] = Array.from({ length: Math.floor(rand() * 5) }, (_, k) => {
        const from = Math.floor(rand() * 60_000);
        return { job: `j${k % 3}`, from, to: rand() < 0.2 ? Infinity : from + Math.floor(rand() * 30_000) };
      });
      for (let ts = 0; ts < 60_000; ts += 1000) {
        const gap = rand() < 0.1 ? Math.floor(rand() * 30) * 1000 : 0; // a counter difference across up to 30 s
        const processes = spans.map((s) => ({ job: s.job, ...(rand() < 0.7 && { util_pct: rand() * 100 }), ...(rand() < 0.5 && { used_mib: rand() * 8000 }) }));
        const w = { ts, window_ms: 1000, from: ts - gap, energy_j: rand() * 1000, util_pct: rand() * 20, processes };
        const split = splitWindow(w, spans, OPTS);
        expect(Math.abs(splitTotal(split) - w.energy_j)).toBeLessThanOrEqual(1e-9 * Math.max(1, w.energy_j));
        for (const p of split.jobs.values()) expect(p.allocated_idle_j).toBeLessThanOrEqual(p.energy_j + 1e-12);
        windows += 1;
      }
    }
    expect(windows).toBe(60_000);
  });

  it('splits a shared GPU 70/30 by its processes\' utilization, else memory, else evenly', () => {
    const spans = [{ job: 'a', from: 0, to: Infinity }, { job: 'b', from: 0, to: Infinity }];
    const w = { ts: 0, window_ms: 1000, from: 0, energy_j: 500, util_pct: 90 };
    const byUtil = splitWindow({ ...w, processes: [{ job: 'a', util_pct: 63 }, { job: 'b', util_pct: 27 }] }, spans, OPTS);
    expect([byUtil.jobs.get('a')!.energy_j, byUtil.jobs.get('b')!.energy_j, byUtil.shared_by]).toEqual([350, 150, 'utilization']);
    const byMemory = splitWindow({ ...w, processes: [{ job: 'a', used_mib: 1000 }, { job: 'b', used_mib: 3000 }] }, spans, OPTS);
    expect([byMemory.jobs.get('a')!.energy_j, byMemory.shared_by]).toEqual([125, 'memory']);
    expect(splitWindow(w, spans, OPTS).jobs.get('b')!.energy_j).toBe(250);
  });

  it('interpolates a job boundary inside a window, within the stated bound', () => {
    // The GPU drew 100 W for the first 400 ms and 600 W after (mean 400 W): a job starting at 400 ms really used 360 J.
    const truth = 600 * 0.6;
    const split = splitWindow({ ts: 0, window_ms: 1000, from: 0, energy_j: 400 }, [{ job: 'a', from: 400, to: Infinity }], OPTS);
    const got = split.jobs.get('a')!.energy_j;
    expect(got).toBeCloseTo(240, 9); // even spreading: 400 J x 0.6
    const bound = (600 - 100) * 0.6; // (max - min) x overlap, in J for 1 s
    expect(Math.abs(got - truth)).toBeLessThanOrEqual(bound);
    expect(split.idle_j).toBeCloseTo(160, 9);
  });

  it('leaves a counter difference across a 30 s gap unattributed where a job started inside the gap', () => {
    const w = { ts: 30_000, window_ms: 1000, from: 0, energy_j: 31 * 300 }; // 31 s at 300 W
    const changed = splitWindow(w, [{ job: 'a', from: 12_000, to: Infinity }], OPTS);
    expect(changed.unattributed_j).toBeCloseTo(30 * 300, 9);
    expect(changed.jobs.get('a')!.energy_j).toBeCloseTo(300, 9);
    const steady = splitWindow(w, [{ job: 'a', from: -5000, to: Infinity }], OPTS); // the same job throughout: all of it is the job's
    expect([steady.unattributed_j, steady.jobs.get('a')!.energy_j]).toEqual([0, 31 * 300]);
  });

  it('counts energy with no job as idle, and a held GPU below 5 % utilization as allocated-idle', () => {
    expect(splitWindow({ ts: 0, window_ms: 1000, from: 0, energy_j: 90 }, [], OPTS)).toMatchObject({ idle_j: 90, unattributed_j: 0 });
    const held = splitWindow({ ts: 0, window_ms: 1000, from: 0, energy_j: 90, util_pct: 2 }, [{ job: 'a', from: 0, to: Infinity }], OPTS);
    expect(held.jobs.get('a')).toEqual({ energy_j: 90, allocated_idle_j: 90, gpu_ms: 1000, allocated_idle_ms: 1000 });
  });
});
