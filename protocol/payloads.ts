/**
 * Payload types of protocol v1. Field names are snake_case with a unit suffix
 * (protocol/README.md, "Units"). A value the source cannot read is absent,
 * never 0. All timestamps are integer milliseconds since the Unix epoch (UTC).
 */

export const PROTOCOL_VERSION = 1;

/** Statistics of one field over the samples of one window. */
export interface Stat {
  min: number;
  max: number;
  mean: number;
  last: number;
  /** Number of samples behind the statistics (>= 1). */
  n: number;
}

/** Header shared by every spooled stream (gpu, meter/<id>, job). */
export interface StreamHeader {
  v: 1;
  /** Random per collector start; with `seq` it keys the stream. */
  boot_id: string;
  /** +1 per message within (stream, boot_id), starting at 0. */
  seq: number;
  /** The oldest seq still held in the collector's spool; seqs below it that were never settled are loss. */
  first_seq: number;
}

export const THROTTLE_REASONS = ['power_cap', 'thermal', 'power_brake', 'sync_boost', 'sw_slowdown', 'other'] as const;
export type ThrottleReason = (typeof THROTTLE_REASONS)[number];

export interface GpuProcess {
  pid: number;
  used_mib?: number;
  util_pct?: number;
  /** Job id when the collector mapped the process to one. */
  job?: string;
}

export interface GpuReading {
  /** Stable id: the GPU UUID, "GPU-<uuid>" (or "MIG-<uuid>" for a MIG instance). */
  id: string;
  power_w?: Stat;
  /** Energy counter at the window end, mJ since the driver loaded (NVML, Volta and newer). */
  energy_mj?: number;
  /** Energy over this window integrated at the edge (trapezoid rule), when there is no counter. */
  window_energy_mj?: number;
  util_pct?: Stat;
  mem_used_mib?: Stat;
  temp_c?: Stat;
  sm_clock_mhz?: Stat;
  /** Enforced power limit at the window end. */
  power_limit_w?: number;
  /** Throttle reasons active at any sample in the window. */
  throttle?: ThrottleReason[];
  /** The last Xid error code the driver reported, where the source reads it (dcgm-exporter); absent when none. */
  xid?: number;
  processes?: GpuProcess[];
}

/** Stream `gpu`: one window for all GPUs of a host. */
export interface GpuWindow extends StreamHeader {
  /** Window start, a multiple of window_ms since the epoch. */
  ts: number;
  window_ms: number;
  /** Host total of GPU power, summed per sample at the edge (so max is a true peak). */
  host_power_w?: Stat;
  gpus: GpuReading[];
}

/** Stream `meter/<meter>`: one normalized power-meter window. */
export interface MeterWindow extends StreamHeader {
  ts: number;
  window_ms: number;
  /** Signed: negative means export (solar, battery discharge to grid). */
  power_w?: Stat;
  energy_import_wh?: number;
  energy_export_wh?: number;
  voltage_v?: Stat;
  current_a?: Stat;
  pf?: Stat;
}

/** Stream `job`: job start and end events. */
export interface JobEvent extends StreamHeader {
  ts: number;
  event: 'start' | 'end';
  job: string;
  user?: string;
  project?: string;
  partition?: string;
  gpus: string[];
  labels?: Record<string, string>;
}

/** Topic `work/<job>`: cumulative work totals reported by an application (not spooled). */
export interface WorkReport {
  v: 1;
  ts: number;
  /** Cumulative counters, e.g. { tokens: 123456, samples: 789 }. */
  totals: Record<string, number>;
}

/** Topic `status` (retained; also the Last Will with state "offline"). */
export interface HostStatus {
  v: 1;
  state: 'online' | 'offline';
  boot_id: string;
  ts: number;
  version?: string;
  /** Source kinds in use: nvml, nvidia-smi, prometheus, tasmota, shelly, zigbee2mqtt, mqtt-json, sim. */
  sources?: string[];
  capabilities?: string[];
}

export interface GpuInfo {
  id: string;
  index?: number;
  name?: string;
  memory_mib?: number;
  power_limit_w?: number;
  power_limit_min_w?: number;
  power_limit_max_w?: number;
  driver?: string;
  /** When the driver loaded (ms); a change means the energy counter restarted. */
  driver_loaded_at?: number;
  mig?: { enabled: boolean; instances?: string[] };
  supports: { energy_counter: boolean; instant_power: boolean };
}

export interface MeterInfo {
  id: string;
  kind: string;
  name?: string;
  supports: { energy_counter: boolean; instant_power: boolean };
}

/** Topic `info` (retained): the host's inventory. */
export interface HostInfo {
  v: 1;
  boot_id: string;
  ts: number;
  /** True when the readings come from the simulator, not hardware. */
  simulated: boolean;
  gpus: GpuInfo[];
  meters: MeterInfo[];
}

/** Topic `_ack` (server to collector): what is settled, per (stream, boot_id). */
export interface AckEntry {
  stream: string;
  boot_id: string;
  /** Every seq <= watermark is settled. -1 when nothing is. */
  watermark: number;
  /** Settled, inclusive [from, to] ranges above the watermark, ascending. */
  ranges: [number, number][];
  /** Messages of this stream and boot rejected for good. */
  rejected: number;
}

export interface Ack {
  v: 1;
  ts: number;
  acks: AckEntry[];
}
