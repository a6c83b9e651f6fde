/**
 * The NVML ABI as kilowatch uses it: return codes, field ids, bit masks and
 * struct layouts copied by value from nvml.h (NVML API 12, checked against the
 * 12.2.140 header and the symbol list of driver 590.48.01), and koffi bindings
 * of the versioned entry points (ARCHITECTURE §8: nvmlInit_v2,
 * nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetComputeRunningProcesses_v3).
 *
 * koffi is imported lazily inside openNvml(), so the pure parts of this module
 * (constants, throttleReasons) load on hosts where only nvidia-smi is used.
 * Calls are synchronous: openNvml() is meant to run inside the per-GPU worker
 * (nvml-worker.ts), never on the main thread, because a hung GPU hangs the call.
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
const VALUE_TYPE = { DOUBLE: 0, UINT: 1, ULONG: 2, ULLONG: 3, SLLONG: 4, SINT: 5, USHORT: 6 } as const;

/** nvmlProcessInfo_v2_t.usedGpuMemory when not available (NVML_VALUE_NOT_AVAILABLE as unsigned long long). */
export const NVML_VALUE_NOT_AVAILABLE_ULL = 0xffff_ffff_ffff_ffffn;

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

export interface NvmlApi {
  init(): number;
  shutdown(): number;
  errorString(rc: number): string;
  driverVersion(): NvmlResult<string>;
  deviceCount(): NvmlResult<number>;
  handleByIndex(index: number): NvmlResult<NvmlDevice>;
  uuid(dev: NvmlDevice): NvmlResult<string>;
  name(dev: NvmlDevice): NvmlResult<string>;
  /** nvmlDeviceGetPowerUsage, mW (a 1 s average on Ampere and newer except GA100). */
  powerUsageMw(dev: NvmlDevice): NvmlResult<number>;
  /** nvmlDeviceGetTotalEnergyConsumption, mJ since the driver loaded (Volta and newer). */
  totalEnergyMj(dev: NvmlDevice): NvmlResult<number>;
  /** One nvmlDeviceGetFieldValues entry; its per-field nvmlReturn is folded into rc. */
  fieldValue(dev: NvmlDevice, fieldId: number): NvmlResult<number>;
  utilization(dev: NvmlDevice): NvmlResult<{ gpu: number; memory: number }>;
  memory(dev: NvmlDevice): NvmlResult<{ total: number; free: number; used: number }>;
  temperatureC(dev: NvmlDevice): NvmlResult<number>;
  smClockMhz(dev: NvmlDevice): NvmlResult<number>;
  enforcedLimitMw(dev: NvmlDevice): NvmlResult<number>;
  limitConstraintsMw(dev: NvmlDevice): NvmlResult<{ min: number; max: number }>;
  clocksEventReasons(dev: NvmlDevice): NvmlResult<bigint>;
  computeProcesses(dev: NvmlDevice): NvmlResult<NvmlProcess[]>;
  migMode(dev: NvmlDevice): NvmlResult<{ current: number; pending: number }>;
}

type Fn = (...args: unknown[]) => unknown;

/** Bounds the process list: nvmlDeviceGetComputeRunningProcesses_v3 is retried with a larger array at most up to this. */
const MAX_PROCESSES = 1024;

