/** The soak's reading of a DuckDB file (bench/soak/store-read.ts), which the delivery fault tests read a stopped server's file with. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { duckdbFileWindows } from '../../bench/soak/store-read.js';
import { GPU_WINDOWS_DDL } from '../../server/store/duckdb-tables.js';

const dir = mkdtempSync(join(tmpdir(), 'kw-store-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading the GPU windows of a DuckDB file', () => {
  it('keys windows by (host, boot, seq), counts rows against distinct GPUs, and reads one site or all', async () => {
    const file = join(dir, 'kilowatch.duckdb');
    const db = await DuckDBInstance.create(file);
    const conn = await db.connect();
    await conn.run(GPU_WINDOWS_DDL);
    const row = (site: string, host: string, seq: number, gpu: string, energy: number) =>
      `('${site}', '${host}', 'b1', ${seq}, ${1000 * seq}, 1000, '${gpu}', ${energy}, 0)`;
    await conn.run(
      `INSERT INTO gpu_windows (site, host, boot_id, seq, ts_ms, window_ms, gpu_id, energy_mj, received_ms) VALUES ` +
        [row('s', 'h1', 1, 'a', 10), row('s', 'h1', 1, 'b', 20), row('s', 'h1', 2, 'a', 30), row('s', 'h1', 2, 'a', 30), row('t', 'h1', 1, 'a', 10)].join(', '),
    );
    conn.closeSync();
    db.closeSync();

    const bySite = (await duckdbFileWindows(file, 's')).sort((x, y) => x.id.localeCompare(y.id));
    expect(bySite).toEqual([
      { id: 'h1/b1/1', ts: 1000, rows: 2, gpus: 2, energy: 30 },
      { id: 'h1/b1/2', ts: 2000, rows: 2, gpus: 1, energy: 60 }, // stored twice
    ]);
    // Every site: the same window stored under a second site shows as stored twice.
    const all = await duckdbFileWindows(file);
    expect(all.find((w) => w.id === 'h1/b1/1')).toEqual({ id: 'h1/b1/1', ts: 1000, rows: 3, gpus: 2, energy: 40 });
  });
});
