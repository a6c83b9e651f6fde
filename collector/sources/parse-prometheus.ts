/**
 * Pure parsers for the `prometheus` source (prometheus.ts): the Prometheus text
 * exposition format (0.0.4), then the GPU metrics of dcgm-exporter and of
 * nvidia_gpu_exporter as one reading per GPU, keyed by its `UUID`/`uuid` label.
 *
 * Format facts relied on (all visible in ../shared/fixtures/dcgm-exporter):
 * - `# HELP` / `# TYPE` lines, other comments and blank lines carry no samples;
 * - a label set may have spaces after commas (`{gpu="0", UUID="..."}`) and a
 *   trailing comma; label values escape only `\\`, `\"` and `\n`;
 * - a value is a Go float (`NaN`, `+Inf`, `-Inf` included), optionally followed
 *   by an integer timestamp in ms;
 * - anything else (the README's literal `...` elisions) is skipped and counted.
 *
 * DCGM "blank" sentinels (dcgmlib/dcgm_structs.h in NVIDIA/DCGM): a field it
 * cannot read holds DCGM_INT64_BLANK 0x7ffffffffffffff0 plus 0..3 (NOT_FOUND
 * +1, NOT_SUPPORTED +2 = 9223372036854775794 as in the README fixture,
 * NOT_PERMISSIONED +3), DCGM_INT32_BLANK 0x7ffffff0 (2147483632) plus 0..3, or
 * DCGM_FP64_BLANK 2^47 = 140737488355328.0 plus 0..3; DCGM's own IS_BLANK
 * macros test `>=` the base. NVML's NVML_VALUE_NOT_AVAILABLE is all ones
 * (4294967295 for 32-bit fields). All of these read as ABSENT, never 0. The
 * int64 test is made on the text: as a float64, 9223372036854775794 is 2^63.
 */
import type { GpuInfo } from '../../protocol/payloads.js';
import type { ProcJob } from '../jobs/parse-proc.js';
import type { GpuSample } from '../window.js';

/** One sample line; `raw` is the value as written, for sentinel tests that float64 cannot make. */
export interface PromSample { name: string; labels: Record<string, string>; value: number; raw: string; ts_ms?: number }

/** `skipped` counts the lines that are not valid exposition. */
export interface Exposition { samples: PromSample[]; help: Map<string, string>; types: Map<string, string>; skipped: number }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const META = /^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/;

/** A Go ParseFloat value as exporters write it; undefined when it is not one. */
export function parseValue(raw: string): number | undefined {
  if (FLOAT.test(raw)) return Number(raw);
  const m = /^([+-]?)(inf|infinity|nan)$/i.exec(raw);
  if (!m) return undefined;
  if (m[2]!.toLowerCase() === 'nan') return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t';

/** `{a="x", b="y"}` from s[i] === '{'; undefined when malformed (a duplicate name included). */
function parseLabels(s: string, i: number): { labels: Record<string, string>; end: number } | undefined {
  const labels = Object.create(null) as Record<string, string>;
  for (i += 1; ; ) {
    while (isSpace(s[i])) i++;
    if (s[i] === '}') return { labels, end: i + 1 };
    const key = LABEL_NAME.exec(s.slice(i))?.[0];
    if (key === undefined || key in labels) return undefined;
    for (i += key.length; isSpace(s[i]); ) i++;
    if (s[i++] !== '=') return undefined;
    while (isSpace(s[i])) i++;
    if (s[i++] !== '"') return undefined;
    let v = '';
    for (let c = s[i]; c !== '"'; c = s[++i]) {
      if (c === undefined) return undefined;
      if (c === '\\') {
        const e = s[++i];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else return undefined;
      } else v += c;
    }
    labels[key] = v;
    for (i += 1; isSpace(s[i]); ) i++;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') return undefined;
  }
}

function parseSampleLine(t: string): PromSample | undefined {
  const name = NAME.exec(t)?.[0];
  if (name === undefined) return undefined;
  let i = name.length;
  let labels = Object.create(null) as Record<string, string>;
  while (isSpace(t[i])) i++;
  if (t[i] === '{') {
    const l = parseLabels(t, i);
    if (!l) return undefined;
    ({ labels, end: i } = l);
  } else if (i === name.length) return undefined; // `abc-1 2` is not name `abc`
  const parts = t.slice(i).trim().split(/[ \t]+/);
  const value = parseValue(parts[0] ?? '');
  if (value === undefined || parts.length > 2) return undefined;
  const s: PromSample = { name, labels, value, raw: parts[0]! };
  if (parts[1] !== undefined) {
    const ts = /^-?\d+$/.test(parts[1]) ? Number(parts[1]) : NaN;
    if (!Number.isSafeInteger(ts)) return undefined;
    s.ts_ms = ts;
  }
  return s;
}

export function parseExposition(text: string): Exposition {
  const out: Exposition = { samples: [], help: new Map(), types: new Map(), skipped: 0 };
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (t.startsWith('#')) {
      const m = META.exec(t);
      if (m?.[1] === 'HELP') out.help.set(m[2]!, (m[3] ?? '').replace(/\\(n|\\)/g, (_, e: string) => (e === 'n' ? '\n' : '\\')));
      else if (m?.[1] === 'TYPE' && m[3]) out.types.set(m[2]!, m[3].trim());
      continue;
    }
    const s = parseSampleLine(t);
    if (s) out.samples.push(s);
    else out.skipped += 1;
  }
  return out;
}