function toNumber(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

/**
 * Loads the library and binds the symbols. Throws a clear Error when the
 * library cannot be loaded, a required symbol is missing, or a struct layout
 * does not match nvml.h. Optional symbols that are missing answer
 * NVML_ERROR_FUNCTION_NOT_FOUND, as the real library does for old drivers.
 */
export async function openNvml(libraryPath: string): Promise<NvmlApi> {
  const koffi = (await import('koffi')).default;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(libraryPath);
  } catch (err) {
    throw new Error(`cannot load ${libraryPath}: ${(err as Error).message} (is the NVIDIA driver installed?)`);
  }

  const Dev = koffi.pointer(koffi.opaque()); // typedef struct nvmlDevice_st *nvmlDevice_t
  const outU32 = koffi.out(koffi.pointer('uint32_t'));
  const outU64 = koffi.out(koffi.pointer('uint64_t'));
  const Utilization = koffi.struct({ gpu: 'uint32_t', memory: 'uint32_t' }); // nvmlUtilization_t
  const Memory = koffi.struct({ total: 'uint64_t', free: 'uint64_t', used: 'uint64_t' }); // nvmlMemory_t (v1)
  // nvmlFieldValue_t and nvmlProcessInfo_v2_t are passed as raw buffers (koffi cannot
  // marshal a union out); these declarations pin the layouts read at fixed offsets below.
  const FieldValue = koffi.struct({
    fieldId: 'uint32_t', scopeId: 'uint32_t', timestamp: 'int64_t', latencyUsec: 'int64_t',
    valueType: 'int', nvmlReturn: 'int',
    value: koffi.union({ dVal: 'double', siVal: 'int', uiVal: 'uint32_t', ulVal: 'unsigned long', ullVal: 'uint64_t', sllVal: 'int64_t', usVal: 'uint16_t' }),
  });
  const ProcessInfo = koffi.struct({ pid: 'uint32_t', usedGpuMemory: 'uint64_t', gpuInstanceId: 'uint32_t', computeInstanceId: 'uint32_t' });
  const layout = [koffi.sizeof(FieldValue), koffi.offsetof(FieldValue, 'valueType'), koffi.offsetof(FieldValue, 'nvmlReturn'), koffi.offsetof(FieldValue, 'value'), koffi.sizeof(ProcessInfo)];
  if (layout.join() !== '40,24,28,32,24') throw new Error(`unexpected NVML struct layout on this platform: ${layout.join()}`);

  const bind = (name: string, result: string, args: unknown[], required = false): Fn | undefined => {
    try {
      return lib.func(name, result, args as never) as Fn;
    } catch (err) {
      if (required) throw new Error(`${libraryPath} lacks ${name}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const init = bind('nvmlInit_v2', 'int', [], true)!;
  const shutdown = bind('nvmlShutdown', 'int', [], true)!;
  const errorString = bind('nvmlErrorString', 'const char *', ['int'], true)!;
  const getCount = bind('nvmlDeviceGetCount_v2', 'int', [outU32], true)!;
  const getHandle = bind('nvmlDeviceGetHandleByIndex_v2', 'int', ['uint32_t', koffi.out(koffi.pointer(Dev))], true)!;
  const getUuid = bind('nvmlDeviceGetUUID', 'int', [Dev, 'void *', 'uint32_t'], true)!;
  const getName = bind('nvmlDeviceGetName', 'int', [Dev, 'void *', 'uint32_t']);
  const getDriver = bind('nvmlSystemGetDriverVersion', 'int', ['void *', 'uint32_t']);
  const getPower = bind('nvmlDeviceGetPowerUsage', 'int', [Dev, outU32]);
  const getEnergy = bind('nvmlDeviceGetTotalEnergyConsumption', 'int', [Dev, outU64]);
  const getFields = bind('nvmlDeviceGetFieldValues', 'int', [Dev, 'int', 'void *']);
  const getUtil = bind('nvmlDeviceGetUtilizationRates', 'int', [Dev, koffi.out(koffi.pointer(Utilization))]);
  const getMemory = bind('nvmlDeviceGetMemoryInfo', 'int', [Dev, koffi.out(koffi.pointer(Memory))]);
  const getTemp = bind('nvmlDeviceGetTemperature', 'int', [Dev, 'int', outU32]);
  const getClock = bind('nvmlDeviceGetClockInfo', 'int', [Dev, 'int', outU32]);
  const getLimit = bind('nvmlDeviceGetEnforcedPowerLimit', 'int', [Dev, outU32]);
  const getConstraints = bind('nvmlDeviceGetPowerManagementLimitConstraints', 'int', [Dev, outU32, outU32]);
  // R535 renamed "throttle reasons" to "clocks event reasons"; older drivers export only the old name.
  const getReasons =
    bind('nvmlDeviceGetCurrentClocksEventReasons', 'int', [Dev, outU64]) ?? bind('nvmlDeviceGetCurrentClocksThrottleReasons', 'int', [Dev, outU64]);
  const getProcs = bind('nvmlDeviceGetComputeRunningProcesses_v3', 'int', [Dev, koffi.inout(koffi.pointer('uint32_t')), 'void *']);
  const getMig = bind('nvmlDeviceGetMigMode', 'int', [Dev, outU32, outU32]);

  const missing = <T>(): NvmlResult<T> => ({ rc: NVML_ERROR_FUNCTION_NOT_FOUND });
  const scalar = (fn: Fn | undefined, ...args: unknown[]): NvmlResult<number> => {
    if (!fn) return missing();
    const out = [0];
    const rc = fn(...args, out) as number;
    return rc === NVML_SUCCESS ? { rc, value: toNumber(out[0]) } : { rc };
  };
  const text = (fn: Fn | undefined, size: number, ...args: unknown[]): NvmlResult<string> => {
    if (!fn) return missing();
    const buf = Buffer.alloc(size);
    const rc = fn(...args, buf, size) as number;
    return rc === NVML_SUCCESS ? { rc, value: cString(buf) } : { rc };
  };

  return {
    init: () => init() as number,
    shutdown: () => shutdown() as number,
    errorString: (rc) => String(errorString(rc) ?? `NVML error ${rc}`),
    driverVersion: () => text(getDriver, NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE),
    deviceCount: () => scalar(getCount),
    handleByIndex(index) {
      const out: unknown[] = [null];
      const rc = getHandle(index, out) as number;
      return rc === NVML_SUCCESS ? { rc, value: out[0] } : { rc };
    },
    uuid: (dev) => text(getUuid, NVML_DEVICE_UUID_V2_BUFFER_SIZE, dev),
    name: (dev) => text(getName, NVML_DEVICE_NAME_V2_BUFFER_SIZE, dev),
    powerUsageMw: (dev) => scalar(getPower, dev),
    totalEnergyMj: (dev) => scalar(getEnergy, dev),
    fieldValue(dev, fieldId) {
      if (!getFields) return missing();
      const buf = Buffer.alloc(40); // one nvmlFieldValue_t, zeroed (scopeId 0) as nvml.h asks
      buf.writeUInt32LE(fieldId, 0);
      const rc = getFields(dev, 1, buf) as number;
      if (rc !== NVML_SUCCESS) return { rc };
      const fieldRc = buf.readInt32LE(28);
      if (fieldRc !== NVML_SUCCESS) return { rc: fieldRc };
      const type = buf.readInt32LE(24);
      const v =
        type === VALUE_TYPE.DOUBLE ? buf.readDoubleLE(32)
        : type === VALUE_TYPE.UINT ? buf.readUInt32LE(32)
        : type === VALUE_TYPE.ULONG || type === VALUE_TYPE.ULLONG ? Number(buf.readBigUInt64LE(32))
        : type === VALUE_TYPE.SLLONG ? Number(buf.readBigInt64LE(32))
        : type === VALUE_TYPE.SINT ? buf.readInt32LE(32)
        : type === VALUE_TYPE.USHORT ? buf.readUInt16LE(32)
        : NaN; // an unknown tag: the caller's sanity check drops it with a reason
      return { rc, value: v };
    },
    utilization(dev) {
      if (!getUtil) return missing();
      const out: { gpu?: number; memory?: number } = {};
      const rc = getUtil(dev, out) as number;
      return rc === NVML_SUCCESS ? { rc, value: { gpu: toNumber(out.gpu), memory: toNumber(out.memory) } } : { rc };
    },
    memory(dev) {
      if (!getMemory) return missing();
      const out: { total?: unknown; free?: unknown; used?: unknown } = {};
      const rc = getMemory(dev, out) as number;
      return rc === NVML_SUCCESS ? { rc, value: { total: toNumber(out.total), free: toNumber(out.free), used: toNumber(out.used) } } : { rc };
    },
    temperatureC: (dev) => scalar(getTemp, dev, NVML_TEMPERATURE_GPU),
    smClockMhz: (dev) => scalar(getClock, dev, NVML_CLOCK_SM),
    enforcedLimitMw: (dev) => scalar(getLimit, dev),
    limitConstraintsMw(dev) {
      if (!getConstraints) return missing();
      const min = [0];
      const max = [0];
      const rc = getConstraints(dev, min, max) as number;
      return rc === NVML_SUCCESS ? { rc, value: { min: toNumber(min[0]), max: toNumber(max[0]) } } : { rc };
    },
    clocksEventReasons(dev) {
      if (!getReasons) return missing();
      const out: unknown[] = [0];
      const rc = getReasons(dev, out) as number;
      return rc === NVML_SUCCESS ? { rc, value: BigInt(out[0] as number | bigint) } : { rc };
    },
    computeProcesses(dev) {
      if (!getProcs) return missing();
      // Ask with room for 64; NVML_ERROR_INSUFFICIENT_SIZE returns the needed count, so retry once larger.
      let capacity = 64;
      for (let attempt = 0; attempt < 3; attempt++) {
        const count = [capacity];
        const buf = Buffer.alloc(24 * capacity);
        const rc = getProcs(dev, count, buf) as number;
        const n = Math.min(toNumber(count[0]), MAX_PROCESSES);
        if (rc === NVML_ERROR_INSUFFICIENT_SIZE && n > capacity) {
          capacity = n;
          continue;
        }
        if (rc !== NVML_SUCCESS) return { rc };
        const procs: NvmlProcess[] = [];
        for (let i = 0; i < Math.min(n, capacity); i++) {
          const used = buf.readBigUInt64LE(24 * i + 8); // nvmlProcessInfo_v2_t: pid @0, usedGpuMemory @8
          const p: NvmlProcess = { pid: buf.readUInt32LE(24 * i) };
          if (used !== NVML_VALUE_NOT_AVAILABLE_ULL) p.usedBytes = Number(used);
          procs.push(p);
        }
        return { rc, value: procs };
      }
      return { rc: NVML_ERROR_INSUFFICIENT_SIZE };
    },
    migMode(dev) {
      if (!getMig) return missing();
      const cur = [0];
      const pend = [0];
      const rc = getMig(dev, cur, pend) as number;
      return rc === NVML_SUCCESS ? { rc, value: { current: toNumber(cur[0]), pending: toNumber(pend[0]) } } : { rc };
    },
  };
}
