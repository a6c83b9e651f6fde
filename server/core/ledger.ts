/**
 * The energy ledger's pure core: which jobs hold which GPU when (from job
 * start and end events, whatever their source), and the deltas each stored
 * GPU window adds to jobs, idle and unattributed (attribution.ts). The store
 * commits a batch's deltas in the same transaction as its windows, so the
 * ledger is exactly-once with them, and a restart reloads the job spans.
 *
 * A job's energy by method: `counter_j` from counter differences, and
 * `integral_j` from the edge integral or mean power; a job with both is
 * `mixed`. Multi-node jobs: spans are per (site, host, GPU), summed per job.
 */
import type { GpuReading, GpuWindow, JobEvent } from '../../protocol/payloads.js';
import { type JobSpan, type SplitOptions, type WindowEnergyIn, splitWindow } from './attribution.js';
import { GapMemory } from './ledger-gaps.js';
import { type WindowEnergyResult, energyKey } from './window-energy.js';

export type LedgerCategory = 'job' | 'idle' | 'unattributed';

/** Deltas are kept per quarter hour: every time zone's days and hours split on it. */
export const LEDGER_BUCKET_MS = 15 * 60_000;

/** One batch's change to one (category, job, GPU, quarter hour). */
export interface LedgerDelta {
  category: LedgerCategory;
  /** The quarter hour of the window's start. */
  t: number;
  /** Empty for idle and unattributed. */
  job: string;
  site: string;
  host: string;
  gpu: string;
  energy_j: number;
  allocated_idle_j: number;
  gpu_ms: number;
  allocated_idle_ms: number;
  /** The part of energy_j that came from counter differences; the rest from integrals. */
  counter_j: number;
  /** Utilization x GPU time (%·ms) over the GPU time whose utilization is known, for a mean. */
  util_ms: number;
  util_known_ms: number;
  /** The GPU's highest window power in the quarter hour (the edge's per-sample max), W. */
  power_max_w: number | null;
  /** Window time behind the energy, counted once per window (on its first delta): the coverage of a group's energy. */
  window_ms: number;
}

export type EnergyMethod = 'counter' | 'integral' | 'mixed';

export function methodOf(energyJ: number, counterJ: number): EnergyMethod {
  if (counterJ >= energyJ * (1 - 1e-9)) return 'counter';
  return counterJ <= 0 ? 'integral' : 'mixed';
}

/** What the ledger did with late input, for health (all counts since start). */
export interface LedgerStats {
  /** Late windows that split a counter gap and moved its energy where it belongs. */
  gaps_reopened: number;
  /** Late windows whose energy a later counter difference already counted, with no gap to reopen: 0 J. */
  late_covered: number;
  /** Late windows whose counter does not fit between the gap's readings (a reset inside the gap): 0 J. */
  late_unplaced: number;
  /** Job starts and ends older than windows already attributed on their GPUs: those windows keep their split. */
  late_job_events: number;
  /** GPU time those late job events did not re-split, ms. */
  late_job_ms: number;
  open_gaps: number;
  gaps_forgotten: number;
}

export class EnergyLedger {
  /** energyKey(site, host, gpu) -> the spans of jobs on that GPU. */
  private readonly spans = new Map<string, JobSpan[]>();
  /** `site\0host` -> the end of the latest window attributed there: a job event before it is late (one entry per host: the hot path). */
  private readonly latestEnd = new Map<string, number>();
  private readonly gaps = new GapMemory();
  private readonly counts = { gaps_reopened: 0, late_covered: 0, late_unplaced: 0, late_job_events: 0, late_job_ms: 0 };

  constructor(private readonly opts: SplitOptions) {}

