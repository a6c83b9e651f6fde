/**
 * The per-GPU NVML worker (a worker_threads Worker). It loads the library
 * itself, probes its GPU once, then polls: power, instant power and the energy
 * counter every powerIntervalMs, and the slow-changing fields (utilization,
 * memory, temperature, SM clock, enforced limit, clocks-event reasons,
 * processes, MIG mode) every slowIntervalMs (ARCHITECTURE §8: 1 Hz or less).
 *
 * Why a thread per GPU: a GPU in an Xid state can make an NVML call hang, and
 * a hung native call cannot be interrupted. The main thread (nvml.ts) notices
 * that this worker's record stopped changing and abandons it; the other GPUs'
 * workers keep polling. (koffi's .async calls are no substitute: they run on
 * libuv's shared pool of 4 threads, which a few hung calls would fill, and
 * with it every file write of the collector.)
 *
 * Kept light, since each worker is a whole V8 isolate: it imports only the
 * ABI constants, the bindings and the shared record; between polls it sleeps
 * in Atomics.wait on the record's stop flag rather than in event-loop timers
 * (the loop turns once a second, poll() says why); a poll allocates nothing
 * (nvml-ffi.ts) and publishes raw values, in NVML units, to its
 * SharedArrayBuffer (nvml-shm.ts). Converting and sanity checks happen on
 * the main thread, where they are counted. Messages are only for the rare
 * events: ready (with the probe) and fatal.
 *
 * Mode 'discover' only initializes NVML and reports the device count and the
 * driver version, so even nvmlInit_v2 hanging cannot block the main thread.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isUnsupported, NVML_FI_DEV_POWER_INSTANT, NVML_SUCCESS, type NvmlDevice, type NvmlProcess } from './nvml-abi.js';
import { type NvmlFfi, openNvml } from './nvml-ffi.js';
import { NvmlShm, SLOT } from './nvml-shm.js';

export interface NvmlWorkerData {
  mode: 'discover' | 'gpu';
  libraryPath: string;
  index: number;
  powerIntervalMs: number;
  slowIntervalMs: number;
  /** The record this worker publishes to (gpu mode). */
  shared?: SharedArrayBuffer;
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

/** One poll as the main thread decodes it from the shared record (nvml-shm.ts). */
export interface RawReading {
  /** Date.now() when the fast reads were taken. */
  ts: number;
  power_usage_mw?: number;
  power_instant_mw?: number;
  energy_mj?: number;
  slow?: SlowRaw;
}

export type WorkerMessage =
  | { type: 'fatal'; error: string }
  | { type: 'discovered'; count: number; driver?: string }
  | { type: 'ready'; probe: GpuProbe };

const post = (msg: WorkerMessage) => parentPort?.postMessage(msg);

/** How often the poll loop lets the event loop turn (see poll()). */
const EVENT_LOOP_EVERY_MS = 1000;

/** Runs one read per capability and keeps the ones whose answer is not "unsupported". */
function probe(api: NvmlFfi, dev: NvmlDevice, index: number, uuid: string): GpuProbe {
  const { out } = api;
  const supports = {} as Record<Capability, boolean>;
  const p: GpuProbe = { index, uuid, supports };
  /** Records whether cap is supported; true when the read also succeeded (its values are in out). */
  const check = (cap: Capability, rc: number) => ((supports[cap] = !isUnsupported(rc)), rc === NVML_SUCCESS);
  check('power_usage', api.powerUsageMw(dev));
  check('power_instant', api.fieldValue(dev, NVML_FI_DEV_POWER_INSTANT));
  check('energy', api.totalEnergyMj(dev));
  check('utilization', api.utilization(dev));
  check('temperature', api.temperatureC(dev));
  check('sm_clock', api.smClockMhz(dev));
  check('throttle', api.clocksEventReasons(dev));
  check('processes', api.computeProcesses(dev));
  if (check('memory', api.memory(dev))) p.memoryTotalBytes = out[0]!;
  if (check('enforced_limit', api.enforcedLimitMw(dev))) p.limitMw = out[0]!;
  if (check('mig', api.migMode(dev))) p.migCurrent = out[0]!;
  if (api.limitConstraintsMw(dev) === NVML_SUCCESS) {
    p.limitMinMw = out[0]!;
    p.limitMaxMw = out[1]!;
  }
  const name = api.name(dev);
  if (name.value !== undefined) p.name = name.value;
  return p;
}

/**
 * Polls on the interval grid until the main thread sets the stop flag; calls
 * ready() after the first publish and done() when stopped.
 */
