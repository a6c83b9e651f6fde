/**
 * The DuckDB read side: member buckets from the raw windows, or from the
 * one-minute rollups when the step is whole minutes (rollups outlive raw
 * windows: 400 days against 7), and the GPUs a job held from its events.
 * Values are bound as parameters, never spliced into SQL.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { ROLLUP_MS } from '../core/rollup.js';
import type { MemberBucket, SeriesMetric } from '../core/series.js';
import { LEDGER_BUCKET_MS } from '../core/ledger.js';
import { RAW_COLUMNS, rollupViewSql } from './duckdb-rollup-sql.js';
import { type AlertLogEntry, type BucketRequest, type JobFilter, type JobRecord, type LedgerTotal, type MemberSelector, type QuarterEnergy, memberName } from './store.js';

/** A job's start or end event as stored. */
export interface JobEventRow {
  site: string;
  host: string;
  ts: number;
  event: 'start' | 'end';
  gpus: string[];
  job?: string;
  user?: string;
  project?: string;
  partition?: string;
}

/** Folds the events of many jobs into one record per job (hosts merged), overlapping [from, to). Pure. */
export function jobRecords(events: readonly JobEventRow[], filter: Pick<JobFilter, 'from' | 'to'>, now: number): JobRecord[] {
  const byJob = new Map<string, JobEventRow[]>();
  for (const e of events) byJob.set(e.job ?? '', [...(byJob.get(e.job ?? '') ?? []), e]);
  const out: JobRecord[] = [];
  for (const [job, list] of byJob) {
    const spans = jobIntervals(list, Number.MAX_SAFE_INTEGER);
    if (spans.length === 0) continue;
    const start = Math.min(...spans.map((s) => s.from));
    const running = spans.some((s) => s.to === Number.MAX_SAFE_INTEGER);
    const end = running ? undefined : Math.max(...spans.map((s) => s.to));
    if (start >= filter.to || (end ?? now) < filter.from) continue;
    const first = list.find((e) => e.event === 'start')!;
    out.push({
      job,
      ...(first.user !== undefined && { user: first.user }),
      ...(first.project !== undefined && { project: first.project }),
      ...(first.partition !== undefined && { partition: first.partition }),
      hosts: [...new Map(spans.map((s) => [memberName(s.site, s.host), { site: s.site, host: s.host }])).values()],
      gpus: spans.length,
      start,
      ...(end !== undefined && { end }),
    });
  }
  return out.sort((a, b) => b.start - a.start || a.job.localeCompare(b.job));
}

/** Pairs each start with the next end on the same host; a job still running lasts until `now`. Pure. */
export function jobIntervals(events: readonly JobEventRow[], now: number): MemberSelector[] {
  const open = new Map<string, JobEventRow>();
  const out: MemberSelector[] = [];
  const close = (start: JobEventRow, to: number) => start.gpus.forEach((gpu) => out.push({ site: start.site, host: start.host, gpu, from: start.ts, to }));
  for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
    const key = `${e.site}\u0000${e.host}`;
    const start = open.get(key);
    if (e.event === 'start' && !start) open.set(key, e);
    if (e.event === 'end' && start) {
      close(start, e.ts);
      open.delete(key);
    }
  }
  for (const start of open.values()) close(start, Math.max(start.ts, now));
  return out;
}

export class DuckDbHistory {
  constructor(private readonly conn: DuckDBConnection) {}

  /** `rawSince`: the oldest instant raw windows are kept for; older ranges can only come from rollups. */
  async memberBuckets(req: BucketRequest, rawSince: number): Promise<MemberBucket[]> {
    const rollup = req.step % ROLLUP_MS === 0 || req.from < rawSince;
    const host = req.level === 'host';
    // The rollup view: stored minutes below the watermark, raw windows above it (minutes still open in memory).
    const table = rollup ? rollupViewSql(!host) : host ? 'host_windows' : 'gpu_windows';
    const ts = rollup ? 'minute_ms' : 'ts_ms';
    const metric: SeriesMetric = host ? 'power_w' : req.metric;
    const params: DuckDBValue[] = [req.step, req.from, req.to];
    const where = [`${ts} >= $2`, `${ts} < $3`];
    if (req.select) {
      if (req.select.length === 0) return [];
      const clauses = req.select.map((s) => {
        const at = (v: DuckDBValue) => `$${params.push(v)}`;
        const gpu = s.gpu !== undefined && !host ? ` AND gpu_id = ${at(s.gpu)}` : '';
        // A rollup minute belongs to a member's range when the minute starts in it (one minute of resolution).
        const from = rollup ? Math.floor(s.from / ROLLUP_MS) * ROLLUP_MS : s.from;
        return `(site = ${at(s.site)} AND host = ${at(s.host)}${gpu} AND ${ts} >= ${at(from)} AND ${ts} < ${at(s.to)})`;
      });
      where.push(`(${clauses.join(' OR ')})`);
    }
    const keys = host ? 'site, host' : 'site, host, gpu_id';
    const sql = `SELECT ${keys}, (${ts} // $1) * $1 AS t, ${rollup ? rollupAggregates(metric) : rawAggregates(metric, host)}
      FROM ${table} WHERE ${where.join(' AND ')} GROUP BY ${keys}, t`;
    const rows = (await this.conn.runAndReadAll(sql, params)).getRowObjectsJS();
    return rows.map((r) => {
      const out: MemberBucket = {
        member: memberName(r.site as string, r.host as string, host ? undefined : (r.gpu_id as string)),
        t: Number(r.t),
        covered_ms: Number(r.covered_ms),
      };
      for (const k of ['mean', 'min', 'max', 'last', 'energy_j'] as const) if (r[k] !== null && r[k] !== undefined) out[k] = Number(r[k]);
      return out;
    });
  }