  /** A start opens a span on each of its GPUs (once, however many sources report it); an end closes them. */
  jobEvent(site: string, host: string, e: Pick<JobEvent, 'job' | 'event' | 'ts' | 'gpus'>): void {
    let lateMs = 0;
    for (const gpu of e.gpus) {
      const key = energyKey(site, host, gpu);
      const list = this.spans.get(key) ?? [];
      const spansBefore = list.length;
      const open = list.find((s) => s.job === e.job && s.to === Infinity);
      if (e.event === 'start') {
        if (!open && !list.some((s) => s.job === e.job && s.from <= e.ts && e.ts < s.to)) list.push({ job: e.job, from: e.ts, to: Infinity });
      } else if (open) {
        open.to = Math.max(open.from, e.ts);
      }
      const changed = list.length > spansBefore || (e.event === 'end' && open !== undefined);
      if (changed) lateMs = Math.max(lateMs, (this.latestEnd.get(`${site}\u0000${host}`) ?? e.ts) - e.ts);
      this.spans.set(key, list);
    }
    if (lateMs > 0) {
      this.counts.late_job_events += 1;
      this.counts.late_job_ms += lateMs;
    }
  }

  /** Forgets spans that ended before `before`: windows that old are refused as too old anyway. */
  prune(before: number): void {
    this.gaps.prune(before);
    for (const [key, end] of this.latestEnd) if (end < before) this.latestEnd.delete(key);
    for (const [key, list] of this.spans) {
      const kept = list.filter((s) => s.to >= before);
      if (kept.length === 0) this.spans.delete(key);
      else this.spans.set(key, kept);
    }
  }

  /**
   * The deltas of one stored GPU window; `energies[i]` is the energy of
   * `w.gpus[i]`. A late window inside a counter gap reopens the gap
   * (ledger-gaps.ts): its deltas reverse the covering window's attribution
   * and attribute both parts again.
   */
  window(site: string, host: string, w: GpuWindow, energies: readonly WindowEnergyResult[], out: LedgerDelta[] = []): LedgerDelta[] {
    const instancesOf = migInstances(w.gpus);
    const end = w.ts + w.window_ms;
    const hostKey = `${site}\u0000${host}`;
    if ((this.latestEnd.get(hostKey) ?? -Infinity) < end) this.latestEnd.set(hostKey, end);
    for (let i = 0; i < w.gpus.length; i++) {
      const g = w.gpus[i]!;
      const e = energies[i];
      const key = energyKey(site, host, g.id);
      const instances = instancesOf?.get(g.id) ?? NO_INSTANCES;
      if (e?.from === 'covered' && g.energy_mj !== undefined) {
        this.reopen(out, key, { site, host, w, board: g, instances, lateMj: g.energy_mj });
        continue;
      }
      if (e?.energy_j === undefined || e.energy_j === 0) continue;
      if (e.from === 'counter' && e.since !== undefined && e.sinceMj !== undefined && g.energy_mj !== undefined) {
        this.gaps.remember(key, { site, host, window: w, board: g, instances, since: e.since, sinceMj: e.sinceMj, endMj: g.energy_mj });
      }
      this.board(out, site, host, w, g, instances, e, key);
    }
    return out;
  }

  /** A batch the store committed: its gap changes stay. */
  commit(): void {
    this.gaps.commit();
  }

  /** A batch the store rolled back (it will be retried): its gap changes are undone. */
  rollback(): void {
    this.gaps.rollback();
  }

  /** Counters for the store's health: gaps reopened by late windows, and what could not be placed. */
  stats(): LedgerStats {
    return { ...this.counts, open_gaps: this.gaps.size, gaps_forgotten: this.gaps.forgotten };
  }

  /** The deltas of one board (a whole GPU, or a board split among its MIG instances); `key` is the board's energyKey when the caller has it. */
  private board(out: LedgerDelta[], site: string, host: string, w: GpuWindow, g: GpuReading, instances: readonly GpuReading[], e: WindowEnergyResult, key?: string): void {
    if (e.energy_j === undefined || e.energy_j === 0) return;
    const shares = instances.length > 0 ? this.migShares(site, host, w, instances) : [];
    const first = out.length;
    if (shares.length === 0) this.attribute(out, site, host, w, g, g, e.energy_j, e, key ?? energyKey(site, host, g.id));
    else for (const { reading, share } of shares) this.attribute(out, site, host, w, reading, g, e.energy_j * share, e, energyKey(site, host, reading.id));
    if (out.length > first) out[first]!.window_ms = w.window_ms + Math.max(0, w.ts - (e.since ?? w.ts)); // a counter difference also covers its gap
  }

