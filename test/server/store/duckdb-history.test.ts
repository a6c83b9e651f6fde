/**
 * DuckDB specifics behind the history contract: a late window reopens its
 * rollup minute, retention drops whole days, and the schema of an older
 * file is migrated (a newer one is refused).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryLedger } from '../../../server/core/delivery.js';
import { querySeries } from '../../../server/store/series-query.js';
import { DuckDbStore } from '../../../server/store/duckdb-store.js';
import { GPU_WINDOWS_DDL } from '../../../server/store/duckdb-tables.js';
import { SCHEMA_VERSION } from '../../../server/store/duckdb-schema.js';
import { tempDir } from '../../helpers/kilowatch-process.js';
import { gpuWindow } from '../../helpers/windows.js';

const DAY = 86_400_000;
const T0 = 1_764_000_000_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(now: () => number, dataDir = tempDir('duck-hist')) {
  dirs.push(dataDir);
  return new DuckDbStore({ dataDir, flushMs: 60_000, maxPendingRows: 10_000, memoryLimit: '256MB', now, hooks: new DeliveryLedger() });
}

const key = { site: 'dc', host: 'n1', stream: 'gpu', bootId: 'b00t' };
const at = (ts: number, seq: number, watts: number) => gpuWindow({ ts, seq, gpus: [{ id: 'G', power_w: { min: watts, max: watts, mean: watts, last: watts, n: 1 } }] });

async function sql(path: string, q: string) {
  const db = await DuckDBInstance.create(path);
  const c = await db.connect();
  const rows = (await c.runAndReadAll(q)).getRowObjectsJS();
  c.closeSync();
  db.closeSync();
  return rows;
}

describe('DuckDB history', () => {
  it('reopens a rollup minute for a late window', async () => {
    const s = store(() => T0 + 3_600_000);
    await s.start();
    s.enqueue({ kind: 'gpu', key, window: at(T0, 0, 100), receivedAt: T0 });
    s.enqueue({ kind: 'gpu', key, window: at(T0 + 60_000, 2, 300), receivedAt: T0 });
    await s.flush();
    const q = { target: { kind: 'gpu' as const, site: 'dc', host: 'n1', gpu: 'G' }, metric: 'power_w' as const, agg: 'mean' as const, from: T0, to: T0 + 120_000, step: 60_000 };
    expect((await querySeries(s, q, T0)).values).toEqual([100, 300]);
    s.enqueue({ kind: 'gpu', key, window: at(T0 + 1000, 1, 200), receivedAt: T0 + 90_000 }); // late, from a spool
    await s.flush();
    const r = await querySeries(s, q, T0);
    expect(r.values).toEqual([150, 300]);
    expect(r.coverage).toEqual([2000 / 60_000, 1000 / 60_000]);
    await s.stop();
  });

  it('answers for minutes still open from raw windows, stores them once settled, and keeps them across a restart', async () => {
    let now = T0 + 30_000;
    const dir = tempDir('duck-open');
    const s = store(() => now, dir);
    await s.start();
    s.enqueue({ kind: 'gpu', key, window: at(T0, 0, 100), receivedAt: T0 });
    s.enqueue({ kind: 'gpu', key, window: at(T0 + 1000, 1, 300), receivedAt: T0 });
    await s.flush();
    const q = { target: { kind: 'gpu' as const, site: 'dc', host: 'n1', gpu: 'G' }, metric: 'power_w' as const, agg: 'mean' as const, from: T0, to: T0 + 60_000, step: 60_000 };
    expect((await querySeries(s, q, now)).values).toEqual([200]); // the minute is open: read from raw windows
    await s.stop();
    expect(await sql(s.path, 'SELECT count(*) AS n FROM gpu_rollup_1m')).toEqual([{ n: 0n }]);

    now = T0 + 10 * 60_000; // restarted after the minute settled: stored at start, from the raw windows
    const again = store(() => now, dir);
    await again.start();
    expect((await querySeries(again, q, now)).values).toEqual([200]);
    await again.stop();
    expect(await sql(s.path, 'SELECT count(*) AS n, sum(power_w_wsum) / sum(power_w_wms) AS mean FROM gpu_rollup_1m')).toEqual([{ n: 1n, mean: 200 }]);
  });

  it('drops raw windows after 7 days and rollups after 400, whole days at a time', async () => {
    let now = T0;
    const s = store(() => now);
    await s.start();
    s.enqueue({ kind: 'gpu', key, window: at(T0, 0, 100), receivedAt: T0 });
    await s.flush();
    now = T0 + 8 * DAY;
    await s.prune();
    await s.stop();
    expect(await sql(s.path, 'SELECT (SELECT count(*) FROM gpu_windows) AS raw, (SELECT count(*) FROM gpu_rollup_1m) AS rolled')).toEqual([{ raw: 0n, rolled: 1n }]);
  });

  it('migrates a file written before schema versioning, and refuses one from a newer kilowatch', async () => {
    const dir = tempDir('duck-migrate');
    const old = await DuckDBInstance.create(join(dir, 'kilowatch.duckdb'));
    const c = await old.connect();
    await c.run(GPU_WINDOWS_DDL);
    await c.run(`INSERT INTO gpu_windows (site, host, boot_id, seq, ts_ms, window_ms, gpu_id, received_ms) VALUES ('dc', 'n1', 'b', 0, ${T0}, 1000, 'G', ${T0})`);
    c.closeSync();
    old.closeSync();
    const s = store(() => T0, dir);
    await s.start();
    await s.stop();
    expect(await sql(s.path, 'SELECT max(version) AS v FROM schema_version')).toEqual([{ v: SCHEMA_VERSION }]);
    expect(await sql(s.path, 'SELECT gpu_id, energy_j FROM gpu_windows')).toEqual([{ gpu_id: 'G', energy_j: null }]);

    const newer = await DuckDBInstance.create(s.path);
    const n = await newer.connect();
    await n.run(`INSERT INTO schema_version VALUES (${SCHEMA_VERSION + 1}, 0)`);
    n.closeSync();
    newer.closeSync();
    await expect(store(() => T0, dir).start()).rejects.toThrow(`schema version ${SCHEMA_VERSION + 1}, newer than this kilowatch understands`);
  });
});
