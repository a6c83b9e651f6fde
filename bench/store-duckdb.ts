/**
 * Storage rows of `npm run bench` for the embedded engine:
 * - append: GPU samples per second written by the DuckDbStore (de-duplication
 *   through the delivery ledger, per-window energy, host totals, rollups and
 *   the delivery state, all in one transaction per batch), next to a bare
 *   appender writing the same GPU rows and nothing else, through the same
 *   column-chunk writer (server/store/duckdb-chunks.ts), the fastest plain
 *   append there is; DuckDB limited to one thread for both, so the figure is
 *   per core;
 * - bytes per sample on disk after a checkpoint;
 * - rollup queries on 64 GPUs x 30 days at 1 Hz, prefilled as one-minute
 *   rollups (what 166 million raw windows would become): one day of fleet
 *   energy by hour, and one job's power curve; p95 of repeated runs.
 */
import { rmSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import type { GpuWindow } from '../protocol/payloads.js';
import { DeliveryLedger } from '../server/core/delivery.js';
import { SERIES_METRICS } from '../server/core/series.js';
import { DuckDbStore } from '../server/store/duckdb-store.js';
import { ChunkWriter } from '../server/store/duckdb-chunks.js';
import { GPU_WINDOWS_DDL, appendWindow } from '../server/store/duckdb-tables.js';
import { querySeries } from '../server/store/series-query.js';

const T0 = 1_764_000_000_000;
const stat = (v: number) => ({ min: v - 5, max: v + 5, mean: v, last: v, n: 10 });

/**
 * One window per host per second, 8 GPUs each. Ids are short by default
 * (inline in DuckDB's 12-byte strings); `uuid` gives the shapes real fleets
 * send: GPU UUIDs, a boot UUID per host, fully qualified host names.
 */
function windows(hosts: number, seconds: number, ids: 'short' | 'uuid' = 'short'): { host: string; w: GpuWindow }[] {
  const uuid = ids === 'uuid';
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const out: { host: string; w: GpuWindow }[] = [];
  for (let s = 0; s < seconds; s++) {
    for (let h = 0; h < hosts; h++) {
      const gpus = Array.from({ length: 8 }, (_, g) => ({ id: uuid ? `GPU-${hex(h, 8)}-1d2e-4f00-8a00-${hex(g, 12)}` : `GPU-${h}-${g}`, power_w: stat(300 + g), energy_mj: (s + 1) * 300_000, util_pct: stat(80), temp_c: stat(60), power_limit_w: 700 }));
      const host = uuid ? `gpu-node-${h}.cluster.example.org` : `h${h}`;
      out.push({ host, w: { v: 1, boot_id: uuid ? `${hex(h, 8)}-b007-4f00-8a00-000000000000` : 'bench', seq: s, first_seq: 0, ts: T0 + s * 1000, window_ms: 1000, host_power_w: stat(2428), gpus } });
    }
  }
  return out;
}

const dir = (name: string) => mkdtempSync(join(tmpdir(), `kilowatch-bench-${name}-`));

export interface AppendResult {
  /** The longest the event loop was blocked while the store wrote, ms. */
  maxEventLoopDelayMs: number;
  kilowatchRowsPerSecond: number;
  bareRowsPerSecond: number;
  bytesPerSample: number;
  rows: number;
}

/** Appends `hosts x seconds` windows of 8 GPUs in batches of one second of the fleet. */
export async function duckdbAppend(hosts = 1000, seconds = 120, ids: 'short' | 'uuid' = 'short'): Promise<AppendResult> {
  const data = windows(hosts, seconds, ids);
  const rows = data.length * 8;

  const kwDir = dir('append');
  const ledger = new DeliveryLedger();
  const store = new DuckDbStore({ dataDir: kwDir, flushMs: 3_600_000, maxPendingRows: 10_000_000, memoryLimit: '2GB', now: () => T0, hooks: ledger, threads: 1 });
  await store.start();
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let t = performance.now();
  for (let i = 0; i < data.length; i++) {
    const { host, w } = data[i]!;
    const key = { site: 'bench', host, stream: 'gpu', bootId: w.boot_id };
    if (ledger.offer(key, w.seq, w.first_seq, T0) === 'new') store.enqueue({ kind: 'gpu', key, window: w, receivedAt: T0 });
    if ((i + 1) % hosts === 0) await store.flush();
  }
  await store.flush();
  const kwSeconds = (performance.now() - t) / 1000;
  delay.disable();
  await store.stop();
  const db = await DuckDBInstance.create(join(kwDir, 'kilowatch.duckdb'));
  const c = await db.connect();
  await c.run('CHECKPOINT');
  c.closeSync();
  db.closeSync();
  const bytes = statSync(join(kwDir, 'kilowatch.duckdb')).size;

  const bareDir = dir('bare');
  const bare = await DuckDBInstance.create(join(bareDir, 'bare.duckdb'), { threads: '1', memory_limit: '2GB' });
  const conn = await bare.connect();
  await conn.run(GPU_WINDOWS_DDL);
  await conn.run('ALTER TABLE gpu_windows ADD COLUMN energy_j DOUBLE');
  await conn.run('ALTER TABLE gpu_windows ADD COLUMN energy_from VARCHAR');
  const none = Array.from({ length: 8 }, () => ({}));
  t = performance.now();
  for (let i = 0; i < data.length; i += hosts) {
    await conn.run('BEGIN TRANSACTION');
    const a = await ChunkWriter.open(conn, 'gpu_windows');
    for (const { host, w } of data.slice(i, i + hosts)) appendWindow(a, { kind: 'gpu', key: { site: 'bench', host, stream: 'gpu', bootId: w.boot_id }, window: w, receivedAt: T0 }, none);
    a.close();
    await conn.run('COMMIT');
  }
  const bareSeconds = (performance.now() - t) / 1000;
  conn.closeSync();
  bare.closeSync();
  rmSync(kwDir, { recursive: true, force: true });
  rmSync(bareDir, { recursive: true, force: true });
  return { maxEventLoopDelayMs: delay.max / 1e6, kilowatchRowsPerSecond: rows / kwSeconds, bareRowsPerSecond: rows / bareSeconds, bytesPerSample: bytes / rows, rows };
}

export interface QueryResult {
  rollupRows: number;
  fleetDayByHourP95Ms: number;
  jobCurveP95Ms: number;
  runs: number;
}

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1]!;

