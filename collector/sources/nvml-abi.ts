/**
 * The NVML ABI as kilowatch uses it: return codes, field ids, bit masks and
 * struct layouts copied by value from nvml.h (NVML API 12, checked against the
 * 12.2.140 header and the symbol list of driver 590.48.01). Pure: the koffi
 * bindings of the versioned entry points are in nvml-ffi.ts, so this module
 * loads on hosts where only nvidia-smi is used (parse-nvidia-smi.ts).
 */
import type { ThrottleReason } from '../../protocol/payloads.js';

// nvmlReturn_t (enum nvmlReturn_enum).
export const NVML_SUCCESS = 0;
export const NVML_ERROR_UNINITIALIZED = 1;
export const NVML_ERROR_INVALID_ARGUMENT = 2;
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_NO_PERMISSION = 4;
export const NVML_ERROR_INSUFFICIENT_SIZE = 7;
export const NVML_ERROR_FUNCTION_NOT_FOUND = 13;
export const NVML_ERROR_GPU_IS_LOST = 15;

/** Codes that mean "this device or driver cannot give this value": the value is absent for good. */
export function isUnsupported(rc: number): boolean {
  return rc === NVML_ERROR_NOT_SUPPORTED || rc === NVML_ERROR_FUNCTION_NOT_FOUND;
}

/** NVML_FI_DEV_POWER_INSTANT: current board power in mW, read through nvmlDeviceGetFieldValues. */
export const NVML_FI_DEV_POWER_INSTANT = 186;
/** nvmlTemperatureSensors_t NVML_TEMPERATURE_GPU. */
export const NVML_TEMPERATURE_GPU = 0;
/** nvmlClockType_t NVML_CLOCK_SM. */
export const NVML_CLOCK_SM = 1;
/** nvmlDeviceGetMigMode: NVML_DEVICE_MIG_ENABLE. */
export const NVML_DEVICE_MIG_ENABLE = 1;

// Buffer sizes from nvml.h (the _V2 sizes are the ones nvmlDeviceGetUUID / GetName guarantee).
export const NVML_DEVICE_UUID_V2_BUFFER_SIZE = 96;
export const NVML_DEVICE_NAME_V2_BUFFER_SIZE = 96;
export const NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80;

/** nvmlValueType_t, the tag of nvmlValue_t inside nvmlFieldValue_t. */
export const VALUE_TYPE = { DOUBLE: 0, UINT: 1, ULONG: 2, ULLONG: 3, SLLONG: 4, SINT: 5, USHORT: 6 } as const;

/** nvmlProcessInfo_v2_t.usedGpuMemory when not available (NVML_VALUE_NOT_AVAILABLE as unsigned long long). */
export const NVML_VALUE_NOT_AVAILABLE_ULL = 0xffff_ffff_ffff_ffffn;

/**
 * Struct layouts on LP64 (x86-64, aarch64), read at fixed offsets from raw
 * memory: nvmlFieldValue_t (fieldId @0, valueType @24, nvmlReturn @28, the
 * nvmlValue_t union @32; 40 bytes), nvmlProcessInfo_v2_t (pid @0,
 * usedGpuMemory @8; 24 bytes), nvmlUtilization_t (two uint32), nvmlMemory_t
 * v1 (total, free, used: three uint64). nvml-ffi.ts checks them against
 * koffi's own layout of the same declarations when it loads the library.
 */
export const FIELD_VALUE = { size: 40, valueType: 24, nvmlReturn: 28, value: 32 } as const;
export const PROCESS_INFO = { size: 24, pid: 0, usedGpuMemory: 8 } as const;

/** Bound on the process list read per GPU (nvmlDeviceGetComputeRunningProcesses_v3 is retried larger up to this). */
export const MAX_PROCESSES = 1024;

/** nvmlClocksEventReason* bits (identical to the older nvmlClocksThrottleReason* names). */
export const CLOCKS_EVENT = {
  GpuIdle: 0x1n,
  ApplicationsClocksSetting: 0x2n,
  SwPowerCap: 0x4n,
  HwSlowdown: 0x8n,
  SyncBoost: 0x10n,
  SwThermalSlowdown: 0x20n,
  HwThermalSlowdown: 0x40n,
  HwPowerBrakeSlowdown: 0x80n,
  DisplayClockSetting: 0x100n,
} as const;

/**
 * Maps an active clocks-event bitmask to protocol throttle reasons. GpuIdle is
 * not a throttle (nothing runs). HwSlowdown is the generic hardware flag that
 * accompanies HW thermal / power brake; alone, like application or display
 * clock settings and unknown bits, it is "other". nvml.h has no bit named SW
 * slowdown, so NVML never yields 'sw_slowdown'.
 */
export function throttleReasons(bits: bigint): ThrottleReason[] {
  const out = new Set<ThrottleReason>();
  if (bits & CLOCKS_EVENT.SwPowerCap) out.add('power_cap');
  if (bits & (CLOCKS_EVENT.SwThermalSlowdown | CLOCKS_EVENT.HwThermalSlowdown)) out.add('thermal');
  if (bits & CLOCKS_EVENT.HwPowerBrakeSlowdown) out.add('power_brake');
  if (bits & CLOCKS_EVENT.SyncBoost) out.add('sync_boost');
  const explained = CLOCKS_EVENT.GpuIdle | CLOCKS_EVENT.SwPowerCap | CLOCKS_EVENT.SwThermalSlowdown | CLOCKS_EVENT.HwThermalSlowdown | CLOCKS_EVENT.HwPowerBrakeSlowdown | CLOCKS_EVENT.SyncBoost;
  const hwAlone = (bits & CLOCKS_EVENT.HwSlowdown) !== 0n && (bits & (CLOCKS_EVENT.HwThermalSlowdown | CLOCKS_EVENT.HwPowerBrakeSlowdown)) === 0n;
  if (hwAlone || (bits & ~(explained | CLOCKS_EVENT.HwSlowdown)) !== 0n) out.add('other');
  return [...out];
}

/** An NVML call's return code and, on NVML_SUCCESS, its value. */
export interface NvmlResult<T> {
  rc: number;
  value?: T;
}

export type NvmlDevice = unknown;

export interface NvmlProcess {
  pid: number;
  /** Bytes; absent when NVML reports NVML_VALUE_NOT_AVAILABLE. */
  usedBytes?: number;
}
