/**
 * History queries, the engine-independent half: what a series query asks,
 * and how per-member buckets become one columnar series. Pure; both store
 * engines answer with member buckets and this file combines them, so the
 * two engines cannot differ in semantics, only in the numbers they hold.
 *
 * Semantics (ARCHITECTURE.md §3, "Rules for values"):
 * - buckets are [t, t+step), labelled at t;
 * - a group's (host, group, job, fleet) power is the sum of its members'
 *   bucket means; coverage is the share of member-time behind the value
 *   (members are those with any data in the queried range);
 * - the sum of maxima is not a maximum: a group's `max` is the sum of its
 *   hosts' edge-measured peaks, flagged as an upper bound;
 * - energy is summed; per member it comes from counter differences where a
 *   counter exists, else from the edge integral (`window_energy_mj`).
 */

export const SERIES_METRICS = ['power_w', 'util_pct', 'mem_used_mib', 'temp_c', 'sm_clock_mhz'] as const;
export type SeriesMetric = (typeof SERIES_METRICS)[number];
export const AGGREGATES = ['mean', 'max', 'min', 'last', 'energy'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export interface HostRef {
  site: string;
  host: string;
}

export type SeriesTarget =
  | { kind: 'gpu'; site: string; host: string; gpu: string }
  | { kind: 'host'; site: string; host: string }
  | { kind: 'group'; name: string; hosts: HostRef[] }
  | { kind: 'job'; job: string }
  | { kind: 'fleet' };

export interface SeriesQuery {
  target: SeriesTarget;
  metric: SeriesMetric;
  agg: Aggregate;
  /** [from, to) in ms; from is aligned down to the step. */
  from: number;
  to: number;
  step: number;
}

/** One member (a GPU, or a host for host peaks) in one bucket, as an engine reports it. */
export interface MemberBucket {
  member: string;
  t: number;
  /** Window time behind the bucket, ms (at most step). */
  covered_ms: number;
  mean?: number;
  min?: number;
  max?: number;
  last?: number;
  /** Joules. */
  energy_j?: number;
}

export interface SeriesResult {
  query: SeriesQuery;
  unit: string;
  t: number[];
  values: (number | null)[];
  /** 0..1 per bucket: the share of member-time that had data. */
  coverage: number[];
  /** 'upper': each value is a sum of member peaks, at least the true peak. */
  bound: 'upper' | null;
  /** How the values were derived, for the UI to show next to them. */
  derived: string;
  members: number;
}

/** Power and memory add up across members; utilization, temperature and clock are averaged. */
const ADDITIVE: ReadonlySet<SeriesMetric> = new Set(['power_w', 'mem_used_mib']);

export function unitOf(metric: SeriesMetric, agg: Aggregate): string {
  if (agg === 'energy') return 'J';
  return { power_w: 'W', util_pct: '%', mem_used_mib: 'MiB', temp_c: '°C', sm_clock_mhz: 'MHz' }[metric];
}

export function bucketStarts(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(from / step) * step; t < to; t += step) out.push(t);
  return out;
}

/** True when the query's target is one GPU or one host: no summing across members. */
function single(q: SeriesQuery): boolean {
  return q.target.kind === 'gpu';
}

/**
 * Combines member buckets into the series. `members` counts the members
 * expected in every bucket (for coverage). For `max` of power the engine
 * reports host peaks as the rows of a host, group or fleet (the edge's
 * per-sample host total), and GPU maxima for a job.
 */
export function combineBuckets(q: SeriesQuery, rows: readonly MemberBucket[], members: number): SeriesResult {
  const t = bucketStarts(q.from, q.to, q.step);
  const index = new Map(t.map((x, i) => [x, i]));
  const acc = t.map(() => ({ sum: 0, n: 0, covered: 0, best: undefined as number | undefined }));
  const additive = ADDITIVE.has(q.metric) && !single(q);
  for (const r of rows) {
    const i = index.get(r.t);
    if (i === undefined) continue;
    const a = acc[i]!;
    a.covered += r.covered_ms;
    const v = q.agg === 'energy' ? r.energy_j : r[q.agg];
    if (v === undefined) continue;
    a.n += 1;
    a.sum += v;
    if (q.agg === 'max') a.best = a.best === undefined ? v : Math.max(a.best, v);
    if (q.agg === 'min') a.best = a.best === undefined ? v : Math.min(a.best, v);
  }
  const values = acc.map((a) => {
    if (a.n === 0) return null;
    if (q.agg === 'energy' || additive) return a.sum; // sums of means, of peaks (upper bound), of lasts, of energies
    if (q.agg === 'max' || q.agg === 'min') return a.best!;
    return a.sum / a.n;
  });
  const expected = Math.max(1, members) * q.step;
  const coverage = acc.map((a) => Math.min(1, a.covered / expected));
  // One host's peak is measured at the edge per sample, so it is exact; any wider sum of peaks is only a bound.
  const upper = additive && q.agg === 'max' && q.target.kind !== 'host';
  return {
    query: q,
    unit: unitOf(q.metric, q.agg),
    t,
    values,
    coverage,
    bound: upper ? 'upper' : null,
    derived: derivation(q, additive),
    members,
  };
}

function derivation(q: SeriesQuery, additive: boolean): string {
  if (q.agg === 'energy') return 'energy counter differences where the GPU has a counter, else the edge integral of power; summed over members';
  if (q.agg === 'max' && additive && q.target.kind === 'host') return "the host's peak, summed over its GPUs per sample at the edge";
  if (q.agg === 'max' && additive) return "sum of the members' peaks: an upper bound of the group's peak";
  if (additive) return `sum of the members' bucket ${q.agg}s`;
  return single(q) ? `${q.agg} of the windows in each bucket` : `${q.agg === 'max' || q.agg === 'min' ? q.agg : 'average'} over members of their bucket ${q.agg}s`;
}
