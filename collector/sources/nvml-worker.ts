/**
 * The per-GPU NVML worker (a worker_threads Worker). It loads the library
 * itself, probes its GPU once, then polls: power, instant power and the energy
 * counter every powerIntervalMs, and the slow-changing fields (utilization,
 * memory, temperature, SM clock, enforced limit, clocks-event reasons,
 * processes, MIG mode) every slowIntervalMs (ARCHITECTURE §8: 1 Hz or less).
 *
 * Why a thread per GPU: a GPU in an Xid state can make an NVML call hang, and
 * a hung native call cannot be interrupted. The main thread (nvml.ts) notices
 * that this worker went silent and abandons it; the other GPUs' workers keep
 * polling. Values are posted raw, in NVML units; converting and sanity checks
 * happen on the main thread (nvml.ts), where they are counted.
 *
 * Mode 'discover' only initializes NVML and reports the device count and the
 * driver version, so even nvmlInit_v2 hanging cannot block the main thread.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isUnsupported, NVML_FI_DEV_POWER_INSTANT, NVML_SUCCESS, type NvmlApi, type NvmlDevice, type NvmlProcess, type NvmlResult, openNvml } from './nvml-abi.js';

export interface NvmlWorkerData {
  mode: 'discover' | 'gpu';
  libraryPath: string;
  index: number;
  powerIntervalMs: number;
  slowIntervalMs: number;
}

export type Capability = 'power_usage' | 'power_instant' | 'energy' | 'utilization' | 'memory' | 'temperature' | 'sm_clock' | 'enforced_limit' | 'throttle' | 'processes' | 'mig';

export interface GpuProbe {
  index: number;
  uuid: string;
  name?: string;
  memoryTotalBytes?: number;
  limitMw?: number;
  limitMinMw?: number;
  limitMaxMw?: number;
  migCurrent?: number;
  supports: Record<Capability, boolean>;
}

export interface SlowRaw {
  util_pct?: number;
  mem_used_bytes?: number;
  temp_c?: number;
  sm_clock_mhz?: number;
  limit_mw?: number;
  throttle_bits?: bigint;
  processes?: NvmlProcess[];
  mig_current?: number;
}

export interface RawReading {
  /** Date.now() when the fast reads were taken. */
  ts: number;
  power_usage_mw?: number;
  power_instant_mw?: number;
  energy_mj?: number;
  slow?: SlowRaw;
  /** Return codes of reads that failed although the capability is supported. */
  errors?: Partial<Record<Capability, number>>;
}

export type WorkerMessage =
  | { type: 'fatal'; error: string }
  | { type: 'discovered'; count: number; driver?: string }
  | { type: 'ready'; probe: GpuProbe }
  | { type: 'reading'; reading: RawReading }
  | { type: 'stopped' };

const post = (msg: WorkerMessage) => parentPort?.postMessage(msg);

async function openAndInit(libraryPath: string): Promise<NvmlApi> {
  const api = await openNvml(libraryPath);
  const rc = api.init();
  if (rc !== NVML_SUCCESS) throw new Error(`nvmlInit_v2 failed: ${api.errorString(rc)} (${rc})`);
  return api;
}

/** Runs one read per capability and keeps the ones whose answer is not "unsupported". */
function probe(api: NvmlApi, dev: NvmlDevice, index: number, uuid: string): GpuProbe {
  const supported = (r: NvmlResult<unknown>) => !isUnsupported(r.rc);
  const limit = api.enforcedLimitMw(dev);
  const constraints = api.limitConstraintsMw(dev);
  const memory = api.memory(dev);
  const mig = api.migMode(dev);
  const name = api.name(dev);
  const p: GpuProbe = {
    index,
    uuid,
    supports: {
      power_usage: supported(api.powerUsageMw(dev)),
      power_instant: supported(api.fieldValue(dev, NVML_FI_DEV_POWER_INSTANT)),
      energy: supported(api.totalEnergyMj(dev)),
      utilization: supported(api.utilization(dev)),
      memory: supported(memory),
      temperature: supported(api.temperatureC(dev)),
      sm_clock: supported(api.smClockMhz(dev)),
      enforced_limit: supported(limit),
      throttle: supported(api.clocksEventReasons(dev)),
      processes: supported(api.computeProcesses(dev)),
      mig: supported(mig),
    },
  };
  if (name.value !== undefined) p.name = name.value;
  if (memory.value) p.memoryTotalBytes = memory.value.total;
  if (limit.value !== undefined) p.limitMw = limit.value;
  if (constraints.value) {
    p.limitMinMw = constraints.value.min;
    p.limitMaxMw = constraints.value.max;
  }
  if (mig.value) p.migCurrent = mig.value.current;
  return p;
}