  /** Stored job events as rows of one shape, whatever the caller filters on. */
  private async jobEventRows(where: string, params: DuckDBValue[]): Promise<(JobEventRow & { job: string })[]> {
    const rows = (await this.conn.runAndReadAll(
      `SELECT site, host, job, ts_ms, event, gpus, user_name, project, partition_name FROM job_events WHERE ${where} ORDER BY ts_ms`, params)).getRowObjectsJS();
    return rows.map((r) => ({
      site: r.site as string, host: r.host as string, job: r.job as string, ts: Number(r.ts_ms), event: r.event as 'start' | 'end',
      gpus: JSON.parse(r.gpus as string) as string[],
      ...(r.user_name !== null && { user: r.user_name as string }),
      ...(r.project !== null && { project: r.project as string }),
      ...(r.partition_name !== null && { partition: r.partition_name as string }),
    }));
  }

  async jobGpus(job: string, now: number): Promise<MemberSelector[]> {
    return jobIntervals(await this.jobEventRows('job = $1', [job]), now);
  }

  async jobs(filter: JobFilter, now: number): Promise<JobRecord[]> {
    const params: DuckDBValue[] = [filter.to];
    const where = ["event = 'start'", 'ts_ms < $1'];
    const add = (col: string, v: string | undefined) => v !== undefined && where.push(`${col} = $${params.push(v)}`);
    add('user_name', filter.user);
    add('project', filter.project);
    add('site', filter.site);
    if (filter.projects) where.push(filter.projects.length === 0 ? 'false' : `project IN (${filter.projects.map((p) => `$${params.push(p)}`).join(', ')})`);
    const events = await this.jobEventRows(`job IN (SELECT job FROM job_events WHERE ${where.join(' AND ')})`, params);
    return jobRecords(events, filter, now);
  }

  async ledger(q: { from: number; to: number; jobs?: readonly string[]; byTime: boolean }): Promise<LedgerTotal[]> {
    const params: DuckDBValue[] = [q.from, q.to];
    const jobs = q.jobs ? ` AND job IN (${q.jobs.map((j) => `$${params.push(j)}`).join(', ') || "''"})` : '';
    // Ledger rows are quarter hours: the one holding `from` counts whole (resolution: 15 minutes).
    const t = q.byTime ? 't_ms' : '$1';
    // Per GPU and quarter first (a quarter holds several batches' rows), then the job's GPUs summed per quarter for its peak.
    const rows = (await this.conn.runAndReadAll(
      `WITH g AS (
         SELECT category, job, t_ms, sum(energy_j) AS e, sum(allocated_idle_j) AS ij, sum(gpu_ms) AS ms, sum(allocated_idle_ms) AS ims,
           sum(counter_j) AS cj, sum(util_ms) AS um, sum(util_known_ms) AS ukm, max(power_max_w) AS pmax
         FROM energy_ledger WHERE t_ms >= $1 - ($1 % ${LEDGER_BUCKET_MS}) AND t_ms < $2${jobs} GROUP BY category, job, t_ms, site, host, gpu_id),
       q AS (SELECT category, job, t_ms, sum(e) AS e, sum(ij) AS ij, sum(ms) AS ms, sum(ims) AS ims, sum(cj) AS cj, sum(um) AS um, sum(ukm) AS ukm, sum(pmax) AS peak
         FROM g GROUP BY category, job, t_ms)
       SELECT category, job, ${t} AS t, sum(e) AS energy_j, sum(ij) AS allocated_idle_j, sum(ms) AS gpu_ms, sum(ims) AS allocated_idle_ms,
         sum(cj) AS counter_j, sum(um) AS util_ms, sum(ukm) AS util_known_ms, max(peak) AS peak_w
       FROM q GROUP BY category, job${q.byTime ? ', t_ms' : ''}`, params)).getRowObjectsJS();
    return rows.map((r) => ({
      category: r.category as LedgerTotal['category'], job: r.job as string, t: Number(r.t),
      energy_j: Number(r.energy_j), allocated_idle_j: Number(r.allocated_idle_j), gpu_ms: Number(r.gpu_ms),
      allocated_idle_ms: Number(r.allocated_idle_ms), counter_j: Number(r.counter_j),
      util_ms: Number(r.util_ms ?? 0), util_known_ms: Number(r.util_known_ms ?? 0), peak_w: r.peak_w === null ? null : Number(r.peak_w),
    }));
  }

