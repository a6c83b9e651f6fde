/**
 * A job's power curve over its life: which range and step to ask
 * /api/v1/series for, and what the answer says about its own coverage. Pure;
 * tested in test/web/job-series.test.ts.
 */
import type { SeriesResult } from './api.js';
import { isNumber } from './format-energy.js';

/** Windows are 1 s and the API's finest default is 10 s; a chart has no use for more points than this. */
export const MAX_POINTS = 600;

/** Round steps, so bucket times line up with clock time (the server aligns `from` down to the step). */
const STEPS_MS = [10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, 86_400_000] as const;

export function chooseStep(rangeMs: number): number {
  for (const step of STEPS_MS) if (rangeMs / step <= MAX_POINTS) return step;
  const day = STEPS_MS[STEPS_MS.length - 1] as number;
  return Math.ceil(rangeMs / MAX_POINTS / day) * day;
}

export interface SeriesWindow {
  from: number;
  to: number;
  step: number;
}

/** From the job's start to its end, or to now while it runs; never an empty range. */
export function jobSeriesWindow(start: number, end: number | null | undefined, now: number): SeriesWindow {
  const to = Math.max(end ?? now, start + 1000);
  return { from: start, to, step: chooseStep(to - start) };
}

export function jobSeriesUrl(id: string, w: SeriesWindow): string {
  const p = new URLSearchParams({ target: 'job', job: id, metric: 'power_w', agg: 'mean', from: String(w.from), to: String(w.to), step: String(w.step) });
  return `api/v1/series?${p}`;
}

/** uPlot's aligned data: seconds on x, watts (null for a gap) on y. */
export function toPlotData(r: Pick<SeriesResult, 't' | 'values'>): [number[], (number | null)[]] {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  r.t.forEach((t, i) => {
    if (!isNumber(t)) return;
    xs.push(t / 1000);
    const v = r.values[i];
    ys.push(isNumber(v) ? v : null);
  });
  return [xs, ys];
}

export interface SeriesCoverage {
  points: number;
  /**
   * Inner points with no value at all, drawn as gaps. Inner, like `lowest`:
   * the first and last buckets are left out because a job starts and ends
   * inside them (and a running job's newest bucket is still filling), so they
   * are partial by construction and say nothing about missing data.
   */
  gaps: number;
  /** The lowest coverage among the inner points. */
  lowest: number | null;
}

export function seriesCoverage(r: Pick<SeriesResult, 'values' | 'coverage'>): SeriesCoverage {
  const n = r.values.length;
  let gaps = 0;
  let lowest: number | null = null;
  for (let i = 1; i < n - 1; i++) {
    if (!isNumber(r.values[i])) gaps++;
    const c = r.coverage[i];
    if (isNumber(c)) lowest = lowest === null ? c : Math.min(lowest, c);
  }
  return { points: n, gaps, lowest };
}
