/**
 * `queryJobs` and `queryEfficiency`: jobs from their events, energy from the
 * ledger (server/core/ledger.ts), which split each GPU window between the
 * jobs that held it, so a shared GPU is never counted twice. Every energy
 * comes with its `method` (counter, integral or mixed) and its `coverage`
 * (the share of the job's GPU time that had windows behind it). Grouping by
 * user, project, group (site) or day in the site's time zone uses the
 * ledger's quarter hours, on which every time zone's days split.
 */
import { type EnergyMethod, methodOf } from '../core/ledger.js';
import type { HistoryReader, JobFilter, JobRecord, LedgerTotal } from './store.js';

export interface JobEnergy extends JobRecord {
  /** Joules over the part of the job inside the queried range. */
  energy_j: number;
  method: EnergyMethod | null;
  coverage: number;
  /** Energy while its GPUs sat below 5 % utilization, and that GPU time's share of the job's. */
  allocated_idle_j: number;
  allocated_idle_share: number;
  gpu_hours: number;
  /** Energy over the job's time in the range, W. */
  mean_power_w: number | null;
  /** Upper bound of its peak: the highest quarter-hour sum of its GPUs' window maxima, W. */
  peak_power_w: number | null;
  mean_util_pct: number | null;
  /** Work the job reported (cumulative counters, e.g. tokens), and joules per unit of each; none without counters. */
  work: Record<string, number>;
  j_per_unit: Record<string, number>;
}

/** Joules per unit of each counter above zero: a job without counters gets none, never a division by zero. */
export function perUnit(energyJ: number, work: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(work).filter(([, n]) => n > 0).map(([k, n]) => [k, energyJ / n]));
}

export interface JobsPage {
  total: number;
  offset: number;
  limit: number;
  jobs: JobEnergy[];
}

/** The job's GPU time inside [from, to), ms, from its assignment. */
function heldMs(job: JobRecord, from: number, to: number, now: number): number {
  return job.gpus * Math.max(0, Math.min(job.end ?? now, to) - Math.max(job.start, from));
}

function withEnergy(job: JobRecord, total: LedgerTotal | undefined, held: number, work: Record<string, number>): JobEnergy {
  const energy = total?.energy_j ?? 0;
  const gpuMs = total?.gpu_ms ?? 0;
  const wallMs = job.gpus > 0 ? held / job.gpus : 0;
  return {
    work,
    j_per_unit: perUnit(energy, work),
    mean_power_w: wallMs > 0 && total ? energy / (wallMs / 1000) : null,
    peak_power_w: total?.peak_w ?? null,
    mean_util_pct: total && total.util_known_ms > 0 ? total.util_ms / total.util_known_ms : null,
    ...job,
    energy_j: energy,
    method: total ? methodOf(energy, total.counter_j) : null,
    coverage: held > 0 ? Math.min(1, gpuMs / held) : 0,
    allocated_idle_j: total?.allocated_idle_j ?? 0,
    allocated_idle_share: gpuMs > 0 ? (total?.allocated_idle_ms ?? 0) / gpuMs : 0,
    gpu_hours: gpuMs / 3.6e6,
  };
}

export async function queryJobs(reader: HistoryReader, filter: JobFilter, page: { offset: number; limit: number }, now: number): Promise<JobsPage> {
  const all = await reader.jobs(filter);
  const slice = all.slice(page.offset, page.offset + page.limit);
  const totals = slice.length === 0 ? [] : await reader.ledger({ from: filter.from, to: filter.to, jobs: slice.map((j) => j.job), byTime: false });
  const byJob = new Map(totals.filter((t) => t.category === 'job').map((t) => [t.job, t]));
  const work = await reader.work(slice.map((j) => j.job));
  return {
    total: all.length, offset: page.offset, limit: page.limit,
    jobs: slice.map((j) => withEnergy(j, byJob.get(j.job), heldMs(j, filter.from, filter.to, now), work.get(j.job) ?? {})),
  };
}

