/**
 * Pure conversions of the NVML worker's raw readings (NVML units: mW, mJ,
 * bytes, bitmasks) into kilowatch samples and inventory entries, with the
 * shared sanity checks (sample-checks.ts). No I/O, so tested without FFI.
 */
import type { GpuInfo, GpuProcess, ThrottleReason } from '../../protocol/payloads.js';
import type { GpuSample } from '../window.js';
import { NVML_DEVICE_MIG_ENABLE, throttleReasons } from './nvml-abi.js';
import type { GpuProbe, RawReading, SlowRaw } from './nvml-worker.js';
import { checkEnergy, checkPower, checkRange, type DropReason } from './sample-checks.js';

const MIB = 1024 * 1024;

/** A GpuSample plus what the protocol window carries beyond GpuSample today. */
export interface NvmlSample extends GpuSample {
  /** When the worker took the reading (ms since the epoch). */
  ts_ms: number;
  /** nvmlDeviceGetPowerUsage in W (a 1 s average on Ampere+) when power_w is the instant field. */
  power_avg_w?: number;
  /** The energy counter went backwards: energy_mj is a new baseline; never difference across it. */
  counter_reset?: true;
  throttle?: ThrottleReason[];
  processes?: GpuProcess[];
}

export type SlowFields = Pick<NvmlSample, 'util_pct' | 'mem_used_mib' | 'temp_c' | 'sm_clock_mhz' | 'power_limit_w' | 'throttle' | 'processes'>;

/** Converts a raw fast reading to a sample (pure). Instant power (NVML_FI_DEV_POWER_INSTANT) is preferred for spikes, §4. */
export function fastSample(id: string, raw: RawReading, limitW: number | undefined, previousMj: number | undefined): { sample: NvmlSample; drops: DropReason[] } {
  const drops: DropReason[] = [];
  const sample: NvmlSample = { id, ts_ms: raw.ts };
  const instant = checkPower(raw.power_instant_mw === undefined ? undefined : raw.power_instant_mw / 1000, limitW);
  const usage = checkPower(raw.power_usage_mw === undefined ? undefined : raw.power_usage_mw / 1000, limitW);
  for (const c of [instant, usage]) if (c.drop) drops.push(c.drop);
  const power = instant.value ?? usage.value;
  if (power !== undefined) sample.power_w = power;
  if (instant.value !== undefined && usage.value !== undefined) sample.power_avg_w = usage.value;
  const energy = checkEnergy(raw.energy_mj, previousMj);
  if (energy.drop) drops.push(energy.drop);
  if (energy.value !== undefined) sample.energy_mj = energy.value;
  if (energy.reset) sample.counter_reset = true;
  return { sample, drops };
}

/** Converts the slow part of a reading (pure). */
export function slowFields(raw: SlowRaw): { fields: SlowFields; drops: DropReason[] } {
  const drops: DropReason[] = [];
  const fields: SlowFields = {};
  const put = <K extends 'util_pct' | 'mem_used_mib' | 'temp_c' | 'sm_clock_mhz' | 'power_limit_w'>(k: K, c: { value?: number; drop?: DropReason }) => {
    if (c.drop) drops.push(c.drop);
    if (c.value !== undefined) fields[k] = c.value;
  };
  put('util_pct', checkRange(raw.util_pct, 0, 100));
  put('mem_used_mib', checkRange(raw.mem_used_bytes === undefined ? undefined : raw.mem_used_bytes / MIB, 0, Number.MAX_SAFE_INTEGER));
  put('temp_c', checkRange(raw.temp_c, -40, 200));
  put('sm_clock_mhz', checkRange(raw.sm_clock_mhz, 0, 100_000));
  put('power_limit_w', checkRange(raw.limit_mw === undefined ? undefined : raw.limit_mw / 1000, 0, 100_000));
  if (raw.throttle_bits !== undefined) fields.throttle = throttleReasons(raw.throttle_bits);
  if (raw.processes) {
    fields.processes = raw.processes.map((p) => (p.usedBytes === undefined ? { pid: p.pid } : { pid: p.pid, used_mib: Math.round(p.usedBytes / MIB) }));
  }
  return { fields, drops };
}

/** What the conversion keeps per GPU from one reading to the next. */
export interface GpuState {
  /** The last slow fields and when they were read. */
  slow?: { ts: number; fields: SlowFields };
  /** The last energy counter value kept, to detect a reset. */
  energyMj?: number;
}

/**
 * Converts one reading of a probed GPU into its sample, updating state; the
 * slow fields ride along on every sample while they are fresh (two slow
 * periods). Pure apart from state.
 */
export function gpuSample(probe: GpuProbe, raw: RawReading, state: GpuState, slowIntervalMs: number): { sample: NvmlSample; drops: DropReason[] } {
  const drops: DropReason[] = [];
  if (raw.slow) {
    const slow = slowFields(raw.slow);
    drops.push(...slow.drops);
    state.slow = { ts: raw.ts, fields: slow.fields };
  }
  const limitW = state.slow?.fields.power_limit_w ?? (probe.limitMw === undefined ? undefined : probe.limitMw / 1000);
  const fast = fastSample(probe.uuid, raw, limitW, state.energyMj);
  drops.push(...fast.drops);
  const sample = fast.sample;
  if (sample.energy_mj !== undefined) state.energyMj = sample.energy_mj;
  if (state.slow && raw.ts - state.slow.ts <= 2 * slowIntervalMs) Object.assign(sample, state.slow.fields);
  return { sample, drops };
}

/** The inventory entry of a probed GPU (pure). */
export function gpuInfo(p: GpuProbe, driver: string | undefined): GpuInfo {
  const info: GpuInfo = { id: p.uuid, index: p.index, supports: { energy_counter: p.supports.energy, instant_power: p.supports.power_instant } };
  if (p.name !== undefined) info.name = p.name;
  if (p.memoryTotalBytes !== undefined) info.memory_mib = Math.round(p.memoryTotalBytes / MIB);
  if (p.limitMw !== undefined) info.power_limit_w = p.limitMw / 1000;
  if (p.limitMinMw !== undefined) info.power_limit_min_w = p.limitMinMw / 1000;
  if (p.limitMaxMw !== undefined) info.power_limit_max_w = p.limitMaxMw / 1000;
  if (driver !== undefined) info.driver = driver;
  if (p.migCurrent !== undefined) info.mig = { enabled: p.migCurrent === NVML_DEVICE_MIG_ENABLE };
  return info;
}
