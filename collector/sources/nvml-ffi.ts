/**
 * koffi bindings of the NVML entry points kilowatch reads, the versioned ones
 * where nvml.h has versions (ARCHITECTURE §8: nvmlInit_v2,
 * nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetComputeRunningProcesses_v3).
 * Codes and layouts are in nvml-abi.ts.
 *
 * Calls are synchronous and meant for the per-GPU worker (nvml-worker.ts),
 * never the main thread: a hung GPU hangs the call.
 *
 * Shaped for a 10 Hz loop that allocates nothing. A read returns its
 * nvmlReturn_t and leaves its values in `out` (numbers: 64-bit values are
 * rebuilt exactly from two 32-bit halves instead of through BigInt); output
 * pointers go to scratch memory allocated once. A poll therefore makes no
 * garbage, so the worker's small heap (nvml-spawn.ts) needs no collecting,
 * and a call costs about 0.06 µs of marshalling (0.22 µs with koffi.out and
 * a JS array, measured).
 */
import { FIELD_VALUE, MAX_PROCESSES, NVML_CLOCK_SM, NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_DEVICE_NAME_V2_BUFFER_SIZE, NVML_ERROR_FUNCTION_NOT_FOUND, NVML_ERROR_INSUFFICIENT_SIZE, NVML_SUCCESS, NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE, NVML_TEMPERATURE_GPU, type NvmlDevice, type NvmlResult, PROCESS_INFO, VALUE_TYPE } from './nvml-abi.js';

export interface NvmlFfi {
  /** Values of the last successful read; which slot holds what is said per method. */
  readonly out: Float64Array;
  /** computeProcesses(): pid and used bytes (NaN when NVML has no figure) per process, out[0] of them. */
  readonly procs: Float64Array;
  init(): number;
  shutdown(): number;
  errorString(rc: number): string;
  driverVersion(): NvmlResult<string>;
  deviceCount(): NvmlResult<number>;
  handleByIndex(index: number): NvmlResult<NvmlDevice>;
  uuid(dev: NvmlDevice): NvmlResult<string>;
  name(dev: NvmlDevice): NvmlResult<string>;
  /** nvmlDeviceGetPowerUsage, mW in out[0] (a 1 s average on Ampere and newer except GA100). */
  powerUsageMw(dev: NvmlDevice): number;
  /** nvmlDeviceGetTotalEnergyConsumption, mJ since the driver loaded, in out[0] (Volta and newer). */
  totalEnergyMj(dev: NvmlDevice): number;
  /** One nvmlDeviceGetFieldValues entry in out[0]; its per-field nvmlReturn is the result. */
  fieldValue(dev: NvmlDevice, fieldId: number): number;
  /** nvmlDeviceGetUtilizationRates: out[0] gpu %, out[1] memory %. */
  utilization(dev: NvmlDevice): number;
  /** nvmlDeviceGetMemoryInfo: out[0] total, out[1] free, out[2] used bytes. */
  memory(dev: NvmlDevice): number;
  temperatureC(dev: NvmlDevice): number;
  smClockMhz(dev: NvmlDevice): number;
  enforcedLimitMw(dev: NvmlDevice): number;
  /** out[0] min, out[1] max, mW. */
  limitConstraintsMw(dev: NvmlDevice): number;
  /** The clocks-event bitmask: out[0] low 32 bits, out[1] high 32 bits. */
  clocksEventReasons(dev: NvmlDevice): number;
  /** out[0] the count; entries in `procs`. */
  computeProcesses(dev: NvmlDevice): number;
  /** out[0] current, out[1] pending mode. */
  migMode(dev: NvmlDevice): number;
}

