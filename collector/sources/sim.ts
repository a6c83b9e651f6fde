/**
 * The simulated fleet: N hosts x M GPUs whose power is a pure function of
 * (seed, GPU, time), so any run can be reproduced, and whose energy counter is
 * the exact integral of that power. Everything it publishes is labelled
 * simulated (info.simulated, status.sources = ["sim"]).
 *
 * Load model: time is cut into 60 s segments; each GPU's load level per
 * segment comes from the job it runs (sim-jobs.ts: training, inference, a job
 * holding its GPUs idle, or none), plus a 7 s ripple. Within a segment,
 * P(t) = limit * (level + a * sin(w (t - t_seg) + phase)), whose integral has
 * a closed form, so counter differences equal the integral of the sampled
 * curve exactly, not approximately.
 */
import type { GpuInfo } from '../../protocol/payloads.js';
import type { GpuSample } from '../window.js';
import { mix, unit } from './sim-hash.js';
import type { ProcJob } from '../jobs/parse-proc.js';
import { SIM_SEGMENT_MS, type SimJob, simJobsAt, simLevel, simWork } from './sim-jobs.js';
import type { GpuSource } from './source.js';

export { mix } from './sim-hash.js';
export { SIM_SEGMENT_MS } from './sim-jobs.js';
const RIPPLE_PERIOD_MS = 7_000;
export const RIPPLE = 0.04;
export const RIPPLE_OMEGA = (2 * Math.PI) / RIPPLE_PERIOD_MS;

export interface SimGpu {
  id: string;
  index: number;
  seed: number;
  host: number;
  /** Seed-mixed key that selects this GPU's traces. */
  key: number;
  limitW: number;
}

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0').slice(-digits);
}

/** A stable, UUID-shaped GPU id: the same (seed, host, gpu) always gives the same id. */
export function simGpuId(seed: number, host: number, gpu: number): string {
  const w = [0, 1, 2, 3].map((i) => mix(seed, host, gpu, i));
  const [a = 0, b = 0, c = 0, d = 0] = w;
  return `GPU-${hex(a, 8)}-${hex(b, 4)}-4${hex(b >>> 16, 3)}-${hex((c & 0x3fff) | 0x8000, 4)}-${hex(c >>> 16, 4)}${hex(d, 8)}`;
}

export function simGpus(seed: number, host: number, count: number, limitW = 700): SimGpu[] {
  return Array.from({ length: count }, (_, index) => ({
    id: simGpuId(seed, host, index),
    index,
    seed,
    host,
    key: mix(seed, host, index),
    limitW,
  }));
}

/** Load level of one segment, from the job the GPU runs then. */
export function segmentLevel(gpu: SimGpu, segment: number): number {
  return simLevel(gpu.seed, gpu.host, gpu.index, segment);
}

function phase(key: number, segment: number): number {
  return 2 * Math.PI * unit(key, segment, 3);
}

/** Instantaneous power in watts: the pure function of (GPU, time). */
export function simPowerW(gpu: SimGpu, tMs: number): number {
  const segment = Math.floor(tMs / SIM_SEGMENT_MS);
  const local = tMs - segment * SIM_SEGMENT_MS;
  return gpu.limitW * (segmentLevel(gpu, segment) + RIPPLE * Math.sin(RIPPLE_OMEGA * local + phase(gpu.key, segment)));
}

/** Exact energy in millijoules between two instants (W x ms = mJ). */
export function simEnergyMj(gpu: SimGpu, fromMs: number, toMs: number): number {
  let total = 0;
  let t = fromMs;
  while (t < toMs) {
    const segment = Math.floor(t / SIM_SEGMENT_MS);
    const start = segment * SIM_SEGMENT_MS;
    const end = Math.min(toMs, start + SIM_SEGMENT_MS);
    const level = segmentLevel(gpu, segment);
    const ph = phase(gpu.key, segment);
    const cosAt = (x: number) => Math.cos(RIPPLE_OMEGA * (x - start) + ph);
    total += gpu.limitW * (level * (end - t) - (RIPPLE / RIPPLE_OMEGA) * (cosAt(end) - cosAt(t)));
    t = end;
  }
  return total;
}

