/**
 * `queryJobs` and `queryEfficiency`: jobs from their events, energy from the
 * engine's history of their GPUs (so both engines answer alike), grouped by
 * user, project, group (site) or day in the site's time zone.
 *
 * Energy is read in 15-minute buckets over each job's GPUs and life: every
 * time zone offset in use is a multiple of 15 minutes, so a bucket falls in
 * exactly one local day. Until the energy ledger stores each job's energy
 * when it ends, a query reads one series per job: fine for pages of jobs and
 * for days of a few thousand jobs, not for years of a large cluster.
 */
import { querySeries } from './series-query.js';
import type { HistoryReader, JobFilter, JobRecord } from './store.js';

const QUARTER_HOUR_MS = 15 * 60_000;

export interface JobEnergy extends JobRecord {
  /** Joules over the part of the job inside the queried range. */
  energy_j: number;
  /** Share of the job's GPU-time with stored windows behind the energy. */
  coverage: number;
}

export interface JobsPage {
  total: number;
  offset: number;
  limit: number;
  jobs: JobEnergy[];
}

/** A job's energy per 15-minute bucket start, clipped to [from, to). */
async function energyBuckets(reader: HistoryReader, job: JobRecord, from: number, to: number, now: number) {
  const start = Math.max(job.start, from);
  const end = Math.min(job.end ?? now, to);
  if (start >= end) return { t: [] as number[], values: [] as (number | null)[], coverage: [] as number[], members: 0, spanMs: 0 };
  const s = await querySeries(reader, { target: { kind: 'job', job: job.job }, metric: 'power_w', agg: 'energy', from: start, to: end, step: QUARTER_HOUR_MS }, now);
  return { ...s, spanMs: end - start };
}

async function withEnergy(reader: HistoryReader, job: JobRecord, filter: JobFilter, now: number): Promise<JobEnergy> {
  const s = await energyBuckets(reader, job, filter.from, filter.to, now);
  const energy = s.values.reduce<number>((a, v) => a + (v ?? 0), 0);
  // Coverage over the job's own GPU-time: its first and last buckets are only partly the job's.
  const coveredMs = s.coverage.reduce((a, c) => a + c, 0) * QUARTER_HOUR_MS * Math.max(1, s.members);
  const coverage = s.spanMs === 0 ? 0 : Math.min(1, coveredMs / (job.gpus * s.spanMs));
  return { ...job, energy_j: energy, coverage };
}

export async function queryJobs(reader: HistoryReader, filter: JobFilter, page: { offset: number; limit: number }, now: number): Promise<JobsPage> {
  const all = await reader.jobs(filter);
  const slice = all.slice(page.offset, page.offset + page.limit);
  const jobs = [];
  for (const j of slice) jobs.push(await withEnergy(reader, j, filter, now));
  return { total: all.length, offset: page.offset, limit: page.limit, jobs };
}

export type EfficiencyGroup = 'user' | 'project' | 'group' | 'day';

export interface EfficiencyRow {
  key: string;
  jobs: number;
  energy_j: number;
  kwh: number;
  /** GPU-hours held by the jobs, from their assignments. */
  gpu_hours: number;
  /** Mean power per GPU held: energy over GPU-time, W. */
  w_per_gpu: number | null;
}

/** The local calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function localDay(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}

export async function queryEfficiency(reader: HistoryReader, filter: JobFilter, by: EfficiencyGroup, timeZone: string, now: number): Promise<EfficiencyRow[]> {
  const rows = new Map<string, { jobs: Set<string>; energy: number; gpuMs: number }>();
  const add = (key: string, job: string, energy: number, gpuMs: number) => {
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { jobs: new Set(), energy: 0, gpuMs: 0 }));
    r.jobs.add(job);
    r.energy += energy;
    r.gpuMs += gpuMs;
  };
  for (const job of await reader.jobs(filter)) {
    const s = await energyBuckets(reader, job, filter.from, filter.to, now);
    const perGpuMs = job.gpus;
    s.t.forEach((t, i) => {
      const bucketEnd = Math.min(t + QUARTER_HOUR_MS, job.end ?? now, filter.to);
      const gpuMs = perGpuMs * Math.max(0, bucketEnd - Math.max(t, job.start, filter.from));
      const key = by === 'day' ? localDay(t, timeZone) : by === 'user' ? job.user ?? '(unknown)' : by === 'project' ? job.project ?? '(none)' : job.hosts[0]!.site;
      add(key, job.job, s.values[i] ?? 0, gpuMs);
    });
  }
  return [...rows]
    .map(([key, r]) => ({
      key,
      jobs: r.jobs.size,
      energy_j: r.energy,
      kwh: r.energy / 3.6e6,
      gpu_hours: r.gpuMs / 3.6e6,
      w_per_gpu: r.gpuMs > 0 ? r.energy / (r.gpuMs / 1000) : null,
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
}