type Slot =
  | 'power_draw' | 'power_instant' | 'power_average' | 'energy_mj' | 'util_pct' | 'mem_used_mib' | 'temp_c' | 'memory_temp_c'
  | 'sm_clock_mhz' | 'xid' | 'limit_enforced' | 'limit_mgmt' | 'limit_min' | 'limit_max' | 'memory_mib' | 'mig_mode';

/** i64: DCGM int64 blanks; i32: also int32 blanks and NVML's 0xFFFFFFFF (small-range fields only); fp64: DCGM double blanks. */
type BlankKind = 'i64' | 'i32' | 'fp64';

/**
 * scale: multiplier into kilowatch's unit. optIn: a DCGM field outside dcgm-exporter's default-counters.csv,
 * present only with a custom counters file. smi: the nvidia-smi query field nvidia_gpu_exporter renders as this metric.
 */
export interface MetricSpec { slot: Slot; blank: BlankKind; scale?: number; optIn?: true; smi?: string }

/** DCGM field ids from dcgmlib/dcgm_fields.h. */
export const DCGM_METRICS: Readonly<Record<string, MetricSpec>> = {
  DCGM_FI_DEV_SM_CLOCK: { slot: 'sm_clock_mhz', blank: 'i32' }, // 100, MHz
  DCGM_FI_DEV_MEMORY_TEMP: { slot: 'memory_temp_c', blank: 'i32' }, // 140
  DCGM_FI_DEV_GPU_TEMP: { slot: 'temp_c', blank: 'i32' }, // 150
  DCGM_FI_DEV_POWER_USAGE: { slot: 'power_draw', blank: 'fp64' }, // 155, W (NVML's 1 s average on Ampere+)
  // 156, mJ since the driver loaded. Only int64 blanks: the counter passes 2^31 mJ within an hour.
  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: { slot: 'energy_mj', blank: 'i64' },
  DCGM_FI_DEV_POWER_USAGE_INSTANT: { slot: 'power_instant', blank: 'fp64', optIn: true }, // 157
  DCGM_FI_DEV_POWER_MGMT_LIMIT: { slot: 'limit_mgmt', blank: 'fp64', optIn: true }, // 160
  DCGM_FI_DEV_POWER_MGMT_LIMIT_MIN: { slot: 'limit_min', blank: 'fp64', optIn: true }, // 161
  DCGM_FI_DEV_POWER_MGMT_LIMIT_MAX: { slot: 'limit_max', blank: 'fp64', optIn: true }, // 162
  DCGM_FI_DEV_ENFORCED_POWER_LIMIT: { slot: 'limit_enforced', blank: 'fp64', optIn: true }, // 164
  DCGM_FI_DEV_GPU_UTIL: { slot: 'util_pct', blank: 'i32' }, // 203, %
  DCGM_FI_DEV_XID_ERRORS: { slot: 'xid', blank: 'i32' }, // 230: the value is the last XID error code
  DCGM_FI_DEV_FB_TOTAL: { slot: 'memory_mib', blank: 'i32', optIn: true }, // 250, MiB
  DCGM_FI_DEV_FB_USED: { slot: 'mem_used_mib', blank: 'i32' }, // 252, MiB
};