function poll(api: NvmlFfi, dev: NvmlDevice, caps: Record<Capability, boolean>, shm: NvmlShm, data: NvmlWorkerData, ready: () => void, done: () => void): void {
  const { out } = api;
  const iv = data.powerIntervalMs;
  let nextSlow = 0;
  /** Stages a read's value (evaluated after the call); a failed read of a supported value is counted and left out. */
  const put = (cap: Capability, rc: number, slot: number, value: number): void => {
    if (rc === NVML_SUCCESS) shm.set(cap, slot, value);
    else shm.countError(isUnsupported(rc));
  };
  const once = (): number => {
    const ts = Date.now();
    const slow = ts >= nextSlow;
    if (slow) nextSlow = ts + data.slowIntervalMs - iv / 2;
    shm.begin(ts, slow);
    if (caps.power_instant) put('power_instant', api.fieldValue(dev, NVML_FI_DEV_POWER_INSTANT), SLOT.power_instant_mw, out[0]!);
    if (caps.power_usage) put('power_usage', api.powerUsageMw(dev), SLOT.power_usage_mw, out[0]!);
    if (caps.energy) put('energy', api.totalEnergyMj(dev), SLOT.energy_mj, out[0]!);
    if (slow) {
      if (caps.utilization) put('utilization', api.utilization(dev), SLOT.util_pct, out[0]!);
      if (caps.memory) put('memory', api.memory(dev), SLOT.mem_used_bytes, out[2]!);
      if (caps.temperature) put('temperature', api.temperatureC(dev), SLOT.temp_c, out[0]!);
      if (caps.sm_clock) put('sm_clock', api.smClockMhz(dev), SLOT.sm_clock_mhz, out[0]!);
      if (caps.enforced_limit) put('enforced_limit', api.enforcedLimitMw(dev), SLOT.limit_mw, out[0]!);
      if (caps.throttle) {
        const rc = api.clocksEventReasons(dev);
        put('throttle', rc, SLOT.throttle_lo, out[0]!);
        if (rc === NVML_SUCCESS) shm.set('throttle', SLOT.throttle_hi, out[1]!);
      }
      if (caps.processes) {
        const rc = api.computeProcesses(dev);
        if (rc === NVML_SUCCESS) shm.setProcesses(api.procs, out[0]!);
        else shm.countError(isUnsupported(rc));
      }
      if (caps.mig) put('mig', api.migMode(dev), SLOT.mig_current, out[0]!);
    }
    shm.publish(slow);
    ready();
    // The next poll at the middle of an interval of the epoch grid: the sampler reads on the grid
    // itself, so each of its reads finds a reading half an interval old instead of racing one.
    const now = Date.now();
    let due = Math.floor(now / iv) * iv + iv / 2;
    if (due <= now) due += iv;
    return due - now;
  };
  // Between polls the thread sleeps in Atomics.wait: a timed futex wait, far cheaper than a turn
  // of the event loop. But V8 does its housekeeping in tasks that only the event loop runs: its
  // memory reducer, which some seconds after start-up collects the start-up garbage and shrinks
  // the young generation, giving back about 2.5 MB per isolate. So once a second the wait
  // until the next poll is spent in the event loop (setTimeout) instead.
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    done();
  };
  let timer: NodeJS.Timeout | undefined;
  const run = (): void => {
    const until = Date.now() + EVENT_LOOP_EVERY_MS;
    let wait = once();
    while (Date.now() + wait < until) {
      if (!shm.sleep(wait)) return stop();
      wait = once();
    }
    if (shm.stopRequested()) return stop();
    timer = setTimeout(run, wait);
    void shm.stopWithin(wait).then((yes) => yes && stop());
  };
  run();
}

async function main(data: NvmlWorkerData): Promise<void> {
  let api: NvmlFfi;
  try {
    api = await openNvml(data.libraryPath);
    const rc = api.init();
    if (rc !== NVML_SUCCESS) throw new Error(`nvmlInit_v2 failed: ${api.errorString(rc)} (${rc})`);
  } catch (err) {
    post({ type: 'fatal', error: (err as Error).message });
    return;
  }
  let polling = false;
  try {
    if (data.mode === 'discover') {
      const count = api.deviceCount();
      if (count.value === undefined) {
        post({ type: 'fatal', error: `nvmlDeviceGetCount_v2 failed: ${api.errorString(count.rc)} (${count.rc})` });
        return;
      }
      const driver = api.driverVersion().value;
      post(driver === undefined ? { type: 'discovered', count: count.value } : { type: 'discovered', count: count.value, driver });
      return;
    }
    const handle = api.handleByIndex(data.index);
    const uuid = handle.rc === NVML_SUCCESS ? api.uuid(handle.value) : undefined;
    if (handle.rc !== NVML_SUCCESS || uuid?.value === undefined) {
      const rc = handle.rc !== NVML_SUCCESS ? handle.rc : (uuid?.rc ?? -1);
      post({ type: 'fatal', error: `GPU ${data.index}: ${handle.rc !== NVML_SUCCESS ? 'nvmlDeviceGetHandleByIndex_v2' : 'nvmlDeviceGetUUID'} failed: ${api.errorString(rc)} (${rc})` });
      return;
    }
    const shm = new NvmlShm(data.shared);
    if (shm.stopRequested()) return;
    const p = probe(api, handle.value, data.index, uuid.value);
    let announced = false;
    poll(api, handle.value, p.supports, shm, data, () => announced || ((announced = true), post({ type: 'ready', probe: p })), () => api.shutdown());
    polling = true; // the poll loop owns the library now and shuts it down when stopped
  } finally {
    if (!polling) api.shutdown();
  }
}

if (!isMainThread && parentPort) void main(workerData as NvmlWorkerData);
