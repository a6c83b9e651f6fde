/**
 * Zigbee2MQTT discovery over every fixture in
 * ../shared/fixtures/meters/zigbee2mqtt (a fixture without a check fails),
 * then state messages for the devices it found. Expected values were read
 * from the file by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { byFriendlyName, discoverZigbeeDevices, parseZigbee2mqtt, zigbeeMeterInfo, type Z2mDevice } from '../../../collector/meters/parse-zigbee2mqtt.js';
import { ROOT } from '../../helpers/kilowatch-process.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';

const DIR = join(ROOT, '..', 'shared', 'fixtures', 'meters', 'zigbee2mqtt');
const PLUG_IEEE = '0x00158d0001db18f9';

function discover(text: string): Z2mDevice[] {
  const res = discoverZigbeeDevices(text);
  if (!res.ok) throw new Error(res.detail);
  return res.devices;
}

function checkBarbaris(file: string) {
  const text = readFileSync(join(DIR, file), 'utf8');
  // The dump prints the array as an object keyed "0".."20" with "16" missing: 20 devices.
  const devices = discover(text);
  expect(devices).toHaveLength(20);
  const meters = devices.filter((d) => d.meter);
  expect(meters.map((d) => [d.friendly_name, d.ieee, d.vendor, d.model])).toEqual([['Plug', PLUG_IEEE, 'Xiaomi', 'ZNCZ02LM']]);
  // power [W] and energy [kWh -> Wh]; the plug declares no voltage or current.
  expect([...meters[0]!.fields]).toEqual([
    ['power', { field: 'power_w', scale: 1 }],
    ['energy', { field: 'energy_import_wh', scale: 1000 }],
  ]);
  // Battery devices expose voltage in mV: never read as mains voltage, and not meters.
  const battery = devices.filter((d) => ['WXKG01LM', 'RTCGQ11LM', 'WSDCGQ11LM', 'MFKZQ01LM'].includes(d.model ?? ''));
  expect(battery.length).toBeGreaterThanOrEqual(4);
  for (const d of battery) expect([d.meter, d.fields.size]).toEqual([false, 0]);
  expect(zigbeeMeterInfo(meters[0]!)).toEqual({ id: PLUG_IEEE, kind: 'zigbee2mqtt', name: 'Plug (Xiaomi ZNCZ02LM)', supports: { energy_counter: true, instant_power: true } });

  // The wire format is an array: the same result.
  const asArray = JSON.stringify(Object.values(JSON.parse(text) as object));
  expect(discover(asArray)).toEqual(devices);

  const byName = byFriendlyName(devices);
  // The plug's state: energy kWh -> Wh; voltage is not declared by its exposes, so it is dropped.
  const state = '{"consumption":1.89,"energy":1.89,"power":37.41,"state":"ON","voltage":229,"temperature":31,"linkquality":120}';
  expect(parseZigbee2mqtt('zigbee2mqtt/Plug', state, byName)).toEqual({ ok: true, readings: [{ meter: PLUG_IEEE, power_w: 37.41, energy_import_wh: 1890 }] });
  expect(parseZigbee2mqtt('zigbee2mqtt/Office Desk Switch', '{"battery":100,"voltage":3005,"linkquality":60}', byName)).toMatchObject({ ok: false, reason: 'unmetered' });
  expect(parseZigbee2mqtt('zigbee2mqtt/Plug/availability', '{"state":"online"}', byName)).toEqual({ ok: true, readings: [] });
}

const CHECKS: Record<string, (file: string) => void> = {
  'barbaris-smart-home__zigbee2mqtt-bridge-devices__z2m-1.33.2__incl-xiaomi-plug-exposes.json': checkBarbaris,
};

describeFixtures('zigbee2mqtt discovery over the captured fixtures', DIR, Object.fromEntries(Object.entries(CHECKS).map(([file, check]) => [file, () => check(file)])));

describe('zigbee2mqtt edge cases', () => {
  const meterDevice = JSON.stringify([
    {
      ieee_address: '0xa4c1380000000001',
      friendly_name: 'rack/3/din-meter',
      definition: {
        model: 'TS011F',
        vendor: 'TuYa',
        exposes: [
          { type: 'switch', features: [{ property: 'state', type: 'binary' }] },
          { type: 'composite', property: 'meter', features: [{ property: 'power', unit: 'W' }, { property: 'voltage', unit: 'V' }, { property: 'current', unit: 'A' }] },
          { property: 'energy', unit: 'kWh' },
          { property: 'produced_energy', unit: 'kWh' },
        ],
      },
    },
  ]);
  const devices = byFriendlyName(discover(meterDevice));

  it('finds nested features and reads V and A only when declared, with negative (export) power', () => {
    const state = '{"power":-640.5,"voltage":231.2,"current":2.8,"energy":12.5,"produced_energy":3.25,"state":"ON"}';
    expect(parseZigbee2mqtt('zigbee2mqtt/rack/3/din-meter', state, devices)).toEqual({
      ok: true,
      readings: [{ meter: '0xa4c1380000000001', power_w: -640.5, voltage_v: 231.2, current_a: 2.8, energy_import_wh: 12500, energy_export_wh: 3250 }],
    });
  });

  it('rejects malformed JSON and NaN, and names unknown devices', () => {
    expect(discoverZigbeeDevices('[{"ieee_address":')).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseZigbee2mqtt('zigbee2mqtt/rack/3/din-meter', '{"power":', devices)).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseZigbee2mqtt('zigbee2mqtt/rack/3/din-meter', '{"power":"NaN"}', devices)).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseZigbee2mqtt('zigbee2mqtt/nobody', '{"power":1}', devices)).toMatchObject({ ok: false, reason: 'unknown_topic' });
    expect(parseZigbee2mqtt('tele/x/SENSOR', '{}', devices)).toMatchObject({ ok: false, reason: 'unknown_topic' });
    expect(parseZigbee2mqtt('zigbee2mqtt/bridge/state', '{"state":"online"}', devices)).toEqual({ ok: true, readings: [] });
  });

  it('reports nothing for a state-only message', () => {
    expect(parseZigbee2mqtt('zigbee2mqtt/rack/3/din-meter', '{"state":"OFF"}', devices)).toEqual({ ok: true, readings: [] });
  });
});
