/**
 * The history contract every store engine keeps: the same synthetic hour of
 * windows is written through the engine's WindowStore side, and the same
 * questions must get the same answers through querySeries. Run against
 * DuckDB by store-history.test.ts (unit tier) and against VictoriaMetrics
 * by the integration tier. A tolerance, where an engine needs one, is
 * stated with its reason by the caller.
 *
 * The hour (T0 .. T0+1 h, 1 s windows), two hosts of site dc1:
 * - h1: GPUs a (100 W) and b (200 W) with energy counters; a spikes to
 *   900 W inside the window at T0+1800 s (its mean stays 100 W);
 * - h2: GPUs c (300 W) and d (400 W) without counters (window energy from
 *   the edge integral); h2's window at T0+600 s never arrived;
 * - job 77 holds GPU a over [T0+1200 s, T0+2400 s).
 */
import { expect, it } from 'vitest';
import type { GpuReading, GpuWindow } from '../../protocol/payloads.js';
import type { Aggregate, SeriesMetric, SeriesTarget } from '../../server/core/series.js';
import { queryEfficiency, queryJobs } from '../../server/store/job-queries.js';
import { querySeries } from '../../server/store/series-query.js';
import type { HistoryReader, WindowStore } from '../../server/store/store.js';

export const T0 = 1_764_000_000_000; // a whole hour (2025-11-24 16:00 UTC)
export const HOUR_S = 3600;

export interface EngineUnderTest {
  store: WindowStore & HistoryReader;
  /** Makes everything written so far visible to queries (a flush, plus any engine delay). */
  settle(): Promise<void>;
  /** Relative tolerance per aggregate, with its reason; 0 when exact. */
  tolerance?: Partial<Record<Aggregate, { rel: number; reason: string }>>;
}

const stat = (v: number, max = v) => ({ min: v, max, mean: v, last: v, n: 10 });

function gpu(id: string, watts: number, counter: boolean, i: number, spike: boolean): GpuReading {
  const g: GpuReading = { id, power_w: stat(watts, spike ? 900 : watts), util_pct: stat(50), power_limit_w: 700 };
  if (counter) g.energy_mj = watts * 1000 * (i + 1);
  else g.window_energy_mj = watts * 1000;
  return g;
}

export function hourOfWindows(): { host: string; window: GpuWindow }[] {
  const out: { host: string; window: GpuWindow }[] = [];
  for (let i = 0; i < HOUR_S; i++) {
    const ts = T0 + i * 1000;
    const spike = i === 1800;
    out.push({ host: 'h1', window: { v: 1, boot_id: 'b1', seq: i, first_seq: 0, ts, window_ms: 1000, host_power_w: stat(300, spike ? 1100 : 300), gpus: [gpu('a', 100, true, i, spike), gpu('b', 200, true, i, false)] } });
    if (i !== 600) out.push({ host: 'h2', window: { v: 1, boot_id: 'b2', seq: i, first_seq: 0, ts, window_ms: 1000, host_power_w: stat(700), gpus: [gpu('c', 300, false, i, false), gpu('d', 400, false, i, false)] } });
  }
  return out;
}

export async function writeHour(e: EngineUnderTest): Promise<void> {
  for (const { host, window } of hourOfWindows()) {
    expect(e.store.enqueue({ kind: 'gpu', key: { site: 'dc1', host, stream: 'gpu', bootId: window.boot_id }, window, receivedAt: window.ts + 1000 })).toBe(true);
  }
  const job = { v: 1 as const, boot_id: 'b1', first_seq: 0, job: '77', gpus: ['a'], user: 'ada', project: 'llm' };
  e.store.enqueue({ kind: 'job', key: { site: 'dc1', host: 'h1', stream: 'job', bootId: 'b1' }, event: { ...job, seq: 0, ts: T0 + 1_200_000, event: 'start' }, receivedAt: T0 });
  e.store.enqueue({ kind: 'job', key: { site: 'dc1', host: 'h1', stream: 'job', bootId: 'b1' }, event: { ...job, seq: 1, ts: T0 + 2_400_000, event: 'end' }, receivedAt: T0 });
  // Job 77's application reported 60,000 tokens by its end: 2 J per token. No other job reports work.
  e.store.enqueue({ kind: 'work', key: { site: 'dc1', host: 'h1', stream: 'work', bootId: '' }, job: '77', report: { v: 1, ts: T0 + 1_800_000, totals: { tokens: 30_000 } }, receivedAt: T0 });
  e.store.enqueue({ kind: 'work', key: { site: 'dc1', host: 'h1', stream: 'work', bootId: '' }, job: '77', report: { v: 1, ts: T0 + 2_400_000, totals: { tokens: 60_000 } }, receivedAt: T0 });
  await e.settle();
}