/** nvidia_gpu_exporter: `nvidia_smi_<field>` with the unit folded into SI (W, bytes, ratio, Hz); docs/METRICS.md there. */
export const NVIDIA_SMI_METRICS: Readonly<Record<string, MetricSpec>> = {
  nvidia_smi_power_draw_watts: { slot: 'power_draw', blank: 'fp64', smi: 'power.draw' },
  nvidia_smi_power_draw_instant_watts: { slot: 'power_instant', blank: 'fp64', smi: 'power.draw.instant' },
  nvidia_smi_power_draw_average_watts: { slot: 'power_average', blank: 'fp64', smi: 'power.draw.average' },
  nvidia_smi_enforced_power_limit_watts: { slot: 'limit_enforced', blank: 'fp64', smi: 'enforced.power.limit' },
  nvidia_smi_power_limit_watts: { slot: 'limit_mgmt', blank: 'fp64', smi: 'power.limit' },
  nvidia_smi_power_min_limit_watts: { slot: 'limit_min', blank: 'fp64', smi: 'power.min_limit' },
  nvidia_smi_power_max_limit_watts: { slot: 'limit_max', blank: 'fp64', smi: 'power.max_limit' },
  nvidia_smi_utilization_gpu_ratio: { slot: 'util_pct', blank: 'fp64', scale: 100, smi: 'utilization.gpu' },
  nvidia_smi_memory_used_bytes: { slot: 'mem_used_mib', blank: 'fp64', scale: 1 / 1048576, smi: 'memory.used' },
  nvidia_smi_memory_total_bytes: { slot: 'memory_mib', blank: 'fp64', scale: 1 / 1048576, smi: 'memory.total' },
  nvidia_smi_temperature_gpu: { slot: 'temp_c', blank: 'fp64', smi: 'temperature.gpu' },
  nvidia_smi_temperature_memory: { slot: 'memory_temp_c', blank: 'fp64', smi: 'temperature.memory' },
  nvidia_smi_clocks_current_sm_clock_hz: { slot: 'sm_clock_mhz', blank: 'fp64', scale: 1e-6, smi: 'clocks.current.sm' },
  nvidia_smi_mig_mode_current: { slot: 'mig_mode', blank: 'fp64', smi: 'mig.mode.current' },
  // NVML backend only: the energy counter in J, and the memory of each MIG GPU instance.
  nvidia_smi_energy_joules_total: { slot: 'energy_mj', blank: 'fp64', scale: 1000 },
  nvidia_smi_mig_memory_used_bytes: { slot: 'mem_used_mib', blank: 'fp64', scale: 1 / 1048576 },
};

const METRICS: Readonly<Record<string, MetricSpec>> = { ...DCGM_METRICS, ...NVIDIA_SMI_METRICS };
/** Series whose labels carry identity (name, driver, MIG uuid) and whose value is a constant 1. */
const INFO_METRICS = new Set(['nvidia_smi_gpu_info', 'nvidia_smi_mig_info']);

const [INT64_BLANK, INT32_BLANK, FP64_BLANK] = [0x7ffffffffffffff0n, 0x7ffffff0, 2 ** 47] as const;

/** True when a value is a DCGM/NVML "no value" sentinel for a field of this kind. */
export function isBlank(value: number, raw: string, kind: BlankKind): boolean {
  if (!Number.isFinite(value)) return false; // NaN and Inf are bad values for the source to drop, not sentinels
  if (kind === 'fp64') return value >= FP64_BLANK;
  if (/^\+?\d+$/.test(raw) ? BigInt(raw) >= INT64_BLANK : value >= 2 ** 63) return true;
  return kind === 'i32' && ((value >= INT32_BLANK && value <= 0x7fffffff) || value === 0xffffffff);
}

