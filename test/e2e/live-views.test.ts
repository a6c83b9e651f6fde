/**
 * The live WebSocket views of one host, one GPU and one job, through the
 * built `kilowatch all` with the simulated fleet: a schema, a backfill from
 * the store, then a row per arriving window; a reconnecting client resumes
 * with `since` and gets the missed span; ids are checked, subscriptions are
 * bounded, and the fleet view sends at most 10 frames a second.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await kw?.stop('SIGKILL');
  kw = undefined;
});

async function open(url: string): Promise<{ ws: WebSocket; frames: { at: number; msg: any }[] }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/live`);
  sockets.push(ws);
  const frames: { at: number; msg: any }[] = [];
  ws.on('message', (d) => frames.push({ at: Date.now(), msg: JSON.parse(d.toString()) }));
  await new Promise((r) => ws.once('open', r));
  return { ws, frames };
}

const rowsOf = (frames: { msg: any }[], view: string, id: string) => frames.filter((f) => f.msg.type === 'rows' && f.msg.view === view && f.msg.id === id).map((f) => f.msg);

describe('live views', () => {
  it('stream a host, a GPU and a job with backfill, resume a reconnect, and bound what a client may ask', async () => {
    kw = await startKilowatch(['all', '--source', 'sim', '--hosts', '2', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('views')], /kilowatch: open http/);
    const api = kw.httpUrl!;
    const fleet = await eventually(async () => {
      const f = await getJson(`${api}/api/v1/fleet`);
      return f.hosts.length === 2 && f.hosts[0].gpus.length > 0 ? f : undefined;
    });
    const host = fleet.hosts.find((h: any) => h.host === 'sim-00');
    const gpu = host.gpus[0].id as string;
    const job = await eventually(async () => (await getJson(`${api}/api/v1/jobs`)).jobs.find((j: any) => j.end === undefined && j.hosts.some((h: any) => h.host === 'sim-00')));
    const t0 = Date.now();

    const { ws, frames } = await open(api);
    ws.send(JSON.stringify({ type: 'subscribe', view: 'gpu', id: `local/sim-00/${gpu}` }));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'host', id: 'local/sim-00' }));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'job', id: job.job }));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'gpu', id: 'local' })); // no host, no GPU
    ws.send(JSON.stringify({ type: 'subscribe', view: 'job', id: 'no-such-job' }));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'fleet' }));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'group', id: 'rack-0' })); // the demo site's first rack: sim-00 to sim-03
    ws.send(JSON.stringify({ type: 'subscribe', view: 'group', id: 'rack-9' }));
    await eventually(() => (['gpu', 'host', 'job'].every((v) => rowsOf(frames, v, v === 'gpu' ? `local/sim-00/${gpu}` : v === 'host' ? 'local/sim-00' : job.job).some((m) => !m.replace && m.columns[0].length > 0)) ? true : undefined), 15_000);

    const schema = frames.find((f) => f.msg.type === 'schema' && f.msg.view === 'gpu')!.msg;
    expect(schema.columns.map((c: any) => c.name)).toEqual(['ts', 'power_w', 'peak_w', 'util_pct', 'temp_c', 'sm_clock_mhz']);
    const gpuRows = rowsOf(frames, 'gpu', `local/sim-00/${gpu}`);
    expect(gpuRows[0].replace).toBe(true); // the backfill comes first
    const live = gpuRows.find((m) => !m.replace)!;
    expect(live.columns[0][0] % 1000).toBe(0); // a window's start
    expect(live.columns[1][0]).toBeGreaterThan(0);
    expect(live.columns[2][0]).toBeGreaterThanOrEqual(live.columns[1][0]);
    const jobRow = rowsOf(frames, 'job', job.job).find((m) => !m.replace)!;
    expect(jobRow.columns[1][0]).toBeGreaterThan(0);
    const errors = frames.filter((f) => f.msg.type === 'error').map((f) => f.msg.reason);
    expect(errors).toEqual(expect.arrayContaining(['gpu view needs an id: site/host/gpu', 'no job "no-such-job"', 'no group "rack-9" in the site file']));
    // The rack's bucket sums its two reporting hosts (sim-00, sim-01) as they arrive.
    const rack = await eventually(() => rowsOf(frames, 'group', 'rack-0').filter((m) => !m.replace).find((m) => m.columns[3].some((n: number) => n === 2)));
    const i = rack.columns[3].indexOf(2);
    expect(rack.columns[1][i]).toBeGreaterThan(0);
    expect(rack.columns[2][i]).toBeGreaterThanOrEqual(rack.columns[1][i]);

    // At most 10 fleet frames a second (the 100 ms tick), whatever the window rate.
    const before = frames.length;
    await new Promise((r) => setTimeout(r, 3000));
    const fleetFrames = frames.slice(before).filter((f) => f.msg.view === 'fleet' && f.msg.type === 'data');
    expect(fleetFrames.length).toBeGreaterThan(0);
    expect(fleetFrames.length).toBeLessThanOrEqual(31);

    // A reconnecting client resumes with `since`: the backfill covers the span it missed, from the store.
    ws.terminate();
    await new Promise((r) => setTimeout(r, 2000));
    const again = await open(api);
    again.ws.send(JSON.stringify({ type: 'subscribe', view: 'host', id: 'local/sim-00', since: t0 }));
    const backfill = await eventually(() => rowsOf(again.frames, 'host', 'local/sim-00').find((m) => m.replace));
    const ts: number[] = backfill.columns[0];
    expect(ts[0]).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
    expect(ts.length).toBeGreaterThanOrEqual(4); // the seconds before and during the gap, stored
    for (let i = 0; i < 33; i++) again.ws.send(JSON.stringify({ type: 'subscribe', view: 'gpu', id: `local/sim-01/GPU-${i}` }));
    await eventually(() => (again.frames.some((f) => f.msg.type === 'error' && /at most 32 subscriptions/.test(f.msg.reason)) ? true : undefined));
  }, 60_000);
});