class Poller {
  private timer: NodeJS.Timeout | undefined;
  private nextSlow = 0;

  constructor(
    private readonly api: NvmlApi,
    private readonly dev: NvmlDevice,
    private readonly caps: Record<Capability, boolean>,
    private readonly data: NvmlWorkerData,
  ) {}

  /** Reads once at once, so the source has a reading as soon as it reports this GPU ready, then on the grid. */
  start(): void {
    this.timer = setTimeout(() => this.tick(), 0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Polls at the middle of each interval of the epoch grid: the sampler reads
   * on the grid itself, so each of its reads finds a reading half an interval
   * old instead of racing one taken at the same instant.
   */
  private schedule(): void {
    const iv = this.data.powerIntervalMs;
    const now = Date.now();
    let due = Math.floor(now / iv) * iv + iv / 2;
    if (due <= now) due += iv;
    this.timer = setTimeout(() => this.tick(), due - now);
  }

  private tick(): void {
    const reading: RawReading = { ts: Date.now() };
    const errors: Partial<Record<Capability, number>> = {};
    const take = <T>(cap: Capability, read: () => NvmlResult<T>): T | undefined => {
      if (!this.caps[cap]) return undefined;
      const r = read();
      if (r.rc !== NVML_SUCCESS) errors[cap] = r.rc;
      return r.value;
    };
    const { api, dev } = this;
    reading.power_instant_mw = take('power_instant', () => api.fieldValue(dev, NVML_FI_DEV_POWER_INSTANT));
    reading.power_usage_mw = take('power_usage', () => api.powerUsageMw(dev));
    reading.energy_mj = take('energy', () => api.totalEnergyMj(dev));
    if (reading.ts >= this.nextSlow) {
      this.nextSlow = reading.ts + this.data.slowIntervalMs - this.data.powerIntervalMs / 2;
      const util = take('utilization', () => api.utilization(dev));
      const mem = take('memory', () => api.memory(dev));
      reading.slow = {
        util_pct: util?.gpu,
        mem_used_bytes: mem?.used,
        temp_c: take('temperature', () => api.temperatureC(dev)),
        sm_clock_mhz: take('sm_clock', () => api.smClockMhz(dev)),
        limit_mw: take('enforced_limit', () => api.enforcedLimitMw(dev)),
        throttle_bits: take('throttle', () => api.clocksEventReasons(dev)),
        processes: take('processes', () => api.computeProcesses(dev)),
        mig_current: take('mig', () => api.migMode(dev))?.current,
      };
    }
    if (Object.keys(errors).length > 0) reading.errors = errors;
    post({ type: 'reading', reading });
    if (this.timer !== undefined) this.schedule();
  }
}

async function main(data: NvmlWorkerData): Promise<void> {
  let api: NvmlApi;
  try {
    api = await openAndInit(data.libraryPath);
  } catch (err) {
    post({ type: 'fatal', error: (err as Error).message });
    return;
  }
  let poller: Poller | undefined;
  parentPort?.on('message', (msg: unknown) => {
    if (msg !== 'stop') return;
    poller?.stop();
    api.shutdown();
    post({ type: 'stopped' });
    parentPort?.close();
  });

  if (data.mode === 'discover') {
    const count = api.deviceCount();
    if (count.value === undefined) {
      post({ type: 'fatal', error: `nvmlDeviceGetCount_v2 failed: ${api.errorString(count.rc)} (${count.rc})` });
    } else {
      const driver = api.driverVersion().value;
      post(driver === undefined ? { type: 'discovered', count: count.value } : { type: 'discovered', count: count.value, driver });
    }
    api.shutdown();
    parentPort?.close();
    return;
  }

  const handle = api.handleByIndex(data.index);
  const uuid = handle.rc === NVML_SUCCESS ? api.uuid(handle.value) : undefined;
  if (handle.rc !== NVML_SUCCESS || uuid?.value === undefined) {
    const rc = handle.rc !== NVML_SUCCESS ? handle.rc : (uuid?.rc ?? -1);
    post({ type: 'fatal', error: `GPU ${data.index}: ${handle.rc !== NVML_SUCCESS ? 'nvmlDeviceGetHandleByIndex_v2' : 'nvmlDeviceGetUUID'} failed: ${api.errorString(rc)} (${rc})` });
    api.shutdown();
    parentPort?.close();
    return;
  }
  const p = probe(api, handle.value, data.index, uuid.value);
  post({ type: 'ready', probe: p });
  poller = new Poller(api, handle.value, p.supports, data);
  poller.start();
}

if (!isMainThread && parentPort) void main(workerData as NvmlWorkerData);