  async work(jobs: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>();
    if (jobs.length === 0) return out;
    const params: DuckDBValue[] = [...jobs];
    const rows = (await this.conn.runAndReadAll(
      `SELECT job, arg_max(totals, ts_ms) AS totals FROM work_reports WHERE job IN (${jobs.map((_, i) => `$${i + 1}`).join(', ')}) GROUP BY job, site, host`, params)).getRowObjectsJS();
    for (const r of rows) {
      const sum = out.get(r.job as string) ?? {};
      for (const [name, v] of Object.entries(JSON.parse(r.totals as string) as Record<string, number>)) sum[name] = (sum[name] ?? 0) + v;
      out.set(r.job as string, sum);
    }
    return out;
  }

  async facilityEnergy(q: { from: number; to: number }): Promise<{ meters: QuarterEnergy[]; hosts: QuarterEnergy[] }> {
    const read = async (sql: string) =>
      (await this.conn.runAndReadAll(sql, [q.from, q.to])).getRowObjectsJS().map((r) => ({
        name: r.name as string, t: Number(r.t), energy_j: Number(r.e), counter_j: Number(r.cj ?? 0), covered_ms: Number(r.cov ?? 0), members: Number(r.n ?? 1),
      }));
    // Meter energy from mean power: signed, so a source that exports reads negative; counters differ by vendor and reset.
    const meters = await read(`SELECT host || '/' || meter AS name, (ts_ms // ${LEDGER_BUCKET_MS}) * ${LEDGER_BUCKET_MS} AS t, sum(power_mean_w * window_ms) / 1000 AS e,
        sum(window_ms) AS cov, 1 AS n
      FROM meter_windows WHERE ts_ms >= $1 AND ts_ms < $2 AND power_mean_w IS NOT NULL GROUP BY ALL`);
    const hosts = await read(`SELECT site || '/' || host AS name, t_ms AS t, sum(energy_j) AS e, sum(counter_j) AS cj, sum(window_ms) AS cov,
        count(DISTINCT gpu_id) AS n
      FROM energy_ledger WHERE t_ms >= $1 AND t_ms < $2 GROUP BY ALL`);
    return { meters, hosts };
  }

  /** Every job event in time order, for the ledger's spans at start. */
  async alertLog(q: { sinceMs: number; kinds?: readonly AlertLogEntry['kind'][]; limit?: number }): Promise<AlertLogEntry[]> {
    const params: DuckDBValue[] = [q.sinceMs];
    const kinds = q.kinds ? ` AND kind IN (${q.kinds.map((k) => `$${params.push(k)}`).join(', ')})` : '';
    const limit = q.limit === undefined ? '' : ` ORDER BY ts_ms DESC, rowid DESC LIMIT ${Math.max(0, Math.floor(q.limit))}`;
    const rows = (await this.conn.runAndReadAll(`SELECT ts_ms, kind, key, data, actor, rowid AS r FROM alert_log WHERE ts_ms >= $1${kinds}${limit}`, params)).getRowObjectsJS();
    // Oldest first, in the order they were written: the state is rebuilt by replaying them.
    rows.sort((a, b) => Number(a.ts_ms) - Number(b.ts_ms) || Number(a.r) - Number(b.r));
    return rows.map((r) => ({
      ts: Number(r.ts_ms), kind: r.kind as AlertLogEntry['kind'], key: r.key as string, data: JSON.parse(r.data as string) as unknown,
      ...(r.actor !== null && r.actor !== undefined && { actor: r.actor as string }),
    }));
  }

  jobEvents(): Promise<(JobEventRow & { job: string })[]> {
    return this.jobEventRows('true', []);
  }

  close(): void {
    this.conn.closeSync();
  }
}

function rawAggregates(metric: SeriesMetric, host: boolean): string {
  const c = RAW_COLUMNS[metric];
  return [
    'sum(window_ms) AS covered_ms',
    `sum(${c.mean} * window_ms) / nullif(sum(CASE WHEN ${c.mean} IS NOT NULL THEN window_ms END), 0) AS mean`,
    `min(${c.min}) AS min`,
    `max(${c.max}) AS max`,
    `arg_max(${c.last}, ts_ms) FILTER (WHERE ${c.last} IS NOT NULL) AS last`,
    host ? 'NULL AS energy_j' : 'sum(energy_j) AS energy_j',
  ].join(', ');
}

function rollupAggregates(m: SeriesMetric): string {
  return [
    'sum(covered_ms) AS covered_ms',
    `sum(${m}_wsum) / nullif(sum(${m}_wms), 0) AS mean`,
    `min(${m}_min) AS min`,
    `max(${m}_max) AS max`,
    `arg_max(${m}_last, ${m}_last_ts) FILTER (WHERE ${m}_last IS NOT NULL) AS last`,
    'sum(energy_j) AS energy_j',
  ].join(', ');
}
