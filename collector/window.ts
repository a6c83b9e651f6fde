/**
 * Edge aggregation: the samples of one host within one window become one
 * protocol window with min, max, mean, last and count per field, so a 200 ms
 * spike inside a 1 s window survives as the window's max. The host total is
 * summed per sample, so its max is a true host peak, not a sum of maxima.
 */
import type { GpuProcess, GpuReading, GpuWindow, Stat, ThrottleReason } from '../protocol/payloads.js';
import type { ProcJob } from './jobs/parse-proc.js';

/** One reading of one GPU. Fields the source cannot read are absent. */
export interface GpuSample {
  id: string;
  power_w?: number;
  energy_mj?: number;
  util_pct?: number;
  mem_used_mib?: number;
  temp_c?: number;
  sm_clock_mhz?: number;
  power_limit_w?: number;
  /** Throttle reasons active at this sample (read at 1 Hz or slower). */
  throttle?: ThrottleReason[];
  /** The last Xid error code the driver reported (dcgm-exporter's DCGM_FI_DEV_XID_ERRORS); 0: none since it loaded. */
  xid?: number;
  /** Compute processes at this sample (read at 1 Hz or slower). */
  processes?: GpuProcess[];
  /** Jobs the source itself names for this GPU (dcgm-exporter's pod and hpc_job labels); /proc is not needed for them. */
  assigned?: ProcJob[];
  /**
   * When the source took the reading. A source slower than the sampler (an
   * exporter scraped every 30 s) returns the same reading at many ticks: only
   * the first counts as a sample (ARCHITECTURE.md §8: distinct samples, not scrapes).
   */
  ts_ms?: number;
}

const STAT_FIELDS = ['power_w', 'util_pct', 'mem_used_mib', 'temp_c', 'sm_clock_mhz'] as const;
type StatField = (typeof STAT_FIELDS)[number];

export class StatAccumulator {
  private min = Infinity;
  private max = -Infinity;
  private sum = 0;
  private last = 0;
  private n = 0;

  add(value: number): void {
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.sum += value;
    this.last = value;
    this.n += 1;
  }

  get count(): number {
    return this.n;
  }

  toStat(): Stat | undefined {
    if (this.n === 0) return undefined;
    // Clamp the mean into [min, max]: a float sum can land a hair outside.
    const mean = Math.min(this.max, Math.max(this.min, this.sum / this.n));
    return { min: this.min, max: this.max, mean, last: this.last, n: this.n };
  }
}

interface GpuAccumulator {
  stats: Partial<Record<StatField, StatAccumulator>>;
  energy_mj?: number;
  /** Energy integrated at the edge (PowerTrail), for GPUs whose source has no counter. */
  window_energy_mj?: number;
  power_limit_w?: number;
  throttle?: Set<ThrottleReason>;
  xid?: number;
  processes?: GpuProcess[];
}

/** Window content without the stream header, which the publisher adds. */
export type WindowBody = Pick<GpuWindow, 'ts' | 'window_ms' | 'host_power_w' | 'gpus'>;

export class HostWindow {
  private readonly gpus = new Map<string, GpuAccumulator>();
  private readonly hostPower = new StatAccumulator();

  constructor(
    readonly ts: number,
    readonly windowMs: number,
  ) {}

  /**
   * Adds the readings of one instant. Per-GPU statistics take only fresh
   * readings; the host total takes every GPU's latest value, since a GPU whose
   * reading did not change still draws that power at this instant.
   */
  add(samples: readonly GpuSample[], isFresh: (s: GpuSample) => boolean = () => true): void {
    let hostTotal = 0;
    let anyPower = false;
    for (const s of samples) {
      if (s.power_w !== undefined) {
        hostTotal += s.power_w;
        anyPower = true;
      }
      if (!isFresh(s)) continue;
      let acc = this.gpus.get(s.id);
      if (!acc) this.gpus.set(s.id, (acc = { stats: {} }));
      for (const f of STAT_FIELDS) {
        const v = s[f];
        if (v !== undefined) (acc.stats[f] ??= new StatAccumulator()).add(v);
      }
      if (s.energy_mj !== undefined) acc.energy_mj = s.energy_mj;
      if (s.power_limit_w !== undefined) acc.power_limit_w = s.power_limit_w;
      // Any reason seen at any sample of the window counts; the last process list stands.
      if (s.throttle) for (const r of s.throttle) (acc.throttle ??= new Set()).add(r);
      if (s.processes) acc.processes = s.processes;
      if (s.xid !== undefined) acc.xid = s.xid;
    }
    if (anyPower) this.hostPower.add(hostTotal);
  }

  /**
   * The GPU's counter read at the instant this window ends (the first sample of
   * the next window): the protocol's energy_mj is the counter at window end, so
   * successive windows' differences cover exactly [ts, ts + window_ms).
   */
  endCounter(gpuId: string, energyMj: number): void {
    const acc = this.gpus.get(gpuId);
    if (acc) acc.energy_mj = energyMj;
  }

  /** Energy the edge integrated for a GPU without a counter (W x ms = mJ). */
  addEnergy(gpuId: string, energyMj: number): void {
    const acc = this.gpus.get(gpuId);
    if (acc) acc.window_energy_mj = (acc.window_energy_mj ?? 0) + energyMj;
  }

  get sampleCount(): number {
    return this.hostPower.count;
  }

  close(): WindowBody {
    const gpus: GpuReading[] = [];
    for (const [id, acc] of this.gpus) {
      const g: GpuReading = { id };
      for (const f of STAT_FIELDS) {
        const stat = acc.stats[f]?.toStat();
        if (stat) g[f] = stat;
      }
      // The counter when the source has one; the edge integral only when it has none (§4).
      if (acc.energy_mj !== undefined) g.energy_mj = acc.energy_mj;
      else if (acc.window_energy_mj !== undefined) g.window_energy_mj = acc.window_energy_mj;
      if (acc.power_limit_w !== undefined) g.power_limit_w = acc.power_limit_w;
      if (acc.throttle) g.throttle = [...acc.throttle];
      if (acc.processes) g.processes = acc.processes;
      if (acc.xid) g.xid = acc.xid; // 0 means none: absent
      gpus.push(g);
    }
    const body: WindowBody = { ts: this.ts, window_ms: this.windowMs, gpus };
    const host = this.hostPower.toStat();
    if (host) body.host_power_w = host;
    return body;
  }
}

/** The start of the window containing t: windows are aligned to multiples of their length since the epoch. */
export function windowStart(tMs: number, windowMs: number): number {
  return Math.floor(tMs / windowMs) * windowMs;
}

/** Each host publishes at its own seeded offset within the window, so a fleet does not burst at once (§3). */
export function publishOffsetMs(hostKey: number, windowMs: number): number {
  return hostKey % Math.max(1, Math.floor(windowMs / 2));
}