/** Registers the contract's cases; `engine()` returns the engine with the hour already written. */
export function historyContract(engine: () => EngineUnderTest): void {
  const ask = (target: SeriesTarget, agg: Aggregate, step: number, from = T0, to = T0 + HOUR_S * 1000, metric: SeriesMetric = 'power_w') =>
    querySeries(engine().store, { target, metric, agg, from, to, step }, T0 + 2 * HOUR_S * 1000);
  const close = (agg: Aggregate, actual: number | null, expected: number) => {
    const rel = engine().tolerance?.[agg]?.rel ?? 0;
    if (rel === 0) expect(actual).toBe(expected);
    else expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
  };

  it('fleet power over the hour at a 10 s step: the sum of member means, with the missing window in the coverage', async () => {
    const r = await ask({ kind: 'fleet' }, 'mean', 10_000);
    expect(r.t).toHaveLength(360);
    expect(r.t[0]).toBe(T0);
    r.values.forEach((v) => close('mean', v, 1000));
    expect(r.members).toBe(4);
    expect(r.coverage[60]).toBeCloseTo(38 / 40, 9); // two of 40 GPU-seconds missing in [T0+600 s, T0+610 s)
    expect(r.coverage.filter((c) => c === 1)).toHaveLength(359);
    expect([r.unit, r.bound]).toEqual(['W', null]);
  });

  it("a GPU's max within a window is the spike, not the mean", async () => {
    const r = await ask({ kind: 'gpu', site: 'dc1', host: 'h1', gpu: 'a' }, 'max', 1000, T0 + 1_799_000, T0 + 1_802_000);
    expect(r.values).toEqual([100, 900, 100]);
    const mean = await ask({ kind: 'gpu', site: 'dc1', host: 'h1', gpu: 'a' }, 'mean', 1000, T0 + 1_799_000, T0 + 1_802_000);
    expect(mean.values).toEqual([100, 100, 100]);
  });

  it("a group's max is the sum of its hosts' peaks, flagged as an upper bound; one host's peak is exact", async () => {
    const fleet = await ask({ kind: 'fleet' }, 'max', 60_000);
    expect(fleet.bound).toBe('upper');
    expect(fleet.values[30]).toBe(1100 + 700);
    expect(fleet.values[0]).toBe(300 + 700);
    const h1 = await ask({ kind: 'host', site: 'dc1', host: 'h1' }, 'max', 60_000);
    expect([h1.bound, h1.values[30], h1.values[29]]).toEqual([null, 1100, 300]);
  });

  it("a job's energy: its GPU's counter differences over [start, end)", async () => {
    const r = await ask({ kind: 'job', job: '77' }, 'energy', HOUR_S * 1000);
    expect(r.values).toHaveLength(1);
    close('energy', r.values[0]!, 100 * 1200);
    expect(r.unit).toBe('J');
    const power = await ask({ kind: 'job', job: '77' }, 'mean', 600_000);
    expect(power.values).toEqual([null, null, 100, 100, null, null]); // the job ran 20 min to 40 min
  });

  it('fleet energy is the same from raw windows (10 s) and from rollups (1 min), and counts the missing window out', async () => {
    const expected = (100 + 200) * HOUR_S + (300 + 400) * (HOUR_S - 1);
    const raw = await ask({ kind: 'fleet' }, 'energy', 10_000);
    const rolled = await ask({ kind: 'fleet' }, 'energy', 60_000);
    close('energy', sum(raw.values), expected);
    close('energy', sum(rolled.values), expected);
  });

  it('lists jobs with their energy from the ledger, with method and coverage, paginated', async () => {
    const filter = { from: T0, to: T0 + HOUR_S * 1000 };
    const page = await queryJobs(engine().store, filter, { offset: 0, limit: 10 }, T0 + 2 * HOUR_S * 1000);
    expect(page.total).toBe(1);
    expect(page.jobs).toHaveLength(1);
    expect(page.jobs[0]).toMatchObject({ job: '77', user: 'ada', project: 'llm', hosts: [{ site: 'dc1', host: 'h1' }], gpus: 1, start: T0 + 1_200_000, end: T0 + 2_400_000, coverage: 1, method: 'counter', allocated_idle_j: 0 });
    close('energy', page.jobs[0]!.energy_j, 120_000);
    expect(page.jobs[0]!.gpu_hours).toBeCloseTo(1200 / 3600, 9);
    expect(page.jobs[0]!.work).toEqual({ tokens: 60_000 }); // the latest cumulative total
    // GPU a draws 100 W at 50 % utilization while the job holds it, and its 900 W spike at 30 min is inside the job.
    expect([page.jobs[0]!.peak_power_w, page.jobs[0]!.mean_util_pct]).toEqual([900, 50]);
    close('mean', page.jobs[0]!.mean_power_w, 100);
    close('energy', page.jobs[0]!.j_per_unit.tokens!, 2);
    expect((await queryJobs(engine().store, { ...filter, user: 'grace' }, { offset: 0, limit: 10 }, T0)).total).toBe(0);
    expect((await queryJobs(engine().store, filter, { offset: 1, limit: 10 }, T0)).jobs).toEqual([]);
  });

  it('conserves the hour: jobs + idle + unattributed = the GPUs\' energy', async () => {
    const totals = await engine().store.ledger({ from: T0, to: T0 + HOUR_S * 1000, byTime: false });
    const sum = totals.reduce((a, t) => a + t.energy_j, 0);
    close('energy', sum, (100 + 200) * HOUR_S + (300 + 400) * (HOUR_S - 1));
    close('energy', totals.find((t) => t.category === 'idle')!.energy_j, (100 + 200) * HOUR_S + (300 + 400) * (HOUR_S - 1) - 120_000);
  });

  it('groups efficiency by project and by day in the site time zone', async () => {
    const filter = { from: T0, to: T0 + HOUR_S * 1000 };
    const byProject = await queryEfficiency(engine().store, filter, 'project', 'UTC');
    expect(byProject.rows).toHaveLength(1);
    expect(byProject.rows[0]).toMatchObject({ key: 'llm', jobs: 1, method: 'counter' });
    expect(byProject.rows[0]!.gpu_hours).toBeCloseTo(1200 / 3600, 9);
    close('energy', byProject.rows[0]!.energy_j, 120_000);
    close('mean', byProject.rows[0]!.w_per_gpu, 100);
    close('energy', byProject.rows[0]!.j_per_unit.tokens!, 2);
    // 16:20 UTC is 01:20 the next morning in Tokyo.
    const byDay = await queryEfficiency(engine().store, filter, 'day', 'Asia/Tokyo');
    expect(byDay.rows.map((r) => [r.key, r.jobs])).toEqual([['2025-11-25', 1]]);
  });

  it('averages utilization across members instead of adding it', async () => {
    const r = await ask({ kind: 'host', site: 'dc1', host: 'h2' }, 'mean', 600_000, T0, T0 + HOUR_S * 1000, 'util_pct');
    expect(r.values).toEqual([50, 50, 50, 50, 50, 50]);
    expect(r.unit).toBe('%');
  });
}

function sum(values: (number | null)[]): number {
  return values.reduce<number>((a, v) => a + (v ?? 0), 0);
}
