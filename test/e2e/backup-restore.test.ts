/**
 * `kilowatch backup` while the server runs (through its admin socket) and
 * `kilowatch restore` once it is stopped, on real DuckDB files.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { SCHEMA_VERSION } from '../../server/store/duckdb-schema.js';
import { afterAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess | undefined;
afterAll(async () => void (await kw?.stop('SIGKILL')));

async function count(file: string, table: string): Promise<number> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const c = await db.connect();
  const n = Number((await c.runAndReadAll(`SELECT count(*) AS n FROM ${table}`)).getRowObjectsJS()[0]!.n);
  c.closeSync();
  db.closeSync();
  return n;
}

describe('backup and restore', () => {
  it('backs up a running server, refuses unsafe requests, and restores into a stopped one', async () => {
    const data = tempDir('bk-data');
    const backup = join(tempDir('bk'), 'monday');
    kw = await startKilowatch(['all', '--hosts', '2', '--gpus', '2', '--port', '0', '--mqtt-port', '0', '--data-dir', data], /kilowatch: open http/);
    await eventually(async () => ((await getJson(`${kw!.httpUrl}/api/v1/health`)).store.written_rows >= 20 ? true : undefined));

    const made = await runKilowatch(['backup', backup, '--data-dir', data]);
    expect(made.output).toMatch(/kilowatch: backup written to .*monday: \d+ bytes, .*gpu_windows \d+/);
    expect(made.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(backup, 'kilowatch-backup.json'), 'utf8'));
    expect(manifest).toMatchObject({ kilowatch_backup: 1, schema_version: SCHEMA_VERSION });
    expect(manifest.tables.gpu_windows).toBeGreaterThan(0); // written_rows also counts job events and work reports
    expect(await count(join(backup, 'kilowatch.duckdb'), 'gpu_windows')).toBe(manifest.tables.gpu_windows);

    const again = await runKilowatch(['backup', backup, '--data-dir', data]);
    expect([again.code, again.output]).toEqual([1, expect.stringContaining('already exists; back up into an empty directory')]);
    const noServer = await runKilowatch(['backup', join(backup, '..', 'x'), '--data-dir', tempDir('bk-none')]);
    expect([noServer.code, noServer.output]).toEqual([1, expect.stringContaining('no kilowatch server is running with --data-dir')]);
    const whileRunning = await runKilowatch(['restore', backup, '--data-dir', data]);
    expect([whileRunning.code, whileRunning.output]).toEqual([1, expect.stringContaining('stop it before restoring')]);

    expect(await kw.stop('SIGINT')).toBe(0);
    expect(existsSync(join(data, 'kilowatch.sock'))).toBe(false); // the socket goes with the server
    const restored = await runKilowatch(['restore', backup, '--data-dir', data]);
    expect(restored.code).toBe(0);
    expect(restored.output).toMatch(new RegExp(`restored the backup of .* \\(schema ${SCHEMA_VERSION}\\) into .*; the previous file is kept as .*kilowatch\\.duckdb\\.before-restore-\\d+`));
    expect(await count(join(data, 'kilowatch.duckdb'), 'gpu_windows')).toBe(manifest.tables.gpu_windows);
    expect(readdirSync(data).filter((f) => f.includes('before-restore'))).not.toHaveLength(0);

    // The restored file is a working store: keys and rollups carry on where the backup ended.
    kw = await startKilowatch(['all', '--hosts', '2', '--gpus', '2', '--port', '0', '--mqtt-port', '0', '--data-dir', data], /kilowatch: open http/);
    const health = await eventually(async () => {
      const h = await getJson(`${kw!.httpUrl}/api/v1/health`);
      return h.store.written_rows >= 8 ? h : undefined;
    });
    expect([health.status, health.store.last_error]).toEqual(['ok', null]);
  }, 60_000);
});
