/**
 * The History page's pure half: the range a link asks for, the efficiency
 * report's rows with their shares, and the CSV the page exports (RFC 4180:
 * CRLF line ends; a field holding a comma, a quote or a line break is
 * quoted, its quotes doubled). Figures go into the CSV as the API gave them,
 * unrounded, so a spreadsheet can check them against GET /api/v1/efficiency.
 * Tested in test/web/history-view.test.ts.
 */
import type { EfficiencyReport, EfficiencyRow } from './api.js';
import { isNumber } from './format-energy.js';
import { localMidnight } from './overview-view.js';
import type { HistoryQuery } from './router.js';

const DAY_MS = 86_400_000;

export type HistoryWindow = { ok: true; from: number; to: number } | { ok: false; problem: string };

/**
 * The range in epoch ms. Presets end now: today from local midnight, 7 and
 * 30 days back from now. A custom range reads the datetime-local fields in
 * the browser's time zone (ECMAScript reads a date-time without an offset as
 * local time).
 */
export function historyWindow(q: HistoryQuery, now: number): HistoryWindow {
  switch (q.range) {
    case 'today':
      return { ok: true, from: localMidnight(now), to: now };
    case '7d':
      return { ok: true, from: now - 7 * DAY_MS, to: now };
    case '30d':
      return { ok: true, from: now - 30 * DAY_MS, to: now };
    case 'custom': {
      const from = q.from ? new Date(q.from).getTime() : Number.NaN;
      const to = q.to ? new Date(q.to).getTime() : Number.NaN;
      if (!Number.isFinite(from) || !Number.isFinite(to)) return { ok: false, problem: 'Pick both a start and an end.' };
      if (from >= to) return { ok: false, problem: 'The start must be before the end.' };
      return { ok: true, from, to };
    }
  }
}

/** A Date as a datetime-local field holds it, in the browser's zone: "2026-11-28T14:03". */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export interface HistoryRow extends EfficiencyRow {
  /** Allocated-idle energy over the row's energy. */
  allocatedIdleShare: number | null;
}

/** Rows as the page shows them: days in time order, anything else by energy, largest first. */
export function historyRows(report: EfficiencyReport): HistoryRow[] {
  const rows = report.rows.map((r) => ({
    ...r,
    allocatedIdleShare: isNumber(r.energy_j) && r.energy_j > 0 ? r.allocated_idle_j / r.energy_j : null,
  }));
  return report.by === 'day' ? rows.sort((a, b) => a.key.localeCompare(b.key)) : rows.sort((a, b) => b.energy_j - a.energy_j || a.key.localeCompare(b.key));
}

export interface HistoryTotals {
  jobsJ: number;
  idleJ: number;
  unattributedJ: number;
  /** All GPU energy: jobs, GPUs no job held, and what gaps kept from being split. */
  totalJ: number;
  gpuHours: number;
  allocatedIdleJ: number;
  /** Energy of GPUs no job held, over all GPU energy. */
  idleShare: number | null;
  /** Allocated-idle energy over the jobs' energy. */
  allocatedIdleShare: number | null;
}

export function historyTotals(report: EfficiencyReport): HistoryTotals {
  const sum = (f: (r: EfficiencyRow) => number) => report.rows.reduce((a, r) => a + (isNumber(f(r)) ? f(r) : 0), 0);
  const jobsJ = sum((r) => r.energy_j);
  const idleJ = isNumber(report.idle_j) ? report.idle_j : 0;
  const unattributedJ = isNumber(report.unattributed_j) ? report.unattributed_j : 0;
  const totalJ = jobsJ + idleJ + unattributedJ;
  const allocatedIdleJ = sum((r) => r.allocated_idle_j);
  return {
    jobsJ,
    idleJ,
    unattributedJ,
    totalJ,
    gpuHours: sum((r) => r.gpu_hours),
    allocatedIdleJ,
    idleShare: totalJ > 0 ? idleJ / totalJ : null,
    allocatedIdleShare: jobsJ > 0 ? allocatedIdleJ / jobsJ : null,
  };
}

/** One CSV field per RFC 4180 §2: quoted when it holds a comma, a double quote, CR or LF. */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Records separated by CRLF, the last one too (§2.2 allows either; spreadsheets expect it). */
export function toCsv(records: readonly (readonly (string | number | null | undefined)[])[]): string {
  return records.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** The table as CSV: the grouping key's column named after it, then the API's figures, one column per work unit. */
export function efficiencyCsv(report: EfficiencyReport, rows: readonly HistoryRow[] = historyRows(report)): string {
  const units = [...new Set(rows.flatMap((r) => Object.keys(r.j_per_unit ?? {})))].sort();
  const money = rows.some((r) => isNumber(r.cost) || isNumber(r.carbon_g));
  const header = [
    report.by,
    'jobs',
    'energy_j',
    'kwh',
    'gpu_hours',
    'w_per_gpu',
    'allocated_idle_j',
    'allocated_idle_share',
    'method',
    'mean_util_pct',
    ...units.map((u) => `j_per_${u}`),
    ...(money ? ['cost', 'carbon_g'] : []),
  ];
  const body = rows.map((r) => [
    r.key,
    r.jobs,
    r.energy_j,
    r.kwh,
    r.gpu_hours,
    r.w_per_gpu,
    r.allocated_idle_j,
    r.allocatedIdleShare,
    r.method,
    r.mean_util_pct,
    ...units.map((u) => r.j_per_unit?.[u]),
    ...(money ? [r.cost, r.carbon_g] : []),
  ]);
  return toCsv([header, ...body]);
}

/** "kilowatch-efficiency-by-user-20261121-1403-to-20261128-1403.csv": the range in the browser's time zone. */
export function csvFileName(by: string, from: number, to: number): string {
  const stamp = (ms: number) => toLocalInput(ms).replace(/-/g, '').replace('T', '-').replace(':', '');
  return `kilowatch-efficiency-by-${by}-${stamp(from)}-to-${stamp(to)}.csv`;
}
