/**
 * The router picks the vendor parser by topic, learns the inventory from
 * what meters send (and from Zigbee2MQTT's device list), and bounds it.
 * Payloads are the shared fixtures' own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MeterRouter, type MeterRouterConfig } from '../../../collector/meters/meter-router.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

const METERS = join(ROOT, '..', 'shared', 'fixtures', 'meters');
const TASMOTA = readFileSync(join(METERS, 'tasmota', 'tasmota-docs__Sonoff-Pow-R2__tele-pow1-SENSOR__console-format.txt'), 'utf8').split(' = ')[1]!;
const Z2M_DEVICES = readFileSync(join(METERS, 'zigbee2mqtt', 'barbaris-smart-home__zigbee2mqtt-bridge-devices__z2m-1.33.2__incl-xiaomi-plug-exposes.json'), 'utf8');

const all = (over: Partial<MeterRouterConfig> = {}) =>
  new MeterRouter({ kinds: ['tasmota', 'shelly', 'zigbee2mqtt', 'mqtt-json'], zigbeeBase: 'zigbee2mqtt', jsonMappings: [], maxMeters: 100, ...over });

describe('MeterRouter', () => {
  it('subscribes only to the topics of the enabled kinds', () => {
    expect(new MeterRouter({ kinds: ['tasmota'], zigbeeBase: 'z', jsonMappings: [], maxMeters: 1 }).filters()).toEqual(['tele/+/SENSOR', 'stat/+/STATUS8', 'stat/+/STATUS10']);
    expect(all({ zigbeeBase: 'z2m', jsonMappings: [{ topic: 'inverter/+/state', meter: 'pv-$1', fields: { power_w: { path: 'p' } } }] }).filters()).toEqual([
      'tele/+/SENSOR', 'stat/+/STATUS8', 'stat/+/STATUS10', 'shellies/#', '+/status/+', '+/events/rpc', 'z2m/#', 'inverter/+/state',
    ]);
  });

  it('reads Tasmota telemetry and adds the meter to the inventory once', () => {
    const r = all();
    expect(r.route('tele/pow1/SENSOR', TASMOTA)).toEqual({
      ok: true, kind: 'tasmota', inventoryChanged: true,
      readings: [{ meter: 'pow1', power_w: 2635, energy_import_wh: 6294, voltage_v: 227, current_a: 11.661, pf: 0.99 }],
    });
    expect(r.route('tele/pow1/SENSOR', TASMOTA)).toMatchObject({ ok: true, inventoryChanged: false });
    expect(r.inventory()).toEqual([{ id: 'pow1', kind: 'tasmota', supports: { energy_counter: true, instant_power: true } }]);
  });

  it('learns what a meter supports from what it sends (Gen1 Shelly: power and energy on separate topics)', () => {
    const r = all();
    expect(r.route('shellies/plug/relay/0/power', '12.5')).toMatchObject({ ok: true, inventoryChanged: true });
    expect(r.inventory()[0]!.supports).toEqual({ energy_counter: false, instant_power: true });
    expect(r.route('shellies/plug/relay/0/energy', '2632')).toMatchObject({ ok: true, inventoryChanged: true, readings: [{ energy_import_wh: 43.8666666667 }] });
    expect(r.inventory()[0]!.supports).toEqual({ energy_counter: true, instant_power: true });
  });

  it('knows Zigbee2MQTT devices only after the bridge lists them, by IEEE address', () => {
    const r = all();
    const state = '{"energy":1.89,"power":37.41,"state":"ON"}';
    expect(r.route('zigbee2mqtt/Plug', state)).toMatchObject({ ok: false, kind: 'zigbee2mqtt', reason: 'unknown_topic' });
    expect(r.route('zigbee2mqtt/bridge/devices', Z2M_DEVICES)).toEqual({ ok: true, kind: 'zigbee2mqtt', readings: [], inventoryChanged: true });
    expect(r.inventory()).toEqual([{ id: '0x00158d0001db18f9', kind: 'zigbee2mqtt', name: 'Plug (Xiaomi ZNCZ02LM)', supports: { energy_counter: true, instant_power: true } }]);
    expect(r.route('zigbee2mqtt/Plug', state)).toEqual({ ok: true, kind: 'zigbee2mqtt', inventoryChanged: false, readings: [{ meter: '0x00158d0001db18f9', power_w: 37.41, energy_import_wh: 1890 }] });
    // The retained list arrives again on every reconnect: no change, no republished inventory.
    expect(r.route('zigbee2mqtt/bridge/devices', Z2M_DEVICES)).toMatchObject({ ok: true, inventoryChanged: false });
    expect(r.route('zigbee2mqtt/bridge/devices', '[{')).toMatchObject({ ok: false, reason: 'invalid_json' });
  });

  it('lets an explicit mqtt-json mapping win over a vendor guess for the same topic', () => {
    const r = all({ jsonMappings: [{ topic: 'gateway/status/+', meter: 'pdu-$1', fields: { power_w: { path: 'watts' } } }] });
    expect(r.route('gateway/status/a3', '{"watts": 412}')).toEqual({ ok: true, kind: 'mqtt-json', inventoryChanged: true, readings: [{ meter: 'pdu-a3', power_w: 412 }] });
    expect(r.route('other/status/switch:0', '{"id":0,"apower":5}')).toMatchObject({ ok: true, kind: 'shelly' });
  });

  it('refuses topics no enabled kind publishes on, and meters beyond the bound', () => {
    const r = new MeterRouter({ kinds: ['tasmota'], zigbeeBase: 'zigbee2mqtt', jsonMappings: [], maxMeters: 1 });
    expect(r.route('shellies/plug/relay/0/power', '1')).toMatchObject({ ok: false, reason: 'unknown_topic' });
    expect(r.route('tele/a/SENSOR', TASMOTA)).toMatchObject({ ok: true });
    expect(r.route('tele/b/SENSOR', TASMOTA)).toMatchObject({ ok: false, reason: 'too_many_meters' });
    expect(r.route('tele/a/SENSOR', '{"ENERGY":{"Power":"nan"}}')).toMatchObject({ ok: false, kind: 'tasmota', reason: 'bad_value' });
    expect(r.inventory().map((m) => m.id)).toEqual(['a']);
  });
});
