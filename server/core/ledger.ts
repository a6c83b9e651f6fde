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
import { type JobSpan, type SplitOptions, splitWindow } from './attribution.js';
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
  window(site: string, host: string, w: GpuWindow, energies: readonly WindowEnergyResult[]): LedgerDelta[] {
    const out: LedgerDelta[] = [];
    const instancesOf = migInstances(w.gpus);
    const end = w.ts + w.window_ms;
    const hostKey = `${site}\u0000${host}`;
    if ((this.latestEnd.get(hostKey) ?? -Infinity) < end) this.latestEnd.set(hostKey, end);
    w.gpus.forEach((g, i) => {
      const e = energies[i];
      const key = energyKey(site, host, g.id);
      const instances = instancesOf.get(g.id) ?? [];
      if (e?.from === 'covered' && g.energy_mj !== undefined) return this.reopen(out, key, { site, host, w, board: g, instances, lateMj: g.energy_mj });
      if (e?.energy_j === undefined || e.energy_j === 0) return;
      if (e.from === 'counter' && e.since !== undefined && e.sinceMj !== undefined && g.energy_mj !== undefined) {
        this.gaps.remember(key, { site, host, window: w, board: g, instances, since: e.since, sinceMj: e.sinceMj, endMj: g.energy_mj });
      }
      this.board(out, site, host, w, g, instances, e);
    });
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

  /** The deltas of one board (a whole GPU, or a board split among its MIG instances). */
  private board(out: LedgerDelta[], site: string, host: string, w: GpuWindow, g: GpuReading, instances: readonly GpuReading[], e: WindowEnergyResult): void {
    if (e.energy_j === undefined || e.energy_j === 0) return;
    const shares = instances.length > 0 ? this.migShares(site, host, w, instances) : [];
    const parts = shares.length > 0 ? shares.map(({ reading, share }) => ({ reading, energy: e.energy_j! * share })) : [{ reading: g, energy: e.energy_j }];
    const first = out.length;
    for (const { reading, energy } of parts) this.attribute(out, site, host, w, reading, g, energy, e);
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

  /** Splits `energy` of `reading` (a GPU, or a MIG instance of `board`) between its jobs, idle and unattributed. */
  private attribute(out: LedgerDelta[], site: string, host: string, w: GpuWindow, reading: GpuReading, board: GpuReading, energy: number, e: WindowEnergyResult): void {
    const counter = e.from === 'counter';
    const split = splitWindow(
      {
        ts: w.ts, window_ms: w.window_ms, energy_j: energy, from: e.since ?? w.ts,
        ...(reading.util_pct && { util_pct: reading.util_pct.mean }),
        ...(reading.processes && { processes: reading.processes }),
      },
      this.spans.get(energyKey(site, host, reading.id)) ?? [],
      this.opts,
    );
    const util = reading.util_pct?.mean;
    const add = (category: LedgerCategory, job: string, joules: number, idleJ = 0, ms = 0, idleMs = 0) => {
      if (joules !== 0 || ms !== 0) {
        out.push({
          category, t: w.ts - (w.ts % LEDGER_BUCKET_MS), job, site, host, gpu: reading.id, energy_j: joules, allocated_idle_j: idleJ, gpu_ms: ms,
          allocated_idle_ms: idleMs, counter_j: counter ? joules : 0, util_ms: util === undefined ? 0 : util * ms, util_known_ms: util === undefined ? 0 : ms,
          power_max_w: board.power_w?.max ?? null, window_ms: 0,
        });
      }
    };
    for (const [job, p] of split.jobs) add('job', job, p.energy_j, p.allocated_idle_j, p.gpu_ms, p.allocated_idle_ms);
    add('idle', '', split.idle_j);
    add('unattributed', '', split.unattributed_j);
  }
}

/**
 * MIG instances by board: readings named `<board>/<instance>` share the
 * board's power, which only the board reports. Most windows have none, so
 * this costs one scan per window.
 */
function migInstances(gpus: readonly GpuReading[]): Map<string, GpuReading[]> {
  const out = new Map<string, GpuReading[]>();
  for (const r of gpus) {
    const slash = r.id.lastIndexOf('/');
    if (slash < 0) continue;
    const board = r.id.slice(0, slash);
    out.set(board, [...(out.get(board) ?? []), r]);
  }
  return out;
}

/** The reversal of a delta: every sum negated; a peak cannot be un-maxed, so it adds nothing. */
function negated(d: LedgerDelta): LedgerDelta {
  return {
    ...d, energy_j: -d.energy_j, allocated_idle_j: -d.allocated_idle_j, gpu_ms: -d.gpu_ms, allocated_idle_ms: -d.allocated_idle_ms,
    counter_j: -d.counter_j, util_ms: -d.util_ms, util_known_ms: -d.util_known_ms, power_max_w: null, window_ms: -d.window_ms,
  };
}

/** Sums deltas by (category, job, GPU, quarter hour), so a batch stores one row per key. */
export function foldDeltas(deltas: readonly LedgerDelta[]): LedgerDelta[] {
  const byKey = new Map<string, LedgerDelta>();
  for (const d of deltas) {
    const k = `${d.category}\u0000${d.t}\u0000${d.job}\u0000${energyKey(d.site, d.host, d.gpu)}`;
    const have = byKey.get(k);
    if (!have) byKey.set(k, { ...d });
    else {
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
  }
  return [...byKey.values()];
}
