/**
 * The energy ledger across a server crash: a collector with a disk spool
 * feeds a simulated fleet whose jobs keep running while the server is
 * killed (SIGKILL) and restarted. Afterwards the stored ledger must equal an
 * uninterrupted computation: per GPU, jobs + idle + unattributed is the
 * GPU's stored energy (nothing counted twice, nothing lost), and per job the
 * energy equals a replay of the stored windows and job events in time order.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { EnergyLedger } from '../../server/core/ledger.js';
import { freePort } from '../helpers/mosquitto.js';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const procs: KilowatchProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rows(file: string, sql: string) {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const c = await db.connect();
  const out = (await c.runAndReadAll(sql)).getRowObjectsJS();
  c.closeSync();
  db.closeSync();
  return out;
}

describe('ledger across a server SIGKILL', () => {
  it('keeps every job\'s energy as an uninterrupted run would, and conserves every GPU\'s', async () => {
    const dir = tempDir('ledger-restart');
    const data = join(dir, 'data');
    const [port, mqttPort] = [await freePort(), await freePort()];
    const server = () => startKilowatch(['server', '--port', String(port), '--mqtt-port', String(mqttPort), '--data-dir', data], /server ready at/);
    let srv = await server();
    procs.push(srv);
    const collector = await startKilowatch(
      ['collector', '--broker', `mqtt://127.0.0.1:${mqttPort}`, '--hosts', '4', '--gpus', '4', '--spool-dir', join(dir, 'spool'), '--ack-timeout-ms', '3000', '--shutdown-wait-ms', '8000'],
      /SIMULATED fleet/,
    );
    procs.push(collector);
    const running = await eventually(async () => {
      const page = await getJson(`http://127.0.0.1:${port}/api/v1/jobs`);
      // The seeded mix gives a GPU pair a job 3 times in 4: with 8 pairs, jobs run in every 5-minute epoch.
      return page.jobs.filter((j: any) => j.end === undefined && j.energy_j > 0).length >= 1 ? page : undefined;
    }, 20_000);
    await sleep(3000);
    await srv.stop('SIGKILL');
    await sleep(4000); // the collector spools what the dead server cannot take
    srv = await server();
    procs.push(srv);
    await sleep(6000);
    expect(await collector.stop('SIGINT')).toBe(0);
    expect(await srv.stop('SIGINT')).toBe(0);

    const file = join(data, 'kilowatch.duckdb');
    // Per GPU: the ledger holds exactly the stored energy.
    const perGpu = await rows(file, `SELECT w.host, w.gpu_id, w.e AS windows_j, l.e AS ledger_j FROM
      (SELECT host, gpu_id, sum(energy_j) AS e FROM gpu_windows GROUP BY ALL) w
      JOIN (SELECT host, gpu_id, sum(energy_j) AS e FROM energy_ledger GROUP BY ALL) l USING (host, gpu_id)`);
    expect(perGpu).toHaveLength(16);
    for (const g of perGpu) expect(Math.abs(Number(g.ledger_j) - Number(g.windows_j))).toBeLessThanOrEqual(1e-6 * Number(g.windows_j));

    // Per job: a replay of the stored windows and job events in time order.
    const events = await rows(file, 'SELECT site, host, job, event, ts_ms, gpus FROM job_events ORDER BY ts_ms');
    const windows = await rows(file, 'SELECT site, host, ts_ms, window_ms, gpu_id, energy_j, energy_from, util_mean_pct FROM gpu_windows ORDER BY ts_ms');
    const replay = new EnergyLedger({ idleUtilPct: 5 });
    for (const e of events) replay.jobEvent(e.site as string, e.host as string, { job: e.job as string, event: e.event as 'start' | 'end', ts: Number(e.ts_ms), gpus: JSON.parse(e.gpus as string) });
    const expected = new Map<string, number>();
    for (const w of windows) {
      if (w.energy_j === null) continue;
      const window = { v: 1 as const, boot_id: '', seq: 0, first_seq: 0, ts: Number(w.ts_ms), window_ms: Number(w.window_ms), gpus: [{ id: w.gpu_id as string, ...(w.util_mean_pct !== null && { util_pct: { min: 0, max: 100, mean: Number(w.util_mean_pct), last: 0, n: 1 } }) }] };
      for (const d of replay.window(w.site as string, w.host as string, window, [{ energy_j: Number(w.energy_j), from: w.energy_from as 'counter' }])) {
        if (d.category === 'job') expected.set(d.job, (expected.get(d.job) ?? 0) + d.energy_j);
      }
    }
    const stored = await rows(file, "SELECT job, sum(energy_j) AS e FROM energy_ledger WHERE category = 'job' GROUP BY job");
    expect(stored.length).toBeGreaterThanOrEqual(running.jobs.length);
    for (const s of stored) expect(Math.abs(Number(s.e) - expected.get(s.job as string)!)).toBeLessThanOrEqual(1e-6 * Number(s.e) + 1e-6);
    console.log(`[ledger restart] ${stored.length} jobs, ${perGpu.length} GPUs, ${windows.length} GPU windows; ledger = windows per GPU and = a time-ordered replay per job`);
  }, 90_000);
});
