/**
 * Live power meters end to end: `kilowatch all --source none --meters ...`
 * listens on the embedded broker (the site broker here) for Tasmota, Shelly,
 * Zigbee2MQTT and generic JSON meters. Their payloads are the shared
 * fixtures' own, published as the devices would. Each meter becomes its own
 * acknowledged stream: the fleet shows it, DuckDB stores it, the spools drain,
 * and bad messages are counted in the collector's health line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, ROOT, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const METERS = join(ROOT, '..', 'shared', 'fixtures', 'meters');
const TASMOTA = readFileSync(join(METERS, 'tasmota', 'tasmota-docs__Sonoff-Pow-R2__tele-pow1-SENSOR__console-format.txt'), 'utf8').split(' = ')[1]!.trim();
const Z2M_DEVICES = readFileSync(join(METERS, 'zigbee2mqtt', 'barbaris-smart-home__zigbee2mqtt-bridge-devices__z2m-1.33.2__incl-xiaomi-plug-exposes.json'), 'utf8');
const PRO3EM = JSON.parse(readFileSync(join(METERS, 'shelly', 'aioshelly-fixture__gen2_Shelly_Pro_3EM_SPEM-003CEBEU_20231219-134001-1.1.0-g34b5d4f.json'), 'utf8')).status;

let kw: KilowatchProcess | undefined;
afterAll(async () => void (await kw?.stop('SIGKILL')));

describe('kilowatch all --source none --meters', () => {
  it('turns vendor meter messages into acknowledged, stored meter streams', async () => {
    const dir = tempDir('meters-e2e');
    const map = join(dir, 'meters.json');
    writeFileSync(map, JSON.stringify([{ topic: 'inverter/+/state', meter: 'pv-$1', fields: { power_w: { path: 'ac.power', sign: -1 }, energy_export_wh: { path: 'ac.yield_kwh', scale: 1000 } } }]));
    kw = await startKilowatch(
      ['all', '--source', 'none', '--meters', 'tasmota,shelly,zigbee2mqtt,mqtt-json', '--meter-map', map, '--meter-window-ms', '1000',
        '--host-id', 'meter-gw', '--port', '0', '--mqtt-port', '0', '--data-dir', join(dir, 'data'), '--health-log-s', '1'],
      /kilowatch: open http/,
    );
    if (process.env.KW_SLEEP) await new Promise((r) => setTimeout(r, Number(process.env.KW_SLEEP)));
    const site = await mqtt.connectAsync(kw.brokerUrl!);
    // Devices report periodically, so the loop republishes until every meter shows. Not retained: Aedes 1.2 can
    // drop a retained QoS 0 message that a later message overtakes (README, "Checked behaviours").
    const messages: [string, string][] = [
      ['zigbee2mqtt/bridge/devices', Z2M_DEVICES],
      ['tele/pow1/SENSOR', TASMOTA],
      ['shellypro3em-c8f09e8a1b2c/status/em:0', JSON.stringify(PRO3EM['em:0'])],
      ['inverter/roof/state', '{"ac": {"power": 2050.5, "yield_kwh": 5120.077}}'],
      ['zigbee2mqtt/Plug', '{"energy":1.89,"power":37.41,"state":"ON"}'],
    ];
    await site.publishAsync('tele/broken/SENSOR', '{"ENERGY": {"Power": ');
    const fleet = await eventually(async () => {
      for (const [topic, payload] of messages) await site.publishAsync(topic, payload);
      const f = await getJson(`${kw!.httpUrl}/api/v1/fleet`);
      return f.hosts[0]?.meters.filter((m: any) => m.power_w).length === 4 ? f : undefined;
    }, 20_000, 500);
    await site.endAsync();
    const host = fleet.hosts[0];
    expect([host.host, host.gpus, host.sources]).toEqual(['meter-gw', [], ['tasmota', 'shelly', 'zigbee2mqtt', 'mqtt-json']]);
    const byId = Object.fromEntries(host.meters.map((m: any) => [m.id, m]));
    expect(Object.keys(byId).sort()).toEqual(['0x00158d0001db18f9', 'pow1', 'pv-roof', 'shellypro3em-c8f09e8a1b2c:em:0']);
    expect(byId.pow1).toMatchObject({ kind: 'tasmota', power_w: { last: 2635 }, energy_import_wh: 6294, voltage_v: { last: 227 }, pf: { last: 0.99 } });
    expect(byId['0x00158d0001db18f9']).toMatchObject({ kind: 'zigbee2mqtt', name: 'Plug (Xiaomi ZNCZ02LM)', power_w: { last: 37.41 }, energy_import_wh: 1890 });
    expect(byId['shellypro3em-c8f09e8a1b2c:em:0']).toMatchObject({ kind: 'shelly', power_w: { last: 558.965 } });
    expect(byId['pv-roof']).toMatchObject({ kind: 'mqtt-json', power_w: { last: -2050.5 }, energy_export_wh: 5120077 });

    // Every meter stream is acknowledged: the next health line shows nothing left in any meter spool.
    await eventually(() => {
      const lines = kw!.output().split('\n').filter((l) => l.startsWith('collector health: '));
      const last = lines.length ? JSON.parse(lines.at(-1)!.slice('collector health: '.length)) : {};
      const meterStreams = Object.keys(last).filter((k) => k.startsWith('meter/') && k.endsWith('_produced'));
      return meterStreams.length === 4 && meterStreams.every((k) => last[k.replace('_produced', '_spooled')] === 0) ? last : undefined;
    });
    expect(await kw.stop('SIGINT')).toBe(0);
    const health = JSON.parse(kw.output().split('\n').filter((l) => l.startsWith('collector health: ')).at(-1)!.slice('collector health: '.length));
    expect(health).toMatchObject({ meter_rejected_invalid_json: 1, meter_invalid_windows: 0, meters_known: 4 });
    expect(kw.output()).toContain('collector meters: tasmota message dropped (invalid_json)');

    const db = await DuckDBInstance.create(join(dir, 'data', 'kilowatch.duckdb'));
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll('SELECT meter, max(power_last_w) AS p, count(DISTINCT seq) = count(*) AS unique_seqs FROM meter_windows GROUP BY meter ORDER BY meter')).getRowObjectsJS();
    conn.closeSync();
    db.closeSync();
    expect(rows.map((r) => [r.meter, r.p, r.unique_seqs])).toEqual([
      ['0x00158d0001db18f9', 37.41, true], ['pow1', 2635, true], ['pv-roof', -2050.5, true], ['shellypro3em-c8f09e8a1b2c:em:0', 558.965, true],
    ]);
  }, 60_000);
});
