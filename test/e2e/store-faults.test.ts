/**
 * DuckDB problems through the real command: a data file locked by another
 * server or corrupt stops the start with a message that says what to do
 * (never an empty store in its place); a full disk turns the store degraded
 * while the collectors' spools keep every window, and once space returns
 * the store is reopened and the windows are written with no hole. The full
 * disk is a 16 MiB tmpfs in a private mount namespace (`unshare -rm`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FleetSummary, ServerMessage } from '../../protocol/ws.js';
import { BIN, ROOT, type KilowatchProcess, eventually, getJson, requireBuild, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const procs: KilowatchProcess[] = [];

/** The first fleet summary the live WebSocket sends. */
function liveSummary(url: string): Promise<FleetSummary> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', view: 'fleet' })));
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as ServerMessage;
      if (msg.type === 'summary') {
        ws.close();
        resolve(msg.summary);
      }
    });
    ws.on('error', reject);
  });
}
let namespaced: ChildProcess | undefined;
afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  namespaced?.kill('SIGKILL');
});

describe('DuckDB faults', () => {
  it('refuses a data dir whose file another server holds, naming the holder', async () => {
    const dir = tempDir('locked');
    const first = await startKilowatch(['server', '--port', '0', '--mqtt-port', '0', '--data-dir', dir], /server ready at/);
    procs.push(first);
    const second = await runKilowatch(['server', '--port', '0', '--mqtt-port', '0', '--data-dir', dir]);
    expect(second.code).toBe(1);
    expect(second.output).toMatch(new RegExp(`another process \\(PID ${first.child.pid}\\) holds it\\. Only one kilowatch server may use a data dir`));
    expect(second.output).not.toContain('    at '); // a message, not a stack trace
  });

  it('refuses a corrupt file and says how to recover', async () => {
    const dir = tempDir('corrupt');
    writeFileSync(join(dir, 'kilowatch.duckdb'), Buffer.alloc(16384, 0x5a));
    const r = await runKilowatch(['server', '--port', '0', '--mqtt-port', '0', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.output).toContain('it is corrupt or not a DuckDB database. Move it aside and start empty, or `kilowatch restore <backup dir>`');
  });

  it('turns degraded on a full disk, keeps every window in the spools, and writes them once space returns', async () => {
    requireBuild();
    const probe = spawnSync('unshare', ['-rm', 'true']);
    if (probe.status !== 0) throw new Error(`unshare -rm is not available here (${probe.stderr}); this test needs user and mount namespaces`);
    const control = tempDir('disk-full');
    const mnt = join(control, 'disk');
    mkdirSync(mnt);
    // In the namespace: a 16 MiB tmpfs as the data dir; "fill" and "free" files from the test eat and return its space.
    const script = `
      mount -t tmpfs -o size=16m tmpfs ${mnt} || exit 90
      ${process.execPath} ${BIN} all --port 0 --mqtt-port 0 --hosts 2 --gpus 4 --data-dir ${mnt}/data --health-log-s 1 &
      while [ ! -e ${control}/fill ]; do sleep 0.1; done
      dd if=/dev/zero of=${mnt}/filler bs=1M count=64 2>/dev/null; echo "disk filled"
      while [ ! -e ${control}/free ]; do sleep 0.1; done
      rm ${mnt}/filler; echo "disk freed"
      wait`;
    namespaced = spawn('unshare', ['-rm', 'sh', '-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    namespaced.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    namespaced.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const url = await eventually(() => /kilowatch: open (http:\/\/\S+)/.exec(out)?.[1], 20_000);
    const health = () => getJson(`${url}/api/v1/health`);
    await eventually(async () => ((await health()).ingest.windows > 5 ? true : undefined));

    writeFileSync(join(control, 'fill'), '');
    const during = await eventually(async () => {
      const h = await health();
      return h.store.degraded && /No space left/.test(h.store.last_error) ? h : undefined;
    }, 20_000);
    expect(during.status).toBe('degraded');
    // The live feed's summary carries the outage to the UI (the Overview shows it as an alert).
    const summary = await liveSummary(url.replace('http', 'ws') + '/api/v1/live');
    expect(summary.store).toEqual({ degraded: true, reason: expect.stringContaining('No space left') });
    const outageFrom = Date.now();
    await new Promise((r) => setTimeout(r, 3000));

    writeFileSync(join(control, 'free'), '');
    const after = await eventually(async () => {
      const h = await health();
      return !h.store.degraded && h.store.pending_rows === 0 && h.store.written_rows > during.store.written_rows ? h : undefined;
    }, 30_000);
    expect(after.store.reopens).toBeGreaterThanOrEqual(1);
    // Once a write succeeds the instance is trusted again: no further reopens (it once reopened before every flush).
    await new Promise((r) => setTimeout(r, 3000));
    const later = await health();
    expect(later.store.written_rows).toBeGreaterThan(after.store.written_rows);
    expect(later.store.reopens).toBe(after.store.reopens);
    expect(after.delivery.lost_windows).toBe(0);
    // No hole: every second of the outage is covered by stored windows of all 8 GPUs.
    const to = Math.floor(Date.now() / 1000) * 1000 - 2000;
    const series = await getJson(`${url}/api/v1/series?target=fleet&from=${outageFrom - 2000}&to=${to}&step=1s`);
    expect(series.members).toBe(8);
    expect(series.coverage.every((c: number) => c === 1)).toBe(true);
    expect(out).toContain('disk freed');
  }, 90_000);
});
