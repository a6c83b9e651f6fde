/**
 * End to end through the real command: `kilowatch all` on ephemeral ports
 * (embedded Aedes, DuckDB file, the simulated fleet), seen through the HTTP
 * API and the live WebSocket, then fed malformed messages over MQTT.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage } from '../../protocol/ws.js';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { gpuWindow, windowWithRawPower } from '../helpers/windows.js';

let kw: KilowatchProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir('e2e');
  kw = await startKilowatch(['all', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir], /kilowatch: open http/);
});

afterAll(async () => {
  await kw?.stop();
});

describe('kilowatch all', () => {
  it('lists 8 simulated hosts with 64 GPUs and non-zero power', async () => {
    const fleet = await eventually(async () => {
      const f = await getJson(`${kw.httpUrl}/api/v1/fleet`);
      const withPower = f.hosts.flatMap((h: any) => h.gpus).filter((g: any) => g.power_w?.mean > 0);
      return withPower.length === 64 ? f : undefined;
    });
    expect(fleet.simulated).toBe(true);
    expect(fleet.hosts).toHaveLength(8);
    expect(fleet.hosts.map((h: any) => h.host)).toEqual(['sim-00', 'sim-01', 'sim-02', 'sim-03', 'sim-04', 'sim-05', 'sim-06', 'sim-07']);
    const gpus = fleet.hosts.flatMap((h: any) => h.gpus);
    expect(new Set(gpus.map((g: any) => g.id)).size).toBe(64);
    for (const g of gpus) expect(g.id).toMatch(/^GPU-[0-9a-f-]{36}$/);
    expect(fleet.summary.power_w).toBeGreaterThan(0);
    expect(fleet.hosts.every((h: any) => h.state === 'online' && h.sources.includes('sim'))).toBe(true);
  });

  it('answers history queries from the store: fleet power, a GPU, energy, and a bad query with its reasons', async () => {
    let from = 0;
    const fleet = await eventually(async () => {
      const to = Date.now();
      from = to - 20_000;
      const r = await getJson(`${kw.httpUrl}/api/v1/series?target=fleet&from=${from}&to=${to}&step=1s`);
      return r.values.filter((v: number | null) => v !== null && v > 0).length >= 3 ? r : undefined;
    });
    expect([fleet.unit, fleet.bound, fleet.members]).toEqual(['W', null, 64]);
    expect(fleet.t.length).toBeGreaterThanOrEqual(20); // from is aligned down to the step
    expect(Math.max(...fleet.coverage)).toBe(1);
    const live = await getJson(`${kw.httpUrl}/api/v1/fleet`);
    const gpu = live.hosts[0].gpus[0];
    const one = await getJson(`${kw.httpUrl}/api/v1/series?target=gpu&site=${live.hosts[0].site}&host=${live.hosts[0].host}&gpu=${gpu.id}&agg=max&from=${from}&to=${Date.now()}&step=1s`);
    expect(one.members).toBe(1);
    expect(one.values.some((v: number | null) => v !== null && v > 0 && v <= 5000)).toBe(true);
    const energy = await getJson(`${kw.httpUrl}/api/v1/series?target=group&site=${live.hosts[0].site}&agg=energy&from=${from}&to=${Date.now()}&step=10s`);
    expect(energy.unit).toBe('J');
    expect(energy.values.some((v: number | null) => v !== null && v > 0)).toBe(true);
    const bad = await fetch(`${kw.httpUrl}/api/v1/series?target=gpu&agg=median`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { problems: string[] }).problems).toContain('agg must be one of mean, max, min, last, energy');
    const tooMany = await fetch(`${kw.httpUrl}/api/v1/series?from=0&to=${Date.now()}&step=1s`);
    expect([tooMany.status, ((await tooMany.json()) as { problems: string[] }).problems[0]]).toEqual([400, expect.stringContaining('buckets asked for')]);
  });

  it('lists the simulated jobs with users, projects and energy from the ledger', async () => {
    const page = await eventually(async () => {
      const p = await getJson(`${kw.httpUrl}/api/v1/jobs?limit=500`);
      return p.jobs.some((j: any) => j.energy_j > 0) ? p : undefined;
    });
    expect(page.total).toBeGreaterThanOrEqual(8); // 8 hosts with 4 GPU pairs each, most of them running a job
    for (const j of page.jobs) {
      expect(j.job).toMatch(/^sim-\d+-\d+-\d$/);
      expect([typeof j.user, typeof j.project, j.gpus]).toEqual(['string', 'string', 2]);
    }
    const eff = await getJson(`${kw.httpUrl}/api/v1/efficiency?by=project`);
    expect(eff.rows.length).toBeGreaterThan(0);
    expect(eff.rows.every((r: any) => r.kwh >= 0 && r.method !== undefined)).toBe(true);
  });

  it('runs the demo site: rack meters with overhead, a grid and a fuel cell, and priced jobs', async () => {
    expect(kw.output()).toContain('using the demo site file');
    // Meter windows are 10 s long: the first ones close 10 s after the start.
    const facility = await eventually(async () => {
      const f = await getJson(`${kw.httpUrl}/api/v1/facility`);
      return f.groups?.every((g: any) => g.meter_energy_j > 0) && f.by_source.grid.energy_j > 0 ? f : undefined;
    }, 30_000, 1000);
    expect(facility.groups.map((g: any) => [g.name, g.kind, g.hosts])).toEqual([['hall-1', 'row', 8], ['rack-0', 'rack', 4], ['rack-1', 'rack', 4]]);
    for (const g of facility.groups) expect(g.meter_to_gpu).toBeGreaterThan(1); // the racks' meters read host and cooling overhead on top
    expect(Object.keys(facility.by_source)).toEqual(['grid', 'fuel cell']);
    expect(facility.cost).toBeGreaterThan(0);
    expect(facility.carbon_g).toBeGreaterThan(0);
    const jobs = await getJson(`${kw.httpUrl}/api/v1/jobs?limit=500`);
    expect(jobs.currency).toBe('EUR');
    expect(jobs.jobs.some((j: any) => j.cost > 0 && j.carbon_g > 0)).toBe(true);
    // Efficiency rows are priced too: each project's cost is its jobs' energy per quarter hour at that quarter's mix.
    const from = Date.now() - 3_600_000;
    const eff = await getJson(`${kw.httpUrl}/api/v1/efficiency?by=project&from=${from}`);
    expect(eff.currency).toBe('EUR');
    expect(eff.rows.length).toBeGreaterThan(0);
    expect(eff.rows.every((r: any) => r.cost > 0 && r.carbon_g > 0)).toBe(true);
    // The price per kWh lies between the cheapest and dearest tariffs of the demo site (0.14-0.29 EUR, 0.18 for the fuel cell).
    for (const r of eff.rows) expect(r.cost / r.kwh).toBeGreaterThanOrEqual(0.14 - 1e-9), expect(r.cost / r.kwh).toBeLessThanOrEqual(0.29 + 1e-9);
  }, 40_000);

  it('streams the schema, the history, then live deltas over the WebSocket', async () => {
    const ws = new WebSocket(`${kw.httpUrl!.replace('http', 'ws')}/api/v1/live`);
    const messages: ServerMessage[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as ServerMessage));
    await new Promise((res, rej) => ws.once('open', res).once('error', rej));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'fleet' }));
    await eventually(() => (messages.some((m) => m.type === 'data' && !m.replace && m.columns[0]!.length > 0) ? true : undefined), 10_000);
    ws.close();

    expect(messages[0]).toMatchObject({ type: 'schema', view: 'fleet' });
    expect((messages[0] as any).columns.map((c: any) => c.name)).toEqual(['ts', 'power_w', 'peak_upper_w', 'coverage']);
    expect(messages[1]).toMatchObject({ type: 'data', replace: true });
    const delta = messages.find((m) => m.type === 'data' && !m.replace) as Extract<ServerMessage, { type: 'data' }>;
    const [ts, power, peak] = delta.columns;
    expect(ts!.every((t) => t % 1000 === 0)).toBe(true);
    expect(power!.every((p) => p > 0)).toBe(true);
    expect(peak!.every((p, i) => p >= power![i]!)).toBe(true);
    const summary = messages.find((m) => m.type === 'summary') as Extract<ServerMessage, { type: 'summary' }>;
    expect(summary.summary).toMatchObject({ hosts: 8, gpus: 64, simulated: true });
  });

  it('rejects malformed messages, counts them by reason in /api/v1/health, and keeps running', async () => {
    const client = await mqtt.connectAsync(kw.brokerUrl!, { clientId: 'e2e-bad-actor' });
    const T = 'kilowatch/v1/local/bad-host/gpu';
    const nowWindow = () => gpuWindow({ ts: Math.floor(Date.now() / 1000) * 1000 });
    const sends: [string, string | Buffer][] = [
      [T, '{"v":1,"seq":'], // invalid JSON
      ['kilowatch/v1/_reserved/bad-host/gpu', JSON.stringify(nowWindow())], // a wrong topic (reserved site)
      ['kilowatch/v1/local/bad%zzhost/gpu', JSON.stringify(nowWindow())], // a wrong topic (broken escape)
      [T, JSON.stringify({ ...nowWindow(), boot_id: undefined })], // a missing field
      [T, windowWithRawPower('mean', 'null')],
      [T, windowWithRawPower('mean', '"NaN"')],
      [T, windowWithRawPower('max', '1e999')],
      [T, windowWithRawPower('min', '-40')], // negative GPU power
      [T, Buffer.alloc(10 * 1024 * 1024, 0x20)], // a 10 MB payload
      [T, JSON.stringify(gpuWindow({ ts: Math.floor(Date.now() / 1000) * 1000 + 3_600_000 }))], // an hour ahead
    ];
    const before = await getJson(`${kw.httpUrl}/api/v1/health`);
    for (const [topic, payload] of sends) await client.publishAsync(topic, payload, { qos: 1 });
    await client.endAsync();

    const health = await eventually(async () => {
      const h = await getJson(`${kw.httpUrl}/api/v1/health`);
      return h.rejects.total - before.rejects.total >= sends.length ? h : undefined;
    });
    expect(health.rejects.by_reason).toEqual({
      invalid_json: 1, bad_topic: 2, missing_field: 1, not_a_number: 2, non_finite: 1, negative: 1, oversized: 1, future: 1,
    });
    expect(health.rejects.recent.map((r: any) => r.detail)).toContain('payload of 10485760 bytes exceeds 262144');
    expect(health.ingest.internal_errors).toBe(0);

    // Still alive and still ingesting the fleet.
    const windowsBefore = health.ingest.windows;
    await eventually(async () => ((await getJson(`${kw.httpUrl}/api/v1/health`)).ingest.windows > windowsBefore + 8 ? true : undefined));
    const fleet = await getJson(`${kw.httpUrl}/api/v1/fleet`);
    expect(fleet.hosts.filter((h: any) => h.host === 'bad-host')).toEqual([]);
  });

  it('stops in order on SIGINT and leaves the windows in the DuckDB file', async () => {
    const code = await kw.stop('SIGINT');
    expect(code).toBe(0);
    expect(kw.output()).toContain('kilowatch: stopped; store flushed');
    const db = await DuckDBInstance.create(`${dataDir}/kilowatch.duckdb`);
    const conn = await db.connect();
    const [row] = (await conn.runAndReadAll('SELECT count(DISTINCT host)::INT AS hosts, count(DISTINCT gpu_id)::INT AS gpus, count(*)::INT AS n FROM gpu_windows')).getRowObjectsJS();
    conn.closeSync();
    db.closeSync();
    expect(row).toMatchObject({ hosts: 8, gpus: 64 });
    expect(row!.n as number).toBeGreaterThanOrEqual(64 * 2);
  });
});