  /** A late counter window: split the gap that holds it, or add nothing (its energy is already counted). */
  private reopen(out: LedgerDelta[], key: string, late: { site: string; host: string; w: GpuWindow; board: GpuReading; instances: readonly GpuReading[]; lateMj: number }): void {
    const { w } = late;
    const found = this.gaps.split(key, { ts: w.ts, window_ms: w.window_ms, lateMj: late.lateMj, reading: late.board, instances: late.instances, window: w });
    if ('refused' in found) {
      this.counts[found.refused === 'no_gap' ? 'late_covered' : 'late_unplaced'] += 1;
      return;
    }
    const { before, lateEnergyJ, lateSince, after } = found.split;
    const counter = (energyJ: number, since: number, ts: number): WindowEnergyResult => (since < ts ? { energy_j: energyJ, from: 'counter', since } : { energy_j: energyJ, from: 'counter' });
    const reversed: LedgerDelta[] = [];
    this.board(reversed, before.site, before.host, before.window, before.board, before.instances, counter((before.endMj - before.sinceMj) / 1000, before.since, before.window.ts));
    for (const d of reversed) out.push(negated(d));
    this.board(out, late.site, late.host, w, late.board, late.instances, counter(lateEnergyJ, lateSince, w.ts));
    this.board(out, after.site, after.host, after.window, after.board, after.instances, counter((after.endMj - after.sinceMj) / 1000, after.since, after.window.ts));
    this.counts.gaps_reopened += 1;
  }

  /**
   * How a board's energy divides among its MIG instances in a window: by
   * each busy instance's utilization when the source reports it, else evenly
   * among the busy ones (held by a job, or active). No busy instance: [],
   * and the board's energy is attributed as the board's own.
   */
  private migShares(site: string, host: string, w: GpuWindow, instances: readonly GpuReading[]): { reading: GpuReading; share: number }[] {
    const end = w.ts + w.window_ms;
    const held = (r: GpuReading) => (this.spans.get(energyKey(site, host, r.id)) ?? []).some((s) => s.from < end && s.to > w.ts);
    const busy = instances.filter((r) => held(r) || (r.util_pct?.mean ?? 0) > 0);
    if (busy.length === 0) return [];
    const total = busy.reduce((a, r) => a + (r.util_pct?.mean ?? 0), 0);
    return busy.map((r) => ({ reading: r, share: total > 0 ? (r.util_pct?.mean ?? 0) / total : 1 / busy.length }));
  }

  /** Splits `energy` of `reading` (a GPU, or a MIG instance of `board`; `key` its energyKey) between its jobs, idle and unattributed. */
  private attribute(out: LedgerDelta[], site: string, host: string, w: GpuWindow, reading: GpuReading, board: GpuReading, energy: number, e: WindowEnergyResult, key: string): void {
    const from = e.since ?? w.ts;
    const spans = this.spans.get(key);
    if (spans === undefined || spans.length === 0) {
      // No job ever held this GPU (the common case): all of it is idle, as splitWindow says for no spans, without its allocations.
      if (w.ts + w.window_ms - Math.min(from, w.ts) > 0 && energy !== 0) this.push(out, 'idle', '', site, host, w, reading, board, e, energy, 0, 0, 0);
      return;
    }
    const input: WindowEnergyIn = { ts: w.ts, window_ms: w.window_ms, energy_j: energy, from };
    if (reading.util_pct) input.util_pct = reading.util_pct.mean;
    if (reading.processes) input.processes = reading.processes;
    const split = splitWindow(input, spans, this.opts);
    for (const [job, p] of split.jobs) this.push(out, 'job', job, site, host, w, reading, board, e, p.energy_j, p.allocated_idle_j, p.gpu_ms, p.allocated_idle_ms);
    this.push(out, 'idle', '', site, host, w, reading, board, e, split.idle_j, 0, 0, 0);
    this.push(out, 'unattributed', '', site, host, w, reading, board, e, split.unattributed_j, 0, 0, 0);
  }