export type EfficiencyGroup = 'user' | 'project' | 'group' | 'day';

export interface EfficiencyRow {
  key: string;
  jobs: number;
  energy_j: number;
  kwh: number;
  /** GPU-hours with windows behind them. */
  gpu_hours: number;
  /** Mean power per GPU held: energy over GPU-time, W. */
  w_per_gpu: number | null;
  allocated_idle_j: number;
  method: EnergyMethod | null;
  mean_util_pct: number | null;
  /** Joules per unit of work, over the jobs of the group that reported that counter (their energy over their units). */
  j_per_unit: Record<string, number>;
}

/** The local calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function localDay(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}

export interface Efficiency {
  rows: EfficiencyRow[];
  /** Energy of no job, and energy that could not be placed, over the same range. */
  idle_j: number;
  unattributed_j: number;
}

/** The row a job's quarter hour belongs to, when efficiency is grouped `by`. */
export function efficiencyKey(by: EfficiencyGroup, job: JobRecord, t: number, timeZone: string): string {
  return by === 'day' ? localDay(t, timeZone) : by === 'user' ? job.user ?? '(unknown)' : by === 'project' ? job.project ?? '(none)' : job.hosts[0]!.site;
}

export async function queryEfficiency(reader: HistoryReader, filter: JobFilter, by: EfficiencyGroup, timeZone: string): Promise<Efficiency> {
  const jobs = new Map((await reader.jobs(filter)).map((j) => [j.job, j]));
  const totals = await reader.ledger({ from: filter.from, to: filter.to, byTime: by === 'day' });
  const work = await reader.work([...jobs.keys()]);
  const rows = new Map<string, { jobs: Set<string>; energy: number; gpuMs: number; idle: number; counter: number; utilMs: number; utilKnown: number; units: Map<string, { j: number; n: number }> }>();
  let idle = 0;
  let unattributed = 0;
  for (const t of totals) {
    if (t.category === 'idle') idle += t.energy_j;
    if (t.category === 'unattributed') unattributed += t.energy_j;
    const job = jobs.get(t.job);
    if (t.category !== 'job' || !job) continue; // a job outside the filter (user, project, site)
    const key = efficiencyKey(by, job, t.t, timeZone);
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { jobs: new Set(), energy: 0, gpuMs: 0, idle: 0, counter: 0, utilMs: 0, utilKnown: 0, units: new Map() }));
    r.utilMs += t.util_ms;
    r.utilKnown += t.util_known_ms;
    // A job's work counts once per group; its energy, per quarter hour, adds to the units it reported.
    // Per day there is none: cumulative counters do not say which day the work was done.
    const firstTime = !r.jobs.has(t.job);
    r.jobs.add(t.job);
    for (const [unit, n] of by === 'day' ? [] : Object.entries(work.get(t.job) ?? {})) {
      const u = r.units.get(unit) ?? { j: 0, n: 0 };
      u.j += t.energy_j;
      if (firstTime) u.n += n;
      r.units.set(unit, u);
    }
    r.energy += t.energy_j;
    r.gpuMs += t.gpu_ms;
    r.idle += t.allocated_idle_j;
    r.counter += t.counter_j;
  }
  return {
    rows: [...rows]
      .map(([key, r]) => ({
        key,
        jobs: r.jobs.size,
        energy_j: r.energy,
        kwh: r.energy / 3.6e6,
        gpu_hours: r.gpuMs / 3.6e6,
        w_per_gpu: r.gpuMs > 0 ? r.energy / (r.gpuMs / 1000) : null,
        allocated_idle_j: r.idle,
        method: r.energy > 0 ? methodOf(r.energy, r.counter) : null,
        mean_util_pct: r.utilKnown > 0 ? r.utilMs / r.utilKnown : null,
        j_per_unit: Object.fromEntries([...r.units].filter(([, u]) => u.n > 0).map(([k, u]) => [k, u.j / u.n])),
      }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    idle_j: idle,
    unattributed_j: unattributed,
  };
}