/**
 * One simulated GPU's reading at time t. The counter starts at a seeded value,
 * as if the driver had loaded some hours before `loadedAtMs`.
 */
export function simSample(gpu: SimGpu, loadedAtMs: number, tMs: number): GpuSample {
  const power = simPowerW(gpu, tMs);
  const level = segmentLevel(gpu, Math.floor(tMs / SIM_SEGMENT_MS));
  const baseMj = mix(gpu.key, 7) * 1000;
  return {
    id: gpu.id,
    power_w: power,
    energy_mj: Math.floor(baseMj + simEnergyMj(gpu, loadedAtMs, tMs)),
    util_pct: Math.min(100, Math.max(0, Math.round(((power / gpu.limitW - 0.1) / 0.85) * 100))),
    mem_used_mib: level < 0.2 ? 512 : Math.round(40_000 + 30_000 * level),
    temp_c: Math.round(30 + 50 * (power / gpu.limitW)),
    sm_clock_mhz: level < 0.2 ? 345 : 1980,
    power_limit_w: gpu.limitW,
  };
}

export function simGpuInfo(gpu: SimGpu, loadedAtMs: number): GpuInfo {
  return {
    id: gpu.id,
    index: gpu.index,
    name: `kilowatch simulated GPU (${gpu.limitW} W)`,
    memory_mib: 143_771,
    power_limit_w: gpu.limitW,
    driver: 'sim',
    driver_loaded_at: loadedAtMs,
    supports: { energy_counter: true, instant_power: true },
  };
}

/** One simulated host as a GpuSource, so the simulator keeps the same contract as hardware sources. */
export class SimSource implements GpuSource {
  readonly kind = 'sim' as const;
  private readonly gpus: SimGpu[];
  private readonly loadedAt: number;

  constructor(
    private readonly seed: number,
    private readonly host: number,
    count: number,
    now: () => number = Date.now,
  ) {
    this.gpus = simGpus(seed, host, count);
    this.loadedAt = now();
  }

  async start(): Promise<void> {}

  inventory(): GpuInfo[] {
    return this.gpus.map((g) => simGpuInfo(g, this.loadedAt));
  }

  read(tMs: number): GpuSample[] {
    const byGpu = this.jobIndex(tMs);
    return this.gpus.map((g) => {
      const s = simSample(g, this.loadedAt, tMs);
      const job = byGpu.get(g.index);
      // A job's process on each of its GPUs, as NVML's running-process list would show it.
      if (job) s.processes = [{ pid: 10_000 + (mix(g.key, job.gpus[0]!) % 50_000), util_pct: s.util_pct ?? 0, used_mib: s.mem_used_mib ?? 0, job: job.job }];
      return s;
    });
  }

  private jobIndex(tMs: number): Map<number, SimJob> {
    const out = new Map<number, SimJob>();
    for (const j of simJobsAt(this.seed, this.host, this.gpus.length, tMs)) for (const i of j.gpus) out.set(i, j);
    return out;
  }

  /** What each running job has reported (its application's counters), for the work topic. */
  work(tMs: number): { job: string; totals: Record<string, number> }[] {
    return simJobsAt(this.seed, this.host, this.gpus.length, tMs)
      .map((j) => ({ job: j.job, totals: simWork(j, tMs) }))
      .filter((w) => Object.keys(w.totals).length > 0);
  }

  /** The jobs on this host's GPUs at t, by GPU id, for the collector's job events. */
  jobs(tMs: number): Map<string, ProcJob[]> {
    const out = new Map<string, ProcJob[]>(this.gpus.map((g) => [g.id, []]));
    for (const j of simJobsAt(this.seed, this.host, this.gpus.length, tMs)) {
      for (const i of j.gpus) out.get(this.gpus[i]!.id)!.push({ job: j.job, kind: 'custom', user: j.user, project: j.project, partition: j.partition });
    }
    return out;
  }

  async stop(): Promise<void> {}

  health(): Record<string, number> {
    return {};
  }
}
