/**
 * Two collector promises, end to end through the real FFI path against the
 * NVML stand-in: a 200 ms spike to 1.5x the limit is the max of the stored
 * raw window, and one hung GPU does not stop the others' windows.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { buildNvmlStub } from '../helpers/nvml-stub.js';

let kw: KilowatchProcess | undefined;
afterEach(async () => {
  await kw?.stop('SIGKILL');
  kw = undefined;
});

const args = (dataDir: string) => ['all', '--source', 'nvml', '--host-id', 'stub-host', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir];

describe('NVML stand-in, end to end', () => {
  it('stores a 200 ms spike to 1.5x the limit as the max of its raw window', async () => {
    const stub = buildNvmlStub();
    const dataDir = tempDir('spike');
    // Aligned inside a window, away from its edges, a few seconds after start.
    const start = Math.floor(Date.now() / 1000) * 1000 + 4300;
    kw = await startKilowatch(args(dataDir), /kilowatch: open http/, 20_000, {
      LD_LIBRARY_PATH: stub.dir, KW_NVML_STUB_GPUS: '2', KW_NVML_STUB_SPIKE_MS: `${start}:200:1050:0`,
    });
    await new Promise((r) => setTimeout(r, start - Date.now() + 3000)); // the spike's window closes and is committed
    expect(await kw.stop('SIGINT')).toBe(0);
    const db = await DuckDBInstance.create(join(dataDir, 'kilowatch.duckdb'));
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll(
      `SELECT ts_ms::BIGINT AS ts, gpu_id, power_max_w, power_mean_w, samples FROM gpu_windows ORDER BY ts_ms, gpu_id`,
    )).getRowObjectsJS() as { ts: bigint; gpu_id: string; power_max_w: number; power_mean_w: number; samples: number }[];
    conn.closeSync();
    db.closeSync();
    const windowTs = BigInt(Math.floor(start / 1000) * 1000);
    const spiked = rows.filter((r) => r.ts === windowTs);
    console.log(`[spike] window ${windowTs}: ${JSON.stringify(spiked.map((r) => ({ gpu: r.gpu_id.slice(0, 12), max: r.power_max_w, mean: Math.round(r.power_mean_w), n: r.samples })))}`);
    expect(spiked).toHaveLength(2);
    expect(spiked[0]!.power_max_w === 1050 || spiked[1]!.power_max_w === 1050).toBe(true); // device 0 spiked (order by id)
    const other = spiked.find((r) => r.power_max_w !== 1050)!;
    expect(other.power_max_w).toBeLessThan(700);
    // The mean of the spiked window stays far below the spike: only the max keeps it.
    expect(spiked.find((r) => r.power_max_w === 1050)!.power_mean_w).toBeLessThan(1050 * 0.5);
  });

  it('keeps the other GPUs windows coming while one GPU hangs in a native call', async () => {
    const stub = buildNvmlStub();
    kw = await startKilowatch(args(tempDir('hang')), /kilowatch: open http/, 30_000, {
      LD_LIBRARY_PATH: stub.dir, KW_NVML_STUB_GPUS: '3', KW_NVML_STUB_HANG: '1',
    });
    // Two consecutive fleet reads a few seconds apart: the healthy GPUs' windows advance.
    const first = await eventually(async () => {
      const f = await getJson(`${kw!.httpUrl}/api/v1/fleet`);
      return f.hosts[0]?.last_window_ts ? f : undefined;
    });
    await new Promise((r) => setTimeout(r, 3000));
    const later = await getJson(`${kw.httpUrl}/api/v1/fleet`);
    expect(later.hosts[0].last_window_ts - first.hosts[0].last_window_ts).toBeGreaterThanOrEqual(2000);
    const withPower = later.hosts[0].gpus.filter((g: any) => g.power_w?.n >= 5);
    expect(withPower.length).toBe(2); // the hung one has no readings, the two others have full windows
    // A thread stuck in native code keeps Node from exiting: Ctrl-C stops everything, then ends by SIGKILL.
    await kw.stop('SIGINT');
    expect(kw.child.signalCode).toBe('SIGKILL');
    expect(kw.output()).toContain('an NVML call is still hung in a worker thread; ending the process with SIGKILL');
    expect(kw.output()).toContain('kilowatch: stopped; store flushed');
  });
});
