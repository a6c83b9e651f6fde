/**
 * Runtime validators for the payloads of protocol v1. Each takes parsed JSON
 * of unknown shape and returns {ok: true, value} or {ok: false, reason, detail}.
 * They check shape, units and physical plausibility; time-dependent checks
 * (a window from the future, older than retention) belong to the receiver.
 */
import {
  type Obj, asArray, asObject, bool, defined, inRange, int, num, optNum, optNumIn, optStr, stat, str, strList,
} from './fields.js';
import type {
  GpuInfo, GpuProcess, GpuReading, GpuWindow, HostInfo, HostStatus, JobEvent, MeterInfo, MeterWindow, StreamHeader, ThrottleReason, WorkReport,
} from './payloads.js';
import { PROTOCOL_VERSION, THROTTLE_REASONS } from './payloads.js';
import { type Result, Rejection, guard } from './result.js';

/** Physical bounds. No single GPU board draws 5 kW; anything above is a broken reading. */
export const LIMITS = Object.freeze({
  maxGpuPowerW: 5000,
  /** A reading above this multiple of the enforced limit is impossible (issue: "power above 10x the limit"). */
  maxPowerOverLimit: 10,
  maxGpusPerHost: 1024,
  maxProcessesPerGpu: 1024,
  maxWindowMs: 3_600_000,
  minWindowMs: 10,
  maxTempC: 200,
  minTempC: -50,
  /** A site feed or a large PDU, signed (export is negative); beyond 100 MW a reading is broken. */
  maxMeterPowerW: 100_000_000,
  maxMeterVoltageV: 1_000_000,
  maxMeterCurrentA: 1_000_000,
});

const THROTTLE: ReadonlySet<string> = new Set(THROTTLE_REASONS);

function version(o: Obj): 1 {
  const v = int(o, 'v', '', 0, Number.MAX_SAFE_INTEGER);
  if (v !== PROTOCOL_VERSION) throw new Rejection('unsupported_version', `v is ${v}; this receiver speaks ${PROTOCOL_VERSION}`);
  return 1;
}

function header(o: Obj): StreamHeader {
  // The version first: a v2 message must read as unsupported, not as malformed v1.
  const v = version(o);
  const seq = int(o, 'seq', '', 0);
  const first_seq = int(o, 'first_seq', '', 0);
  if (first_seq > seq) throw new Rejection('impossible_value', `first_seq ${first_seq} is above seq ${seq}`);
  return { v, boot_id: str(o, 'boot_id', '', 64), seq, first_seq };
}

function windowTiming(o: Obj): { ts: number; window_ms: number } {
  const window_ms = int(o, 'window_ms', '', LIMITS.minWindowMs, LIMITS.maxWindowMs);
  const ts = int(o, 'ts', '', 0);
  if (ts % window_ms !== 0) throw new Rejection('impossible_value', `ts ${ts} is not aligned to window_ms ${window_ms}`);
  return { ts, window_ms };
}

function processes(g: Obj, path: string): GpuProcess[] | undefined {
  if (g.processes === undefined) return undefined;
  return asArray(g.processes, `${path}.processes`, LIMITS.maxProcessesPerGpu).map((raw, i) => {
    const at = `${path}.processes[${i}]`;
    const p = asObject(raw, at);
    return defined({
      pid: int(p, 'pid', at, 0, 2 ** 32),
      used_mib: optNumIn(p, 'used_mib', at, 0, 16 * 1024 * 1024),
      util_pct: optNumIn(p, 'util_pct', at, 0, 100),
      job: optStr(p, 'job', at),
    });
  });
}

