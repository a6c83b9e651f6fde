/**
 * Reads what the store holds, for compare.ts (the soak's checks and the
 * delivery fault tests). DuckDB allows one process per file, so the running
 * server writes a consistent copy through its admin socket (what `kilowatch
 * backup` does) into a directory off the small data disk, and the copy is
 * read and removed; a stopped server's file is read as it is.
 * VictoriaMetrics is read through /api/v1/export, the raw samples, so a
 * sample stored twice shows as two.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { RecordLine } from '../../collector/delivery/recorder.js';
import { adminRequest, adminSocketPath } from '../../server/admin/admin-socket.js';
import { DATA_FILE } from '../../server/store/duckdb-backup.js';
import { parseRecordText, type StoredWindow } from './compare.js';

/** Every line of the record files so far (a line still being written waits for the next read). */
export function readRecordFiles(files: readonly string[]): RecordLine[] {
  return files.flatMap((f) => {
    try {
      return parseRecordText(readFileSync(f, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  });
}

/** A backup of the running server's DuckDB file into `dir`; the GPU windows of `site` in it, keyed by (host, boot, seq). */
export async function duckdbWindows(dataDir: string, dir: string, site: string): Promise<{ windows: StoredWindow[]; bytes: number; ms: number }> {
  const started = Date.now();
  const answer = await adminRequest(adminSocketPath(dataDir), { cmd: 'backup', dir }, 10 * 60_000);
  if (answer.ok !== true) throw new Error(`backup through the admin socket failed: ${String(answer.error)}`);
  const file = join(dir, DATA_FILE);
  try {
    const bytes = statSync(file).size;
    return { windows: await duckdbFileWindows(file, site), bytes, ms: Date.now() - started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The GPU windows in a DuckDB file no server holds (a backup, or a stopped
 * server's file), keyed by (host, boot, seq): those of `site`, or of every
 * site, so that a window stored under two sites shows as stored twice.
 */
export async function duckdbFileWindows(file: string, site?: string): Promise<StoredWindow[]> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  try {
    const reader = await conn.runAndReadAll(
      `SELECT host, boot_id, seq::BIGINT AS seq, min(ts_ms)::BIGINT AS ts, count(*)::INT AS n_rows, count(DISTINCT gpu_id)::INT AS gpus,
              sum(energy_mj)::DOUBLE AS energy
       FROM gpu_windows ${site === undefined ? '' : 'WHERE site = $site'} GROUP BY host, boot_id, seq`,
      site === undefined ? undefined : { site },
    );
    return reader.getRowObjectsJS().map((r) => ({
      id: `${r.host}/${r.boot_id}/${r.seq}`, ts: Number(r.ts), rows: Number(r.n_rows), gpus: Number(r.gpus), energy: Number(r.energy ?? 0),
    }));
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

interface ExportBlock {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

async function exportRaw(url: string, match: string, fromMs: number, toMs: number): Promise<ExportBlock[]> {
  const body = new URLSearchParams({ 'match[]': match, start: (fromMs / 1000).toFixed(3), end: (toMs / 1000).toFixed(3) });
  const res = await fetch(`${url}/api/v1/export`, { method: 'POST', body, signal: AbortSignal.timeout(120_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`VictoriaMetrics /api/v1/export: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ExportBlock);
}

/**
 * The GPU windows of `site` that VictoriaMetrics holds, keyed by (host, ts):
 * each GPU's `kw_gpu_window_ms` sample sits at the window's end (ts +
 * window_ms), its `kw_gpu_energy_mj` sample beside it.
 */
export async function victoriaWindows(url: string, site: string, fromMs: number, toMs: number): Promise<{ windows: StoredWindow[]; ms: number }> {
  const started = Date.now();
  const sel = `{site=${JSON.stringify(site)}}`;
  const [lengths, energies] = await Promise.all([exportRaw(url, `kw_gpu_window_ms${sel}`, fromMs, toMs), exportRaw(url, `kw_gpu_energy_mj${sel}`, fromMs, toMs)]);
  const energyAt = new Map<string, number>();
  for (const b of energies) b.timestamps.forEach((t, i) => energyAt.set(`${b.metric.host}/${b.metric.gpu}/${t}`, b.values[i]!));
  const byId = new Map<string, { ts: number; rows: number; gpus: Set<string>; energy: number }>();
  for (const b of lengths) {
    b.timestamps.forEach((end, i) => {
      const ts = end - b.values[i]!;
      const id = `${b.metric.host}/${ts}`;
      let w = byId.get(id);
      if (!w) byId.set(id, (w = { ts, rows: 0, gpus: new Set(), energy: 0 }));
      w.rows += 1;
      if (!w.gpus.has(b.metric.gpu!)) {
        w.gpus.add(b.metric.gpu!);
        w.energy += energyAt.get(`${b.metric.host}/${b.metric.gpu}/${end}`) ?? 0;
      }
    });
  }
  const windows = [...byId].map(([id, w]) => ({ id, ts: w.ts, rows: w.rows, gpus: w.gpus.size, energy: w.energy }));
  return { windows, ms: Date.now() - started };
}
