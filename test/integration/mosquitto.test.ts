/**
 * A collector and a server as separate processes, talking through a real
 * Mosquitto (Debian's package) with the tuned docs/mosquitto.conf.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';

let broker: Mosquitto;
const procs: KilowatchProcess[] = [];

async function start(args: string[], ready: RegExp) {
  const p = await startKilowatch(args, ready);
  procs.push(p);
  return p;
}

const hostState = async (server: KilowatchProcess, host: string) =>
  ((await getJson(`${server.httpUrl}/api/v1/fleet`)).hosts as any[]).find((h) => h.host === host)?.state;

beforeAll(async () => {
  broker = await startMosquitto();
});

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop('SIGKILL');
  await broker?.stop();
});

describe('collector -> Mosquitto -> server', () => {
  let server: KilowatchProcess;

  it('delivers a 4 x 8 simulated fleet from a separate collector process', async () => {
    server = await start(['server', '--broker', broker.url, '--port', '0', '--data-dir', tempDir('mosq')], /server ready at/);
    await start(['collector', '--source', 'sim', '--hosts', '4', '--gpus', '8', '--broker', broker.url, '--site', 'dc1', '--host-name', 'node'], /SIMULATED fleet/);
    const fleet = await eventually(async () => {
      const f = await getJson(`${server.httpUrl}/api/v1/fleet`);
      return f.hosts.length === 4 && f.hosts.every((h: any) => h.gpus.length === 8 && h.power_w?.mean > 0) ? f : undefined;
    });
    console.log(`fleet through Mosquitto: ${fleet.hosts.length} hosts, ${fleet.summary.gpus} GPUs, ${Math.round(fleet.summary.power_w)} W`);
    expect(fleet.hosts.map((h: any) => `${h.site}/${h.host}`)).toEqual(['dc1/node-00', 'dc1/node-01', 'dc1/node-02', 'dc1/node-03']);
    expect(fleet.simulated).toBe(true);
    const health = await getJson(`${server.httpUrl}/api/v1/health`);
    expect(health.mqtt).toMatchObject({ embedded: false, connected: true, url: broker.url });
    expect(health.rejects.total).toBe(0);
  });

  it("turns a killed collector's Last Will into offline hosts", async () => {
    const doomed = await start(['collector', '--hosts', '2', '--gpus', '1', '--broker', broker.url, '--site', 'dc1', '--host-name', 'doomed'], /SIMULATED fleet/);
    await eventually(async () => ((await hostState(server, 'doomed-01')) === 'online' ? true : undefined));
    await doomed.stop('SIGKILL');
    await eventually(async () => ((await hostState(server, 'doomed-00')) === 'offline' && (await hostState(server, 'doomed-01')) === 'offline' ? true : undefined));
  });

  it('gives a restarted server the retained status and info at once', async () => {
    await server.stop('SIGINT');
    const again = await start(['server', '--broker', broker.url, '--port', '0', '--data-dir', tempDir('mosq2')], /server ready at/);
    // Retained status/info arrive on subscribe, before any new window.
    const fleet = await eventually(async () => {
      const f = await getJson(`${again.httpUrl}/api/v1/fleet`);
      return f.hosts.filter((h: any) => h.host.startsWith('node-') && h.state === 'online').length === 4 ? f : undefined;
    }, 5000, 50);
    const node0 = fleet.hosts.find((h: any) => h.host === 'node-00');
    expect(node0.gpus.every((g: any) => g.name === 'kilowatch simulated GPU (700 W)')).toBe(true);
    expect(fleet.hosts.filter((h: any) => h.host.startsWith('doomed-')).map((h: any) => h.state)).toEqual(['offline', 'offline']);
  });
});

describe('power meters on a Mosquitto site broker', () => {
  it('reads retained and live meter messages from the site broker, apart from the kilowatch broker', async () => {
    const site = await mqtt.connectAsync(broker.url);
    // Retained before kilowatch starts, as a Tasmota with `SensorRetain 1` leaves them.
    await site.publishAsync('tele/rack7-pdu/SENSOR', '{"ENERGY":{"Total":1523.25,"Power":4180,"Voltage":231,"Current":18.1,"Factor":0.98}}', { qos: 1, retain: true });
    const kw = await start(
      ['all', '--source', 'none', '--meters', 'tasmota', '--meter-broker', broker.url, '--meter-window-ms', '1000', '--host-id', 'pdu-gw',
        '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('mosq-meters')],
      /kilowatch: open http/,
    );
    const meter = await eventually(async () => {
      await site.publishAsync('tele/rack7-pdu/SENSOR', '{"ENERGY":{"Total":1523.26,"Power":4210,"Voltage":231,"Current":18.2,"Factor":0.98}}');
      const f = await getJson(`${kw.httpUrl}/api/v1/fleet`);
      return f.hosts.find((h: any) => h.host === 'pdu-gw')?.meters.find((m: any) => m.power_w);
    }, 15_000, 500);
    await site.publishAsync('tele/rack7-pdu/SENSOR', '', { qos: 1, retain: true }); // clear the retained message
    await site.endAsync();
    expect(meter).toMatchObject({ id: 'rack7-pdu', kind: 'tasmota', voltage_v: { last: 231 } });
    expect(meter.power_w.max).toBeGreaterThanOrEqual(4180);
    expect([1523250, 1523260]).toContain(meter.energy_import_wh);
    expect(kw.output()).toContain(`collector meters: listening on ${broker.url}`);
  });
});
