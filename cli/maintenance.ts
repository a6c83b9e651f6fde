/**
 * `kilowatch backup <dir>` and `kilowatch restore <dir>`. A backup is taken
 * by the running server through its admin socket (only it may open the
 * DuckDB file); a restore needs the server stopped and puts the backup's
 * file in the data dir, setting the current one aside.
 */
import { resolve } from 'node:path';
import { adminRequest, adminSocketPath } from '../server/admin/admin-socket.js';
import { OperatorError } from '../server/operator-error.js';

/** Backups of large files take a while; the server answers when the copy is complete. */
const BACKUP_TIMEOUT_MS = 30 * 60_000;

export async function runBackup(dir: string, dataDir: string, log: (line: string) => void): Promise<number> {
  const socket = adminSocketPath(dataDir);
  let answer: Record<string, unknown>;
  try {
    answer = await adminRequest(socket, { cmd: 'backup', dir: resolve(dir) }, BACKUP_TIMEOUT_MS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ECONNREFUSED' ? `no kilowatch server is running with --data-dir ${dataDir}` : (err as Error).message;
    throw new OperatorError(`backup: ${why} (admin socket ${socket}). A stopped server's data dir can be copied as it is.`);
  }
  if (answer.ok !== true) throw new OperatorError(`backup failed: ${String(answer.error)}`);
  const tables = answer.tables as Record<string, number>;
  log(`kilowatch: backup written to ${resolve(dir)}: ${answer.bytes} bytes, ${Object.entries(tables).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  return 0;
}

export async function runRestore(dir: string, dataDir: string, log: (line: string) => void): Promise<number> {
  // Imported here: DuckDB is needed only by this command.
  const { restoreFrom } = await import('../server/store/duckdb-backup.js');
  const { manifest, setAside } = await restoreFrom(resolve(dir), dataDir, Date.now());
  log(`kilowatch: restored the backup of ${new Date(manifest.created_ms).toISOString()} (schema ${manifest.schema_version}) into ${resolve(dataDir)}` +
    (setAside ? `; the previous file is kept as ${setAside}` : ''));
  return 0;
}
