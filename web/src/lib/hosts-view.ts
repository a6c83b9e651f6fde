/**
 * GET /api/v1/fleet shaped for the Hosts page: one row per GPU and per host
 * with the figures the grid and the table show, filtering and sorting, and
 * the colour of a grid cell. Pure; tested in test/web/hosts-view.test.ts.
 */
import { shortGpu } from './alerts-view.js';
import type { FleetView, Stat } from './api.js';
import { isNumber } from './format-energy.js';
import { formatWatts } from './format-values.js';

export interface GpuRow {
  /** `site/host/gpu`: unique, and the order of the grid. */
  key: string;
  site: string;
  host: string;
  id: string;
  name: string | null;
  state: string;
  stale: boolean;
  /** Mean and max power of the latest window. */
  powerW: number | null;
  peakW: number | null;
  limitW: number | null;
  /** Mean power over the enforced limit, in %. */
  pctLimit: number | null;
  utilPct: number | null;
  tempC: number | null;
  clockMhz: number | null;
  memMib: number | null;
}

export interface HostRow {
  key: string;
  site: string;
  host: string;
  state: string;
  stale: boolean;
  simulated: boolean;
  gpus: number;
  powerW: number | null;
  utilPct: number | null;
  maxTempC: number | null;
  lastWindowTs: number | null;
  sources: string[];
  meters: number;
}

const mean = (s: Stat | null | undefined) => (s && isNumber(s.mean) ? s.mean : null);

/** "online" and fresh, else what the host is: offline, stale (online but silent), or its state. */
export function hostStatus(state: string, stale: boolean): string {
  return state === 'online' && stale ? 'stale' : state;
}

export function gpuRows(fleet: FleetView): GpuRow[] {
  const out: GpuRow[] = [];
  for (const h of fleet.hosts) {
    for (const g of h.gpus) {
      const powerW = mean(g.power_w);
      const limitW = isNumber(g.power_limit_w) && g.power_limit_w > 0 ? g.power_limit_w : null;
      out.push({
        key: `${h.site}/${h.host}/${g.id}`,
        site: h.site,
        host: h.host,
        id: g.id,
        name: g.name,
        state: hostStatus(h.state, h.stale),
        stale: h.stale,
        powerW,
        peakW: g.power_w && isNumber(g.power_w.max) ? g.power_w.max : null,
        limitW,
        pctLimit: powerW !== null && limitW !== null ? (powerW / limitW) * 100 : null,
        utilPct: mean(g.util_pct),
        tempC: g.temp_c && isNumber(g.temp_c.max) ? g.temp_c.max : null,
        clockMhz: mean(g.sm_clock_mhz),
        memMib: g.mem_used_mib && isNumber(g.mem_used_mib.last) ? g.mem_used_mib.last : null,
      });
    }
  }
  return out;
}

export function hostRows(fleet: FleetView): HostRow[] {
  return fleet.hosts.map((h) => {
    const utils = h.gpus.map((g) => mean(g.util_pct)).filter(isNumber);
    const temps = h.gpus.map((g) => g.temp_c?.max).filter(isNumber);
    const gpuSum = h.gpus.map((g) => mean(g.power_w)).filter(isNumber);
    return {
      key: `${h.site}/${h.host}`,
      site: h.site,
      host: h.host,
      state: hostStatus(h.state, h.stale),
      stale: h.stale,
      simulated: h.simulated,
      gpus: h.gpus.length,
      // The host's own power when its edge measures it, else its GPUs' sum.
      powerW: mean(h.power_w) ?? (gpuSum.length > 0 ? gpuSum.reduce((a, b) => a + b, 0) : null),
      utilPct: utils.length > 0 ? utils.reduce((a, b) => a + b, 0) / utils.length : null,
      maxTempC: temps.length > 0 ? Math.max(...temps) : null,
      lastWindowTs: h.last_window_ts,
      sources: h.sources,
      meters: h.meters?.length ?? 0,
    };
  });
}

/** Case-insensitive substring over host and GPU names; `status` '' keeps every state. */
export function filterRows<T extends { site: string; host: string; state: string; id?: string; name?: string | null }>(
  rows: readonly T[],
  text: string,
  status: string,
): T[] {
  const q = text.trim().toLowerCase();
  return rows.filter(
    (r) =>
      (status === '' || r.state === status) &&
      (q === '' ||
        `${r.site}/${r.host}`.toLowerCase().includes(q) ||
        (r.id ?? '').toLowerCase().includes(q) ||
        (r.name ?? '').toLowerCase().includes(q)),
  );
}

export type SortDir = 'asc' | 'desc';

/**
 * A stable sort by one field: numbers numerically, text in natural order
 * ("sim-2" before "sim-10"); absent values last whichever the direction, so
 * a sort by power never opens on a page of dashes.
 */
export function sortRows<T>(rows: readonly T[], key: keyof T, dir: SortDir): T[] {
  const sign = dir === 'asc' ? 1 : -1;
  const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const x = a.r[key] as unknown;
      const y = b.r[key] as unknown;
      const xNone = x === null || x === undefined;
      const yNone = y === null || y === undefined;
      if (xNone || yNone) return xNone === yNone ? a.i - b.i : xNone ? 1 : -1;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map(({ r }) => r);
}

export type GridMode = 'power' | 'util';

/** Perceptually even and readable on light and dark backgrounds (viridis' stops), low to high. */
const RAMP: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** A 0..1 fraction as a colour on the ramp; clamped. */
export function rampColor(fraction: number): string {
  const f = Math.min(1, Math.max(0, fraction)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(f));
  const t = f - i;
  const a = RAMP[i]!;
  const b = RAMP[i + 1]!;
  const c = (k: 0 | 1 | 2) => Math.round(a[k] + (b[k] - a[k]) * t);
  return `rgb(${c(0)}, ${c(1)}, ${c(2)})`;
}

/** The cell's fraction: power over its limit, or utilization; null without a reading (or a limit). */
export function cellValue(row: GpuRow, mode: GridMode): number | null {
  if (mode === 'power') return row.pctLimit === null ? null : row.pctLimit / 100;
  return row.utilPct === null ? null : row.utilPct / 100;
}

/** Over the limit is its own colour: the ramp tops out at 100 %. */
export function cellColor(row: GpuRow, mode: GridMode, colors: { none: string; over: string }): string {
  const v = cellValue(row, mode);
  if (v === null || row.state !== 'online') return colors.none;
  if (mode === 'power' && v > 1) return colors.over;
  return rampColor(v);
}

/** "sim-03 GPU-3df5…: 412 W of 700 W (59 %), 62 % busy, 61 °C". */
export function describeGpu(row: GpuRow): string {
  const parts = [
    row.powerW === null ? 'no power reading' : `${formatWatts(row.powerW)}${row.limitW ? ` of ${formatWatts(row.limitW)} (${Math.round(row.pctLimit ?? 0)} %)` : ''}`,
    row.utilPct === null ? null : `${Math.round(row.utilPct)} % busy`,
    row.tempC === null ? null : `${Math.round(row.tempC)} °C`,
  ].filter(Boolean);
  const state = row.state === 'online' ? '' : ` (${row.state})`;
  return `${row.host} ${shortGpu(row.id)}${state}: ${parts.join(', ')}`;
}