function gpuReading(raw: unknown, path: string): GpuReading {
  const g = asObject(raw, path);
  const limit = optNumIn(g, 'power_limit_w', path, 0, LIMITS.maxGpuPowerW);
  // 10x the enforced limit, or the absolute bound when the limit is unknown.
  const powerCap = limit ? Math.min(LIMITS.maxGpuPowerW, limit * LIMITS.maxPowerOverLimit) : LIMITS.maxGpuPowerW;
  // Fields are set only when present, so absent stays absent (and no copy is made to strip undefined).
  const out: GpuReading = { id: str(g, 'id', path, 128) };
  const power = stat(g, 'power_w', path, 0, powerCap);
  if (power) out.power_w = power;
  const energy = optNumIn(g, 'energy_mj', path, 0, Number.MAX_SAFE_INTEGER);
  if (energy !== undefined) out.energy_mj = energy;
  const windowEnergy = optNumIn(g, 'window_energy_mj', path, 0, powerCap * LIMITS.maxWindowMs);
  if (windowEnergy !== undefined) out.window_energy_mj = windowEnergy;
  const util = stat(g, 'util_pct', path, 0, 100);
  if (util) out.util_pct = util;
  const mem = stat(g, 'mem_used_mib', path, 0, 16 * 1024 * 1024);
  if (mem) out.mem_used_mib = mem;
  const temp = stat(g, 'temp_c', path, LIMITS.minTempC, LIMITS.maxTempC);
  if (temp) out.temp_c = temp;
  const clock = stat(g, 'sm_clock_mhz', path, 0, 100_000);
  if (clock) out.sm_clock_mhz = clock;
  if (limit !== undefined) out.power_limit_w = limit;
  const xid = optNum(g, 'xid', path);
  if (xid !== undefined) {
    if (!Number.isInteger(xid)) throw new Rejection('bad_type', `${path}.xid must be an integer`);
    inRange(xid, `${path}.xid`, 1, 2 ** 31 - 1);
    out.xid = xid;
  }
  if (g.throttle !== undefined) {
    const throttle = strList(g, 'throttle', path, 8)!;
    for (const reason of throttle) {
      if (!THROTTLE.has(reason)) throw new Rejection('bad_type', `${path}.throttle has unknown reason "${reason}"`);
    }
    out.throttle = throttle as ThrottleReason[];
  }
  const procs = processes(g, path);
  if (procs) out.processes = procs;
  return out;
}

export function validateGpuWindow(input: unknown): Result<GpuWindow> {
  return guard(() => {
    const o = asObject(input, 'payload');
    const head = header(o);
    const timing = windowTiming(o);
    const gpus = asArray(o.gpus, 'gpus', LIMITS.maxGpusPerHost).map((g, i) => gpuReading(g, `gpus[${i}]`));
    const seen = new Set<string>();
    for (const g of gpus) {
      if (seen.has(g.id)) throw new Rejection('impossible_value', `GPU ${g.id} appears twice in one window`);
      seen.add(g.id);
    }
    const window: GpuWindow = { v: head.v, boot_id: head.boot_id, seq: head.seq, first_seq: head.first_seq, ts: timing.ts, window_ms: timing.window_ms, gpus };
    const hostPower = stat(o, 'host_power_w', '', 0, LIMITS.maxGpuPowerW * Math.max(1, gpus.length));
    if (hostPower) window.host_power_w = hostPower;
    return window;
  });
}

/** Stream `meter/<meter>`: a normalized power-meter window. Power and current are signed; counters are not. */
export function validateMeterWindow(input: unknown): Result<MeterWindow> {
  return guard(() => {
    const o = asObject(input, 'payload');
    const out: MeterWindow = { ...header(o), ...windowTiming(o) };
    const power = stat(o, 'power_w', '', -LIMITS.maxMeterPowerW, LIMITS.maxMeterPowerW);
    if (power) out.power_w = power;
    for (const key of ['energy_import_wh', 'energy_export_wh'] as const) {
      const v = optNum(o, key, '');
      if (v !== undefined) out[key] = inRange(v, key, 0, Number.MAX_SAFE_INTEGER);
    }
    const voltage = stat(o, 'voltage_v', '', 0, LIMITS.maxMeterVoltageV);
    if (voltage) out.voltage_v = voltage;
    const current = stat(o, 'current_a', '', -LIMITS.maxMeterCurrentA, LIMITS.maxMeterCurrentA);
    if (current) out.current_a = current;
    const pf = stat(o, 'pf', '', -1, 1);
    if (pf) out.pf = pf;
    return out;
  });
}

/** Topic `work/<job>`: cumulative work totals of an application (not spooled: no header). */
export function validateWorkReport(input: unknown): Result<WorkReport> {
  return guard(() => {
    const o = asObject(input, 'payload');
    const out: WorkReport = { v: version(o), ts: int(o, 'ts', '', 0), totals: {} };
    const totals = asObject(o.totals, 'totals');
    const entries = Object.entries(totals);
    if (entries.length === 0) throw new Rejection('missing_field', 'totals has no counter');
    if (entries.length > 64) throw new Rejection('impossible_value', 'totals has more than 64 counters');
    for (const [name, v] of entries) {
      if (name.length === 0 || name.length > 64) throw new Rejection('bad_type', `totals has a counter name of ${name.length} characters (1 to 64)`);
      out.totals[name] = inRange(num(totals, name, 'totals'), `totals.${name}`, 0, Number.MAX_SAFE_INTEGER);
    }
    return out;
  });
}