  /** One delta, unless it is empty (no energy and no GPU time). */
  private push(out: LedgerDelta[], category: LedgerCategory, job: string, site: string, host: string, w: GpuWindow, reading: GpuReading, board: GpuReading, e: WindowEnergyResult, joules: number, idleJ: number, ms: number, idleMs: number): void {
    if (joules === 0 && ms === 0) return;
    const util = reading.util_pct?.mean;
    out.push({
      category, t: w.ts - (w.ts % LEDGER_BUCKET_MS), job, site, host, gpu: reading.id, energy_j: joules, allocated_idle_j: idleJ, gpu_ms: ms,
      allocated_idle_ms: idleMs, counter_j: e.from === 'counter' ? joules : 0, util_ms: util === undefined ? 0 : util * ms, util_known_ms: util === undefined ? 0 : ms,
      power_max_w: board.power_w?.max ?? null, window_ms: 0,
    });
  }
}

/**
 * MIG instances by board: readings named `<board>/<instance>` share the
 * board's power, which only the board reports. Most windows have none, so
 * this costs one scan per window.
 */
function migInstances(gpus: readonly GpuReading[]): Map<string, GpuReading[]> | undefined {
  let out: Map<string, GpuReading[]> | undefined;
  for (const r of gpus) {
    const slash = r.id.lastIndexOf('/');
    if (slash < 0) continue;
    const board = r.id.slice(0, slash);
    out ??= new Map();
    out.set(board, [...(out.get(board) ?? []), r]);
  }
  return out;
}

const NO_INSTANCES: readonly GpuReading[] = [];

/** The reversal of a delta: every sum negated; a peak cannot be un-maxed, so it adds nothing. */
function negated(d: LedgerDelta): LedgerDelta {
  return {
    ...d, energy_j: -d.energy_j, allocated_idle_j: -d.allocated_idle_j, gpu_ms: -d.gpu_ms, allocated_idle_ms: -d.allocated_idle_ms,
    counter_j: -d.counter_j, util_ms: -d.util_ms, util_known_ms: -d.util_known_ms, power_max_w: null, window_ms: -d.window_ms,
  };
}

/**
 * Sums deltas by (category, job, GPU, quarter hour), so a batch stores one
 * row per key, in the order each key first appears. A GPU mostly has one
 * key per batch: its first delta is found by host and GPU without building
 * a key string, and only the others are keyed in full.
 */
export function foldDeltas(deltas: readonly LedgerDelta[]): LedgerDelta[] {
  const out: LedgerDelta[] = [];
  const firstOf = new Map<string, Map<string, LedgerDelta>>();
  const others = new Map<string, LedgerDelta>();
  for (const d of deltas) {
    let byGpu = firstOf.get(d.host);
    if (!byGpu) firstOf.set(d.host, (byGpu = new Map()));
    const first = byGpu.get(d.gpu);
    let have: LedgerDelta | undefined;
    if (first === undefined) byGpu.set(d.gpu, (have = { ...d }));
    else if (first.t === d.t && first.category === d.category && first.job === d.job && first.site === d.site) {
      merge(first, d);
      continue;
    } else {
      const k = `${d.category}\u0000${d.t}\u0000${d.job}\u0000${energyKey(d.site, d.host, d.gpu)}`;
      const other = others.get(k);
      if (other) {
        merge(other, d);
        continue;
      }
      others.set(k, (have = { ...d }));
    }
    out.push(have);
  }
  return out;
}

function merge(have: LedgerDelta, d: LedgerDelta): void {
  have.energy_j += d.energy_j;
  have.allocated_idle_j += d.allocated_idle_j;
  have.gpu_ms += d.gpu_ms;
  have.allocated_idle_ms += d.allocated_idle_ms;
  have.counter_j += d.counter_j;
  have.util_ms += d.util_ms;
  have.util_known_ms += d.util_known_ms;
  have.window_ms += d.window_ms;
  if (d.power_max_w !== null && (have.power_max_w === null || d.power_max_w > have.power_max_w)) have.power_max_w = d.power_max_w;
}
