/**
 * Pure parsers for nvidia-smi output: `--query-gpu=... --format=csv[,noheader][,nounits]`,
 * `--query-compute-apps=...` and `--help-query-gpu`. No I/O; the source
 * (nvidia-smi.ts) feeds them text.
 *
 * Facts the parsers rely on, all visible in the captured fixtures
 * (../shared/fixtures/nvidia-smi):
 * - cells are separated by ", " and never quoted;
 * - with units, the header says `power.draw [W]` and values say `631.95 W`;
 *   with `nounits` the header keeps its units but values lose them;
 * - a value nvidia-smi cannot give is bracketed: [N/A], [Not Supported],
 *   [Requested functionality has been deprecated], [Unknown Error], ...; a few
 *   fields print a bare N/A or nothing. All of these read as absent, never 0;
 * - bitmasks are hex (`0x0000000000000004`), flags are Enabled/Disabled.
 */
import type { GpuInfo, GpuProcess, ThrottleReason } from '../../protocol/payloads.js';
import type { GpuSample } from '../window.js';
import { throttleReasons } from './nvml-abi.js';

export type SmiRow = Record<string, string>;

export interface SmiTable {
  fields: string[];
  /** Unit per field from a header such as `power.draw [W]`. */
  units: (string | undefined)[];
  rows: SmiRow[];
  /** Lines whose cell count did not match the fields: skipped and counted. */
  malformed: number;
}

/** True for every spelling of "no value": empty, N/A, and any bracketed message. */
export function isAbsent(raw: string | undefined): boolean {
  if (raw === undefined) return true;
  const v = raw.trim();
  return v === '' || v === 'N/A' || (v.startsWith('[') && v.endsWith(']'));
}

export function splitCsvLine(line: string): string[] {
  return line.split(',').map((c) => c.trim());
}

const HEADER_CELL = /^([A-Za-z_][\w.]*)(?:\s*\[([^\]]+)\])?$/;

export function parseHeaderCell(cell: string): { name: string; unit?: string } | undefined {
  const m = HEADER_CELL.exec(cell.trim());
  if (!m) return undefined;
  return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, unit: m[2] };
}

/** A number with an optional unit suffix (`631.95 W`, `81559 MiB`, `1980 MHz`, `45 %`, `0 us`). */
export function parseNumber(raw: string | undefined): number | undefined {
  if (isAbsent(raw)) return undefined;
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%]+)?$/.exec(raw!.trim());
  return m ? Number(m[1]) : undefined;
}

export function parseHex(raw: string | undefined): bigint | undefined {
  if (isAbsent(raw)) return undefined;
  const v = raw!.trim();
  return /^0x[0-9a-f]+$/i.test(v) ? BigInt(v) : undefined;
}

export function parseEnabled(raw: string | undefined): boolean | undefined {
  if (isAbsent(raw)) return undefined;
  const v = raw!.trim().toLowerCase();
  if (v === 'enabled' || v === 'yes' || v === 'active') return true;
  if (v === 'disabled' || v === 'no' || v === 'not active') return false;
  return undefined;
}

