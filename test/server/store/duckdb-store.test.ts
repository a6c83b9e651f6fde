import { mkdirSync, rmSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../../server/store/duckdb-store.js';
import { tempDir } from '../../helpers/kilowatch-process.js';
import { gpuWindow } from '../../helpers/windows.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(maxPendingRows = 1000) {
  const dataDir = tempDir('duckdb');
  dirs.push(dataDir);
  return new DuckDbStore({ dataDir, flushMs: 60_000, maxPendingRows, memoryLimit: '256MB', now: () => 1_764_000_010_000 });
}

async function query(path: string, sql: string) {
  const db = await DuckDBInstance.create(path);
  const conn = await db.connect();
  const rows = (await conn.runAndReadAll(sql)).getRowObjectsJS();
  conn.closeSync();
  db.closeSync();
  return rows;
}

describe('DuckDB store (a real file)', () => {
  it('appends one row per GPU per window, absent values as NULL', async () => {
    const s = store();
    await s.start();
    const w = gpuWindow({ seq: 7 });
    delete w.gpus[1]!.energy_mj;
    expect(s.enqueue({ site: 'dc', host: 'n1', window: w, receivedAt: 1_764_000_001_000 })).toBe(true);
    expect(s.stats(1_764_000_001_500)).toMatchObject({ pending_rows: 2, lag_ms: 500 });
    await s.stop();
    const rows = await query(s.path, 'SELECT host, seq, gpu_id, power_mean_w, power_max_w, energy_mj, temp_max_c FROM gpu_windows ORDER BY gpu_id');
    expect(rows).toEqual([
      { host: 'n1', seq: 7n, gpu_id: 'GPU-aaaa', power_mean_w: 500, power_max_w: 520, energy_mj: 1_000_000, temp_max_c: null },
      { host: 'n1', seq: 7n, gpu_id: 'GPU-bbbb', power_mean_w: 400, power_max_w: 430, energy_mj: null, temp_max_c: null },
    ]);
  });

  it('bounds its buffer in rows and counts what it refused', async () => {
    const s = store(1000);
    await s.start();
    let accepted = 0;
    for (let i = 0; i < 600; i++) if (s.enqueue({ site: 'dc', host: 'n1', window: gpuWindow({ seq: i }), receivedAt: 0 })) accepted++;
    expect(accepted).toBe(500);
    expect(s.stats(0)).toMatchObject({ pending_rows: 1000, dropped_rows: 200 });
    await s.flush();
    expect(s.stats(0)).toMatchObject({ pending_rows: 0, written_rows: 1000, dropped_rows: 200, degraded: false });
    await s.stop();
  });

  it('keeps a failed batch in the buffer, reports it, and writes it once the store works again', async () => {
    const s = store();
    await s.start();
    const conn = (s as unknown as { conn: { run(sql: string): Promise<unknown> } }).conn;
    await conn.run('ALTER TABLE gpu_windows RENAME TO gpu_windows_away'); // the append target disappears
    s.enqueue({ site: 'dc', host: 'n1', window: gpuWindow(), receivedAt: 0 });
    await s.flush();
    expect(s.stats(0)).toMatchObject({ pending_rows: 2, written_rows: 0, degraded: true });
    expect(s.stats(0).last_error).toMatch(/gpu_windows/);
    await conn.run('ALTER TABLE gpu_windows_away RENAME TO gpu_windows');
    await s.flush();
    expect(s.stats(0)).toMatchObject({ pending_rows: 0, written_rows: 2, degraded: false, last_error: null });
    await s.stop();
    expect(await query(s.path, 'SELECT count(*)::INT AS n FROM gpu_windows')).toEqual([{ n: 2 }]);
  });

  it('says which file it cannot open', async () => {
    const s = store();
    mkdirSync(s.path, { recursive: true }); // a directory where the database file should be
    await expect(s.start()).rejects.toThrow(`cannot open the DuckDB file ${s.path}`);
  });
});