/** Who the GPU is working for: Kubernetes pod labels, or dcgm-exporter's Slurm `hpc_job` mapping. */
export interface PromJob { pod?: string; namespace?: string; container?: string; hpc_job?: string }

export interface PromReading extends GpuSample {
  power_avg_w?: number;
  memory_temp_c?: number;
  /** From the `Hostname` (dcgm-exporter) or `hostname` label, and the jobs from all of the GPU's series. */
  hostname?: string;
  jobs?: PromJob[];
  /** A MIG GPU instance is its own reading; parent is the physical GPU's id. */
  mig?: { parent: string; gi: string; profile?: string };
  /** Labels beyond identity and jobs (pci_bus_id, modelName, driver version, ...). */
  labels?: Record<string, string>;
  /** The newest exposition timestamp among the GPU's samples, when the exporter wrote any. */
  ts_ms?: number;
}

/** sentinels: values read as absent; unlabelled: GPU metric samples with no UUID label, so no GPU to give them to. */
export interface GpuReadings { readings: PromReading[]; inventory: GpuInfo[]; sentinels: number; unlabelled: number }

const JOB_LABELS = ['pod', 'namespace', 'container', 'hpc_job'] as const;
const NOT_EXTRA = new Set(['UUID', 'uuid', 'Hostname', 'hostname', 'pod_uid', 'GPU_I_ID', 'GPU_I_PROFILE', 'gpu_instance_id', 'profile', 'mig_uuid', ...JOB_LABELS]);

/** nvidia_gpu_exporter writes the UUID without its `GPU-` prefix; ids keep the NVML spelling. */
function normalizeUuid(uuid: string, prefix: 'GPU-' | 'MIG-'): string {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid) ? prefix + uuid : uuid;
}

interface Acc { reading: PromReading; slots: Partial<Record<Slot, number>>; labels: Record<string, string>; jobs: Map<string, PromJob> }

/** Groups the GPU samples of one scrape into readings and inventory entries. */
export function readingsFromExposition(exp: Exposition): GpuReadings {
  const migIds = new Map<string, string>();
  for (const s of exp.samples) {
    const uuid = s.labels.UUID || s.labels.uuid;
    const gi = s.labels.GPU_I_ID || s.labels.gpu_instance_id;
    if (uuid && gi && s.labels.mig_uuid) migIds.set(`${normalizeUuid(uuid, 'GPU-')}/gi${gi}`, normalizeUuid(s.labels.mig_uuid, 'MIG-'));
  }
  const accs = new Map<string, Acc>();
  let sentinels = 0;
  let unlabelled = 0;
  for (const s of exp.samples) {
    const spec = METRICS[s.name];
    if (!spec && !INFO_METRICS.has(s.name)) continue; // another metric (MEM_COPY_UTIL, go_*, ...)
    const uuid = s.labels.UUID || s.labels.uuid;
    if (!uuid) {
      unlabelled += 1;
      continue;
    }
    const parent = normalizeUuid(uuid, 'GPU-');
    const gi = s.labels.GPU_I_ID || s.labels.gpu_instance_id;
    const id = gi ? (migIds.get(`${parent}/gi${gi}`) ?? `${parent}/gi${gi}`) : parent;
    let acc = accs.get(id);
    if (!acc) accs.set(id, (acc = { reading: { id }, slots: {}, labels: {}, jobs: new Map() }));
    const r = acc.reading;
    if (gi && !r.mig) r.mig = { parent, gi };
    const profile = s.labels.GPU_I_PROFILE || s.labels.profile;
    if (r.mig && profile) r.mig.profile = profile;
    r.hostname ??= s.labels.Hostname || s.labels.hostname || undefined;
    if (s.ts_ms !== undefined && (r.ts_ms === undefined || s.ts_ms > r.ts_ms)) r.ts_ms = s.ts_ms;
    for (const [k, v] of Object.entries(s.labels)) if (!NOT_EXTRA.has(k) && !(k in acc.labels)) acc.labels[k] = v;
    const job: PromJob = {};
    for (const k of JOB_LABELS) if (s.labels[k]) job[k] = s.labels[k];
    if (Object.keys(job).length > 0) acc.jobs.set(JSON.stringify(job), job);
    if (!spec) continue;
    if (isBlank(s.value, s.raw, spec.blank)) sentinels += 1;
    else if (acc.slots[spec.slot] === undefined) acc.slots[spec.slot] = spec.scale ? Math.round(s.value * spec.scale * 1e6) / 1e6 : s.value;
  }
  const readings: PromReading[] = [];
  const inventory: GpuInfo[] = [];
  for (const acc of accs.values()) {
    readings.push(finishReading(acc));
    inventory.push(infoFor(acc, accs));
  }
  return { readings, inventory, sentinels, unlabelled };
}

