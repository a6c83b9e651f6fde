/**
 * Backups of the DuckDB file. Only the server may open the file while it
 * runs (DuckDB locks it, §8), so a backup is taken by the server itself,
 * asked through its admin socket: it attaches a new file in the target
 * directory and copies every table into it inside DuckDB (`COPY FROM
 * DATABASE`), which reads one consistent snapshot. A restore runs with the
 * server stopped: it checks the backup, sets the current file aside (never
 * deleting it) and puts the backup in its place.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { OperatorError } from '../operator-error.js';
import { SCHEMA_VERSION } from './duckdb-schema.js';

export const DATA_FILE = 'kilowatch.duckdb';
export const MANIFEST = 'kilowatch-backup.json';

export interface BackupManifest {
  kilowatch_backup: 1;
  created_ms: number;
  schema_version: number;
  source: string;
  /** Rows per table, as copied. */
  tables: Record<string, number>;
  bytes: number;
}

const quote = (path: string) => `'${path.replaceAll("'", "''")}'`;

/** Copies the open database into `<dir>/kilowatch.duckdb` and writes the manifest beside it. */
export async function backupInto(conn: DuckDBConnection, source: string, dir: string, now: number): Promise<BackupManifest> {
  mkdirSync(dir, { recursive: true });
  const target = join(dir, DATA_FILE);
  if (existsSync(target)) throw new OperatorError(`${target} already exists; back up into an empty directory`);
  await conn.run(`ATTACH ${quote(target)} AS kilowatch_backup`);
  try {
    // The open file's catalog is named after it ("kilowatch"), not "main".
    const current = (await conn.runAndReadAll('SELECT current_database() AS db')).getRowObjectsJS()[0]!.db as string;
    await conn.run(`COPY FROM DATABASE "${current.replaceAll('"', '""')}" TO kilowatch_backup`);
    const names = (await conn.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE database_name = 'kilowatch_backup' ORDER BY table_name")).getRowObjectsJS();
    const tables: Record<string, number> = {};
    for (const { table_name } of names) {
      const n = (await conn.runAndReadAll(`SELECT count(*) AS n FROM kilowatch_backup.main."${table_name as string}"`)).getRowObjectsJS();
      tables[table_name as string] = Number(n[0]!.n);
    }
    await conn.run('DETACH kilowatch_backup');
    const manifest: BackupManifest = { kilowatch_backup: 1, created_ms: now, schema_version: SCHEMA_VERSION, source, tables, bytes: statSync(target).size };
    writeFileSync(join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } catch (err) {
    await conn.run('DETACH kilowatch_backup').catch(() => undefined);
    throw err;
  }
}

/** Checks a backup directory and puts its file in the data dir; returns where the previous file went. */
export async function restoreFrom(dir: string, dataDir: string, now: number): Promise<{ manifest: BackupManifest; setAside?: string }> {
  const file = join(dir, DATA_FILE);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as BackupManifest;
  } catch (err) {
    throw new OperatorError(`${dir} is not a kilowatch backup: ${MANIFEST} cannot be read (${(err as Error).message})`);
  }
  if (manifest.kilowatch_backup !== 1 || !existsSync(file)) throw new OperatorError(`${dir} is not a complete kilowatch backup (no ${DATA_FILE})`);
  if (manifest.schema_version > SCHEMA_VERSION) throw new OperatorError(`the backup has schema version ${manifest.schema_version}, newer than this kilowatch understands (${SCHEMA_VERSION})`);
  // Open it once: a damaged copy is found now, not by the next server start.
  try {
    const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    db.closeSync();
  } catch (err) {
    throw new OperatorError(`the backup file ${file} cannot be opened: ${(err as Error).message.split('\n')[0]}`);
  }
  mkdirSync(dataDir, { recursive: true });
  const current = join(dataDir, DATA_FILE);
  let setAside: string | undefined;
  if (existsSync(current)) {
    // A running server holds the file: restoring under it would be lost or corrupt it.
    try {
      (await DuckDBInstance.create(current, { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' })).closeSync();
    } catch (err) {
      const msg = (err as Error).message.split('\n')[0] ?? '';
      if (/lock/i.test(msg)) throw new OperatorError(`a kilowatch server is using ${current}; stop it before restoring (${msg})`);
    }
    setAside = `${current}.before-restore-${now}`;
    renameSync(current, setAside);
    if (existsSync(`${current}.wal`)) renameSync(`${current}.wal`, `${setAside}.wal`);
  }
  copyFileSync(file, current);
  return setAside ? { manifest, setAside } : { manifest };
}
