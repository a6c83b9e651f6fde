/**
 * One GPU's page: the span its charts cover, its series from GET
 * /api/v1/series joined into uPlot's columns, and the jobs that hold it.
 * Pure; tested in test/web/gpu-view.test.ts.
 */
import type { JobDetail, JobRow, SeriesResult } from './api.js';
import { isNumber } from './format-energy.js';

/** What the charts show: the last 15 minutes at 5 s, 180 points. */
export const GPU_SPAN_MS = 15 * 60_000;
export const GPU_STEP_MS = 5_000;

/** [from, to) ending now, `from` on a step boundary so the buckets do not shift between refreshes. */
export function seriesSpan(now: number, spanMs = GPU_SPAN_MS, stepMs = GPU_STEP_MS): { from: number; to: number; step: number } {
  return { from: Math.floor((now - spanMs) / stepMs) * stepMs, to: now, step: stepMs };
}

/**
 * Series fetched separately, joined on their bucket times: column 0 the
 * times in seconds (uPlot's unit), then each series' values, null where it
 * has no bucket or the bucket had no data (a gap, drawn as one).
 */
export function joinSeries(series: readonly (SeriesResult | null)[]): (number | null)[][] {
  const times = new Set<number>();
  for (const s of series) for (const t of s?.t ?? []) if (isNumber(t)) times.add(t);
  const t = [...times].sort((a, b) => a - b);
  const cols = series.map((s) => {
    const byT = new Map<number, number | null>();
    s?.t.forEach((ti, i) => byT.set(ti, isNumber(s.values[i]) ? (s.values[i] as number) : null));
    return t.map((ti) => byT.get(ti) ?? null);
  });
  return [t.map((ms) => ms / 1000), ...cols];
}

/** Jobs whose hosts include this one, running first, then newest. */
export function jobsOnHost(jobs: readonly JobRow[], site: string, host: string): JobRow[] {
  return jobs
    .filter((j) => j.hosts.some((h) => h.site === site && h.host === host))
    .sort((a, b) => (a.end === undefined) !== (b.end === undefined) ? (a.end === undefined ? -1 : 1) : b.start - a.start);
}

export interface GpuHold {
  job: string;
  from: number;
  to: number | null;
}

/** The spans during which a job held this GPU, from its assignments. */
export function holdsOf(detail: JobDetail, site: string, host: string, gpu: string): GpuHold[] {
  return detail.assignments
    .filter((a) => a.site === site && a.host === host && a.gpu === gpu)
    .map((a) => ({ job: detail.job, from: a.from, to: a.to }));
}

export type GpuUse =
  | { kind: 'job'; jobs: string[] }
  /** Busy, but no job the caller may see holds it: another project's (scoped viewer), or none kilowatch knows of. */
  | { kind: 'in-use'; scoped: boolean }
  | { kind: 'idle' };

/** Utilization from which a GPU counts as busy; the ledger's allocated-idle threshold. */
export const BUSY_UTIL_PCT = 5;

/**
 * What the GPU is doing now. A scoped viewer does not see other projects'
 * jobs (the server leaves them out), so a GPU it sees working with no job of
 * its own is shown as in use, never as idle.
 */
export function gpuUse(holding: readonly string[], utilPct: number | null, scoped: boolean): GpuUse {
  if (holding.length > 0) return { kind: 'job', jobs: [...holding] };
  if (isNumber(utilPct) && utilPct >= BUSY_UTIL_PCT) return { kind: 'in-use', scoped };
  return { kind: 'idle' };
}