function finishReading({ reading: r, slots: v, labels, jobs }: Acc): PromReading {
  const put = <K extends keyof PromReading>(k: K, x: PromReading[K] | undefined) => {
    if (x !== undefined) r[k] = x;
  };
  // As parse-nvidia-smi: the instant reading keeps spikes; the 1 s average is kept beside it.
  put('power_w', v.power_instant ?? v.power_draw);
  put('power_avg_w', v.power_average ?? (v.power_instant !== undefined ? v.power_draw : undefined));
  for (const k of ['energy_mj', 'util_pct', 'mem_used_mib', 'temp_c', 'memory_temp_c', 'sm_clock_mhz', 'xid'] as const) put(k, v[k]);
  put('power_limit_w', v.limit_enforced ?? v.limit_mgmt);
  if (jobs.size > 0) {
    r.jobs = [...jobs.values()];
    const assigned = r.jobs.map(jobOfLabels).filter((j) => j !== undefined);
    if (assigned.length > 0) r.assigned = assigned;
  }
  if (Object.keys(labels).length > 0) r.labels = labels;
  return r;
}

/**
 * The job a GPU's labels name: dcgm-exporter's Slurm mapping (`hpc_job`) first,
 * else the Kubernetes pod, named `<namespace>/<pod>` because pod names repeat
 * across namespaces; the namespace is the project.
 */
export function jobOfLabels(j: PromJob): ProcJob | undefined {
  if (j.hpc_job) return { job: j.hpc_job, kind: 'slurm' };
  if (j.pod) return j.namespace ? { job: `${j.namespace}/${j.pod}`, kind: 'kubernetes', project: j.namespace } : { job: j.pod, kind: 'kubernetes' };
  return undefined;
}

function infoFor(acc: Acc, accs: Map<string, Acc>): GpuInfo {
  const { reading: r, slots: v, labels: l } = acc;
  const info: GpuInfo = { id: r.id, supports: { energy_counter: v.energy_mj !== undefined, instant_power: v.power_instant !== undefined } };
  const set = <K extends keyof GpuInfo>(k: K, x: GpuInfo[K] | undefined) => {
    if (x !== undefined) info[k] = x;
  };
  const index = l.gpu ?? l.index;
  if (!r.mig && index !== undefined && /^\d+$/.test(index)) info.index = Number(index);
  const name = l.modelName || l.name || undefined;
  set('name', r.mig?.profile ? `${name ?? 'GPU'} MIG ${r.mig.profile}` : name);
  set('driver', l.DCGM_FI_DRIVER_VERSION || l.driver_version || undefined);
  set('memory_mib', v.memory_mib);
  set('power_limit_w', r.power_limit_w);
  set('power_limit_min_w', v.limit_min);
  set('power_limit_max_w', v.limit_max);
  if (!r.mig) {
    const instances = [...accs.values()].filter((a) => a.reading.mig?.parent === r.id).map((a) => a.reading.id);
    if (instances.length > 0) info.mig = { enabled: true, instances };
    else if (v.mig_mode !== undefined) info.mig = { enabled: v.mig_mode === 1 };
  }
  return info;
}
