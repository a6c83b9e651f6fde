import { mkdirSync, rmSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryLedger } from '../../../server/core/delivery.js';
import { DuckDbStore } from '../../../server/store/duckdb-store.js';
import { tempDir } from '../../helpers/kilowatch-process.js';
import { gpuWindow, meterWindow, stat } from '../../helpers/windows.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const key = (host = 'n1', bootId = 'b00t') => ({ site: 'dc', host, stream: 'gpu', bootId });

function store(maxPendingRows = 1000, ledger = new DeliveryLedger(), dataDir = tempDir('duckdb')) {
  dirs.push(dataDir);
  return new DuckDbStore({ dataDir, flushMs: 60_000, maxPendingRows, memoryLimit: '256MB', now: () => 1_764_000_010_000, hooks: ledger });
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
    expect(s.enqueue({ kind: 'gpu', key: key(), window: w, receivedAt: 1_764_000_001_000 })).toBe(true);
    expect(s.stats(1_764_000_001_500)).toMatchObject({ pending_rows: 2, lag_ms: 500 });
    await s.stop();
    const rows = await query(s.path, 'SELECT host, seq, gpu_id, power_mean_w, power_max_w, energy_mj, temp_max_c FROM gpu_windows ORDER BY gpu_id');
    expect(rows).toEqual([
      { host: 'n1', seq: 7n, gpu_id: 'GPU-aaaa', power_mean_w: 500, power_max_w: 520, energy_mj: 1_000_000, temp_max_c: null },
      { host: 'n1', seq: 7n, gpu_id: 'GPU-bbbb', power_mean_w: 400, power_max_w: 430, energy_mj: null, temp_max_c: null },
    ]);
  });

  it('appends meter windows (power signed) and job events in the same batch as GPU windows', async () => {
    const s = store();
    await s.start();
    const meterKey = { site: 'dc', host: 'n1', stream: 'meter/pv', bootId: 'b00t' };
    s.enqueue({ kind: 'gpu', key: key(), window: gpuWindow({ seq: 1 }), receivedAt: 1_764_000_001_000 });
    s.enqueue({ kind: 'meter', key: meterKey, meter: 'pv', window: meterWindow({ voltage_v: undefined }), receivedAt: 1_764_000_001_000 });
    await s.stop();
    const rows = await query(s.path, 'SELECT meter, seq, samples, power_mean_w, power_min_w, energy_import_wh, energy_export_wh, voltage_mean_v, pf_mean FROM meter_windows');
    expect(rows).toEqual([{ meter: 'pv', seq: 311n, samples: 2, power_mean_w: -2050.3, power_min_w: -2061, energy_import_wh: 18234410.5, energy_export_wh: 5120077, voltage_mean_v: null, pf_mean: 0.975 }]);
    expect(await query(s.path, 'SELECT count(*) AS n FROM gpu_windows')).toEqual([{ n: 2n }]);
    expect(s.stats(0)).toMatchObject({ written_rows: 3 });
  });

  it('bounds its buffer in rows and counts what it refused', async () => {
    const s = store(1000);
    await s.start();
    let accepted = 0;
    for (let i = 0; i < 600; i++) if (s.enqueue({ kind: 'gpu', key: key(), window: gpuWindow({ seq: i }), receivedAt: 0 })) accepted++;
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
    s.enqueue({ kind: 'gpu', key: key(), window: gpuWindow(), receivedAt: 0 });
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

  it('commits the delivery state with the windows, acknowledges only after, and reloads it', async () => {
    const ledger = new DeliveryLedger();
    const s = store(1000, ledger);
    await s.start();
    for (const seq of [0, 1, 3]) {
      expect(ledger.offer(key(), seq, 0, 0)).toBe('new');
      s.enqueue({ kind: 'gpu', key: key(), window: gpuWindow({ seq }), receivedAt: 0 });
    }
    expect(ledger.takeAcks(0)).toEqual([]);
    await s.flush();
    expect(ledger.takeAcks(0)[0]!.ack.acks[0]).toMatchObject({ watermark: 1, ranges: [[3, 3]] });
    await s.stop();

    const again = store(1000, new DeliveryLedger(), dirs.at(-1));
    await again.start();
    const rows = await again.loadDelivery(0);
    expect(rows).toEqual([{ ...key(), watermark: 1, ranges: [[3, 3]], rejected: 0, lost: 0, lostRanges: [], updatedMs: 1_764_000_010_000 }]);
    expect(await again.loadDelivery(1_764_000_010_001)).toEqual([]); // older than the spool age: pruned
    await again.stop();
  });

  it('acknowledges nothing from a batch that failed', async () => {
    const ledger = new DeliveryLedger();
    const s = store(1000, ledger);
    await s.start();
    const conn = (s as unknown as { conn: { run(sql: string): Promise<unknown> } }).conn;
    await conn.run('DROP TABLE delivery_streams'); // the state table is gone: the whole batch must fail
    ledger.offer(key(), 0, 0, 0);
    s.enqueue({ kind: 'gpu', key: key(), window: gpuWindow({ seq: 0 }), receivedAt: 0 });
    await s.flush();
    expect(s.stats(0)).toMatchObject({ written_rows: 0, pending_rows: 2, degraded: true });
    expect(ledger.takeAcks(0)).toEqual([]);
    await conn.run('ROLLBACK').catch(() => undefined);
    const [row] = (await (s as any).conn.runAndReadAll('SELECT count(*)::INT AS n FROM gpu_windows')).getRowObjectsJS();
    expect(row.n).toBe(0); // the windows of the failed batch were rolled back too
  });

  it('reopens a counter gap when its windows arrive in a later batch, so the job gets what it used and nothing is unattributed', async () => {
    const s = store();
    await s.start();
    const T = 1_764_000_000_000;
    // One GPU at 400 W with an exact counter; a job starts at 6 s. Windows 3-8 are held up in a spool.
    const at = (i: number) => gpuWindow({ seq: i, ts: T + i * 1000, host_power_w: undefined, gpus: [{ id: 'GPU-aaaa', power_w: stat(400), util_pct: stat(90), energy_mj: 1_000_000 + (i + 1) * 400_000 }] });
    s.enqueue({ kind: 'job', key: { ...key(), stream: 'job' }, event: { v: 1, boot_id: 'b00t', seq: 0, first_seq: 0, ts: T + 6000, event: 'start', job: 'j', gpus: ['GPU-aaaa'] }, receivedAt: T });
    for (const i of [0, 1, 2, 9, 10, 11]) s.enqueue({ kind: 'gpu', key: key(), window: at(i), receivedAt: T });
    await s.flush();
    const before = await s.ledger({ from: T, to: T + 3_600_000, byTime: false });
    expect(before.find((r) => r.category === 'unattributed')?.energy_j).toBeCloseTo(6 * 400, 6); // the gap, 3 s-9 s: the job started inside it
    for (const i of [8, 3, 5, 4, 7, 6]) s.enqueue({ kind: 'gpu', key: key(), window: at(i), receivedAt: T });
    await s.flush();
    const after = await s.ledger({ from: T, to: T + 3_600_000, byTime: false });
    const energy = (category: string) => after.filter((r) => r.category === category).reduce((a, r) => a + r.energy_j, 0);
    expect(energy('job')).toBeCloseTo(6 * 400, 6); // 6 s to 12 s
    expect(energy('idle')).toBeCloseTo(6 * 400, 6); // the first window's 400 J by its mean, then 1 s-6 s
    expect(energy('unattributed')).toBeCloseTo(0, 6);
    expect(after.find((r) => r.category === 'job')!.gpu_ms).toBe(6000);
    expect(s.stats(T).ledger).toMatchObject({ gaps_reopened: 6, late_covered: 0, late_unplaced: 0, open_gaps: 0 });
    await s.stop();
  });
});