/** `YYYY/MM/DD HH:MM:SS.mmm`, in the host's local time zone (as nvidia-smi prints it). */
export function parseSmiTimestamp(raw: string | undefined): number | undefined {
  if (isAbsent(raw)) return undefined;
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(raw!.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  return new Date(y!, mo! - 1, d!, h!, mi!, s!, Number.isNaN(ms) ? 0 : ms!).getTime();
}

/**
 * Parses query CSV. With `fields` (the list passed to --query-*) the text may
 * have no header; otherwise the first line must be the header. A header line
 * is recognised because every cell is a field name, optionally with a unit.
 */
export function parseQueryCsv(text: string, fields?: readonly string[]): SmiTable {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  let names = fields ? [...fields] : undefined;
  let units: (string | undefined)[] = names ? names.map(() => undefined) : [];
  const first = lines[0] === undefined ? undefined : splitCsvLine(lines[0]).map(parseHeaderCell);
  if (first && first.every((c) => c !== undefined) && (!names || first.every((c, i) => c!.name === names![i]))) {
    names = first.map((c) => c!.name);
    units = first.map((c) => c!.unit);
    lines.shift();
  }
  if (!names) return { fields: [], units: [], rows: [], malformed: lines.length };
  const rows: SmiRow[] = [];
  let malformed = 0;
  for (const line of lines) {
    const cells = splitCsvLine(line);
    if (cells.length !== names.length) {
      malformed += 1;
      continue;
    }
    const row: SmiRow = {};
    names.forEach((n, i) => (row[n] = cells[i]!));
    rows.push(row);
  }
  return { fields: names, units, rows, malformed };
}

/** The first of several field aliases that has a value (nvidia-smi accepts e.g. `uuid` or `gpu_uuid`). */
export function pick(row: SmiRow, ...names: string[]): string | undefined {
  for (const n of names) if (!isAbsent(row[n])) return row[n]!.trim();
  return undefined;
}

/** A GPU reading parsed from nvidia-smi; throttle and ts_ms go beyond GpuSample. */
export interface SmiSample extends GpuSample {
  /** nvidia-smi's own timestamp of the row, when queried (local time). */
  ts_ms?: number;
  /** power.draw.average, or power.draw when power_w is the instant reading. */
  power_avg_w?: number;
  throttle?: ThrottleReason[];
}

export interface SmiGpu {
  sample: SmiSample;
  info: GpuInfo;
}

/** Maps one query-gpu row to a sample and an inventory entry; undefined without a UUID. */
export function gpuFromRow(row: SmiRow): SmiGpu | undefined {
  const id = pick(row, 'uuid', 'gpu_uuid');
  if (id === undefined) return undefined;
  const num = (...names: string[]) => parseNumber(pick(row, ...names));
  const sample: SmiSample = { id };
  const put = <K extends keyof SmiSample>(k: K, v: SmiSample[K] | undefined) => {
    if (v !== undefined) sample[k] = v;
  };
  // power.draw is a 1 s average on Ampere and newer (help-query-gpu); the instant reading keeps spikes.
  const instant = num('power.draw.instant', 'gpu.power.draw.instant');
  const draw = num('power.draw');
  put('power_w', instant ?? draw);
  put('power_avg_w', num('power.draw.average', 'gpu.power.draw.average') ?? (instant !== undefined ? draw : undefined));
  const energy = num('total_energy_consumption');
  put('energy_mj', energy);
  put('util_pct', num('utilization.gpu'));
  put('mem_used_mib', num('memory.used'));
  put('temp_c', num('temperature.gpu'));
  put('sm_clock_mhz', num('clocks.current.sm', 'clocks.sm'));
  const limit = num('enforced.power.limit', 'gpu.power.current_limit', 'power.limit');
  put('power_limit_w', limit);
  const bits = parseHex(pick(row, 'clocks_event_reasons.active', 'clocks_throttle_reasons.active'));
  if (bits !== undefined) sample.throttle = throttleReasons(bits);
  put('ts_ms', parseSmiTimestamp(row.timestamp));

  const info: GpuInfo = { id, supports: { energy_counter: energy !== undefined, instant_power: instant !== undefined } };
  const setInfo = <K extends keyof GpuInfo>(k: K, v: GpuInfo[K] | undefined) => {
    if (v !== undefined) info[k] = v;
  };
  setInfo('index', num('index'));
  setInfo('name', pick(row, 'name', 'gpu_name'));
  setInfo('memory_mib', num('memory.total'));
  setInfo('power_limit_w', limit);
  setInfo('power_limit_min_w', num('power.min_limit', 'gpu.power.min_limit'));
  setInfo('power_limit_max_w', num('power.max_limit', 'gpu.power.max_limit'));
  setInfo('driver', pick(row, 'driver_version'));
  const mig = parseEnabled(pick(row, 'mig.mode.current'));
  if (mig !== undefined) info.mig = { enabled: mig };
  return { sample, info };
}

/** `--query-compute-apps` rows by GPU UUID. A header-only or empty answer means zero processes. */
export function parseComputeApps(text: string, fields?: readonly string[]): { byGpu: Map<string, GpuProcess[]>; malformed: number } {
  const table = parseQueryCsv(text, fields);
  const byGpu = new Map<string, GpuProcess[]>();
  let malformed = table.malformed;
  for (const row of table.rows) {
    const uuid = pick(row, 'gpu_uuid', 'uuid');
    const pid = parseNumber(pick(row, 'pid'));
    if (uuid === undefined || pid === undefined) {
      malformed += 1;
      continue;
    }
    const used = parseNumber(pick(row, 'used_gpu_memory', 'used_memory'));
    const list = byGpu.get(uuid) ?? [];
    list.push(used === undefined ? { pid } : { pid, used_mib: used });
    byGpu.set(uuid, list);
  }
  return { byGpu, malformed };
}

/** Field names (with aliases) listed by `nvidia-smi --help-query-gpu`: lines such as `"uuid" or "gpu_uuid"`. */
export function parseHelpQueryGpu(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!/^"[^"]+"(?:\s+or\s+"[^"]+")*\s*$/.test(line)) continue;
    for (const m of line.matchAll(/"([^"]+)"/g)) if (/^[A-Za-z_][\w.]*$/.test(m[1]!)) names.push(m[1]!);
  }
  return [...new Set(names)];
}

/** What the source asks for, each as alternative spellings; the first one this nvidia-smi lists wins. */
const WANTED: readonly (readonly string[])[] = [
  ['timestamp'],
  ['index'],
  ['uuid', 'gpu_uuid'],
  ['name', 'gpu_name'],
  ['driver_version'],
  ['power.draw'],
  ['power.draw.instant', 'gpu.power.draw.instant'],
  ['power.draw.average', 'gpu.power.draw.average'],
  ['enforced.power.limit', 'gpu.power.current_limit', 'power.limit'],
  ['power.min_limit', 'gpu.power.min_limit'],
  ['power.max_limit', 'gpu.power.max_limit'],
  ['memory.total'],
  ['memory.used'],
  ['utilization.gpu'],
  ['temperature.gpu'],
  ['clocks.current.sm', 'clocks.sm'],
  ['clocks_event_reasons.active', 'clocks_throttle_reasons.active'],
  ['mig.mode.current'],
  // Not in any nvidia-smi seen so far; used as the energy counter if a version lists it.
  ['total_energy_consumption'],
];

/** The --query-gpu list for this nvidia-smi: asking for an unknown field makes it fail, hence the probe. */
export function selectQueryFields(available: readonly string[]): string[] {
  const have = new Set(available);
  const out: string[] = [];
  for (const alts of WANTED) {
    const hit = alts.find((a) => have.has(a));
    if (hit) out.push(hit);
  }
  if (!out.includes('uuid') && !out.includes('gpu_uuid')) throw new Error('nvidia-smi --help-query-gpu lists no uuid field');
  return out;
}