export async function rollupQueries(runs = 30): Promise<QueryResult> {
  const days = 30;
  const qDir = dir('rollup');
  const now = T0 + days * 86_400_000;
  const store = new DuckDbStore({ dataDir: qDir, flushMs: 3_600_000, maxPendingRows: 1000, memoryLimit: '2GB', now: () => now, hooks: new DeliveryLedger(), rawDays: 7 });
  await store.start();
  await store.stop();
  // Prefill through SQL: 64 GPUs x 43,200 minutes, power between 200 and 400 W, 60 windows a minute.
  const db = await DuckDBInstance.create(join(qDir, 'kilowatch.duckdb'));
  const c = await db.connect();
  const metrics = SERIES_METRICS.map((m) => m === 'power_w' ? 'p * 60000, 60000, p - 20, p + 40, p, m0 + 59000' : '50 * 60000, 60000, 50, 50, 50, m0 + 59000').join(', ');
  await c.run(`INSERT INTO gpu_rollup_1m
    SELECT 'bench', 'h' || (g // 8), 'GPU-' || g, m0, 60000, 60, p * 60, ${metrics}
    FROM (SELECT g, ${T0} + m * 60000 AS m0, 300 + 100 * sin(m / 90.0 + g) AS p FROM range(64) t(g), range(${days * 1440}) s(m))`);
  await c.run(`INSERT INTO job_events VALUES
    ('bench', 'h0', 'b', 0, ${now - 6 * 3_600_000}, 'start', 'job-42', 'ada', 'llm', 'h100', '["GPU-0","GPU-1","GPU-2","GPU-3"]', NULL, 0)`);
  await c.run('CHECKPOINT');
  const rollupRows = Number((await c.runAndReadAll('SELECT count(*) AS n FROM gpu_rollup_1m')).getRowObjectsJS()[0]!.n);
  c.closeSync();
  db.closeSync();

  const reader = new DuckDbStore({ dataDir: qDir, flushMs: 3_600_000, maxPendingRows: 1000, memoryLimit: '2GB', now: () => now, hooks: new DeliveryLedger(), rawDays: 7 });
  await reader.start();
  const day = Math.floor(now / 86_400_000) * 86_400_000 - 86_400_000;
  const time = async (f: () => Promise<unknown>) => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  const fleet: number[] = [];
  const job: number[] = [];
  for (let i = 0; i < runs; i++) {
    fleet.push(await time(() => querySeries(reader, { target: { kind: 'fleet' }, metric: 'power_w', agg: 'energy', from: day, to: day + 86_400_000, step: 3_600_000 }, now)));
    job.push(await time(() => querySeries(reader, { target: { kind: 'job', job: 'job-42' }, metric: 'power_w', agg: 'mean', from: now - 6 * 3_600_000, to: now, step: 60_000 }, now)));
  }
  await reader.stop();
  rmSync(qDir, { recursive: true, force: true });
  return { rollupRows, fleetDayByHourP95Ms: p95(fleet), jobCurveP95Ms: p95(job), runs };
}