/** Stream `job`: a job started or ended on this host, with the GPUs it holds. */
export function validateJobEvent(input: unknown): Result<JobEvent> {
  return guard(() => {
    const o = asObject(input, 'payload');
    const head = header(o);
    const event = str(o, 'event', '', 8);
    if (event !== 'start' && event !== 'end') throw new Rejection('bad_type', `event must be "start" or "end", not "${event}"`);
    const out: JobEvent = { ...head, ts: int(o, 'ts', '', 0), event, job: str(o, 'job', '', 256), gpus: strList(o, 'gpus', '', LIMITS.maxGpusPerHost) ?? [] };
    if (o.gpus === undefined) throw new Rejection('missing_field', 'gpus is missing');
    const user = optStr(o, 'user', '');
    if (user !== undefined) out.user = user;
    const project = optStr(o, 'project', '');
    if (project !== undefined) out.project = project;
    const partition = optStr(o, 'partition', '');
    if (partition !== undefined) out.partition = partition;
    if (o.labels !== undefined) {
      const labels = asObject(o.labels, 'labels');
      const entries = Object.entries(labels);
      if (entries.length > 64) throw new Rejection('impossible_value', 'labels has more than 64 entries');
      for (const [k, v] of entries) if (typeof v !== 'string') throw new Rejection('bad_type', `labels.${k} must be a string`);
      out.labels = labels as Record<string, string>;
    }
    return out;
  });
}

export function validateStatus(input: unknown): Result<HostStatus> {
  return guard(() => {
    const o = asObject(input, 'payload');
    const state = str(o, 'state', '', 16);
    if (state !== 'online' && state !== 'offline') {
      throw new Rejection('bad_type', `state must be "online" or "offline", not "${state}"`);
    }
    return defined({
      v: version(o),
      state,
      boot_id: str(o, 'boot_id', '', 64),
      ts: int(o, 'ts', '', 0),
      version: optStr(o, 'version', '', 64),
      sources: strList(o, 'sources', ''),
      capabilities: strList(o, 'capabilities', ''),
    });
  });
}

function supports(o: Obj, path: string): GpuInfo['supports'] {
  const s = asObject(o.supports, `${path}.supports`);
  return { energy_counter: bool(s, 'energy_counter', `${path}.supports`), instant_power: bool(s, 'instant_power', `${path}.supports`) };
}

function gpuInfo(raw: unknown, path: string): GpuInfo {
  const g = asObject(raw, path);
  const watts = (key: string) => {
    const w = optNum(g, key, path);
    return w === undefined ? undefined : inRange(w, `${path}.${key}`, 0, LIMITS.maxGpuPowerW);
  };
  let mig: GpuInfo['mig'];
  if (g.mig !== undefined) {
    const m = asObject(g.mig, `${path}.mig`);
    mig = defined({ enabled: bool(m, 'enabled', `${path}.mig`), instances: strList(m, 'instances', `${path}.mig`, 64) });
  }
  const index = g.index === undefined ? undefined : int(g, 'index', path, 0, LIMITS.maxGpusPerHost);
  const memory = optNum(g, 'memory_mib', path);
  const loaded = g.driver_loaded_at === undefined ? undefined : int(g, 'driver_loaded_at', path, 0);
  return defined({
    id: str(g, 'id', path, 128),
    index,
    name: optStr(g, 'name', path),
    memory_mib: memory === undefined ? undefined : inRange(memory, `${path}.memory_mib`, 0, 16 * 1024 * 1024),
    power_limit_w: watts('power_limit_w'),
    power_limit_min_w: watts('power_limit_min_w'),
    power_limit_max_w: watts('power_limit_max_w'),
    driver: optStr(g, 'driver', path, 64),
    driver_loaded_at: loaded,
    mig,
    supports: supports(g, path),
  });
}

function meterInfo(raw: unknown, path: string): MeterInfo {
  const m = asObject(raw, path);
  return defined({ id: str(m, 'id', path), kind: str(m, 'kind', path, 32), name: optStr(m, 'name', path), supports: supports(m, path) });
}

export function validateInfo(input: unknown): Result<HostInfo> {
  return guard(() => {
    const o = asObject(input, 'payload');
    return {
      v: version(o),
      boot_id: str(o, 'boot_id', '', 64),
      ts: int(o, 'ts', '', 0),
      simulated: bool(o, 'simulated', ''),
      gpus: asArray(o.gpus, 'gpus', LIMITS.maxGpusPerHost).map((g, i) => gpuInfo(g, `gpus[${i}]`)),
      meters: asArray(o.meters ?? [], 'meters', 1024).map((m, i) => meterInfo(m, `meters[${i}]`)),
    };
  });
}

/** Parses a JSON payload; a syntax error is a reason, not an exception. */
const utf8 = new TextDecoder();

export function parseJson(payload: string | Uint8Array): Result<unknown> {
  const text = typeof payload === 'string' ? payload : utf8.decode(payload);
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, reason: 'invalid_json', detail: `invalid JSON: ${(err as Error).message.slice(0, 120)}` };
  }
}