type Fn = (...args: unknown[]) => number;
const TWO_32 = 2 ** 32;

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
export async function openNvml(libraryPath: string): Promise<NvmlFfi> {
  const koffi = (await import('koffi')).default;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(libraryPath);
  } catch (err) {
    throw new Error(`cannot load ${libraryPath}: ${(err as Error).message} (is the NVIDIA driver installed?)`);
  }

  const Dev = koffi.pointer(koffi.opaque()); // typedef struct nvmlDevice_st *nvmlDevice_t
  // Outputs are written to scratch typed arrays passed as void *; these declarations pin the layouts read from them.
  const FieldValue = koffi.struct({
    fieldId: 'uint32_t', scopeId: 'uint32_t', timestamp: 'int64_t', latencyUsec: 'int64_t',
    valueType: 'int', nvmlReturn: 'int',
    value: koffi.union({ dVal: 'double', siVal: 'int', uiVal: 'uint32_t', ulVal: 'unsigned long', ullVal: 'uint64_t', sllVal: 'int64_t', usVal: 'uint16_t' }),
  });
  const ProcessInfo = koffi.struct({ pid: 'uint32_t', usedGpuMemory: 'uint64_t', gpuInstanceId: 'uint32_t', computeInstanceId: 'uint32_t' });
  const Memory = koffi.struct({ total: 'uint64_t', free: 'uint64_t', used: 'uint64_t' });
  const layout = [koffi.sizeof(FieldValue), koffi.offsetof(FieldValue, 'valueType'), koffi.offsetof(FieldValue, 'nvmlReturn'), koffi.offsetof(FieldValue, 'value'), koffi.sizeof(ProcessInfo), koffi.offsetof(ProcessInfo, 'usedGpuMemory'), koffi.sizeof(Memory)];
  const expected = [FIELD_VALUE.size, FIELD_VALUE.valueType, FIELD_VALUE.nvmlReturn, FIELD_VALUE.value, PROCESS_INFO.size, PROCESS_INFO.usedGpuMemory, 24];
  if (layout.join() !== expected.join()) throw new Error(`unexpected NVML struct layout on this platform: ${layout.join()}`);

  const bind = (name: string, result: string, args: unknown[], required = false): Fn | undefined => {
    try {
      return lib.func(name, result, args as never) as Fn;
    } catch (err) {
      if (required) throw new Error(`${libraryPath} lacks ${name}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const P = 'void *';
  const init = bind('nvmlInit_v2', 'int', [], true)!;
  const shutdown = bind('nvmlShutdown', 'int', [], true)!;
  const errorString = bind('nvmlErrorString', 'const char *', ['int'], true) as unknown as (rc: number) => string | null;
  const getCount = bind('nvmlDeviceGetCount_v2', 'int', [P], true)!;
  const getHandle = bind('nvmlDeviceGetHandleByIndex_v2', 'int', ['uint32_t', koffi.out(koffi.pointer(Dev))], true)!;
  const getUuid = bind('nvmlDeviceGetUUID', 'int', [Dev, P, 'uint32_t'], true)!;
  const getName = bind('nvmlDeviceGetName', 'int', [Dev, P, 'uint32_t']);
  const getDriver = bind('nvmlSystemGetDriverVersion', 'int', [P, 'uint32_t']);
  const getPower = bind('nvmlDeviceGetPowerUsage', 'int', [Dev, P]);
  const getEnergy = bind('nvmlDeviceGetTotalEnergyConsumption', 'int', [Dev, P]);
  const getFields = bind('nvmlDeviceGetFieldValues', 'int', [Dev, 'int', P]);
  const getUtil = bind('nvmlDeviceGetUtilizationRates', 'int', [Dev, P]);
  const getMemory = bind('nvmlDeviceGetMemoryInfo', 'int', [Dev, P]);
  const getTemp = bind('nvmlDeviceGetTemperature', 'int', [Dev, 'int', P]);
  const getClock = bind('nvmlDeviceGetClockInfo', 'int', [Dev, 'int', P]);
  const getLimit = bind('nvmlDeviceGetEnforcedPowerLimit', 'int', [Dev, P]);
  const getConstraints = bind('nvmlDeviceGetPowerManagementLimitConstraints', 'int', [Dev, P, P]);
  // R535 renamed "throttle reasons" to "clocks event reasons"; older drivers export only the old name.
  const getReasons = bind('nvmlDeviceGetCurrentClocksEventReasons', 'int', [Dev, P]) ?? bind('nvmlDeviceGetCurrentClocksThrottleReasons', 'int', [Dev, P]);
  const getProcs = bind('nvmlDeviceGetComputeRunningProcesses_v3', 'int', [Dev, P, P]);
  const getMig = bind('nvmlDeviceGetMigMode', 'int', [Dev, P, P]);

  const out = new Float64Array(4);
  const procs = new Float64Array(2 * MAX_PROCESSES);
  const u32 = new Uint32Array(6); // scalar, pair and nvmlMemory_t outputs
  const u32b = new Uint32Array(1);
  const field = Buffer.alloc(FIELD_VALUE.size);
  let procBuf = Buffer.alloc(PROCESS_INFO.size * 64);

  /** Calls fn(...args, u32) and moves a uint32 (or, with wide, a uint64) result to out[0]. */
  const scalar = (fn: Fn | undefined, wide: boolean, dev: NvmlDevice, arg?: number): number => {
    if (!fn) return NVML_ERROR_FUNCTION_NOT_FOUND;
    const rc = arg === undefined ? fn(dev, u32) : fn(dev, arg, u32);
    if (rc === NVML_SUCCESS) out[0] = wide ? u32[0]! + u32[1]! * TWO_32 : u32[0]!;
    return rc;
  };
  const text = (fn: Fn | undefined, size: number, dev?: NvmlDevice): NvmlResult<string> => {
    if (!fn) return { rc: NVML_ERROR_FUNCTION_NOT_FOUND };
    const buf = Buffer.alloc(size);
    const rc = dev === undefined ? fn(buf, size) : fn(dev, buf, size);
    return rc === NVML_SUCCESS ? { rc, value: cString(buf) } : { rc };
  };
  const pair = (fn: Fn | undefined, dev: NvmlDevice): number => {
    if (!fn) return NVML_ERROR_FUNCTION_NOT_FOUND;
    const rc = fn(dev, u32, u32b);
    if (rc === NVML_SUCCESS) (out[0] = u32[0]!), (out[1] = u32b[0]!);
    return rc;
  };

  return {
    out,
    procs,
    init: () => init(),
    shutdown: () => shutdown(),
    errorString: (rc) => String(errorString(rc) ?? `NVML error ${rc}`),
    driverVersion: () => text(getDriver, NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE),
    deviceCount() {
      const rc = getCount(u32);
      return rc === NVML_SUCCESS ? { rc, value: u32[0]! } : { rc };
    },
    handleByIndex(index) {
      const h: unknown[] = [null];
      const rc = getHandle(index, h);
      return rc === NVML_SUCCESS ? { rc, value: h[0] } : { rc };
    },
    uuid: (dev) => text(getUuid, NVML_DEVICE_UUID_V2_BUFFER_SIZE, dev),
    name: (dev) => text(getName, NVML_DEVICE_NAME_V2_BUFFER_SIZE, dev),
    powerUsageMw: (dev) => scalar(getPower, false, dev),
    totalEnergyMj: (dev) => scalar(getEnergy, true, dev),
    fieldValue(dev, fieldId) {
      if (!getFields) return NVML_ERROR_FUNCTION_NOT_FOUND;
      field.fill(0); // one nvmlFieldValue_t, zeroed (scopeId 0) as nvml.h asks
      field.writeUInt32LE(fieldId, 0);
      const rc = getFields(dev, 1, field);
      if (rc !== NVML_SUCCESS) return rc;
      const fieldRc = field.readInt32LE(FIELD_VALUE.nvmlReturn);
      if (fieldRc !== NVML_SUCCESS) return fieldRc;
      const type = field.readInt32LE(FIELD_VALUE.valueType);
      const at = FIELD_VALUE.value;
      out[0] =
        type === VALUE_TYPE.DOUBLE ? field.readDoubleLE(at)
        : type === VALUE_TYPE.UINT ? field.readUInt32LE(at)
        : type === VALUE_TYPE.ULONG || type === VALUE_TYPE.ULLONG ? field.readUInt32LE(at) + field.readUInt32LE(at + 4) * TWO_32
        : type === VALUE_TYPE.SLLONG ? field.readUInt32LE(at) + field.readInt32LE(at + 4) * TWO_32
        : type === VALUE_TYPE.SINT ? field.readInt32LE(at)
        : type === VALUE_TYPE.USHORT ? field.readUInt16LE(at)
        : NaN; // an unknown tag: the caller's sanity check drops it with a reason
      return rc;
    },
    utilization(dev) {
      if (!getUtil) return NVML_ERROR_FUNCTION_NOT_FOUND;
      const rc = getUtil(dev, u32);
      if (rc === NVML_SUCCESS) (out[0] = u32[0]!), (out[1] = u32[1]!);
      return rc;
    },
    memory(dev) {
      if (!getMemory) return NVML_ERROR_FUNCTION_NOT_FOUND;
      const rc = getMemory(dev, u32);
      if (rc === NVML_SUCCESS) for (let i = 0; i < 3; i++) out[i] = u32[2 * i]! + u32[2 * i + 1]! * TWO_32;
      return rc;
    },
    temperatureC: (dev) => scalar(getTemp, false, dev, NVML_TEMPERATURE_GPU),
    smClockMhz: (dev) => scalar(getClock, false, dev, NVML_CLOCK_SM),
    enforcedLimitMw: (dev) => scalar(getLimit, false, dev),
    limitConstraintsMw: (dev) => pair(getConstraints, dev),
    clocksEventReasons(dev) {
      if (!getReasons) return NVML_ERROR_FUNCTION_NOT_FOUND;
      const rc = getReasons(dev, u32);
      if (rc === NVML_SUCCESS) (out[0] = u32[0]!), (out[1] = u32[1]!);
      return rc;
    },
    computeProcesses(dev) {
      if (!getProcs) return NVML_ERROR_FUNCTION_NOT_FOUND;
      // NVML_ERROR_INSUFFICIENT_SIZE returns the needed count: grow the (kept) buffer and ask again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const capacity = procBuf.length / PROCESS_INFO.size;
        u32b[0] = capacity;
        const rc = getProcs(dev, u32b, procBuf);
        const n = Math.min(u32b[0]!, MAX_PROCESSES);
        if (rc === NVML_ERROR_INSUFFICIENT_SIZE && n > capacity) {
          procBuf = Buffer.alloc(PROCESS_INFO.size * n);
          continue;
        }
        if (rc !== NVML_SUCCESS) return rc;
        const count = Math.min(n, capacity);
        for (let i = 0; i < count; i++) {
          const at = PROCESS_INFO.size * i;
          const lo = procBuf.readUInt32LE(at + PROCESS_INFO.usedGpuMemory);
          const hi = procBuf.readUInt32LE(at + PROCESS_INFO.usedGpuMemory + 4);
          procs[2 * i] = procBuf.readUInt32LE(at + PROCESS_INFO.pid);
          // NVML_VALUE_NOT_AVAILABLE (all ones) becomes NaN: no figure, not a huge one.
          procs[2 * i + 1] = lo === 0xffff_ffff && hi === 0xffff_ffff ? NaN : lo + hi * TWO_32;
        }
        out[0] = count;
        return rc;
      }
      return NVML_ERROR_INSUFFICIENT_SIZE;
    },
    migMode: (dev) => pair(getMig, dev),
  };
}
