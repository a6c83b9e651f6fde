/**
 * Who used a GPU's energy in one window (ARCHITECTURE.md §4, "Per job").
 * Pure: one window's energy and the jobs that held the GPU in, a split out.
 *
 * - The energy is spread evenly over the time it covers: the window, plus a
 *   gap before it when a counter difference spans one. That is the only
 *   assumption, and it bounds the error at a job boundary inside a window
 *   by the window's power swing: |error| <= (max - min) x overlap.
 * - Within that time, each stretch where the same jobs hold the GPU goes to
 *   them; a stretch with no job is `idle`.
 * - A gap inside which a job started or ended cannot be placed: that part is
 *   `unattributed`. A gap with the same jobs throughout is theirs.
 * - Jobs sharing the GPU split a stretch by their processes' utilization,
 *   else by their processes' memory, else evenly.
 * - A job's share while the GPU's utilization is below the threshold is also
 *   counted as `allocated_idle`: held, but doing nothing.
 * Conservation: the parts always add up to the window's energy (up to float
 * rounding), because every stretch of time is given to exactly one category.
 */

export interface JobSpan {
  job: string;
  from: number;
  /** Infinity while the job runs. */
  to: number;
}

export interface ProcessShare {
  job?: string;
  util_pct?: number;
  used_mib?: number;
}

export interface WindowEnergyIn {
  ts: number;
  window_ms: number;
  energy_j: number;
  /** Where the energy begins: before ts when a counter difference covers a gap. */
  from: number;
  /** The GPU's mean utilization in the window, when the source reads it. */
  util_pct?: number;
  processes?: readonly ProcessShare[];
}

export interface JobPart {
  energy_j: number;
  allocated_idle_j: number;
  /** GPU time of the job this window accounts for, ms, and the part of it spent allocated-idle. */
  gpu_ms: number;
  allocated_idle_ms: number;
}

export interface WindowSplit {
  jobs: Map<string, JobPart>;
  idle_j: number;
  unattributed_j: number;
  /** The rule used to share a stretch between jobs, when one was shared. */
  shared_by?: 'utilization' | 'memory' | 'even';
}

export interface SplitOptions {
  /** Below this GPU utilization a job's share is allocated-idle (default 5 %). */
  idleUtilPct: number;
}

const active = (spans: readonly JobSpan[], a: number, b: number) => spans.filter((s) => s.from < b && s.to > a).map((s) => s.job);

/** Weights of the jobs sharing a stretch, and the rule that gave them. */
function weights(jobs: readonly string[], processes: readonly ProcessShare[] | undefined): { w: Map<string, number>; by: WindowSplit['shared_by'] } {
  for (const [field, by] of [['util_pct', 'utilization'], ['used_mib', 'memory']] as const) {
    const w = new Map(jobs.map((j) => [j, 0]));
    let total = 0;
    for (const p of processes ?? []) {
      const v = p[field];
      if (p.job === undefined || v === undefined || !w.has(p.job)) continue;
      w.set(p.job, w.get(p.job)! + v);
      total += v;
    }
    if (total > 0) return { w: new Map([...w].map(([j, v]) => [j, v / total])), by };
  }
  return { w: new Map(jobs.map((j) => [j, 1 / jobs.length])), by: 'even' };
}

export function splitWindow(w: WindowEnergyIn, spans: readonly JobSpan[], opts: SplitOptions): WindowSplit {
  const end = w.ts + w.window_ms;
  const from = Math.min(w.from, w.ts);
  const out: WindowSplit = { jobs: new Map(), idle_j: 0, unattributed_j: 0 };
  const length = end - from;
  if (length <= 0 || w.energy_j === 0) return out;
  const density = w.energy_j / length;

  // Fast path, the common case: no job starts or ends in [from, end), so one job set holds throughout.
  if (!spans.some((s) => (s.from > from && s.from < end) || (s.to > from && s.to < end))) {
    const jobs = spans.filter((s) => s.from < end && s.to > from).map((s) => s.job);
    if (jobs.length === 0) {
      out.idle_j = w.energy_j;
      return out;
    }
    if (jobs.length === 1) {
      const idle = w.util_pct !== undefined && w.util_pct < opts.idleUtilPct;
      out.jobs.set(jobs[0]!, { energy_j: w.energy_j, allocated_idle_j: idle ? w.energy_j : 0, gpu_ms: length, allocated_idle_ms: idle ? length : 0 });
      return out;
    }
  }
  // A gap whose job set changes cannot be placed.
  let start = from;
  if (from < w.ts) {
    const changes = spans.some((s) => (s.from > from && s.from < w.ts) || (s.to > from && s.to < w.ts));
    if (changes) {
      out.unattributed_j = density * (w.ts - from);
      start = w.ts;
    }
  }
  // Stretches between job boundaries inside [start, end).
  const cuts = [...new Set([start, end, ...spans.flatMap((s) => [s.from, s.to]).filter((t) => t > start && t < end)])].sort((a, b) => a - b);
  const idleGpu = w.util_pct !== undefined && w.util_pct < opts.idleUtilPct;
  for (let i = 0; i + 1 < cuts.length; i++) {
    const a = cuts[i]!;
    const b = cuts[i + 1]!;
    const energy = density * (b - a);
    const jobs = [...new Set(active(spans, a, b))];
    if (jobs.length === 0) {
      out.idle_j += energy;
      continue;
    }
    const { w: share, by } = weights(jobs, w.processes);
    if (jobs.length > 1) out.shared_by = by;
    for (const j of jobs) {
      const part = out.jobs.get(j) ?? { energy_j: 0, allocated_idle_j: 0, gpu_ms: 0, allocated_idle_ms: 0 };
      const e = energy * share.get(j)!;
      part.energy_j += e;
      part.gpu_ms += b - a;
      if (idleGpu) {
        part.allocated_idle_j += e;
        part.allocated_idle_ms += b - a;
      }
      out.jobs.set(j, part);
    }
  }
  return out;
}

/** The sum of a split's parts, for conservation checks. */
export function splitTotal(s: WindowSplit): number {
  let t = s.idle_j + s.unattributed_j;
  for (const p of s.jobs.values()) t += p.energy_j;
  return t;
}
