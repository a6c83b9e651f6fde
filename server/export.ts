/**
 * `kilowatch export <dir>`: the running server writes a range of its data as
 * CSV files any spreadsheet or pipeline reads, through the admin socket
 * (only the server may open its DuckDB file). Both engines, through the
 * history interface:
 * - jobs.csv: each job in the range with energy (J), method, coverage,
 *   GPU-hours, allocated-idle share, and cost and carbon with a site file;
 * - gpu_hourly.csv: per GPU and hour, energy (J), mean and max power (W) and
 *   the coverage behind them.
 * Files are written whole to a temporary name and renamed, so a reader never
 * sees half a file.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Facility } from './facility.js';
import { queryJobs } from './store/job-queries.js';
import type { HistoryReader } from './store/store.js';

const PAGE = 2000;
const HOUR = 3_600_000;
/** At most this many hours in one export: a year of hourly rows per GPU. */
const MAX_HOURS = 366 * 24;

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
export function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Math.round(v * 1e6) / 1e6) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csv(header: readonly string[], rows: readonly unknown[][]): string {
  return [header.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\r\n') + '\r\n';
}

function writeWhole(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export async function exportRange(store: HistoryReader, facility: Facility | undefined, dir: string, from: number, to: number, now: number): Promise<Record<string, unknown>> {
  if (!(Number.isFinite(from) && Number.isFinite(to) && from < to)) throw new Error('--from must be before --to');
  if ((to - from) / HOUR > MAX_HOURS) throw new Error(`at most ${MAX_HOURS / 24} days in one export`);
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });

  const jobRows: unknown[][] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await queryJobs(store, { from, to }, { offset, limit: PAGE }, now);
    const priced = facility ? await facility.priceJobs(page, from, to) : page;
    for (const j of priced.jobs as (typeof priced.jobs[number] & { cost?: number; carbon_g?: number })[]) {
      jobRows.push([j.job, j.user, j.project, j.partition, j.hosts.map((h) => `${h.site}/${h.host}`).join(' '), j.gpus, j.start, j.end, j.energy_j, j.method, j.coverage, j.gpu_hours, j.allocated_idle_share, j.mean_power_w, j.cost, j.carbon_g]);
    }
    if (offset + PAGE >= page.total) break;
  }
  writeWhole(join(out, 'jobs.csv'), csv(['job', 'user', 'project', 'partition', 'hosts', 'gpus', 'start_ms', 'end_ms', 'energy_j', 'method', 'coverage', 'gpu_hours', 'allocated_idle_share', 'mean_power_w', 'cost', 'carbon_g'], jobRows));

  const start = from - (from % HOUR);
  const buckets = await store.memberBuckets({ metric: 'power_w', from: start, to, step: HOUR, level: 'gpu' });
  const gpuRows = buckets
    .sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : a.t - b.t))
    .map((b) => {
      const [site, host, ...gpu] = b.member.split('/');
      return [site, host, gpu.join('/'), b.t, b.energy_j, b.mean, b.max, b.covered_ms / HOUR];
    });
  writeWhole(join(out, 'gpu_hourly.csv'), csv(['site', 'host', 'gpu', 'hour_start_ms', 'energy_j', 'mean_w', 'max_w', 'coverage'], gpuRows));
  return { dir: out, from, to, files: { 'jobs.csv': jobRows.length, 'gpu_hourly.csv': gpuRows.length } };
}
