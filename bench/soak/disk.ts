/**
 * The small data disk of the disk-full fault: a tmpfs in a private mount
 * namespace (`unshare -rm`, which needs no privilege where user namespaces
 * are allowed). The soak re-executes itself inside one, so every process it
 * starts sees the mount; there is no network namespace, so loopback is the
 * host's. Filling it is a file that eats every free byte; freeing it is
 * removing the file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import { join } from 'node:path';

const MARK = 'KW_SOAK_NAMESPACE';

export function insideNamespace(): boolean {
  return process.env[MARK] === '1';
}

/**
 * Outside the namespace: runs this same script again inside a new one and
 * resolves with its exit code. Fails loudly when `unshare -rm` cannot run
 * here: the disk-full fault needs it, and a soak never skips a fault silently.
 */
export async function reexecInNamespace(): Promise<number> {
  const probe = spawnSync('unshare', ['-rm', 'true'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : (probe.stderr || `exit ${probe.status}`).trim();
    throw new Error(
      `unshare -rm is not available here (${why}). The soak runs the server's data dir on a small tmpfs in a private mount namespace, ` +
      'for the disk-full fault; it needs user and mount namespaces (util-linux unshare, kernel.unprivileged_userns_clone=1 or root).',
    );
  }
  const child = spawn('unshare', ['-rm', process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, [MARK]: '1' } });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((res) => child.once('exit', (code, signal) => res(code ?? (signal ? 128 : 1))));
}

/** Inside the namespace: a tmpfs of `mb` MiB on `dir`. */
export function mountTmpfs(dir: string, mb: number): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`mount -t tmpfs on ${dir} failed: ${r.error?.message ?? r.stderr.trim()}`);
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

const FILLER = 'soak-filler';

/** Writes zeros until the disk refuses (ENOSPC); resolves with the bytes written. */
export async function fillDisk(dir: string): Promise<number> {
  const f = await open(join(dir, FILLER), 'w');
  const chunk = Buffer.alloc(1 << 20);
  let written = 0;
  try {
    for (;;) {
      const { bytesWritten } = await f.write(chunk, 0, chunk.length);
      written += bytesWritten;
      if (bytesWritten < chunk.length) break;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await f.close().catch(() => undefined);
  }
  // A write of less than a chunk may fit in what is left: the last few KiB too.
  const small = await open(join(dir, `${FILLER}-tail`), 'w');
  try {
    for (;;) written += (await small.write(Buffer.alloc(4096))).bytesWritten;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await small.close().catch(() => undefined);
  }
  return written;
}

export async function freeDisk(dir: string): Promise<void> {
  await rm(join(dir, FILLER), { force: true });
  await rm(join(dir, `${FILLER}-tail`), { force: true });
}
